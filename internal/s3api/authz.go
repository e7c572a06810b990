package s3api

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
)

// Perm is a set of permissions on a bucket: read, write, both or none.
type Perm uint8

// The permissions. A zero Perm grants nothing.
const (
	PermRead  Perm = 1 << iota // GET, HEAD and every listing
	PermWrite                  // PUT, POST and DELETE, CreateBucket included

	PermReadWrite = PermRead | PermWrite
)

// AllBuckets is the grant key that applies to every bucket a key has no
// entry of its own for.
const AllBuckets = "*"

// ErrBadPerm is returned by ParsePerm for anything but "", "r", "w" or "rw".
var ErrBadPerm = errors.New(`s3api: permission must be "", "r", "w" or "rw"`)

// ParsePerm parses the config form of a permission: "r", "w", "rw" (or
// "wr"), and "" or "none" for nothing.
func ParsePerm(s string) (Perm, error) {
	switch s {
	case "", "none":
		return 0, nil
	case "r":
		return PermRead, nil
	case "w":
		return PermWrite, nil
	case "rw", "wr":
		return PermReadWrite, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrBadPerm, s)
}

// String returns the config form of p: "r", "w", "rw" or "none".
func (p Perm) String() string {
	switch p & PermReadWrite {
	case PermRead:
		return "r"
	case PermWrite:
		return "w"
	case PermReadWrite:
		return "rw"
	}
	return "none"
}

// Grants maps a bucket name, or AllBuckets, to what a key may do there. A
// bucket's own entry replaces the AllBuckets one rather than adding to it,
// so {"*": "rw", "audit": "r"} makes one bucket read-only and
// {"*": "rw", "private": ""} hides one bucket entirely.
type Grants map[string]Perm

// Allows reports whether g grants every permission in need on bucket.
func (g Grants) Allows(bucket string, need Perm) bool {
	have, ok := g[bucket]
	if !ok {
		have = g[AllBuckets]
	}
	return have&need == need
}

// AccessKey is one configured S3 key with its bucket permissions.
type AccessKey struct {
	AccessKey string
	SecretKey string
	Buckets   Grants
	// Admin lets the key use the admin API (layout changes, heal) besides
	// what Buckets grants.
	Admin bool
}

// Authorizer decides what an authenticated access key may do.
// Implementations must be safe for concurrent use.
type Authorizer interface {
	Allowed(accessKey, bucket string, need Perm) bool
}

// Keyring is a fixed set of access keys; it is both the CredentialStore
// that SigV4 verification looks secrets up in and the Authorizer that the
// gateway asks after it. A Keyring is immutable and safe for concurrent use.
type Keyring struct {
	keys map[string]AccessKey
}

var (
	_ CredentialStore = (*Keyring)(nil)
	_ Authorizer      = (*Keyring)(nil)
)

// NewKeyring checks keys and returns them as a Keyring. It reports every
// problem at once: an empty access or secret key, a duplicate access key, an
// empty bucket name in a grant. Error messages name access keys but never
// print a secret.
func NewKeyring(keys []AccessKey) (*Keyring, error) {
	var errs []error
	k := &Keyring{keys: make(map[string]AccessKey, len(keys))}
	for i, ak := range keys {
		switch {
		case ak.AccessKey == "":
			errs = append(errs, fmt.Errorf("s3api: key %d: empty access key", i))
			continue
		case ak.SecretKey == "":
			errs = append(errs, fmt.Errorf("s3api: key %q: empty secret key", ak.AccessKey))
		}
		if _, dup := k.keys[ak.AccessKey]; dup {
			errs = append(errs, fmt.Errorf("s3api: key %q: configured twice", ak.AccessKey))
			continue
		}
		grants := make(Grants, len(ak.Buckets))
		for b, p := range ak.Buckets {
			if b == "" {
				errs = append(errs, fmt.Errorf("s3api: key %q: empty bucket name in grants", ak.AccessKey))
			}
			grants[b] = p & PermReadWrite
		}
		ak.Buckets = grants // a copy: the caller's map may change later
		k.keys[ak.AccessKey] = ak
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return k, nil
}

// IsAdmin reports whether accessKey may use the admin API.
func (k *Keyring) IsAdmin(accessKey string) bool {
	ak, ok := k.keys[accessKey]
	return ok && ak.Admin
}

// Lookup implements CredentialStore.
func (k *Keyring) Lookup(accessKey string) (string, bool) {
	ak, ok := k.keys[accessKey]
	return ak.SecretKey, ok
}

// Allowed implements Authorizer. An unknown key is allowed nothing.
func (k *Keyring) Allowed(accessKey, bucket string, need Perm) bool {
	ak, ok := k.keys[accessKey]
	return ok && ak.Buckets.Allows(bucket, need)
}

// AccessKeys lists the configured access key IDs, sorted.
func (k *Keyring) AccessKeys() []string {
	out := make([]string, 0, len(k.keys))
	for id := range k.keys {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Requirement is one permission a request needs on one bucket.
type Requirement struct {
	Bucket string
	Perm   Perm
}

// Requirements returns what a request needs, given its method, the bucket
// it addresses and the bucket of its x-amz-copy-source (empty when it has
// none). Reads (GET, HEAD) need PermRead; anything else (PUT, POST, DELETE,
// and methods S3 does not use, so that nothing unclassified slips through
// as a read) needs PermWrite. A copy needs PermRead on its source too.
// ListBuckets (bucket "") has no requirement: the gateway filters the list
// by PermRead instead.
func Requirements(method, bucket, copySourceBucket string) []Requirement {
	if bucket == "" {
		return nil
	}
	need := PermWrite
	if method == http.MethodGet || method == http.MethodHead {
		need = PermRead
	}
	reqs := []Requirement{{Bucket: bucket, Perm: need}}
	if copySourceBucket != "" {
		reqs = append(reqs, Requirement{Bucket: copySourceBucket, Perm: PermRead})
	}
	return reqs
}

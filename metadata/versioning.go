package metadata

import (
	"cmp"
	"encoding/binary"
	"strings"
)

// Versioning is a bucket's S3 versioning state. Each version record is
// stamped with the state its bucket was in when the gateway wrote it, which
// tells a node how the record relates to the key's other versions without
// the node reading the bucket record.
type Versioning uint8

const (
	// Unversioned is a bucket whose versioning was never enabled. Every
	// object is its null version; a DELETE is a plain tombstone, not a
	// delete marker.
	Unversioned Versioning = iota
	// VersioningEnabled keeps every version: each write is a version of
	// its own, and a DELETE without a version ID writes a delete marker.
	VersioningEnabled
	// VersioningSuspended writes null versions, each replacing the key's
	// previous null version; older real versions stay. A DELETE writes a
	// null delete marker.
	VersioningSuspended
)

// NullVersionID is the S3 version ID of a key's null version.
const NullVersionID = "null"

// String returns the S3 spelling: "Enabled", "Suspended", or "" for a
// bucket never versioned.
func (s Versioning) String() string {
	switch s {
	case VersioningEnabled:
		return "Enabled"
	case VersioningSuspended:
		return "Suspended"
	default:
		return ""
	}
}

// ParseVersioning parses the Status of a VersioningConfiguration; only
// "Enabled" and "Suspended" can be set.
func ParseVersioning(s string) (Versioning, bool) {
	switch s {
	case "Enabled":
		return VersioningEnabled, true
	case "Suspended":
		return VersioningSuspended, true
	default:
		return Unversioned, false
	}
}

// IsNull reports whether v is its key's null version: written while its
// bucket was unversioned or suspended. A key has at most one null version;
// a newer one replaces it.
func (v *Version) IsNull() bool { return v.Versioning != VersioningEnabled }

// S3VersionID is the version ID clients see: "null" for the null version.
// VersionID stays the record's identity inside the cluster (it names the
// shards), so two null versions of one key never share shard files.
func (v *Version) S3VersionID() string {
	if v.IsNull() {
		return NullVersionID
	}
	return v.VersionID
}

// IsDeleteMarker reports whether v is an S3 delete marker: a tombstone
// written in a versioned or suspended bucket. A tombstone of an
// unversioned bucket is a plain delete, which version listings do not show.
func (v *Version) IsDeleteMarker() bool { return v.Deleted && v.Versioning != Unversioned }

// IsPurged reports whether v is a purge tombstone (see Version.Purged).
func (v *Version) IsPurged() bool { return v.Purged != 0 }

// Retained reports whether v stays among its key's versions once a newer
// record replaces it as current: every record but a plain tombstone and a
// purge tombstone. Whether it then survives also depends on the newer
// record — a null version replaces the previous null version.
func (v *Version) Retained() bool {
	return !v.IsPurged() && !(v.Deleted && v.Versioning == Unversioned)
}

// SlotHLC is the HLC that places v among its key's versions: BaseHLC when
// v is current again after newer versions were purged, else HLC.
func (v *Version) SlotHLC() HLC {
	if v.BaseHLC != 0 {
		return v.BaseHLC
	}
	return v.HLC
}

// CompareVersions orders two versions of one key as S3 lists them, newest
// first: by SlotHLC descending, then by VersionID ascending (IDs sort newest
// first, and Newer breaks HLC ties the same way).
func CompareVersions(a, b *Version) int {
	return cmp.Or(cmp.Compare(b.SlotHLC(), a.SlotHLC()), strings.Compare(a.VersionID, b.VersionID))
}

// Version records
//
//	"v/" + bucket + "/" + esc(key) + 0x00 0x01 + ^SlotHLC:8 + versionID
//
// hold a key's retained versions other than its current one, and purge
// tombstones. esc doubles as the key terminator: every 0x00 byte of the key
// becomes 0x00 0xff and the key ends with 0x00 0x01, so the keys of one
// object key share a prefix that no other object key's share, and the
// records sort by object key (the byte order S3 lists in), then newest
// first by the complemented HLC, then by version ID, as CompareVersions.
const versionKeyPrefix = "v/"

// escapeKey appends the escaped form of key (without the terminator).
func escapeKey(b []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		b = append(b, key[i])
		if key[i] == 0 {
			b = append(b, 0xff)
		}
	}
	return b
}

// VersionsPrefix returns the prefix shared by the version records of every
// object in bucket whose key starts with keyPrefix.
func VersionsPrefix(bucket, keyPrefix string) []byte {
	b := make([]byte, 0, len(versionKeyPrefix)+len(bucket)+1+len(keyPrefix)+2)
	b = append(b, versionKeyPrefix...)
	b = append(b, bucket...)
	b = append(b, '/')
	return escapeKey(b, keyPrefix)
}

// KeyVersionsPrefix returns the prefix shared by the version records of
// exactly bucket/key.
func KeyVersionsPrefix(bucket, key string) []byte {
	return append(VersionsPrefix(bucket, key), 0, 1)
}

// VersionRecordKey returns the pebble key of the record of version
// versionID of bucket/key, placed at h (its SlotHLC).
func VersionRecordKey(bucket, key string, h HLC, versionID string) []byte {
	b := KeyVersionsPrefix(bucket, key)
	b = binary.BigEndian.AppendUint64(b, ^uint64(h))
	return append(b, versionID...)
}

// SplitVersionRecordKey undoes VersionRecordKey; ok is false for any other
// key.
func SplitVersionRecordKey(k []byte) (bucket, key string, h HLC, versionID string, ok bool) {
	rest, found := strings.CutPrefix(string(k), versionKeyPrefix)
	if !found {
		return "", "", 0, "", false
	}
	bucket, rest, found = strings.Cut(rest, "/")
	if !found || bucket == "" {
		return "", "", 0, "", false
	}
	var kb []byte
	for i := 0; ; i++ {
		if i >= len(rest) {
			return "", "", 0, "", false
		}
		c := rest[i]
		if c != 0 {
			kb = append(kb, c)
			continue
		}
		if i+1 >= len(rest) {
			return "", "", 0, "", false
		}
		switch rest[i+1] {
		case 0xff:
			kb = append(kb, 0)
			i++
			continue
		case 1:
		default:
			return "", "", 0, "", false
		}
		tail := rest[i+2:]
		if len(tail) < 8 {
			return "", "", 0, "", false
		}
		h = HLC(^binary.BigEndian.Uint64([]byte(tail[:8])))
		return bucket, string(kb), h, tail[8:], true
	}
}

// versioning reads a one-byte versioning state; unknown states are
// corrupt, so a node rolled back refuses records it would misread.
func (d *decoder) versioning() Versioning {
	s := Versioning(d.byte())
	if s > VersioningSuspended {
		d.fail("unknown versioning state %d", s)
		return Unversioned
	}
	return s
}

// bucketExtensions decodes format-2 bucket extension fields, as
// extensions does for versions.
func (d *decoder) bucketExtensions(out *Bucket) {
	var last uint64
	for d.err == nil && len(d.b) > 0 {
		tag := d.uvarint()
		if tag <= last {
			d.fail("extension tag %d after %d", tag, last)
			return
		}
		last = tag
		field := d.bytes()
		if d.err != nil {
			return
		}
		fd := decoder{b: field, what: d.what}
		switch tag {
		case tagBucketVersioning:
			out.Versioning = fd.versioning()
		case tagBucketLifecycle:
			out.Lifecycle = fd.lifecycle()
		default:
			continue
		}
		if err := fd.finish(); err != nil {
			d.fail("extension %d: %v", tag, err)
		}
	}
}

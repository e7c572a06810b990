// Package transport is the seam between a gateway and the storage nodes: the
// NodeClient interface, the request and reply types that cross it, and the
// error codes that travel on the wire instead of error strings.
//
// Implementations: node.Local (in-process) is served over HTTP by
// httptransport.Handler and reached remotely through httptransport.Client.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"

	"cairn/metadata"
)

// ShardRef names one shard of one object version on a node.
type ShardRef struct {
	Bucket    string
	Key       string
	VersionID string
	Index     int
	// Check, when set, makes the receiving node verify every frame of the
	// shard before it acknowledges: used when data moves between nodes
	// (handoff, repair), where nobody else would notice a bad copy.
	Check *ShardCheck
}

// ShardCheck is what a node needs to verify a shard on its own.
type ShardCheck struct {
	ObjectSize int64
	EC         metadata.ErasureInfo
}

func (r ShardRef) String() string {
	return fmt.Sprintf("%s/%s@%s#%d", r.Bucket, r.Key, r.VersionID, r.Index)
}

// ListRequest asks a node for the newest record of each key in a bucket, in
// key order. Tombstones are included: only the caller, which merges the
// answers of several nodes, can tell whether a key is deleted.
type ListRequest struct {
	Bucket string
	Prefix string
	After  string // exclusive lower bound on the key; "" starts at Prefix
	Limit  int
}

// ListPage is one page of a node's listing. Truncated means more keys follow
// the last entry.
type ListPage struct {
	Entries   []metadata.ListEntry
	Truncated bool
}

// NodeClient is the gateway's view of one storage node.
//
// Every method returns nil or an error for which errors.Is matches one of the
// sentinels below when the node gave a definite answer; any other error means
// the node could not be reached or failed, and the caller should treat the
// node as unavailable for this request.
type NodeClient interface {
	// PutShard stores size bytes from r as the shard named by ref. It returns
	// only once the shard is durable (fsynced, directory entry synced). A
	// reader that ends early or fails leaves no shard behind.
	PutShard(ctx context.Context, ref ShardRef, r io.Reader, size int64) error
	// ReadShard returns n bytes of the shard starting at off (n < 0: to the
	// end). ErrNotFound when the node holds no such shard. The caller closes
	// the reader.
	ReadShard(ctx context.Context, ref ShardRef, off, n int64) (io.ReadCloser, error)
	// DeleteShard removes a shard; deleting a missing shard is not an error.
	DeleteShard(ctx context.Context, ref ShardRef) error

	// PutVersion stores a version record (or tombstone) durably. A record
	// older than the one the node has for the key is accepted and ignored:
	// the newest by HLC wins, and shards of the loser are retired.
	PutVersion(ctx context.Context, v *metadata.Version) error
	// GetVersion returns the node's newest record for a key, tombstones
	// included; ErrNotFound when it has none.
	GetVersion(ctx context.Context, key metadata.ObjectKey) (*metadata.Version, error)
	// List returns one page of the node's newest records of a bucket.
	List(ctx context.Context, req ListRequest) (*ListPage, error)

	// PutBucket stores a bucket record (or tombstone); the newest by HLC wins.
	PutBucket(ctx context.Context, b *metadata.Bucket) error
	// Buckets returns every bucket record the node has, tombstones included.
	Buckets(ctx context.Context) ([]metadata.Bucket, error)
}

// Hinter is implemented by nodes that can hold data meant for another node
// while that node is away (hinted handoff). The holder replays the data to
// its home once the home is back, and deletes its copy after the home has it.
type Hinter interface {
	// PutShardHint stores a shard, durably, as a hint for home. It returns
	// ErrHintRefused when the node's hint budget for home is spent.
	PutShardHint(ctx context.Context, home string, ref ShardRef, r io.Reader, size int64) error
	// PutVersionHint stores a version record meant for home as a hint.
	PutVersionHint(ctx context.Context, home string, v *metadata.Version) error
}

// Code is an error code carried on the wire in place of an error string.
type Code int

const (
	CodeInternal Code = 1 + iota
	CodeNotFound
	CodeInvalid
	CodeCorrupt
	CodeUnavailable
	CodeHintRefused
	CodeUnauthorized
	CodeClockSkew
	CodeNoSpace
)

// Sentinels rebuilt from wire codes. Node implementations wrap their errors
// with these so that the HTTP server can send the right code.
var (
	ErrNotFound    = errors.New("transport: not found")
	ErrInvalid     = errors.New("transport: invalid request")
	ErrCorrupt     = errors.New("transport: corrupt data")
	ErrUnavailable = errors.New("transport: node unavailable")
	// ErrHintRefused: the node holds as many hints for that home as it may.
	ErrHintRefused = errors.New("transport: hint refused")
	// ErrUnauthorized: the node refused the request's internode
	// authentication (unsigned, badly signed, expired or replayed; see
	// internal/nodeauth). Usually a cluster secret that differs between
	// processes, or clocks too far apart.
	ErrUnauthorized = errors.New("transport: request refused: internode authentication failed")
	// ErrClockSkew: the node refused a record stamped further ahead of its
	// own clock than the cluster's maximum clock skew; the writer's clock
	// runs fast.
	ErrClockSkew = errors.New("transport: record timestamp too far ahead of the node's clock")
	// ErrNoSpace: the node refused shard data because its disk is down to
	// the space it keeps free (node.Config.MinFreeBytes).
	ErrNoSpace = errors.New("transport: node's disk is full")
)

// CodeOf returns the wire code for err.
func CodeOf(err error) Code {
	switch {
	case errors.Is(err, ErrNotFound):
		return CodeNotFound
	case errors.Is(err, ErrInvalid):
		return CodeInvalid
	case errors.Is(err, ErrCorrupt):
		return CodeCorrupt
	case errors.Is(err, ErrUnavailable):
		return CodeUnavailable
	case errors.Is(err, ErrHintRefused):
		return CodeHintRefused
	case errors.Is(err, ErrUnauthorized):
		return CodeUnauthorized
	case errors.Is(err, ErrClockSkew):
		return CodeClockSkew
	case errors.Is(err, ErrNoSpace):
		return CodeNoSpace
	default:
		return CodeInternal
	}
}

// Error is a failure reported by a node, rebuilt from its wire code.
type Error struct {
	Node    string
	Op      string
	Code    Code
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("transport: %s on node %s: %s", e.Op, e.Node, e.Message)
}

// Unwrap maps the code back to its sentinel so callers can use errors.Is.
func (e *Error) Unwrap() error {
	switch e.Code {
	case CodeNotFound:
		return ErrNotFound
	case CodeInvalid:
		return ErrInvalid
	case CodeCorrupt:
		return ErrCorrupt
	case CodeUnavailable:
		return ErrUnavailable
	case CodeHintRefused:
		return ErrHintRefused
	case CodeUnauthorized:
		return ErrUnauthorized
	case CodeClockSkew:
		return ErrClockSkew
	case CodeNoSpace:
		return ErrNoSpace
	default:
		return nil
	}
}

// Dialer returns the client for a node of the layout.
type Dialer interface {
	Node(id string) (NodeClient, error)
}

// StaticDialer is a Dialer over a fixed set of clients.
type StaticDialer map[string]NodeClient

// Node implements Dialer.
func (d StaticDialer) Node(id string) (NodeClient, error) {
	c, ok := d[id]
	if !ok {
		return nil, fmt.Errorf("transport: node %q: %w", id, ErrUnavailable)
	}
	return c, nil
}

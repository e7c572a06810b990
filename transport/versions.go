package transport

import (
	"context"
	"io"

	"cairn/metadata"
)

// VersionStore is implemented by nodes that keep a key's older versions
// (S3 versioning) beside its current record. A gateway type-asserts a
// NodeClient for it.
//
// Versions are written and deleted through NodeClient.PutVersion: a record
// stamped VersioningEnabled is kept as a version of its own when a newer
// one replaces it, and a record with Purged set deletes the version it
// names for good, leaving a purge tombstone in its place so that a copy
// arriving late (a hint, a write-back, anti-entropy) cannot bring it back.
// So hinted handoff carries version writes and deletes alike.
type VersionStore interface {
	// GetVersionByID returns the node's record of one version of a key:
	// the current record, a kept version, or a purge tombstone (Purged set)
	// when the version was deleted for good. versionID "null" asks for the
	// key's newest null version. ErrNotFound when the node has none.
	GetVersionByID(ctx context.Context, key metadata.ObjectKey, versionID string) (*metadata.Version, error)
	// ListVersions returns one page of the node's versions of a bucket in
	// S3 order (key, then newest first by SlotHLC, then version ID),
	// delete markers, purge tombstones and a current plain tombstone
	// included (the caller drops them, and the copies they hide on nodes
	// that missed them), inline data left out.
	ListVersions(ctx context.Context, req VersionListRequest) (*VersionPage, error)
}

// VersionListRequest asks for versions of keys starting with Prefix, at or
// after From, that come after the resume position: every version of
// KeyMarker when VersionIDMarker is empty, else the versions of KeyMarker
// after (MarkerHLC, VersionIDMarker) in version order. An empty KeyMarker
// starts at the beginning.
type VersionListRequest struct {
	Bucket          string
	Prefix          string
	From            string
	KeyMarker       string
	VersionIDMarker string
	MarkerHLC       metadata.HLC
	Limit           int
}

// VersionPage is one page of ListVersions. Truncated means more versions
// may follow the last one.
type VersionPage struct {
	Versions  []*metadata.Version
	Truncated bool
}

// ShardPrefetcher is implemented by nodes that can send their shard of a
// small object with its record, so that a GET makes one exchange with
// each node it reads from instead of two.
type ShardPrefetcher interface {
	// GetVersionWithShard is GetVersion that also returns, when the
	// returned record is a streamed (not inline, not multipart) object of
	// at most maxSize bytes and this node is the home of its shard index,
	// a reader of that whole shard as stored, which the caller closes;
	// index is -1 and shard nil otherwise, including when the node cannot
	// open it (the reader then asks the usual way and finds out why).
	GetVersionWithShard(ctx context.Context, key metadata.ObjectKey, maxSize int64) (v *metadata.Version, index int, shard io.ReadCloser, err error)
}

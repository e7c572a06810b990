package transport

import (
	"context"

	"cairn/metadata"
)

// UploadStore is implemented by nodes that keep multipart-upload state. A
// gateway type-asserts a NodeClient for it. Every home of an object keeps
// the upload and part records of that object's uploads.
type UploadStore interface {
	// PutUpload stores an upload record. A record marked Done is never
	// replaced by one that is not.
	PutUpload(ctx context.Context, u *metadata.Upload) error
	// GetUpload returns the node's record of an upload; ErrNotFound when it
	// has none. An upload the node considers expired comes back Done.
	GetUpload(ctx context.Context, bucket, key, uploadID string) (*metadata.Upload, error)
	// PutPart records an uploaded part whose shards are already durable.
	// The newest record by HLC wins for a part number and the loser's shards
	// on this node are deleted. ErrNotFound when the upload is unknown or
	// done here: the caller then deletes the part's shards.
	PutPart(ctx context.Context, bucket, key, uploadID string, p *metadata.UploadPart) error
	// Parts returns the node's part records of an upload in part order.
	Parts(ctx context.Context, bucket, key, uploadID string) ([]metadata.UploadPart, error)
	// FinishUpload marks an upload Done and drops its part records; the
	// shards of parts whose StorageID is not in keep are deleted (keep is
	// what a completed version references; nil for an abort).
	FinishUpload(ctx context.Context, bucket, key, uploadID string, keep []string) error
	// ListUploads returns one page of the node's upload records of a
	// bucket, Done ones included, ordered by key then upload ID.
	ListUploads(ctx context.Context, req UploadListRequest) (*UploadPage, error)
}

// UploadListRequest asks for upload records with keys starting with Prefix
// that come after (KeyMarker, UploadIDMarker).
type UploadListRequest struct {
	Bucket         string
	Prefix         string
	KeyMarker      string
	UploadIDMarker string
	Limit          int
}

// UploadPage is one page of ListUploads.
type UploadPage struct {
	Uploads   []metadata.Upload
	Truncated bool
}

// Condition is what a conditional write requires of a node's current
// record of the key.
type Condition struct {
	// MustNotExist: no record, or a tombstone (If-None-Match: *).
	MustNotExist bool
	// MatchVersionID, when set, requires the current record to be this live
	// version, or older than it by MatchHLC (the node missed it) (If-Match).
	MatchVersionID string
	MatchHLC       metadata.HLC
}

// ConditionalWriter is implemented by nodes that can decide a conditional
// write atomically under their key lock.
type ConditionalWriter interface {
	// PutVersionIf stores v only if cond holds against the node's current
	// record and v is newer than it. accepted reports the decision; a
	// refusal is not an error. The displaced record is kept until
	// ResolveVersion.
	PutVersionIf(ctx context.Context, v *metadata.Version, cond Condition) (accepted bool, err error)
	// ResolveVersion ends a conditional write: commit drops the displaced
	// record and retires its shards; rollback puts the displaced record
	// back if versionID is still current.
	ResolveVersion(ctx context.Context, key metadata.ObjectKey, versionID string, commit bool) error
}

// OrderedWriter is implemented by nodes that can store a fresh write and,
// in the same exchange, refuse it when the key already holds something
// newer. A gateway writing a new version to a write quorum of homes learns
// that way whether any write acknowledged before its own began is newer
// (the two quorums meet), without reading the key first.
type OrderedWriter interface {
	// PutVersionUnlessNewer stores v as PutVersion does, unless the node's
	// current record of the key, or a collected tombstone of it, orders
	// after v: then it stores nothing and returns that HLC. A refusal is
	// not an error; newer is 0 when v was stored.
	PutVersionUnlessNewer(ctx context.Context, v *metadata.Version) (newer metadata.HLC, err error)
}

// TagWriter is implemented by nodes that can change a version's tag set in
// place.
type TagWriter interface {
	// SetTags replaces the tags of the key's current record if it is
	// versionID; ErrNotFound otherwise.
	// at orders tag changes: a node keeps the change with the highest at.
	SetTags(ctx context.Context, key metadata.ObjectKey, versionID string, tags map[string]string, at metadata.HLC) error
}

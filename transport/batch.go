package transport

import (
	"context"

	"cairn/metadata"
)

// BatchWriter is implemented by nodes that take several version records
// in one exchange. A gateway under load sends each node the records of
// many PUTs at once instead of one request each: a request costs a node
// about as much CPU as storing the record it carries.
type BatchWriter interface {
	// PutVersions stores every record as PutVersion does, or as
	// PutVersionUnlessNewer when UnlessNewer is set, and answers for each
	// in order. The error is for the exchange: the node could not be
	// asked, and none of the answers is known.
	PutVersions(ctx context.Context, writes []VersionWrite) ([]VersionWriteResult, error)
}

// VersionWrite is one record of a PutVersions batch.
type VersionWrite struct {
	V           *metadata.Version
	UnlessNewer bool
}

// VersionWriteResult is the node's answer for one record of a batch.
type VersionWriteResult struct {
	Newer metadata.HLC // UnlessNewer refused: the newer HLC the node holds
	Err   error
}

// BatchReader is implemented by nodes that read several keys' records in
// one exchange, for the same reason as BatchWriter.
type BatchReader interface {
	// GetVersions answers GetVersion for every key, in order. The error
	// is for the exchange, as PutVersions'.
	GetVersions(ctx context.Context, keys []metadata.ObjectKey) ([]VersionReadResult, error)
}

// VersionReadResult is the node's answer for one key of a GetVersions
// batch: its record, or GetVersion's error (ErrNotFound when it has none).
type VersionReadResult struct {
	V   *metadata.Version
	Err error
}

// ShardProber is implemented by nodes that say in one exchange which of
// many shards they hold, for a census that would otherwise ask once per
// shard.
type ShardProber interface {
	// HasShards reports, for each ref, whether an empty ReadShard of it
	// would succeed: the node holds the shard, or, for an inline object,
	// the fragment in its record. The error is for the exchange.
	HasShards(ctx context.Context, refs []ShardRef) ([]bool, error)
}

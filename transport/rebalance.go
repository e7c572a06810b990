package transport

import (
	"context"

	"cairn/metadata"
)

// Relocation moves one shard index of one version from node From to node
// To in the version's record (Version.Shards), once the shard's bytes are
// on To.
type Relocation struct {
	Key       metadata.ObjectKey
	VersionID string
	Index     int
	From, To  string
}

// Relocator is implemented by nodes that can repoint a shard of a record
// they keep: the last step of moving a shard to its new home after a
// layout change.
type Relocator interface {
	// RelocateShard sets Shards[Index] of the record of VersionID to To if
	// it is From, and does nothing if it is To already. ErrNotFound when
	// the node keeps no such version.
	RelocateShard(ctx context.Context, r Relocation) error
}

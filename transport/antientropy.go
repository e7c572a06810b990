package transport

import (
	"context"

	"cairn/metadata"
)

// PGDigest summarises the records a node holds in one placement group, so
// that two homes of the group can tell in one round trip whether they agree.
type PGDigest struct {
	// Records is how many records went into Sum.
	Records int64
	// Sum is the XOR of SHA-256(bucket 0 key 0 versionID 0 deleted) over the
	// node's newest record of every key in the group. XOR makes it
	// independent of order, so it can be built in one pass over the store.
	Sum [32]byte
}

// PGRecordsRequest asks for a node's records in a set of placement groups.
type PGRecordsRequest struct {
	// PGCount is the layout's number of placement groups: it decides which
	// group a key falls in (placement.PG).
	PGCount int
	// PGs are the groups wanted; several at once, since a node that lost
	// its data dir disagrees on all of them and one scan serves them all.
	PGs []int
	// After is an exclusive lower bound, in store order (bucket, then key);
	// the zero value starts at the beginning.
	After metadata.ObjectKey
	// Limit bounds the records in one page.
	Limit int
}

// PGRecordsPage is one page of PGRecords. Truncated means more records may
// follow the last one; the next page starts after it.
type PGRecordsPage struct {
	Records   []*metadata.Version
	Truncated bool
}

// AntiEntropy is implemented by nodes that can compare and exchange their
// metadata with the other homes of a placement group, so that a node that
// missed writes, or lost its data dir, catches up without a client reading
// every key. A node's scanner type-asserts its peers' NodeClients for it.
type AntiEntropy interface {
	// PGDigests returns the digest of every placement group in which the
	// node holds at least one record; a group it holds nothing in is absent.
	// Records of a conditional write that is still pending are left out:
	// the write may yet be rolled back.
	PGDigests(ctx context.Context, pgCount int) (map[int]PGDigest, error)
	// PGRecords returns one page of the node's newest records in the
	// requested groups, tombstones included, pending conditional writes
	// left out. Inline data is not sent: each home's fragment differs, so
	// a record of an inline object comes back with an empty, non-nil
	// Inline and the receiver rebuilds its own fragment. ErrInvalid for a
	// malformed request.
	PGRecords(ctx context.Context, req PGRecordsRequest) (*PGRecordsPage, error)
}

package node

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

// importBatchBytes bounds one import batch: large enough that the sync at
// its end is paid once per tens of thousands of records, small enough that
// the batch does not hold much memory.
const importBatchBytes = 32 << 20

// ImportVersions writes current version records in bulk: an operator and
// benchmark path for loading metadata (a restore, or a million-key bucket
// for a listing benchmark) that would take hours through PutVersion, which
// syncs once per record. Records are written in large pebble batches with
// one sync per batch.
//
// Only keys with no record on this node are imported; a key that has one
// goes through PutVersion instead, so versions are kept or retired as on the
// normal path and a retried import is a no-op. A write to a key between the
// check and the batch's commit can be overwritten by the import: import into
// a bucket nothing else writes to. Records must be complete, including this
// node's own inline fragment for inline objects; nothing replicates them to
// other nodes, so every home of the keys needs its own import. On error,
// the batches already committed stay.
func (n *Node) ImportVersions(ctx context.Context, versions []*metadata.Version) error {
	batch := n.db.NewBatch()
	defer func() { batch.Close() }()
	// One iterator finds the existing records: seeks in key order, as a
	// sorted import makes them, are much cheaper than a Get each. It sees
	// the store as it was when the import began.
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte("o/"), UpperBound: []byte("o0")})
	if err != nil {
		return fmt.Errorf("import versions: %w", err)
	}
	defer it.Close()
	var buf []byte
	for _, v := range versions {
		if err := withCtx(ctx); err != nil {
			return err
		}
		if v == nil || v.Bucket == "" || v.VersionID == "" || v.HLC == 0 {
			return fmt.Errorf("import versions: %w: incomplete record", transport.ErrInvalid)
		}
		key := metadata.ObjectRecordKey(v.Bucket, v.Key)
		if it.SeekGE(key) && bytes.Equal(it.Key(), key) {
			if err := n.PutVersion(ctx, v); err != nil {
				return fmt.Errorf("import versions: %w", err)
			}
			continue
		}
		if err := it.Error(); err != nil {
			return fmt.Errorf("import versions %s/%s: %w", v.Bucket, v.Key, err)
		}
		var err error
		buf, err = v.AppendBinary(buf[:0])
		if err != nil {
			return fmt.Errorf("import versions %s/%s: %w: %v", v.Bucket, v.Key, transport.ErrInvalid, err)
		}
		// Set copies key and value into the batch, so buf is reused.
		if err := batch.Set(key, buf, nil); err != nil {
			return fmt.Errorf("import versions: %w", err)
		}
		if batch.Len() >= importBatchBytes {
			if err := batch.Commit(pebble.Sync); err != nil {
				return fmt.Errorf("import versions: %w", err)
			}
			batch.Close()
			batch = n.db.NewBatch()
		}
	}
	if batch.Empty() {
		return nil
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("import versions: %w", err)
	}
	return nil
}

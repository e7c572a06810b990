package node

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

var _ transport.BatchWriter = (*Node)(nil)

// PutVersions implements transport.BatchWriter. The records are committed
// one after another without a sync each, then the metadata store's log is
// synced once for all of them before any is answered: the log is written in
// commit order, so that sync makes every record before it durable. Pebble
// makes a commit readable before its sync either way, so readers see no
// difference; a crash before the sync loses a suffix of the log, records of
// this batch (none answered) and whatever was applied after them.
//
// Under 4 KiB PUTs a node's log syncs were a quarter of its CPU (each one a
// virtio kick that traps to the hypervisor here); storing a batch's records
// concurrently so that their synced commits met in pebble's group commit
// shared a sync between about two records.
func (n *Node) PutVersions(ctx context.Context, writes []transport.VersionWrite) ([]transport.VersionWriteResult, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	results := make([]transport.VersionWriteResult, len(writes))
	stored := false
	for i, w := range writes {
		r := &results[i]
		switch {
		case w.V == nil:
			r.Err = transport.ErrInvalid
		case w.UnlessNewer:
			r.Newer, r.Err = n.putVersionUnlessNewer(ctx, w.V)
		default:
			r.Err = n.putVersion(ctx, w.V)
		}
		// A write that found its record already here answers for it too,
		// and that record may be another batch's, not yet synced.
		stored = stored || r.Err == nil
	}
	if !stored {
		return results, nil
	}
	if err := n.db.LogData(nil, pebble.Sync); err != nil {
		for i := range results {
			if results[i].Err == nil {
				results[i] = transport.VersionWriteResult{Err: fmt.Errorf("put versions: sync: %w", err)}
			}
		}
	}
	return results, nil
}

var _ transport.BatchReader = (*Node)(nil)

// GetVersions implements transport.BatchReader.
func (n *Node) GetVersions(ctx context.Context, keys []metadata.ObjectKey) ([]transport.VersionReadResult, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	results := make([]transport.VersionReadResult, len(keys))
	for i, key := range keys {
		results[i].V, results[i].Err = n.GetVersion(ctx, key)
	}
	return results, nil
}

var _ transport.ShardProber = (*Node)(nil)

// HasShards implements transport.ShardProber.
func (n *Node) HasShards(ctx context.Context, refs []transport.ShardRef) ([]bool, error) {
	has := make([]bool, len(refs))
	for i, ref := range refs {
		if err := withCtx(ctx); err != nil {
			return nil, err
		}
		if rc, err := n.ReadShard(ctx, ref, 0, 0); err == nil {
			rc.Close()
			has[i] = true
		}
	}
	return has, nil
}

package node

import (
	"context"
	"sync"

	"cairn/metadata"
	"cairn/transport"
)

var _ transport.BatchWriter = (*Node)(nil)

// PutVersions implements transport.BatchWriter. The records are stored
// concurrently, so their synced commits share the metadata store's group
// commit as separate requests' would.
func (n *Node) PutVersions(ctx context.Context, writes []transport.VersionWrite) ([]transport.VersionWriteResult, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	results := make([]transport.VersionWriteResult, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		wg.Go(func() {
			r := &results[i]
			if w.V == nil {
				r.Err = transport.ErrInvalid
				return
			}
			if w.UnlessNewer {
				r.Newer, r.Err = n.PutVersionUnlessNewer(ctx, w.V)
			} else {
				r.Err = n.PutVersion(ctx, w.V)
			}
		})
	}
	wg.Wait()
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

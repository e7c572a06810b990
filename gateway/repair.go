package gateway

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"cairn/erasure"
	"cairn/metadata"
	"cairn/transport"
)

// Read repair: a GET that finds a shard missing or corrupt on its home
// rebuilds it there in the background from k others. A home that is merely
// unreachable is left alone: handoff or its return settles that.

// readFailures collects, during one GET, the shards worth repairing.
type readFailures struct {
	mu     sync.Mutex
	shards map[int]bool
}

func (f *readFailures) add(shard int, err error) {
	if !errors.Is(err, erasure.ErrCorrupt) && !errors.Is(err, transport.ErrNotFound) && !errors.Is(err, transport.ErrCorrupt) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.shards == nil {
		f.shards = make(map[int]bool)
	}
	f.shards[shard] = true
}

func (f *readFailures) list() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]int, 0, len(f.shards))
	for i := range f.shards {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// repairShards rebuilds the given shards of v on their homes. It runs
// detached from any request, bounded in time.
func (g *Gateway) repairShards(v *metadata.Version, want []int) {
	if len(want) == 0 || v.IsInline() {
		return
	}
	g.repairs.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := g.rebuildOnHomes(ctx, v, want); err != nil {
			g.log.Warn("read repair failed", "bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "shards", want, "err", err)
			return
		}
		g.stats.RepairedShards.Add(int64(len(want)))
		g.log.Info("read repair", "bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "shards", want)
	})
}

func (g *Gateway) rebuildOnHomes(ctx context.Context, v *metadata.Version, want []int) error {
	codec, err := g.codecFor(v.EC)
	if err != nil {
		return err
	}
	wanted := make(map[int]bool, len(want))
	for _, i := range want {
		wanted[i] = true
	}
	open := func(shard int, off, n int64) (io.ReadCloser, error) {
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: shard}
		var firstErr error
		for _, id := range shardHolders(v, shard) {
			c, err := g.node(id)
			if err == nil {
				var rc io.ReadCloser
				if rc, err = c.ReadShard(ctx, ref, off, n); err == nil {
					return rc, nil
				}
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil, firstErr
	}
	size := codec.ShardFileSize(v.Size)
	writers := make([]io.Writer, len(want))
	pipes := make([]*io.PipeWriter, len(want))
	errs := make(chan error, len(want))
	for j, i := range want {
		pr, pw := io.Pipe()
		writers[j], pipes[j] = pw, pw
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: i,
			Check: &transport.ShardCheck{ObjectSize: v.Size, EC: v.EC}}
		go func() {
			c, err := g.node(v.Shards[i])
			if err == nil {
				err = c.PutShard(ctx, ref, pr, size)
			}
			pr.CloseWithError(errShardFailed(err))
			errs <- err
		}()
	}
	err = codec.ReconstructShards(v.Size, want, open, writers)
	for _, pw := range pipes {
		pw.CloseWithError(err)
	}
	var putErrs []error
	for range want {
		putErrs = append(putErrs, <-errs)
	}
	return errors.Join(append([]error{err}, putErrs...)...)
}

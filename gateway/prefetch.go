package gateway

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"cairn/metadata"
	"cairn/transport"
)

// prefetchMaxSize is the largest object whose shards a whole-object GET
// asks to receive with the records it reads (transport.ShardPrefetcher).
// Reading a record and then the shard costs a node two requests, and for
// objects this small the second one cost as much CPU as moving the bytes.
// The records read come from the first homes in shard order, so usually
// the k data shards arrive and the object decodes without another
// exchange. It bounds what one GET holds in memory to k shards of it.
const prefetchMaxSize = 2 << 20

// prefetchChoice picks, per bucket, between the two ways a whole GET can
// read records: with shards (worth it for objects whose shards are
// streamed and small) or in batches with other reads (an inline object's
// data is in its record anyway, and a batch saves requests; streams cannot
// share one). Buckets tend to hold objects of like sizes, so the choice
// follows what the bucket's recent GETs found, starting with shards.
type prefetchChoice struct {
	buckets sync.Map // bucket → *atomic.Int32, in [-prefetchScoreMax, prefetchScoreMax]
}

const prefetchScoreMax = 8

// want reports whether a whole GET in bucket should ask for shards.
func (p *prefetchChoice) want(bucket string) bool {
	s, ok := p.buckets.Load(bucket)
	return !ok || s.(*atomic.Int32).Load() >= 0
}

// found records what a whole GET in bucket read.
func (p *prefetchChoice) found(bucket string, v *metadata.Version) {
	s, ok := p.buckets.Load(bucket)
	if !ok {
		s, _ = p.buckets.LoadOrStore(bucket, new(atomic.Int32))
	}
	score := s.(*atomic.Int32)
	step := int32(-1)
	if v != nil && v.SmallStreamed(prefetchMaxSize) {
		step = 1
	}
	if n := score.Load() + step; n >= -prefetchScoreMax && n <= prefetchScoreMax {
		score.Store(n) // racing GETs may lose a step: it only steers
	}
}

// recordGetter reads a key's record from a node.
type recordGetter = func(context.Context, transport.NodeClient) (*metadata.Version, error)

// prefetched holds the shards that came with the records of one GET, as
// the rest of each node's answer, until the decoder opens them or the GET
// ends.
type prefetched struct {
	mu     sync.Mutex
	shards map[prefetchKey]io.ReadCloser
	done   bool
}

type prefetchKey struct {
	versionID string
	index     int
}

type prefetchCtxKey struct{}

// withPrefetch marks a read whose record fetches should bring shards
// along; the caller calls release when the read is over.
func withPrefetch(ctx context.Context) (context.Context, *prefetched) {
	pf := &prefetched{shards: make(map[prefetchKey]io.ReadCloser)}
	return context.WithValue(ctx, prefetchCtxKey{}, pf), pf
}

func prefetchOf(ctx context.Context) *prefetched {
	pf, _ := ctx.Value(prefetchCtxKey{}).(*prefetched)
	return pf
}

// getVersion reads a key's record from a node, keeping the shard that came
// with it; nodes that cannot send one are read by plain.
func (pf *prefetched) getVersion(key metadata.ObjectKey, plain recordGetter) recordGetter {
	return func(ctx context.Context, c transport.NodeClient) (*metadata.Version, error) {
		sp, ok := c.(transport.ShardPrefetcher)
		if !ok {
			return plain(ctx, c)
		}
		v, index, shard, err := sp.GetVersionWithShard(ctx, key, prefetchMaxSize)
		if err == nil && shard != nil {
			pf.keep(prefetchKey{v.VersionID, index}, shard)
		}
		return v, err
	}
}

func (pf *prefetched) keep(k prefetchKey, shard io.ReadCloser) {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if old := pf.shards[k]; old != nil {
		old.Close() // a second read of the same record (the read asked again)
	}
	if pf.done {
		shard.Close() // an answer after the GET ended
		return
	}
	pf.shards[k] = shard
}

// take hands over shard index of a version if it came with a record; a
// second open of the same shard (after a checksum failure) goes to a node.
func (pf *prefetched) take(versionID string, index int) io.ReadCloser {
	if pf == nil {
		return nil
	}
	pf.mu.Lock()
	defer pf.mu.Unlock()
	k := prefetchKey{versionID, index}
	rc := pf.shards[k]
	delete(pf.shards, k)
	return rc
}

// release closes the shards nobody opened and those that come later.
func (pf *prefetched) release() {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	pf.done = true
	for k, rc := range pf.shards {
		rc.Close()
		delete(pf.shards, k)
	}
}

// has reports whether shard index of a version came with a record and has
// not been taken yet.
func (pf *prefetched) has(versionID string, index int) bool {
	if pf == nil {
		return false
	}
	pf.mu.Lock()
	defer pf.mu.Unlock()
	return pf.shards[prefetchKey{versionID, index}] != nil
}

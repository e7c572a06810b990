package faulttransport

import (
	"context"
	"io"

	"cairn/metadata"
	"cairn/transport"
)

// batcher is what a node client does besides the one-record calls: batched
// record writes and reads, shard probes, and records with their shards.
// The gateway and the census take these paths whenever a client offers
// them, so a client under faults offers them too when the one it wraps
// does, and tests with faults run the paths production runs.
type batcher interface {
	transport.BatchWriter
	transport.BatchReader
	transport.ShardProber
	transport.ShardPrefetcher
}

// batchClient is a client whose inner client is a batcher. A batch meets
// the fault set as one call does: cut, the whole batch fails; slowed, it
// waits once.
type batchClient struct {
	*client
	b batcher
}

var _ batcher = batchClient{}

func (c batchClient) PutVersions(ctx context.Context, writes []transport.VersionWrite) ([]transport.VersionWriteResult, error) {
	if _, err := c.f.before(ctx, c.id, "put versions"); err != nil {
		return nil, err
	}
	return c.b.PutVersions(ctx, writes)
}

func (c batchClient) GetVersions(ctx context.Context, keys []metadata.ObjectKey) ([]transport.VersionReadResult, error) {
	if _, err := c.f.before(ctx, c.id, "get versions"); err != nil {
		return nil, err
	}
	return c.b.GetVersions(ctx, keys)
}

func (c batchClient) HasShards(ctx context.Context, refs []transport.ShardRef) ([]bool, error) {
	if _, err := c.f.before(ctx, c.id, "has shards"); err != nil {
		return nil, err
	}
	return c.b.HasShards(ctx, refs)
}

func (c batchClient) GetVersionWithShard(ctx context.Context, key metadata.ObjectKey, maxSize int64) (*metadata.Version, int, io.ReadCloser, error) {
	d, err := c.f.before(ctx, c.id, "get version with shard")
	if err != nil {
		return nil, -1, nil, err
	}
	v, i, rc, err := c.b.GetVersionWithShard(ctx, key, maxSize)
	if rc == nil || d <= 0 {
		return v, i, rc, err
	}
	return v, i, &slowBody{ctx: ctx, rc: rc, d: d, done: make(chan struct{})}, err
}

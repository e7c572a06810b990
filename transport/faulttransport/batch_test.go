package faulttransport

import (
	"errors"
	"testing"

	"cairn/metadata"
	"cairn/transport"
)

// A client under faults offers the batched calls exactly when the client it
// wraps does, and a batch meets the fault set as one call.
func TestBatchedCallsUnderFaults(t *testing.T) {
	t.Parallel()
	f, c1, c2 := dialNode(t)
	if _, ok := c2.(batcher); ok {
		t.Errorf("client over a node client without batches offers them")
	}
	b, ok := c1.(batcher)
	if !ok {
		t.Fatalf("client %T over a node does not offer batches", c1)
	}
	ctx := t.Context()
	v := &metadata.Version{Bucket: "b", Key: "k", VersionID: "v1", HLC: 10, Size: 1,
		EC: metadata.ErasureInfo{DataShards: 1, BlockSize: 1 << 20, Checksum: metadata.HighwayHash256}, Shards: []string{"n1"}}
	key := metadata.ObjectKey{Bucket: "b", Key: "k"}

	if res, err := b.PutVersions(ctx, []transport.VersionWrite{{V: v}}); err != nil || res[0].Err != nil {
		t.Fatalf("PutVersions = %+v, %v", res, err)
	}
	if res, err := b.GetVersions(ctx, []metadata.ObjectKey{key}); err != nil || res[0].Err != nil || res[0].V.VersionID != "v1" {
		t.Fatalf("GetVersions = %+v, %v; want v1", res, err)
	}
	if got, _, _, err := b.GetVersionWithShard(ctx, key, 1<<20); err != nil || got.VersionID != "v1" {
		t.Fatalf("GetVersionWithShard = %+v, %v; want v1", got, err)
	}
	if has, err := b.HasShards(ctx, []transport.ShardRef{{Bucket: "b", Key: "k", VersionID: "v1"}}); err != nil || has[0] {
		t.Fatalf("HasShards = %v, %v; want no shard", has, err)
	}
	if got := f.Calls("n1"); got != 4 {
		t.Errorf("calls that reached n1 = %d; want one per batch, 4", got)
	}

	f.Cut("n1")
	if _, err := b.PutVersions(ctx, []transport.VersionWrite{{V: v}}); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("PutVersions to a cut node = %v; want ErrUnavailable", err)
	}
	if _, err := b.GetVersions(ctx, []metadata.ObjectKey{key}); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("GetVersions from a cut node = %v; want ErrUnavailable", err)
	}
	if _, _, _, err := b.GetVersionWithShard(ctx, key, 1<<20); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("GetVersionWithShard from a cut node = %v; want ErrUnavailable", err)
	}
	if _, err := b.HasShards(ctx, nil); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("HasShards of a cut node = %v; want ErrUnavailable", err)
	}
}

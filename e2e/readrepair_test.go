package e2e

import (
	"testing"
	"time"

	"cairn/internal/clustertest"
	"cairn/metadata"
	"cairn/transport"
)

// A GET that meets a corrupt shard returns the right bytes and rebuilds
// the shard on its home in the background.
func TestReadRepair(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	ctx := t.Context()
	mustCreateBucket(t, cl, "repair")
	data := randomBytes(42, 3<<20+11)
	put(t, cl, "repair", "obj", data)
	// The PUT returns at a quorum; the shard to damage must be there.
	waitReplicated(t, c, "repair", "obj", md5Hex(data), true)

	v, err := c.Nodes[0].Node().GetVersion(ctx, metadata.ObjectKey{Bucket: "repair", Key: "obj"})
	if err != nil {
		t.Fatal(err)
	}
	// Damage data shard 1 on its home: flip a byte inside a fragment, in
	// place in its segment.
	ref := transport.ShardRef{Bucket: "repair", Key: "obj", VersionID: v.VersionID, Index: 1}
	flip(t, mustShardExtent(t, c.Nodes[indexOf(c, v.Shards[1])], ref), 100)
	before := c.Gateway.Stats().CorruptShards.Load()
	got, _ := get(t, cl, "repair", "obj", nil)
	sameBytes(t, "GET with a corrupt shard", got, data)
	if c.Gateway.Stats().CorruptShards.Load() <= before {
		t.Errorf("corrupt shard not counted")
	}
	waitFor(t, "read repair", 20*time.Second, func() bool { return c.Gateway.Stats().RepairedShards.Load() >= 1 })
	if err := homeComplete(ctx, c, "repair", "obj", int64(len(data))); err != nil {
		t.Errorf("after read repair: %v", err)
	}
	// The repaired shard now serves reads with the other data shard's home down.
	if err := c.Nodes[indexOf(c, v.Shards[0])].Stop(); err != nil {
		t.Fatal(err)
	}
	got, _ = get(t, cl, "repair", "obj", nil)
	sameBytes(t, "GET after repair", got, data)
}

func indexOf(c *clustertest.Cluster, id string) int {
	for i, n := range c.Nodes {
		if n.ID == id {
			return i
		}
	}
	return -1
}

// latestVersion returns the newest record of a key across the nodes.
func latestVersion(t *testing.T, c *clustertest.Cluster, bucket, key string) *metadata.Version {
	t.Helper()
	var newest *metadata.Version
	for _, n := range c.Nodes {
		if nd := n.Node(); nd != nil {
			if v, err := nd.GetVersion(t.Context(), metadata.ObjectKey{Bucket: bucket, Key: key}); err == nil && (newest == nil || v.Newer(newest)) {
				newest = v
			}
		}
	}
	if newest == nil {
		t.Fatalf("%s/%s: no record on any node", bucket, key)
	}
	return newest
}

package node

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
)

// censusCluster is a repairCluster (four nodes, 2+2, every node a home of
// every object) whose nodes share a membership view a test can mark nodes
// down in, and one metrics registry.
type censusCluster struct {
	*repairCluster
	reg  *prometheus.Registry
	mu   sync.Mutex
	down map[string]bool
}

func newCensusCluster(t *testing.T) *censusCluster {
	t.Helper()
	return newCensusClusterProbing(t, true)
}

// newCensusClusterProbing is newCensusCluster whose nodes, without batched,
// probe other nodes one shard at a time, as they do peers that cannot
// answer for many (transport.ShardProber).
func newCensusClusterProbing(t *testing.T, batched bool) *censusCluster {
	t.Helper()
	cc := &censusCluster{reg: prometheus.NewRegistry(), down: map[string]bool{}}
	cc.repairCluster = newRepairCluster(t, func(cfg *Config) {
		cfg.Alive = cc.alive
		cfg.Metrics = cc.reg
		if !batched {
			cfg.Peers = oneShardAtATime{cfg.Peers}
		}
	})
	return cc
}

// oneShardAtATime hands out peers with only the NodeClient methods.
type oneShardAtATime struct{ transport.Dialer }

func (d oneShardAtATime) Node(id string) (transport.NodeClient, error) {
	c, err := d.Dialer.Node(id)
	if err != nil {
		return nil, err
	}
	return struct{ transport.NodeClient }{c}, nil
}

func (cc *censusCluster) alive(id string) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return !cc.down[id]
}

// put writes an object as a gateway would under the cluster's layout:
// shard i (or inline fragment i) to the i-th home of the key's group, then
// the records. So the rebalance finds nothing to move.
func (cc *censusCluster) put(key string, data []byte, inline bool) (*metadata.Version, [][]byte) {
	cc.t.Helper()
	ctx := cc.t.Context()
	shards, err := cc.codec.EncodeAll(data)
	if err != nil {
		cc.t.Fatal(err)
	}
	var homes []string
	for _, id := range cc.layout.Homes(placement.PG(cc.layout, "b", key), len(cc.ids)) {
		homes = append(homes, string(id))
	}
	h := cc.nextHLC()
	v := &metadata.Version{Bucket: "b", Key: key, VersionID: metadata.NewVersionID(h, "gw"), HLC: h,
		Size: int64(len(data)), ETag: "e", ModTime: time.Unix(1700000000, 0).UTC(), EC: cc.ec, Shards: homes}
	for i, id := range homes {
		rec := *v
		if inline {
			rec.Inline = append([]byte{}, shards[i]...)
		} else {
			ref := transport.ShardRef{Bucket: "b", Key: key, VersionID: v.VersionID, Index: i}
			if err := cc.nodes[id].PutShard(ctx, ref, bytes.NewReader(shards[i]), int64(len(shards[i]))); err != nil {
				cc.t.Fatal(err)
			}
		}
		if err := cc.nodes[id].PutVersion(ctx, &rec); err != nil {
			cc.t.Fatal(err)
		}
	}
	return v, shards
}

// stop closes node id and marks it down, as a crash noticed by membership.
func (cc *censusCluster) stop(id string) {
	cc.t.Helper()
	cc.mu.Lock()
	cc.down[id] = true
	cc.mu.Unlock()
	if err := cc.nodes[id].Close(); err != nil {
		cc.t.Fatal(err)
	}
}

// scan runs a pass on each running node given, all of them when none.
func (cc *censusCluster) scan(ids ...string) {
	cc.t.Helper()
	if len(ids) == 0 {
		ids = cc.ids
	}
	for _, id := range ids {
		if !cc.alive(id) {
			continue
		}
		if err := cc.nodes[id].ScanNow(cc.t.Context()); err != nil {
			cc.t.Fatalf("ScanNow on %s: %v", id, err)
		}
	}
}

func (cc *censusCluster) stats(id string) *transport.NodeStats {
	cc.t.Helper()
	st, err := cc.nodes[id].NodeStats(cc.t.Context())
	if err != nil {
		cc.t.Fatalf("NodeStats on %s: %v", id, err)
	}
	return st
}

// histogram is bucket b's histogram summed over the running nodes.
func (cc *censusCluster) histogram() transport.RedundancyCounts {
	cc.t.Helper()
	var sum transport.RedundancyCounts
	for _, id := range cc.ids {
		if cc.alive(id) {
			sum.Add(cc.stats(id).Redundancy["b"])
		}
	}
	return sum
}

// counterOf is the node that counts key: the first home of its PG.
func (cc *censusCluster) counterOf(key string) (counter string, others []string) {
	homes := cc.layout.Homes(placement.PG(cc.layout, "b", key), len(cc.ids))
	for _, id := range homes[1:] {
		others = append(others, string(id))
	}
	return string(homes[0]), others
}

func sameCounts(got transport.RedundancyCounts, objects, bytes []int64, lost int64) bool {
	return slices.Equal(got.Objects, objects) && slices.Equal(got.Bytes, bytes) && got.Lost == lost
}

// Every object is counted once, by one node, at redundancy m while the
// cluster is whole, and at m-1 once a node is down.
func TestCensusCountsEachObjectOnce(t *testing.T) {
	t.Parallel()
	cc := newCensusCluster(t)
	a, _ := cc.put("a", payload(1, 50_000), false)
	b, _ := cc.put("b", payload(2, 9_000), false)
	c, _ := cc.put("c", payload(3, 300), true)
	total := a.Size + b.Size + c.Size

	cc.scan()
	if got := cc.histogram(); !sameCounts(got, []int64{0, 0, 3}, []int64{0, 0, total}, 0) {
		t.Errorf("healthy cluster: histogram %+v; want 3 objects, %d bytes, all at redundancy 2", got, total)
	}
	counted := 0
	for _, id := range cc.ids {
		if r, ok := cc.stats(id).Redundancy["b"]; ok {
			for _, o := range r.Objects {
				counted += int(o)
			}
		}
	}
	if counted != 3 {
		t.Errorf("objects counted over all nodes = %d; want 3", counted)
	}

	// Stop the node that counts "a": another home takes over its PG.
	counter, _ := cc.counterOf("a")
	cc.stop(counter)
	cc.scan()
	if got := cc.histogram(); !sameCounts(got, []int64{0, 3, 0}, []int64{0, total, 0}, 0) {
		t.Errorf("with %s down: histogram %+v; want all 3 objects at redundancy 1", counter, got)
	}
}

// Deleting shards lowers the redundancy of the object they belong to, and
// of no other; below k shards the object is lost.
func TestCensusSeesMissingShards(t *testing.T) {
	t.Parallel()
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			t.Parallel()
			testCensusSeesMissingShards(t, batched)
		})
	}
}

func testCensusSeesMissingShards(t *testing.T, batched bool) {
	cc := newCensusClusterProbing(t, batched)
	a, _ := cc.put("a", payload(1, 50_000), false)
	counter, others := cc.counterOf("a")
	// Other objects the same node counts stay as they are.
	var sizes []int64
	for i, key := range []string{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"} {
		if c, _ := cc.counterOf(key); c == counter {
			v, _ := cc.put(key, payload(uint64(10+i), 1000+i), false)
			sizes = append(sizes, v.Size)
		}
	}
	var rest int64
	for _, s := range sizes {
		rest += s
	}
	n := int64(len(sizes))
	cc.scan(counter)
	if got := cc.stats(counter).Redundancy["b"]; !sameCounts(got, []int64{0, 0, n + 1}, []int64{0, 0, rest + a.Size}, 0) {
		t.Fatalf("before damage: %s counts %+v; want %d objects at redundancy 2", counter, got, n+1)
	}

	// The counter's own pass does not repair other nodes' shards.
	remove := func(id string) {
		t.Helper()
		loseShard(t, cc.nodes[id], shardRef(a, slices.Index(a.Shards, id)))
	}
	remove(others[0])
	cc.scan(counter)
	if got := cc.stats(counter).Redundancy["b"]; !sameCounts(got, []int64{0, 1, n}, []int64{0, a.Size, rest}, 0) {
		t.Errorf("one shard of a gone: %s counts %+v; want a alone at redundancy 1", counter, got)
	}

	remove(others[1])
	remove(others[2])
	cc.scan(counter)
	if got := cc.stats(counter).Redundancy["b"]; !sameCounts(got, []int64{0, 0, n}, []int64{0, 0, rest}, 1) {
		t.Errorf("three shards of a gone: %s counts %+v; want a lost", counter, got)
	}
	// The home whose shard is gone for good keeps it in its repair queue.
	if err := cc.nodes[others[0]].ScanNow(t.Context()); err == nil {
		t.Errorf("ScanNow on %s rebuilt a shard from 1 of 4 with k = 2", others[0])
	}
	if got := cc.stats(others[0]).RepairQueue; got != 1 {
		t.Errorf("RepairQueue on %s after a failed rebuild = %d; want 1", others[0], got)
	}
}

// Shards and bytes held, per placement group too, are the node's own
// shard files and inline fragments.
func TestNodeStatsCountsOwnShards(t *testing.T) {
	t.Parallel()
	cc := newCensusCluster(t)
	a, aShards := cc.put("a", payload(1, 50_000), false)
	b, bShards := cc.put("b", payload(2, 9_000), false)
	c, cShards := cc.put("c", payload(3, 300), true)
	// A deleted object's shards wait out their retirement on disk; they
	// are not counted.
	cc.put("d", payload(4, 2_000), false)
	h := cc.nextHLC()
	tomb := &metadata.Version{Bucket: "b", Key: "d", VersionID: metadata.NewVersionID(h, "gw"), HLC: h, Deleted: true, Shards: cc.ids}
	for _, id := range cc.ids {
		if err := cc.nodes[id].PutVersion(t.Context(), tomb); err != nil {
			t.Fatal(err)
		}
	}

	st := cc.stats("n2")
	if st.Shards != 0 || st.Redundancy != nil || !st.LastScan.IsZero() {
		t.Errorf("before any pass: %+v; want no census", st)
	}
	if st.CapacityBytes == 0 || st.FreeBytes == 0 || st.FreeBytes > st.CapacityBytes || st.ID != "n2" {
		t.Errorf("NodeStats = %+v; want n2 with its file system's capacity and free bytes", st)
	}
	cc.scan("n2")
	st = cc.stats("n2")
	want := map[int]int64{}
	held := func(v *metadata.Version, shards [][]byte) int64 {
		size := int64(len(shards[slices.Index(v.Shards, "n2")]))
		want[placement.PG(cc.layout, "b", v.Key)] += size
		return size
	}
	wantBytes := held(a, aShards) + held(b, bShards)
	held(c, cShards) // an inline fragment counts in PGBytes alone
	if st.Shards != 2 || st.ShardBytes != wantBytes {
		t.Errorf("Shards, ShardBytes = %d, %d; want 2, %d", st.Shards, st.ShardBytes, wantBytes)
	}
	if !maps.Equal(st.PGBytes, want) {
		t.Errorf("PGBytes = %v; want %v", st.PGBytes, want)
	}
	if st.LastScan.IsZero() {
		t.Errorf("LastScan is zero after a pass")
	}
}

func TestCensusMetrics(t *testing.T) {
	t.Parallel()
	cc := newCensusCluster(t)
	a, _ := cc.put("a", payload(1, 50_000), false)
	b, _ := cc.put("b", payload(2, 9_000), true)
	cc.scan()
	mfs, err := cc.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "redundancy" {
					key += "{" + l.GetValue() + "}"
				}
			}
			sums[key] += m.GetGauge().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"cairn_node_objects_by_redundancy{2}":   2,
		"cairn_node_objects_by_redundancy{1}":   0,
		"cairn_node_bytes_by_redundancy{2}":     float64(a.Size + b.Size),
		"cairn_node_objects_lost":               0,
		"cairn_node_repair_queue":               0,
		"cairn_node_rebalance_misplaced_shards": 0,
	} {
		if got, ok := sums[name]; !ok || got != want {
			t.Errorf("%s summed over nodes = %v (exported %v); want %v", name, got, ok, want)
		}
	}
}

// waitPasses waits until n has finished at least passes scanner passes.
func waitPasses(t *testing.T, n *Node, passes int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for n.ScannerStats().Passes < passes {
		if time.Now().After(deadline) {
			t.Fatalf("node %s: %d passes after a minute; want %d", n.cfg.ID, n.ScannerStats().Passes, passes)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// StartScan starts a pass without waiting for it, on a node that scans
// periodically (whose period here is an hour) and on one that does not.
func TestStartScan(t *testing.T) {
	t.Parallel()
	cc := newCensusCluster(t)
	cc.put("a", payload(1, 5_000), false)
	n1 := cc.nodes["n1"]
	if err := n1.StartScan(t.Context()); err != nil {
		t.Fatalf("StartScan: %v", err)
	}
	waitPasses(t, n1, 1)
	if st := cc.stats("n1"); st.LastScan.IsZero() || st.Shards != 1 {
		t.Errorf("NodeStats after the pass StartScan started = %+v; want a census with n1's shard", st)
	}

	alone, err := Open(Config{ID: "alone", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := alone.StartScan(t.Context()); err != nil {
			t.Fatalf("StartScan without peers: %v", err)
		}
	}
	waitPasses(t, alone, 1)
	if err := alone.Close(); err != nil {
		t.Fatal(err)
	}
	if err := alone.StartScan(t.Context()); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("StartScan on a closed node = %v; want ErrUnavailable", err)
	}
}

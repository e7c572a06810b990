package node

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cairn/erasure"
	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
)

// repairCluster is four in-process nodes that reach each other through a
// StaticDialer of *Node values, with a 2+2 code: every node is a home of
// every object.
type repairCluster struct {
	t      *testing.T
	ids    []string
	dirs   map[string]string
	nodes  map[string]*Node
	dialer transport.StaticDialer
	layout *placement.Layout
	codec  *erasure.Codec
	ec     metadata.ErasureInfo
	cfg    func(*Config) // per-test config changes

	mu  sync.Mutex
	now time.Time
	hlc int64
}

func newRepairCluster(t *testing.T, cfg func(*Config)) *repairCluster {
	t.Helper()
	c := &repairCluster{
		t: t, ids: []string{"n1", "n2", "n3", "n4"}, dirs: map[string]string{}, nodes: map[string]*Node{},
		dialer: transport.StaticDialer{},
		layout: &placement.Layout{Version: 1, PGCount: 16},
		ec:     metadata.ErasureInfo{DataShards: 2, ParityShards: 2, BlockSize: 4096, Checksum: metadata.HighwayHash256},
		cfg:    cfg, now: time.Now(), hlc: time.Now().UnixMilli(),
	}
	codec, err := erasure.New(2, 2, erasure.WithBlockSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	c.codec = codec
	for _, id := range c.ids {
		c.layout.Nodes = append(c.layout.Nodes, placement.Node{ID: placement.NodeID(id), Weight: 1, State: placement.Active})
		c.dirs[id] = t.TempDir()
	}
	// Every group's shard i lives on ids[i], as put writes them: the
	// rebalance step then has nothing to move.
	for range c.layout.PGCount {
		row := make([]placement.NodeID, len(c.ids))
		for i, id := range c.ids {
			row[i] = placement.NodeID(id)
		}
		c.layout.Table = append(c.layout.Table, row)
	}
	for _, id := range c.ids {
		c.open(id)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.Close()
		}
	})
	for _, id := range c.ids {
		if err := c.nodes[id].PutBucket(t.Context(), &metadata.Bucket{Name: "b", HLC: c.nextHLC(), Created: time.Unix(1700000000, 0).UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *repairCluster) open(id string) *Node {
	c.t.Helper()
	cfg := Config{ID: id, Dir: c.dirs[id], Peers: c.dialer, Layout: c.layout, HomesPerPG: 4,
		ScanInterval: time.Hour, HandoffInterval: time.Hour, ScrubRate: 1 << 40, Now: c.clock}
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	n, err := Open(cfg)
	if err != nil {
		c.t.Fatalf("Open(%s): %v", id, err)
	}
	c.nodes[id] = n
	c.dialer[id] = n
	return n
}

func (c *repairCluster) clock() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *repairCluster) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *repairCluster) nextHLC() metadata.HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hlc++
	return metadata.NewHLC(c.hlc, 0)
}

// put writes an object the way a gateway would: shards (or inline
// fragments) to homes n1..n4 in order, then the records. skip lists the
// homes that get nothing.
func (c *repairCluster) put(key string, data []byte, inline bool, skip ...string) (*metadata.Version, [][]byte) {
	c.t.Helper()
	ctx := c.t.Context()
	shards, err := c.codec.EncodeAll(data)
	if err != nil {
		c.t.Fatal(err)
	}
	h := c.nextHLC()
	v := &metadata.Version{Bucket: "b", Key: key, VersionID: metadata.NewVersionID(h, "gw"), HLC: h,
		Size: int64(len(data)), ETag: "e", ModTime: time.Unix(1700000000, 0).UTC(), EC: c.ec, Shards: c.ids}
	for i, id := range c.ids {
		if slices.Contains(skip, id) {
			continue
		}
		rec := *v
		if inline {
			rec.Inline = append([]byte{}, shards[i]...)
		} else {
			ref := transport.ShardRef{Bucket: "b", Key: key, VersionID: v.VersionID, Index: i}
			if err := c.nodes[id].PutShard(ctx, ref, bytes.NewReader(shards[i]), int64(len(shards[i]))); err != nil {
				c.t.Fatal(err)
			}
		}
		if err := c.nodes[id].PutVersion(ctx, &rec); err != nil {
			c.t.Fatal(err)
		}
	}
	return v, shards
}

func shardRef(v *metadata.Version, i int) transport.ShardRef {
	return transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: i}
}

// shardBytes returns what node id serves as shard i of v (file or inline).
func (c *repairCluster) shardBytes(id string, v *metadata.Version, i int) ([]byte, error) {
	rc, err := c.nodes[id].ReadShard(c.t.Context(), transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: i}, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// A missing and a corrupt shard are both found and rebuilt byte-exact.
func TestScanRebuildsMissingAndCorruptShards(t *testing.T) {
	t.Parallel()
	c := newRepairCluster(t, nil)
	ctx := t.Context()
	a, aShards := c.put("a", payload(1, 50_000), false)
	b, bShards := c.put("b", payload(2, 9_000), false)
	loseShard(t, c.nodes["n1"], shardRef(a, 0))
	corruptShard(t, c.nodes["n1"], shardRef(b, 0), int64(len(bShards[0])/2))

	if err := c.nodes["n1"].ScanNow(ctx); err != nil {
		t.Fatalf("ScanNow: %v", err)
	}
	for _, tc := range []struct {
		v    *metadata.Version
		want []byte
	}{{a, aShards[0]}, {b, bShards[0]}} {
		got, err := diskShard(c.nodes["n1"], shardRef(tc.v, 0))
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("shard 0 of %s after scan: %d bytes, %v; want the %d original bytes", tc.v.Key, len(got), err, len(tc.want))
		}
	}
	st := c.nodes["n1"].ScannerStats()
	if st.ShardsMissing != 1 || st.ShardsCorrupt != 1 || st.ShardsRebuilt != 2 || st.RepairFailures != 0 || st.ShardsVerified != 1 || st.Passes != 1 {
		t.Errorf("ScannerStats = %+v; want 1 missing, 1 corrupt, 2 rebuilt, 1 verified, 1 pass", st)
	}
	// A second pass finds nothing to do.
	if err := c.nodes["n1"].ScanNow(ctx); err != nil {
		t.Fatalf("second ScanNow: %v", err)
	}
	if st2 := c.nodes["n1"].ScannerStats(); st2.ShardsRebuilt != 2 || st2.ShardsVerified != 3 {
		t.Errorf("after a second pass: %+v; want nothing rebuilt, both shards verified", st2)
	}
}

// Objects that lost the most shards are repaired first.
func TestScanRepairsWorstFirst(t *testing.T) {
	t.Parallel()
	c := newRepairCluster(t, nil)
	var order []string
	c.nodes["n1"].scan.onRepair = func(_, key string, _, lost int) { order = append(order, fmt.Sprintf("%s:%d", key, lost)) }
	c.put("one", payload(3, 10_000), false, "n1")
	two, _ := c.put("two", payload(4, 10_000), false, "n1", "n2")
	// A corrupt shard is as lost as a missing one.
	three, _ := c.put("three", payload(6, 10_000), false, "n2")
	corruptShard(t, c.nodes["n1"], shardRef(three, 0), 100)
	inl, _ := c.put("inline", payload(5, 100), true)
	// A corrupt inline fragment on n1 counts as lost for n1 only.
	cur, err := c.nodes["n1"].getVersion("b", "inline")
	if err != nil {
		t.Fatal(err)
	}
	cur.Inline[40] ^= 1
	rec, _ := cur.MarshalBinary()
	if err := c.nodes["n1"].db.Set(metadata.ObjectRecordKey("b", "inline"), rec, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.nodes["n1"].ScanNow(t.Context()); err != nil {
		t.Fatalf("ScanNow: %v", err)
	}
	want := []string{"three:2", "two:2", "inline:1", "one:1"}
	if !slices.Equal(order, want) {
		t.Errorf("repair order = %v; want %v (ties in store order)", order, want)
	}
	if _, err := c.shardBytes("n1", two, 0); err != nil {
		t.Errorf("shard 0 of two on n1 after scan: %v", err)
	}
	if _, err := c.shardBytes("n2", two, 1); err == nil {
		t.Errorf("n2 rebuilt its shard during n1's pass; a node repairs only its own")
	}
	got, _ := c.nodes["n1"].getVersion("b", "inline")
	if err := c.codec.VerifyShard(bytes.NewReader(got.Inline), inl.Size); err != nil {
		t.Errorf("inline fragment on n1 after scan: %v", err)
	}
}

// A node whose data dir was wiped gets back every record, its own inline
// fragments and every shard file it held.
func TestScanRestoresWipedNode(t *testing.T) {
	t.Parallel()
	c := newRepairCluster(t, nil)
	ctx := t.Context()
	type obj struct {
		v      *metadata.Version
		shards [][]byte
	}
	var objs []obj
	for i, size := range []int{0, 1, 100, 5000, 30_000, 70_001} {
		for _, inline := range []bool{true, false} {
			v, s := c.put(fmt.Sprintf("k%d-%v", i, inline), payload(uint64(10+i), size), inline)
			objs = append(objs, obj{v, s})
		}
	}
	c.put("deleted", payload(99, 3000), false)
	h := c.nextHLC()
	tomb := &metadata.Version{Bucket: "b", Key: "deleted", VersionID: metadata.NewVersionID(h, "gw"), HLC: h, Deleted: true, Shards: c.ids}
	for _, id := range c.ids {
		if err := c.nodes[id].PutVersion(ctx, tomb); err != nil {
			t.Fatal(err)
		}
	}

	if err := c.nodes["n3"].Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(c.dirs["n3"]); err != nil {
		t.Fatal(err)
	}
	n3 := c.open("n3")
	if bs, _ := n3.Buckets(ctx); len(bs) != 0 {
		t.Fatalf("wiped node has buckets %v", bs)
	}
	if err := n3.ScanNow(ctx); err != nil {
		t.Fatalf("ScanNow on the wiped node: %v", err)
	}
	if bs, _ := n3.Buckets(ctx); len(bs) != 1 || bs[0].Name != "b" {
		t.Errorf("buckets on the restored node = %v; want [b]", bs)
	}
	for _, o := range objs {
		v, err := n3.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: o.v.Key})
		if err != nil || v.VersionID != o.v.VersionID {
			t.Errorf("record of %s on restored node = %v, %v; want version %s", o.v.Key, v, err, o.v.VersionID)
			continue
		}
		got, err := c.shardBytes("n3", o.v, 2)
		if err != nil || !bytes.Equal(got, o.shards[2]) {
			t.Errorf("shard 2 of %s on restored node: %d bytes, %v; want the %d original bytes", o.v.Key, len(got), err, len(o.shards[2]))
		}
		if _, ferr := diskShard(c.nodes["n3"], shardRef(o.v, 2)); (ferr == nil) == v.IsInline() {
			t.Errorf("%s (inline %v): shard bytes kept outside the record = %v", o.v.Key, v.IsInline(), ferr == nil)
		}
	}
	if v, err := n3.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "deleted"}); err != nil || !v.Deleted {
		t.Errorf("record of a deleted key on restored node = %+v, %v; want the tombstone", v, err)
	}
	st := n3.ScannerStats()
	if st.RecordsPulled != int64(len(objs)+1) || st.ShardsRebuilt != int64(len(objs)/2) || st.RepairFailures != 0 {
		t.Errorf("ScannerStats = %+v; want %d records pulled, %d shards rebuilt", st, len(objs)+1, len(objs)/2)
	}
	// Now every home agrees.
	want, _ := c.nodes["n1"].PGDigests(ctx, c.layout.PGCount)
	got, _ := n3.PGDigests(ctx, c.layout.PGCount)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PG digests of restored node differ from n1's")
	}
}

// Records never leave a node with inline bytes, and a pending conditional
// write is not spread.
func TestPGRecordsStripsInlineAndSkipsPending(t *testing.T) {
	t.Parallel()
	c := newRepairCluster(t, nil)
	ctx := t.Context()
	c.put("in", payload(1, 10), true)
	h := c.nextHLC()
	pending := &metadata.Version{Bucket: "b", Key: "cond", VersionID: metadata.NewVersionID(h, "gw"), HLC: h, EC: c.ec, Shards: c.ids, Inline: []byte{}}
	if ok, err := c.nodes["n1"].PutVersionIf(ctx, pending, transport.Condition{MustNotExist: true}); !ok || err != nil {
		t.Fatalf("PutVersionIf = %v, %v", ok, err)
	}
	var all []int
	for pg := range c.layout.PGCount {
		all = append(all, pg)
	}
	page, err := c.nodes["n1"].PGRecords(ctx, transport.PGRecordsRequest{PGCount: c.layout.PGCount, PGs: all, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || page.Records[0].Key != "in" || page.Records[0].Inline == nil || len(page.Records[0].Inline) != 0 {
		t.Errorf("PGRecords = %+v; want only %q, with empty non-nil Inline", page.Records, "in")
	}
	if _, err := c.nodes["n1"].PGRecords(ctx, transport.PGRecordsRequest{PGCount: 0, Limit: 1}); err == nil {
		t.Errorf("PGRecords(PGCount 0) = nil error; want ErrInvalid")
	}
	// Pages resume after the last key.
	for i := range 5 {
		c.put(fmt.Sprintf("p%d", i), payload(uint64(i), 10), true)
	}
	var keys []string
	req := transport.PGRecordsRequest{PGCount: c.layout.PGCount, PGs: all, Limit: 2}
	for {
		page, err := c.nodes["n2"].PGRecords(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Records {
			keys = append(keys, v.Key)
		}
		if !page.Truncated {
			break
		}
		req.After = metadata.ObjectKey{Bucket: "b", Key: keys[len(keys)-1]}
	}
	if want := []string{"in", "p0", "p1", "p2", "p3", "p4"}; !slices.Equal(keys, want) {
		t.Errorf("paged PGRecords keys = %v; want %v", keys, want)
	}
}

// Unreferenced shards go once they are older than the grace period;
// shards of records, of hints and of multipart parts stay.
func TestScanCollectsOrphans(t *testing.T) {
	t.Parallel()
	// n4 is down, so the hint held for it stays.
	c := newRepairCluster(t, func(cfg *Config) {
		cfg.OrphanGrace = time.Hour
		cfg.Alive = func(id string) bool { return id != "n4" }
	})
	ctx := t.Context()
	n1 := c.nodes["n1"]
	kept, _ := c.put("kept", payload(1, 5000), false)
	orphan := transport.ShardRef{Bucket: "b", Key: "never-committed", VersionID: "v1", Index: 0}
	hinted := transport.ShardRef{Bucket: "b", Key: "hinted", VersionID: "v2", Index: 3}
	part := transport.ShardRef{Bucket: "b", Key: "mp", VersionID: metadata.PartStorageID("up1", 1, "x"), Index: 0}
	for _, ref := range []transport.ShardRef{orphan, part} {
		if err := n1.PutShard(ctx, ref, bytes.NewReader([]byte("abc")), 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := n1.PutShardHint(ctx, "n4", hinted, bytes.NewReader([]byte("abc")), 3); err != nil {
		t.Fatal(err)
	}
	up := &metadata.Upload{Bucket: "b", Key: "mp", UploadID: "up1", HLC: c.nextHLC(), Created: c.clock().UTC(), EC: c.ec, Shards: c.ids}
	if err := n1.PutUpload(ctx, up); err != nil {
		t.Fatal(err)
	}
	if err := n1.PutPart(ctx, "b", "mp", "up1", &metadata.UploadPart{Part: metadata.Part{Number: 1, Size: 3, StorageID: part.VersionID}, HLC: c.nextHLC()}); err != nil {
		t.Fatal(err)
	}
	exists := func(ref transport.ShardRef) bool {
		_, err := diskShard(n1, ref)
		return err == nil
	}
	if err := n1.ScanNow(ctx); err != nil {
		t.Fatal(err)
	}
	if !exists(orphan) || n1.ScannerStats().OrphansRemoved != 0 {
		t.Fatalf("a fresh unreferenced shard was collected inside the grace period")
	}
	c.advance(2 * time.Hour)
	if err := n1.ScanNow(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(orphan) {
		t.Errorf("orphan shard still present after the grace period")
	}
	for name, ref := range map[string]transport.ShardRef{"hint": hinted, "part": part,
		"committed": {Bucket: "b", Key: "kept", VersionID: kept.VersionID, Index: 0}} {
		if !exists(ref) {
			t.Errorf("%s shard was collected as an orphan", name)
		}
	}
	if got := n1.ScannerStats().OrphansRemoved; got != 1 {
		t.Errorf("OrphansRemoved = %d; want 1", got)
	}
}

// A hint that outlived the hint window becomes a repair debt; the debt
// holder's scan rebuilds the shard (or the record) at the home.
func TestScanSettlesRepairDebts(t *testing.T) {
	t.Parallel()
	c := newRepairCluster(t, func(cfg *Config) { cfg.HintWindow = time.Nanosecond })
	ctx := t.Context()
	// n1 missed both writes; n2 took its shard and record as hints.
	big, bigShards := c.put("big", payload(7, 20_000), false, "n1")
	small, smallShards := c.put("small", payload(8, 300), true, "n1")
	n2 := c.nodes["n2"]
	ref := transport.ShardRef{Bucket: "b", Key: "big", VersionID: big.VersionID, Index: 0,
		Check: &transport.ShardCheck{ObjectSize: big.Size, EC: c.ec}}
	if err := n2.PutShardHint(ctx, "n1", ref, bytes.NewReader(bigShards[0]), int64(len(bigShards[0]))); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*metadata.Version{big, small} {
		rec := *v
		if v == small {
			rec.Inline = smallShards[0]
		}
		if err := n2.PutVersionHint(ctx, "n1", &rec); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(time.Second)
	if err := n2.ReplayHints(ctx, "n1"); err != nil {
		t.Fatalf("ReplayHints: %v", err)
	}
	debts, err := n2.RepairDebts("n1")
	if err != nil || len(debts) != 3 {
		t.Fatalf("RepairDebts(n1) = %v, %v; want 3 (expired hints)", debts, err)
	}
	if _, err := c.nodes["n1"].GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "big"}); err == nil {
		t.Fatalf("n1 has the record before repair; the test needs it missing")
	}

	if err := n2.ScanNow(ctx); err != nil {
		t.Fatalf("ScanNow on the debt holder: %v", err)
	}
	if debts, _ := n2.RepairDebts("n1"); len(debts) != 0 {
		t.Errorf("RepairDebts(n1) after scan = %v; want none", debts)
	}
	if st := n2.HintStats()["n1"]; st.RepairDebts != 0 {
		t.Errorf("HintStats[n1].RepairDebts = %d; want 0", st.RepairDebts)
	}
	if got := n2.ScannerStats().DebtsSettled; got != 3 {
		t.Errorf("DebtsSettled = %d; want 3", got)
	}
	for _, tc := range []struct {
		v    *metadata.Version
		want []byte
	}{{big, bigShards[0]}, {small, smallShards[0]}} {
		v, err := c.nodes["n1"].GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: tc.v.Key})
		if err != nil || v.VersionID != tc.v.VersionID {
			t.Errorf("record of %s at its home after debt settled: %v, %v", tc.v.Key, v, err)
		}
		got, err := c.shardBytes("n1", tc.v, 0)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("shard 0 of %s at its home: %d bytes, %v; want the %d original bytes", tc.v.Key, len(got), err, len(tc.want))
		}
	}
}

// Verification is held to ScrubRate.
func TestScrubRateBoundsVerification(t *testing.T) {
	t.Parallel()
	c := newRepairCluster(t, func(cfg *Config) { cfg.ScrubRate = 200 << 10 })
	for i := range 3 {
		c.put(fmt.Sprintf("r%d", i), payload(uint64(i), 200_000), false) // ~100 KiB shards
	}
	start := time.Now()
	if err := c.nodes["n1"].ScanNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Three ~100 KiB shards at 200 KiB/s: the last two wait ~0.5 s each... in
	// total about 1 s after the first.
	if took := time.Since(start); took < 800*time.Millisecond {
		t.Errorf("scrub of 3 × 100 KiB at 200 KiB/s took %v; want ≥ 0.8 s", took)
	}
	if st := c.nodes["n1"].ScannerStats(); st.ShardsVerified != 3 || st.BytesVerified < 300_000 {
		t.Errorf("ScannerStats = %+v; want 3 shards, ~300 kB verified", st)
	}
}

func TestSplitPartKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ bucket, key string }{{"b", "k"}, {"b", "a/b/c"}, {"b", "nul\x00in\x00key"}, {"b", ""}} {
		k := metadata.PartRecordKey(tc.bucket, tc.key, "up", 7)
		b, key, ok := splitPartKey(k)
		if !ok || b != tc.bucket || key != tc.key {
			t.Errorf("splitPartKey(%q) = %q, %q, %v; want %q, %q, true", k, b, key, ok, tc.bucket, tc.key)
		}
	}
	if _, _, ok := splitPartKey([]byte("q/b/k")); ok {
		t.Errorf("splitPartKey of a malformed key: ok; want not ok")
	}
}

// A shard missing on its home but held as a hint by a live fallback is
// left to the handoff, not rebuilt as well; one whose hint the fallback no
// longer has is rebuilt.
func TestScanLeavesHintedShardsToHandoff(t *testing.T) {
	t.Parallel()
	c := newRepairCluster(t, nil)
	ctx := t.Context()
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	hinted, hintedShards := c.put("hinted", payload(11, 20_000), false, "n1")
	gone, goneShards := c.put("gone", payload(12, 20_000), false, "n1")
	ref := shardRef(hinted, 0)
	if err := n2.PutShardHint(ctx, "n1", ref, bytes.NewReader(hintedShards[0]), int64(len(hintedShards[0]))); err != nil {
		t.Fatal(err)
	}
	// n1 has both records, naming n2 as the holder of its shard; n2 never
	// got (or lost) the shard of "gone".
	for _, v := range []*metadata.Version{hinted, gone} {
		rec := *v
		rec.Hints = []string{"n2", "", "", ""}
		if err := n1.PutVersion(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := n1.ScanNow(ctx); err != nil {
		t.Fatal(err)
	}
	st := n1.ScannerStats()
	if st.ShardsMissing != 2 || st.AwaitingHandoff != 1 || st.ShardsRebuilt != 1 {
		t.Errorf("ScannerStats = %+v; want 2 missing, 1 left to the handoff, 1 rebuilt", st)
	}
	if got, err := diskShard(n1, shardRef(gone, 0)); err != nil || !bytes.Equal(got, goneShards[0]) {
		t.Errorf("shard whose hint is gone: %d bytes, %v; want it rebuilt", len(got), err)
	}
	if _, err := diskShard(n1, ref); err == nil {
		t.Errorf("hinted shard was rebuilt while its fallback still held it")
	}
	if err := n2.ReplayHints(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if got, err := diskShard(n1, ref); err != nil || !bytes.Equal(got, hintedShards[0]) {
		t.Errorf("hinted shard after the handoff: %d bytes, %v; want the original", len(got), err)
	}
}

// A scrub cut short by a pass asked for meanwhile goes on from where it
// stopped in the next pass, and starts over once it reached the end.
func TestScrubYieldsToAskedPass(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	const records = 600 // three pages of 256
	for i := range records {
		if err := n.PutVersion(ctx, version(fmt.Sprintf("k%04d", i), "v1", 1)); err != nil {
			t.Fatal(err)
		}
	}
	scanned := func() int64 { return n.ScannerStats().RecordsScanned }
	var asked atomic.Bool
	n.scan.asked = asked.Load
	pass := func(kicked bool) int64 {
		t.Helper()
		before := scanned()
		asked.Store(kicked)
		n.ScanNow(ctx) // the records' shards are missing: findings, not failures of the pass
		return scanned() - before
	}
	if got := pass(true); got != 256 {
		t.Errorf("scrub with a pass asked for: %d records; want one page, 256", got)
	}
	if got := n.ScannerStats().ScrubsCut; got != 1 {
		t.Errorf("ScrubsCut = %d; want 1", got)
	}
	if got := pass(false); got != records-256 {
		t.Errorf("next scrub: %d records; want the %d after the first page", got, records-256)
	}
	if got := pass(false); got != records {
		t.Errorf("scrub after one that reached the end: %d records; want all %d", got, records)
	}
}

// A home whose disk is full refuses the hints sent back to it; the holder
// leaves that home alone for a while instead of sending it a shard to be
// refused at every handoff tick. (The cluster's clock stands still, so the
// pause does not run out during the test.)
func TestHandoffPausesForFullHome(t *testing.T) {
	t.Parallel()
	c := newRepairCluster(t, func(cfg *Config) {
		switch cfg.ID {
		case "n1":
			cfg.MinFreeBytes = 1 << 62
		case "n2":
			cfg.HandoffInterval = 5 * time.Millisecond
		}
	})
	ctx := t.Context()
	big, bigShards := c.put("big", payload(7, 20_000), false, "n1")
	ref := transport.ShardRef{Bucket: "b", Key: "big", VersionID: big.VersionID, Index: 0,
		Check: &transport.ShardCheck{ObjectSize: big.Size, EC: c.ec}}
	if err := c.nodes["n2"].PutShardHint(ctx, "n1", ref, bytes.NewReader(bigShards[0]), int64(len(bigShards[0]))); err != nil {
		t.Fatal(err)
	}
	refusals := &c.nodes["n1"].shards.refusals
	deadline := time.Now().Add(10 * time.Second)
	for refusals.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("n2 never replayed its hint to n1")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // twenty handoff ticks
	if got := refusals.Load(); got != 1 {
		t.Errorf("n1 refused %d replays of the one hint; want 1, then a pause", got)
	}
	if st := c.nodes["n2"].HintStats()["n1"]; st.Count != 1 {
		t.Errorf("n2 holds %d hints for n1; want the refused one kept", st.Count)
	}
}

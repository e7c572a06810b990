package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pebblevfs "github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"cairn/metadata"
	"cairn/transport"
)

func openTestNode(t *testing.T) (*Node, string) {
	t.Helper()
	return openTestNodeWith(t, Config{})
}

// openTestNodeWith opens node n1 in a fresh directory with cfg's settings.
func openTestNodeWith(t *testing.T, cfg Config) (*Node, string) {
	t.Helper()
	dir := t.TempDir()
	cfg.ID, cfg.Dir = "n1", dir
	n, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n, dir
}

// openCrashableNode opens node n1 in a fresh directory over a metadata
// store that can crash. crash opens the node again as it would come back
// from a crash at that moment: every metadata write not synced is lost
// (shard segments are on the real disk and keep what was written).
func openCrashableNode(t *testing.T) (n *Node, crash func() *Node) {
	t.Helper()
	n, crashed := openCrashableNodeWith(t)
	return n, func() *Node {
		t.Helper()
		m, err := Open(crashed(Config{}))
		if err != nil {
			t.Fatalf("reopen after the crash: %v", err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
}

// openCrashableNodeWith is openCrashableNode for a test that reopens the
// node itself: crashed returns cfg completed to open it as it would come
// back from a crash at that moment, once.
func openCrashableNodeWith(t *testing.T) (n *Node, crashed func(cfg Config) Config) {
	t.Helper()
	mem := pebblevfs.NewCrashableMem()
	dir := t.TempDir()
	n, err := Open(Config{ID: "n1", Dir: dir, MetaFS: mem})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n, func(cfg Config) Config {
		cfg.ID, cfg.Dir, cfg.MetaFS = "n1", dir, mem.CrashClone(pebblevfs.CrashCloneCfg{})
		return cfg
	}
}

func version(key, id string, hlc metadata.HLC) *metadata.Version {
	return &metadata.Version{
		Bucket: "b", Key: key, VersionID: id, HLC: hlc, Size: 3, ETag: "e",
		ModTime: time.Unix(1700000000, 0).UTC(),
		EC:      metadata.ErasureInfo{DataShards: 1, ParityShards: 0, BlockSize: 1 << 20, Checksum: metadata.HighwayHash256},
		Shards:  []string{"n1"},
	}
}

func readAll(t *testing.T, n *Node, ref transport.ShardRef, off, length int64) ([]byte, error) {
	t.Helper()
	rc, err := n.ReadShard(t.Context(), ref, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := Open(Config{})
	if err == nil || !strings.Contains(err.Error(), "ID is required") || !strings.Contains(err.Error(), "Dir is required") {
		t.Fatalf("Open(Config{}) = %v; want both missing fields reported", err)
	}
}

func TestShardRoundTripAndRanges(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1", Index: 2}
	data := []byte("0123456789")
	if err := n.PutShard(t.Context(), ref, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("PutShard: %v", err)
	}
	for _, tc := range []struct {
		off, n int64
		want   string
	}{
		{0, -1, "0123456789"},
		{3, 4, "3456"},
		{8, 100, "89"},
		{10, -1, ""},
	} {
		got, err := readAll(t, n, ref, tc.off, tc.n)
		if err != nil || string(got) != tc.want {
			t.Errorf("ReadShard(off=%d, n=%d) = %q, %v; want %q", tc.off, tc.n, got, err, tc.want)
		}
	}
	if _, err := readAll(t, n, ref, 11, 1); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("ReadShard past end: err = %v; want ErrInvalid", err)
	}
	if err := n.DeleteShard(t.Context(), ref); err != nil {
		t.Fatalf("DeleteShard: %v", err)
	}
	if _, err := readAll(t, n, ref, 0, -1); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("ReadShard after delete: err = %v; want ErrNotFound", err)
	}
	if err := n.DeleteShard(t.Context(), ref); err != nil {
		t.Errorf("DeleteShard of a missing shard = %v; want nil", err)
	}
}

// A body that ends early must leave no shard behind.
func TestShortShardLeavesNothing(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1", Index: 0}
	err := n.PutShard(t.Context(), ref, strings.NewReader("abc"), 10)
	if !errors.Is(err, transport.ErrInvalid) {
		t.Fatalf("PutShard(short body) = %v; want ErrInvalid", err)
	}
	if _, err := readAll(t, n, ref, 0, -1); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("ReadShard after failed put: err = %v; want ErrNotFound", err)
	}
	failing := io.MultiReader(strings.NewReader("abc"), iotestErrReader{})
	if err := n.PutShard(t.Context(), ref, failing, 10); err == nil {
		t.Fatalf("PutShard(failing body) = nil; want error")
	}
	if stored, err := n.StoredShards(t.Context()); err != nil || len(stored) != 0 {
		t.Errorf("StoredShards after failed puts = %v, %v; want none", stored, err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// Keys are data: whatever they contain, files stay inside the data dir.
func TestHostileKeysStayInside(t *testing.T) {
	t.Parallel()
	n, dir := openTestNode(t)
	outside := filepath.Dir(dir)
	before, _ := os.ReadDir(outside)
	keys := []string{"../x", "../../etc/passwd", "/abs", "a/../../b", "nul\x00byte", `back\slash`, "%2e%2e/x", "//double", "."}
	for i, key := range keys {
		ref := transport.ShardRef{Bucket: "b", Key: key, VersionID: fmt.Sprint("v", i), Index: 0}
		if err := n.PutShard(t.Context(), ref, strings.NewReader(key), int64(len(key))); err != nil {
			t.Fatalf("PutShard(%q): %v", key, err)
		}
		got, err := readAll(t, n, ref, 0, -1)
		if err != nil || string(got) != key {
			t.Errorf("ReadShard(%q) = %q, %v; want the key back", key, got, err)
		}
	}
	after, _ := os.ReadDir(outside)
	if len(after) != len(before) {
		t.Errorf("entries next to the data dir: %d before, %d after", len(before), len(after))
	}
}

func TestNewestVersionWinsAndRetiresLoser(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	put := func(id string, hlc metadata.HLC) {
		t.Helper()
		ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: id, Index: 0}
		if err := n.PutShard(ctx, ref, strings.NewReader(id), int64(len(id))); err != nil {
			t.Fatalf("PutShard(%s): %v", id, err)
		}
		if err := n.PutVersion(ctx, version("k", id, hlc)); err != nil {
			t.Fatalf("PutVersion(%s): %v", id, err)
		}
	}
	shardExists := func(id string) bool {
		_, err := readAll(t, n, transport.ShardRef{Bucket: "b", Key: "k", VersionID: id, Index: 0}, 0, -1)
		return err == nil
	}
	put("v2", 20)
	put("v1", 10) // arrives late: loses, and its shard goes
	put("v3", 30) // newer: wins, and v2's shard goes
	got, err := n.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"})
	if err != nil || got.VersionID != "v3" {
		t.Fatalf("GetVersion = %v, %v; want v3", got, err)
	}
	// The losers' shards stay for the grace period, for reads that chose
	// them a moment ago, and go once it has passed.
	for id, want := range map[string]bool{"v1": true, "v2": true, "v3": true} {
		if shardExists(id) != want {
			t.Errorf("within the grace: shard of %s exists = %v; want %v", id, !want, want)
		}
	}
	if n, err := n.SweepRetired(time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Errorf("SweepRetired = %d, %v; want 2 versions", n, err)
	}
	for id, want := range map[string]bool{"v1": false, "v2": false, "v3": true} {
		if shardExists(id) != want {
			t.Errorf("after the grace: shard of %s exists = %v; want %v", id, !want, want)
		}
	}
	// A retried write of the current version changes nothing.
	if err := n.PutVersion(ctx, version("k", "v3", 30)); err != nil || !shardExists("v3") {
		t.Errorf("re-put of current version: err %v, shard kept %v", err, shardExists("v3"))
	}
}

func TestInlineShardServedFromRecord(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	v := version("small", "v1", 5)
	v.Inline = []byte("inline-bytes")
	if err := n.PutVersion(t.Context(), v); err != nil {
		t.Fatalf("PutVersion: %v", err)
	}
	got, err := readAll(t, n, transport.ShardRef{Bucket: "b", Key: "small", VersionID: "v1", Index: 0}, 7, 5)
	if err != nil || string(got) != "bytes" {
		t.Errorf("ReadShard(inline, 7, 5) = %q, %v; want %q", got, err, "bytes")
	}
	if _, err := readAll(t, n, transport.ShardRef{Bucket: "b", Key: "small", VersionID: "v0", Index: 0}, 0, -1); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("ReadShard(other version) err = %v; want ErrNotFound", err)
	}
}

func TestListBoundsAndPaging(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	keys := []string{"a", "a/1", "a/2", "b", "b/1", "c"}
	for i, k := range keys {
		if err := n.PutVersion(ctx, version(k, fmt.Sprint("v", i), metadata.HLC(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	// A key in another bucket whose name extends this one must not leak in.
	other := version("a", "x", 1)
	other.Bucket = "bb"
	if err := n.PutVersion(ctx, other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix, after string
		limit         int
		want          []string
		truncated     bool
	}{
		{"", "", 10, keys, false},
		{"", "", 2, []string{"a", "a/1"}, true},
		{"", "a/1", 2, []string{"a/2", "b"}, true},
		{"a/", "", 10, []string{"a/1", "a/2"}, false},
		{"b", "b", 10, []string{"b/1"}, false},
		{"", "c", 10, nil, false},
		{"", "0", 1, []string{"a"}, true},
	} {
		page, err := n.List(ctx, transport.ListRequest{Bucket: "b", Prefix: tc.prefix, After: tc.after, Limit: tc.limit})
		if err != nil {
			t.Fatalf("List(%q, %q, %d): %v", tc.prefix, tc.after, tc.limit, err)
		}
		var got []string
		for _, e := range page.Entries {
			got = append(got, e.Key)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) || page.Truncated != tc.truncated {
			t.Errorf("List(%q, %q, %d) = %v truncated=%v; want %v truncated=%v", tc.prefix, tc.after, tc.limit, got, page.Truncated, tc.want, tc.truncated)
		}
	}
}

func TestBucketsNewestWins(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := context.Background()
	for _, b := range []metadata.Bucket{{Name: "x", HLC: 2}, {Name: "x", HLC: 1, Deleted: true}, {Name: "y", HLC: 3}} {
		if err := n.PutBucket(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	bs, err := n.Buckets(ctx)
	if err != nil || len(bs) != 2 || bs[0].Name != "x" || bs[0].Deleted || bs[1].Name != "y" {
		t.Errorf("Buckets() = %+v, %v; want x (live) and y", bs, err)
	}
}

// Records survive a restart: they are in pebble on disk, not in memory.
func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n, err := Open(Config{ID: "n1", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.PutVersion(t.Context(), version("k", "v1", 1)); err != nil {
		t.Fatal(err)
	}
	n.Close()
	n, err = Open(Config{ID: "n1", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if v, err := n.GetVersion(t.Context(), metadata.ObjectKey{Bucket: "b", Key: "k"}); err != nil || v.VersionID != "v1" {
		t.Errorf("GetVersion after reopen = %v, %v; want v1", v, err)
	}
}

// A node whose disk is down to the space it keeps free refuses object data,
// shards and inline records, as itself or as a hint, with ErrNoSpace and
// keeps nothing of it; records without data, delete markers among them,
// still go in, so deletes work on a full node.
// The disk here is the real one: a reserve larger than any disk makes it
// full.
func TestFullDiskRefusesShardsNotRecords(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	n, dir := openTestNodeWith(t, Config{MinFreeBytes: 1 << 62, Metrics: reg})
	ctx := t.Context()
	ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1", Index: 0}
	if err := n.PutShard(ctx, ref, strings.NewReader("data"), 4); !errors.Is(err, transport.ErrNoSpace) {
		t.Fatalf("PutShard on a full disk = %v; want ErrNoSpace", err)
	}
	if err := n.PutShardHint(ctx, "n2", ref, strings.NewReader("data"), 4); !errors.Is(err, transport.ErrNoSpace) {
		t.Fatalf("PutShardHint on a full disk = %v; want ErrNoSpace", err)
	}
	if stored, err := n.StoredShards(ctx); err != nil || len(stored) != 0 {
		t.Errorf("StoredShards after refused puts = %v, %v; want none", stored, err)
	}
	if st := n.HintStats()["n2"]; st.Count != 0 || st.Bytes != 0 {
		t.Errorf("HintStats after a refused hint = %+v; want none", st)
	}
	inline := version("k", "v1", 10)
	inline.Inline = []byte("object data carried in the record")
	if err := n.PutVersion(ctx, inline); !errors.Is(err, transport.ErrNoSpace) {
		t.Fatalf("PutVersion(inline object) on a full disk = %v; want ErrNoSpace", err)
	}
	if err := n.PutVersionHint(ctx, "n2", inline); !errors.Is(err, transport.ErrNoSpace) {
		t.Fatalf("PutVersionHint(inline object) on a full disk = %v; want ErrNoSpace", err)
	}
	if got := counterValue(t, reg, "cairn_node_space_refusals_total"); got != 4 {
		t.Errorf("cairn_node_space_refusals_total = %v; want 4", got)
	}
	marker := version("k", "v2", 20)
	marker.Deleted, marker.Size, marker.EC, marker.Shards = true, 0, metadata.ErasureInfo{}, nil
	if err := n.PutVersion(ctx, marker); err != nil {
		t.Fatalf("PutVersion(delete marker) on a full disk = %v", err)
	}
	if got, err := n.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"}); err != nil || !got.Deleted {
		t.Errorf("GetVersion = %+v, %v; want the delete marker", got, err)
	}

	// With the check off (or room made), the same node takes shards again.
	n.Close()
	again, err := Open(Config{ID: "n1", Dir: dir, MinFreeBytes: -1})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	if err := again.PutShard(ctx, ref, strings.NewReader("data"), 4); err != nil {
		t.Fatalf("PutShard with the check off = %v", err)
	}
}

// counterValue is the value of the counter named name that reg exports.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

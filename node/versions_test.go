package node

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

func versioned(key, id string, hlc metadata.HLC, s metadata.Versioning) *metadata.Version {
	v := version(key, id, hlc)
	v.Versioning = s
	return v
}

// listIDs lists every version of bucket b as "key@id" (purged ones with a
// trailing "!"), in the node's order.
func listIDs(t *testing.T, n *Node, req transport.VersionListRequest) []string {
	t.Helper()
	req.Bucket = "b"
	if req.Limit == 0 {
		req.Limit = 1000
	}
	page, err := n.ListVersions(t.Context(), req)
	if err != nil {
		t.Fatalf("ListVersions: %v", err)
	}
	var out []string
	for _, v := range page.Versions {
		s := v.Key + "@" + v.VersionID
		if v.IsPurged() {
			s += "!"
		}
		out = append(out, s)
	}
	return out
}

func putShard(t *testing.T, n *Node, key, id string) transport.ShardRef {
	t.Helper()
	ref := transport.ShardRef{Bucket: "b", Key: key, VersionID: id, Index: 0}
	if err := n.PutShard(t.Context(), ref, strings.NewReader("abc"), 3); err != nil {
		t.Fatal(err)
	}
	return ref
}

func hasShard(n *Node, ref transport.ShardRef) bool {
	sh, err := n.shards.open(ref)
	if err == nil {
		sh.Close()
	}
	return err == nil
}

func TestVersionedBucketKeepsEveryVersion(t *testing.T) {
	t.Parallel()
	n, _ := openTestNodeWith(t, Config{RetireGrace: -1})
	ctx := t.Context()
	var refs []transport.ShardRef
	// Out of order, as hints and write-backs deliver them.
	for _, h := range []metadata.HLC{20, 10, 30} {
		id := metadata.NewVersionID(h, "g")
		refs = append(refs, putShard(t, n, "k", id))
		if err := n.PutVersion(ctx, versioned("k", id, h, metadata.VersioningEnabled)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"k@" + metadata.NewVersionID(30, "g"), "k@" + metadata.NewVersionID(20, "g"), "k@" + metadata.NewVersionID(10, "g")}
	if got := listIDs(t, n, transport.VersionListRequest{}); !slices.Equal(got, want) {
		t.Errorf("ListVersions = %v; want %v", got, want)
	}
	for _, ref := range refs {
		if !hasShard(n, ref) {
			t.Errorf("shard %s removed; a versioned bucket keeps it", ref)
		}
	}
	cur, _ := n.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"})
	if cur.HLC != 30 {
		t.Errorf("current HLC = %v; want 30", cur.HLC)
	}
	for _, h := range []metadata.HLC{10, 20, 30} {
		id := metadata.NewVersionID(h, "g")
		v, err := n.GetVersionByID(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"}, id)
		if err != nil || v.VersionID != id {
			t.Errorf("GetVersionByID(%s) = %v, %v", id, v, err)
		}
	}
	// Paging from a marker.
	got := listIDs(t, n, transport.VersionListRequest{KeyMarker: "k", VersionIDMarker: metadata.NewVersionID(30, "g"), MarkerHLC: 30})
	if !slices.Equal(got, want[1:]) {
		t.Errorf("ListVersions after the newest = %v; want %v", got, want[1:])
	}
	if got := listIDs(t, n, transport.VersionListRequest{KeyMarker: "k"}); len(got) != 0 {
		t.Errorf("ListVersions after key k = %v; want none", got)
	}
}

func TestUnversionedOverwriteWritesNoVersions(t *testing.T) {
	t.Parallel()
	n, _ := openTestNodeWith(t, Config{RetireGrace: -1})
	ctx := t.Context()
	r1 := putShard(t, n, "k", "v1")
	n.PutVersion(ctx, version("k", "v1", 1))
	putShard(t, n, "k", "v2")
	n.PutVersion(ctx, version("k", "v2", 2))
	if hasShard(n, r1) {
		t.Errorf("overwritten null version's shard still there")
	}
	if got := listIDs(t, n, transport.VersionListRequest{}); !slices.Equal(got, []string{"k@v2"}) {
		t.Errorf("ListVersions = %v; want [k@v2]", got)
	}
	if err := n.PutVersion(ctx, &metadata.Version{Bucket: "b", Key: "k", VersionID: "v3", HLC: 3, Deleted: true}); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, n, transport.VersionListRequest{}); !slices.Equal(got, []string{"k@v3"}) {
		t.Errorf("ListVersions after a plain delete = %v; want only the tombstone", got)
	}
	if _, err := n.GetVersionByID(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"}, "null"); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("GetVersionByID(null) after delete = %v; want ErrNotFound", err)
	}
}

func TestSuspendedReplacesOnlyTheNullVersion(t *testing.T) {
	t.Parallel()
	n, _ := openTestNodeWith(t, Config{RetireGrace: -1})
	ctx := t.Context()
	null1 := putShard(t, n, "k", "n1")
	n.PutVersion(ctx, version("k", "n1", 1)) // written before versioning
	real := putShard(t, n, "k", "r2")
	n.PutVersion(ctx, versioned("k", "r2", 2, metadata.VersioningEnabled))
	null3 := putShard(t, n, "k", "n3")
	n.PutVersion(ctx, versioned("k", "n3", 3, metadata.VersioningSuspended))
	if hasShard(n, null1) || !hasShard(n, real) || !hasShard(n, null3) {
		t.Errorf("shards: old null %v, real %v, new null %v; want false true true", hasShard(n, null1), hasShard(n, real), hasShard(n, null3))
	}
	if got, want := listIDs(t, n, transport.VersionListRequest{}), []string{"k@n3", "k@r2"}; !slices.Equal(got, want) {
		t.Errorf("ListVersions = %v; want %v", got, want)
	}
	// A late copy of the replaced null version is refused.
	n.PutVersion(ctx, version("k", "n1", 1))
	if got, want := listIDs(t, n, transport.VersionListRequest{}), []string{"k@n3", "k@r2"}; !slices.Equal(got, want) {
		t.Errorf("ListVersions after a late old null = %v; want %v", got, want)
	}
	v, err := n.GetVersionByID(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"}, "null")
	if err != nil || v.VersionID != "n3" {
		t.Errorf("GetVersionByID(null) = %v, %v; want n3", v, err)
	}
}

func TestPurgeFallsBackAndRefusesLateCopies(t *testing.T) {
	t.Parallel()
	n, _ := openTestNodeWith(t, Config{RetireGrace: -1})
	ctx := t.Context()
	key := metadata.ObjectKey{Bucket: "b", Key: "k"}
	v1 := versioned("k", "a1", 10, metadata.VersioningEnabled)
	v2 := versioned("k", "a2", 20, metadata.VersioningEnabled)
	r2 := putShard(t, n, "k", "a2")
	n.PutVersion(ctx, v1)
	n.PutVersion(ctx, v2)
	purge := *v2
	purge.Purged = 25
	if err := n.PutVersion(ctx, &purge); err != nil {
		t.Fatal(err)
	}
	if hasShard(n, r2) {
		t.Errorf("purged version's shard still there")
	}
	cur, _ := n.GetVersion(ctx, key)
	if cur.VersionID != "a1" || cur.HLC != 25 || cur.BaseHLC != 10 {
		t.Errorf("current after purge = %s@%v base %v; want a1@25 base 10", cur.VersionID, cur.HLC, cur.BaseHLC)
	}
	// A stale copy of the purged version (a hint, say) changes nothing.
	n.PutVersion(ctx, v2)
	if cur, _ := n.GetVersion(ctx, key); cur.VersionID != "a1" {
		t.Errorf("current after a late copy = %s; want a1", cur.VersionID)
	}
	if got, want := listIDs(t, n, transport.VersionListRequest{}), []string{"k@a2!", "k@a1"}; !slices.Equal(got, want) {
		t.Errorf("ListVersions = %v; want %v", got, want)
	}
	if v, err := n.GetVersionByID(ctx, key, "a2"); err != nil || !v.IsPurged() {
		t.Errorf("GetVersionByID(purged) = %v, %v; want the purge tombstone", v, err)
	}
	// A newer version moves the current one back to its own slot.
	n.PutVersion(ctx, versioned("k", "a3", 30, metadata.VersioningEnabled))
	if got, want := listIDs(t, n, transport.VersionListRequest{}), []string{"k@a3", "k@a2!", "k@a1"}; !slices.Equal(got, want) {
		t.Errorf("ListVersions = %v; want %v", got, want)
	}
	if v, err := n.GetVersionByID(ctx, key, "a1"); err != nil || v.HLC != 10 || v.BaseHLC != 0 {
		t.Errorf("GetVersionByID(a1) = %+v, %v; want HLC 10 again", v, err)
	}
	// Purging every version leaves a plain tombstone as current.
	for _, id := range []string{"a3", "a1"} {
		v, _ := n.GetVersionByID(ctx, key, id)
		p := *v
		p.HLC, p.BaseHLC, p.Purged = v.SlotHLC(), 0, 40+metadata.HLC(len(id))
		if id == "a1" {
			p.Purged = 50
		}
		if err := n.PutVersion(ctx, &p); err != nil {
			t.Fatal(err)
		}
	}
	cur, _ = n.GetVersion(ctx, key)
	if !cur.Deleted || cur.IsDeleteMarker() || cur.HLC != 49 {
		t.Errorf("current after purging all = %+v; want a plain tombstone at 49", cur)
	}
}

func TestNoncurrentInlineShardServed(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	v1 := versioned("k", "i1", 1, metadata.VersioningEnabled)
	v1.Inline = []byte("old")
	n.PutVersion(ctx, v1)
	v2 := versioned("k", "i2", 2, metadata.VersioningEnabled)
	v2.Inline = []byte("new")
	n.PutVersion(ctx, v2)
	got, err := readAll(t, n, transport.ShardRef{Bucket: "b", Key: "k", VersionID: "i1"}, 0, -1)
	if err != nil || string(got) != "old" {
		t.Errorf("ReadShard(noncurrent inline) = %q, %v; want old", got, err)
	}
}

func TestVersionListPrefixAndNULKeys(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	for i, k := range []string{"a", "a\x00b", "ab", "b"} {
		for j := range 2 {
			h := metadata.HLC(10*i + j + 1)
			n.PutVersion(ctx, versioned(k, metadata.NewVersionID(h, "g"), h, metadata.VersioningEnabled))
		}
	}
	got := listIDs(t, n, transport.VersionListRequest{Prefix: "a"})
	var keys []string
	for _, s := range got {
		keys = append(keys, s[:strings.LastIndexByte(s, '@')])
	}
	if want := []string{"a", "a", "a\x00b", "a\x00b", "ab", "ab"}; !slices.Equal(keys, want) {
		t.Errorf("keys of ListVersions(prefix a) = %q; want %q", keys, want)
	}
	if got := listIDs(t, n, transport.VersionListRequest{Prefix: "a", From: "a\x01"}); len(got) != 2 {
		t.Errorf("ListVersions(from a\\x01) = %q; want the two of ab", got)
	}
	page, _ := n.ListVersions(ctx, transport.VersionListRequest{Bucket: "b", Limit: 3})
	if len(page.Versions) != 3 || !page.Truncated {
		t.Errorf("ListVersions(limit 3) = %d versions, truncated %v; want 3, true", len(page.Versions), page.Truncated)
	}
}

func TestPutVersionUnlessNewer(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	key := metadata.ObjectKey{Bucket: "b", Key: "k"}
	current := func() string {
		t.Helper()
		v, err := n.GetVersion(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return v.VersionID
	}
	steps := []struct {
		name      string
		v         *metadata.Version
		wantNewer metadata.HLC
		wantCur   string
	}{
		{"first write of the key", version("k", "v10", 10), 0, "v10"},
		{"newer write", version("k", "v20", 20), 0, "v20"},
		{"older write refused", version("k", "v15", 15), 20, "v20"},
		{"retry of the current version", version("k", "v20", 20), 0, "v20"},
		{"HLC tie, lower ID wins", version("k", "v1", 20), 0, "v1"},
		{"HLC tie, higher ID refused", version("k", "v9", 20), 20, "v1"},
		{"older than a tombstone", &metadata.Version{Bucket: "b", Key: "k", VersionID: "v5", HLC: 5, Deleted: true}, 20, "v1"},
	}
	for _, s := range steps {
		newer, err := n.PutVersionUnlessNewer(ctx, s.v)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if newer != s.wantNewer {
			t.Errorf("%s: newer = %d; want %d", s.name, newer, s.wantNewer)
		}
		if got := current(); got != s.wantCur {
			t.Errorf("%s: current version %s; want %s", s.name, got, s.wantCur)
		}
	}

	// A collected tombstone's watermark refuses what it would have.
	wm := binary.BigEndian.AppendUint64(nil, 50)
	wm = binary.BigEndian.AppendUint64(wm, uint64(time.Now().Add(time.Hour).UnixNano()))
	if err := n.db.Set(watermarkKey("b", "gone"), wm, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	n.watermarks.Add(1) // as tombstone collection counts what it sets
	if newer, err := n.PutVersionUnlessNewer(ctx, version("gone", "v40", 40)); err != nil || newer != 50 {
		t.Errorf("write under a watermark at 50: newer %d, %v; want 50", newer, err)
	}
	if _, err := n.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "gone"}); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("refused write stored: GetVersion = %v", err)
	}
	if newer, err := n.PutVersionUnlessNewer(ctx, version("gone", "v60", 60)); err != nil || newer != 0 {
		t.Errorf("write above the watermark: newer %d, %v; want 0", newer, err)
	}
}

func TestGetVersionWithShard(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	stored := strings.Repeat("s", 32+3) // one frame: checksum and the 3-byte fragment
	write := func(v *metadata.Version, shard string) {
		t.Helper()
		if shard != "" {
			ref := transport.ShardRef{Bucket: "b", Key: v.Key, VersionID: v.VersionID, Index: slices.Index(v.Shards, "n1")}
			if err := n.PutShard(ctx, ref, strings.NewReader(shard), int64(len(shard))); err != nil {
				t.Fatal(err)
			}
		}
		if err := n.PutVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	plain := version("plain", "v1", 1)
	write(plain, stored)
	second := version("second", "v1", 1)
	second.Shards = []string{"n0", "n1"}
	second.EC.ParityShards = 1
	write(second, stored)
	inline := version("inline", "v1", 1)
	inline.Inline = []byte(stored)
	write(inline, "")
	elsewhere := version("elsewhere", "v1", 1)
	elsewhere.Shards = []string{"n9"}
	write(elsewhere, "")
	missing := version("missing", "v1", 1)
	write(missing, "")
	multipart := version("multipart", "v1", 1)
	multipart.Parts = []metadata.Part{{Number: 1, Size: 3}}
	write(multipart, "")

	tests := []struct {
		key       string
		maxSize   int64
		wantIndex int
	}{
		{"plain", 1 << 20, 0},
		{"second", 1 << 20, 1},
		{"plain", 2, -1},           // larger than asked for
		{"inline", 1 << 20, -1},    // the record carries it
		{"elsewhere", 1 << 20, -1}, // not this node's
		{"missing", 1 << 20, -1},   // the node lacks it: the reader asks and finds out
		{"multipart", 1 << 20, -1},
	}
	for _, tc := range tests {
		v, index, shard, err := n.GetVersionWithShard(ctx, metadata.ObjectKey{Bucket: "b", Key: tc.key}, tc.maxSize)
		if err != nil || v == nil || v.Key != tc.key {
			t.Fatalf("%s: GetVersionWithShard = %v, %v", tc.key, v, err)
		}
		if index != tc.wantIndex {
			t.Errorf("%s (max %d): index %d; want %d", tc.key, tc.maxSize, index, tc.wantIndex)
		}
		var got []byte
		if shard != nil {
			if got, err = io.ReadAll(shard); err != nil {
				t.Fatal(err)
			}
			shard.Close()
		}
		if want := tc.wantIndex >= 0; want != (shard != nil) || (want && string(got) != stored) {
			t.Errorf("%s (max %d): shard %q (reader %v)", tc.key, tc.maxSize, got, shard != nil)
		}
	}
	if _, _, _, err := n.GetVersionWithShard(ctx, metadata.ObjectKey{Bucket: "b", Key: "none"}, 1<<20); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("GetVersionWithShard of a missing key: %v; want ErrNotFound", err)
	}
}

// A node that reopens counts the watermarks it holds, and refuses what
// they refuse; once they expire, it skips the lookup again.
func TestWatermarksCountedAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n, err := Open(Config{ID: "n1", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	expiry := time.Now().Add(time.Hour)
	for _, key := range []string{"x", "y"} {
		wm := binary.BigEndian.AppendUint64(nil, 50)
		wm = binary.BigEndian.AppendUint64(wm, uint64(expiry.UnixNano()))
		if err := n.db.Set(watermarkKey("b", key), wm, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	n.Close()
	if n, err = Open(Config{ID: "n1", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.watermarks.Load(); got != 2 {
		t.Errorf("watermarks counted at open: %d; want 2", got)
	}
	if newer, err := n.PutVersionUnlessNewer(t.Context(), version("x", "v40", 40)); err != nil || newer != 50 {
		t.Errorf("write under a watermark after a restart: newer %d, %v; want 50", newer, err)
	}
	if err := n.expireWatermarks(expiry.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := n.watermarks.Load(); got != 0 {
		t.Errorf("watermarks after they expired: %d; want 0", got)
	}
	if newer, err := n.PutVersionUnlessNewer(t.Context(), version("x", "v41", 41)); err != nil || newer != 0 {
		t.Errorf("write after the watermark expired: newer %d, %v; want it stored", newer, err)
	}
}

package node

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/transport"
	"cairn/vfs"
)

// A crash that loses every unsynced metadata write loses the index entries
// of acknowledged shards (they are committed without a sync); opening
// finds them again in the segment. An extent whose writer never finished,
// here one with half its data and no trailer, is stepped over and not
// indexed, and a shard written after it is still found. A rewrite of a
// shard whose first entry was durable wins over it.
func TestSegmentRecoveryAfterCrash(t *testing.T) {
	t.Parallel()
	n, crash := openCrashableNode(t)
	ctx := t.Context()
	ref := func(key string) transport.ShardRef {
		return transport.ShardRef{Bucket: "b", Key: key, VersionID: "v1"}
	}
	put := func(key string, data []byte) {
		t.Helper()
		if err := n.PutShard(ctx, ref(key), bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("PutShard %s: %v", key, err)
		}
	}
	want := map[string][]byte{
		"a": bytes.Repeat([]byte("a"), 300_000), // more than one copy buffer
		"b": []byte("bee"),
		"c": bytes.Repeat([]byte("c"), 5_000),
	}
	put("rewritten", []byte("first"))
	if err := n.db.LogData(nil, pebble.Sync); err != nil { // its entry survives
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond) // the rewrite is written later
	put("rewritten", []byte("second"))
	want["rewritten"] = []byte("second")
	put("a", want["a"])
	put("b", want["b"])
	// A writer that reserved its extent, wrote half of it and never came
	// back: its header is in the segment, its trailer is not.
	torn := extentHeader{key: refKey(ref("torn")), size: 1000, written: time.Now().UnixNano()}
	seg, off, err := n.shards.segs.reserve(torn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seg.f.WriteAt(make([]byte, 500), off); err != nil {
		t.Fatal(err)
	}
	put("c", want["c"])

	m := crash()
	if got := m.shards.segs.recovered; got.Segments != 1 || got.Indexed != 4 || got.Extents != 5 {
		t.Errorf("recovery: %+v; want 1 segment read, 5 complete extents, 4 entries restored", got)
	}
	for key, data := range want {
		if got, err := readShard(t, m, ref(key)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s after the crash: %d bytes, %v; want the %d written", key, len(got), err, len(data))
		}
	}
	if _, err := readShard(t, m, ref("torn")); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("unfinished extent after the crash: %v; want ErrNotFound", err)
	}
}

// A segment that was read once, or sealed with all its entries committed,
// is not read again at the next open.
func TestSegmentRecoveryReadsOnlyUnmarkedSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() *Node {
		t.Helper()
		n, err := Open(Config{ID: "n1", Dir: dir, SegmentSize: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := open()
	for i := range 6 { // several sealed segments and an active one
		ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1", Index: i}
		data := bytes.Repeat([]byte{byte(i)}, 10_000)
		if err := n.PutShard(t.Context(), ref, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	if segs := len(segmentFiles(t, dir)); segs < 3 {
		t.Fatalf("%d segments; want several", segs)
	}
	n.shards.segs.mu.Lock()
	for _, seg := range n.shards.segs.segs {
		if seg != n.shards.segs.active && !seg.marked {
			t.Errorf("sealed segment %d with no writer left is not marked", seg.seq)
		}
	}
	n.shards.segs.mu.Unlock()
	n.Close()
	n = open()
	defer n.Close()
	if got := n.shards.segs.recovered; got.Segments != 0 {
		t.Errorf("recovery after a clean close: %+v; want no segment read", got)
	}
}

// An open that fails while reading the segments must leave them unmarked:
// the next open reads them and finds the entries the crash lost.
func TestFailedRecoveryMarksNothing(t *testing.T) {
	t.Parallel()
	n, crashed := openCrashableNodeWith(t)
	ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1"}
	if err := n.PutShard(t.Context(), ref, bytes.NewReader([]byte("shard")), 5); err != nil {
		t.Fatal(err)
	}
	cfg := crashed(Config{})
	failing := cfg
	failing.FS = failingReadFS{vfs.Default}
	if m, err := Open(failing); err == nil {
		m.Close()
		t.Fatal("Open with unreadable segments = nil; want an error")
	}
	m, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer m.Close()
	if got, err := readShard(t, m, ref); err != nil || string(got) != "shard" {
		t.Errorf("shard after a failed and a good open: %q, %v; want it found", got, err)
	}
}

// failingReadFS hands out files that read their first bytes (a segment's
// file header) and fail every read after them.
type failingReadFS struct{ vfs.FS }

type failingReadFile struct{ vfs.File }

func (f failingReadFS) Open(name string) (vfs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return failingReadFile{file}, nil
}

func (f failingReadFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= segFileHeaderLen {
		return 0, errors.New("injected: EIO")
	}
	return f.File.ReadAt(p, off)
}

// FuzzWalkExtents reads arbitrary bytes as a framed segment, as opening
// the store reads a segment a crash or a failing disk left behind: the
// walk must end without an error of its own (a reader's errors are the
// disk's, and bytes.Reader has none within its length) and without
// panicking, and every extent it reports lies past the one before it.
func FuzzWalkExtents(f *testing.F) {
	seg := []byte(segFileMagic + "\x00\x00\x00\x00\x00\x00\x00\x00")
	for i, data := range []string{"shard data", "", "more shard data"} {
		h := extentHeader{key: []byte("k" + string(rune('0'+i))), size: int64(len(data)), written: int64(i + 1)}
		seg = append(seg, h.encode()...)
		seg = append(seg, data...)
		seg = append(seg, encodeTrailer(crc32.Checksum([]byte(data), crcTable))...)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	// Headers whose CRC holds but whose size runs past any offset: written
	// by nobody, they must end the walk like any other unreadable extent.
	for _, size := range []int64{math.MaxInt64, math.MaxInt64 - extentFixedLen - 2, 1 << 62} {
		h := extentHeader{key: []byte("kx"), size: size, written: 9}
		f.Add(append(slices.Clone(seg[:segFileHeaderLen]), h.encode()...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		last := int64(-1)
		err := walkExtents(r, int64(len(data)), func(off int64, h extentHeader) error {
			if off <= last || h.span() <= 0 {
				t.Fatalf("extent at %d (span %d) after one at %d", off, h.span(), last)
			}
			last = off
			_, err := extentComplete(r, off, h)
			return err
		})
		if err != nil {
			t.Fatalf("walkExtents: %v", err)
		}
	})
}

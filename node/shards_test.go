package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"cairn/internal/metrics"
	"cairn/transport"
	"cairn/vfs"
)

// diskShard returns the bytes n keeps for ref, read from its segment file
// rather than through the node.
func diskShard(n *Node, ref transport.ShardRef) ([]byte, error) {
	ext, err := n.ShardExtent(ref)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(ext.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, ext.Size)
	_, err = f.ReadAt(b, ext.Offset)
	return b, err
}

// loseShard makes n lose ref as a failed disk would: n no longer finds it.
func loseShard(t testing.TB, n *Node, ref transport.ShardRef) {
	t.Helper()
	if _, err := n.ShardExtent(ref); err != nil {
		t.Fatalf("lose shard %s: %v", ref, err)
	}
	if err := n.shards.remove(ref); err != nil {
		t.Fatal(err)
	}
}

// corruptShard flips a bit of ref's bytes at off, in place on disk.
func corruptShard(t testing.TB, n *Node, ref transport.ShardRef, off int64) {
	t.Helper()
	ext, err := n.ShardExtent(ref)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(ext.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, ext.Offset+off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, ext.Offset+off); err != nil {
		t.Fatal(err)
	}
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, segmentDirName, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func readShard(t testing.TB, n *Node, ref transport.ShardRef) ([]byte, error) {
	t.Helper()
	rc, err := n.ReadShard(t.Context(), ref, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestShardWrites: a failed write leaves nothing a read or a listing finds,
// a good one (several copy-buffer loads long) reads back whole, from the
// node and from its segment, and both survive a restart.
func TestShardWrites(t *testing.T) {
	t.Parallel()
	n, dir := openTestNode(t)
	ctx := t.Context()
	ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1", Index: 2}
	if err := n.PutShard(ctx, ref, bytes.NewReader([]byte("abc")), 10); !errors.Is(err, transport.ErrInvalid) {
		t.Fatalf("PutShard(3 of 10 bytes) = %v; want ErrInvalid", err)
	}
	if _, err := n.ShardExtent(ref); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("ShardExtent after a failed put = %v; want ErrNotFound", err)
	}
	data := bytes.Repeat([]byte("shard"), (2*copyBufSize+123)/5)
	if err := n.PutShard(ctx, ref, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("PutShard(%d bytes) = %v", len(data), err)
	}
	if got, err := readShard(t, n, ref); err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadShard = %d bytes, %v; want the %d written", len(got), err, len(data))
	}
	if got, err := diskShard(n, ref); err != nil || !bytes.Equal(got, data) {
		t.Errorf("segment holds %d bytes, %v; want the %d written", len(got), err, len(data))
	}
	stored, err := n.StoredShards(ctx)
	if err != nil || len(stored) != 1 || stored[0].Index != 2 || stored[0].Size != int64(len(data)) ||
		stored[0].VersionHash != versionHash("b", "k", "v1") {
		t.Errorf("StoredShards = %+v, %v; want the one shard", stored, err)
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2, err := Open(Config{ID: "n1", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if got, err := readShard(t, n2, ref); err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadShard after reopening = %d bytes, %v; want the %d written", len(got), err, len(data))
	}
	// A restart never appends behind a tail it did not write itself.
	before := len(segmentFiles(t, dir))
	if err := n2.PutShard(ctx, transport.ShardRef{Bucket: "b", Key: "k2", VersionID: "v1"}, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if after := len(segmentFiles(t, dir)); after != before+1 {
		t.Errorf("segments after a write following a restart: %d; want %d", after, before+1)
	}
}

// TestShardImportFromFiles: shards a file each, as earlier versions kept
// them, are moved into segments at the next start; temp files go.
func TestShardImportFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ref := transport.ShardRef{Bucket: "b", Key: "old", VersionID: "v7", Index: 4}
	sum := sha256.Sum256([]byte("b\x00old\x00v7"))
	hash := hex.EncodeToString(sum[:])
	if hash != versionHash(ref.Bucket, ref.Key, ref.VersionID) {
		t.Fatalf("version hash %s; want %s", versionHash(ref.Bucket, ref.Key, ref.VersionID), hash)
	}
	sub := filepath.Join(dir, "shards", hash[:2])
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "shards", "00"), 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte("kept a file per shard")
	if err := os.WriteFile(filepath.Join(sub, hash+".4"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, ".tmp."+hash+".5.x1"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := Open(Config{ID: "n1", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got, err := readShard(t, n, ref); err != nil || !bytes.Equal(got, data) {
		t.Errorf("imported shard = %q, %v; want %q", got, err, data)
	}
	if _, err := os.Stat(filepath.Join(dir, "shards")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old shard directory after the import: %v; want it gone", err)
	}
	if stored, err := n.StoredShards(t.Context()); err != nil || len(stored) != 1 {
		t.Errorf("StoredShards = %+v, %v; want only the imported shard", stored, err)
	}
}

// syncCountingFile is a segment file whose Sync is counted and, while
// gate is open, held until released: the seam to see syncs grouped.
type syncCountingFile struct {
	vfs.File
	syncs   atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (f *syncCountingFile) Sync() error {
	f.syncs.Add(1)
	f.entered <- struct{}{}
	<-f.release
	return nil
}

// TestGroupSync: writers that ask while a sync runs share the next one,
// and none returns before a sync that began after it asked.
func TestGroupSync(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := &syncCountingFile{entered: make(chan struct{}, 16), release: make(chan struct{})}
		var g groupSync
		first := make(chan error)
		go func() { first <- g.sync(f) }()
		<-f.entered // the first sync is running
		const waiters = 8
		var wg sync.WaitGroup
		var returned atomic.Int64
		for range waiters {
			wg.Go(func() {
				if err := g.sync(f); err != nil {
					t.Error(err)
				}
				returned.Add(1)
			})
		}
		synctest.Wait() // every waiter queued behind the running sync
		f.release <- struct{}{}
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		<-f.entered // one sync for all the waiters
		if got := returned.Load(); got != 0 {
			t.Errorf("%d waiters returned on a sync that began before they asked", got)
		}
		f.release <- struct{}{}
		wg.Wait()
		if got := f.syncs.Load(); got != 2 {
			t.Errorf("syncs = %d; want 2 (one running, one for the %d that waited)", got, waiters)
		}
	})
}

// TestCompaction: once most shards of sealed segments are deleted, a
// scanner pass moves the rest to the newest segment and removes the old
// files; every remaining shard reads back, and bytes a failed write left
// are reclaimed too.
func TestCompaction(t *testing.T) {
	t.Parallel()
	n, dir := openTestNodeWith(t, Config{SegmentSize: 64 << 10, OrphanGrace: time.Hour})
	ctx := t.Context()
	var refs []transport.ShardRef
	payloads := map[transport.ShardRef][]byte{}
	for i := range 40 {
		ref := transport.ShardRef{Bucket: "b", Key: fmt.Sprint("k", i), VersionID: "v1"}
		data := bytes.Repeat([]byte{byte(i)}, 10_000+i)
		if err := n.PutShard(ctx, ref, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
		payloads[ref] = data
	}
	// A write that fails its check leaves its bytes as garbage.
	bad := transport.ShardRef{Bucket: "b", Key: "bad", VersionID: "v1"}
	if err := n.shards.put(ctx, bad, bytes.NewReader(make([]byte, 30_000)), 30_000, func(io.ReaderAt) error { return errors.New("no") }); !errors.Is(err, transport.ErrCorrupt) {
		t.Fatalf("put failing verify = %v; want ErrCorrupt", err)
	}
	for i, ref := range refs {
		if i%4 != 0 {
			if err := n.DeleteShard(ctx, ref); err != nil {
				t.Fatal(err)
			}
			delete(payloads, ref)
		}
	}
	segsBefore := len(segmentFiles(t, dir))
	_, bytesBefore := n.shards.segs.usage()
	if err := n.ScanNow(ctx); err != nil {
		t.Fatal(err)
	}
	st := n.ScannerStats()
	segsAfter := len(segmentFiles(t, dir))
	_, bytesAfter := n.shards.segs.usage()
	if st.SegmentsCompacted == 0 || segsAfter >= segsBefore || bytesAfter >= bytesBefore/2 {
		t.Errorf("compaction: %d segments removed, %d → %d files, %d → %d bytes; want most reclaimed",
			st.SegmentsCompacted, segsBefore, segsAfter, bytesBefore, bytesAfter)
	}
	if st.CompactedBytes == 0 || st.FreedBytes <= st.CompactedBytes {
		t.Errorf("compaction moved %d bytes and freed %d; want live bytes moved and more freed", st.CompactedBytes, st.FreedBytes)
	}
	for ref, want := range payloads {
		if got, err := readShard(t, n, ref); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after compaction: %d bytes, %v; want the %d written", ref, len(got), err, len(want))
		}
	}
	for _, ref := range refs {
		if _, ok := payloads[ref]; !ok {
			if _, err := readShard(t, n, ref); !errors.Is(err, transport.ErrNotFound) {
				t.Errorf("deleted %s after compaction: %v; want ErrNotFound", ref, err)
			}
		}
	}
}

// TestCompactionLosesNoRace: a shard deleted or rewritten after
// compaction read the index keeps the delete or the new bytes.
func TestCompactionLosesNoRace(t *testing.T) {
	t.Parallel()
	n, _ := openTestNodeWith(t, Config{SegmentSize: 1})
	ctx := t.Context()
	s := n.shards.segs
	put := func(ref transport.ShardRef, data string) {
		t.Helper()
		if err := n.PutShard(ctx, ref, bytes.NewReader([]byte(data)), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	deleted := transport.ShardRef{Bucket: "b", Key: "deleted", VersionID: "v1"}
	rewritten := transport.ShardRef{Bucket: "b", Key: "rewritten", VersionID: "v1"}
	kept := transport.ShardRef{Bucket: "b", Key: "kept", VersionID: "v1"}
	put(deleted, "old bytes")
	put(rewritten, "old bytes")
	put(kept, "kept bytes")
	var snap []indexEntry
	if err := s.entries(ctx, func(key []byte, loc location) error {
		snap = append(snap, indexEntry{bytes.Clone(key), loc})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// What happens between compaction's index read and its repointing.
	if err := n.DeleteShard(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	put(rewritten, "new bytes")
	for _, e := range snap {
		seg := s.segs[e.loc.seq]
		if _, err := s.evacuate(ctx, seg, []indexEntry{e}, func(int64) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := readShard(t, n, deleted); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("shard deleted during compaction: %v; want ErrNotFound", err)
	}
	for ref, want := range map[transport.ShardRef]string{rewritten: "new bytes", kept: "kept bytes"} {
		if got, err := readShard(t, n, ref); err != nil || string(got) != want {
			t.Errorf("%s after compaction = %q, %v; want %q", ref.Key, got, err, want)
		}
	}
}

// TestConcurrentShardWrites: many writers sharing segments, each shard
// reads back as written.
func TestConcurrentShardWrites(t *testing.T) {
	t.Parallel()
	n, _ := openTestNodeWith(t, Config{SegmentSize: 256 << 10})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 8 {
				ref := transport.ShardRef{Bucket: "b", Key: fmt.Sprintf("w%d-%d", w, i), VersionID: "v1"}
				data := bytes.Repeat([]byte{byte(w), byte(i)}, 5000+w*100+i)
				if err := n.PutShard(ctx, ref, bytes.NewReader(data), int64(len(data))); err != nil {
					t.Error(err)
					return
				}
				if got, err := readShard(t, n, ref); err != nil || !bytes.Equal(got, data) {
					t.Errorf("%s: %d bytes, %v; want the %d written", ref.Key, len(got), err, len(data))
				}
			}
		})
	}
	wg.Wait()
}

// failingSyncFS hands out segment files whose Sync fails while fail is
// set; they hide Fd, so the store syncs through Sync.
type failingSyncFS struct {
	vfs.FS
	fail atomic.Bool
}

type failingSyncFile struct {
	vfs.File
	fs *failingSyncFS
}

func (f *failingSyncFS) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return failingSyncFile{file, f}, nil
}

func (f failingSyncFile) Sync() error {
	if f.fs.fail.Load() {
		return errors.New("injected: EIO")
	}
	return f.File.Sync()
}

// TestFailedSyncSealsTheSegment: a shard whose segment sync fails is not
// acknowledged and not found, and the next write goes to a new segment
// instead of failing on the old one's sticky error.
func TestFailedSyncSealsTheSegment(t *testing.T) {
	t.Parallel()
	fsys := &failingSyncFS{FS: vfs.Default}
	n, dir := openTestNodeWith(t, Config{FS: fsys})
	ctx := t.Context()
	put := func(key string) error {
		return n.PutShard(ctx, transport.ShardRef{Bucket: "b", Key: key, VersionID: "v1"}, bytes.NewReader([]byte("shard bytes")), 11)
	}
	if err := put("before"); err != nil {
		t.Fatal(err)
	}
	fsys.fail.Store(true)
	if err := put("lost"); err == nil {
		t.Fatal("PutShard with a failing sync = nil; want an error")
	}
	if _, err := n.ShardExtent(transport.ShardRef{Bucket: "b", Key: "lost", VersionID: "v1"}); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("shard whose sync failed: %v; want ErrNotFound", err)
	}
	fsys.fail.Store(false)
	segs := len(segmentFiles(t, dir))
	if err := put("after"); err != nil {
		t.Fatalf("PutShard after the disk recovered = %v; want nil", err)
	}
	if got := len(segmentFiles(t, dir)); got != segs+1 {
		t.Errorf("segments after a failed sync and a write: %d; want %d (a fresh one)", got, segs+1)
	}
	for _, key := range []string{"before", "after"} {
		if got, err := readShard(t, n, transport.ShardRef{Bucket: "b", Key: key, VersionID: "v1"}); err != nil || string(got) != "shard bytes" {
			t.Errorf("%s: %q, %v; want the bytes written", key, got, err)
		}
	}
}

// usage returns the segments' count and total size.
func (s *segmentStore) usage() (files int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.segs {
		files++
		bytes += seg.size
	}
	return files, bytes
}

func TestRoomFor(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	for _, tc := range []struct {
		name      string
		minFree   int64
		disk      metrics.Disk
		sizes     []int64 // admitted one after the other within one reading
		refusedAt int     // index of the first refused size; -1 for none
	}{
		{"default reserve is 1 GiB on a big disk", 0, metrics.Disk{Capacity: 100 * gib, Free: gib + 10}, []int64{10, 1}, 1},
		{"default reserve is a twentieth of a small disk", 0, metrics.Disk{Capacity: 20 << 20, Free: 2 << 20}, []int64{1 << 20, 1}, 1},
		{"admitted writes count until the next reading", 100, metrics.Disk{Capacity: gib, Free: 400}, []int64{100, 100, 100, 1}, 3},
		{"a set reserve", 500, metrics.Disk{Capacity: gib, Free: 1000}, []int64{501}, 0},
		{"negative turns the check off", -1, metrics.Disk{Capacity: gib, Free: 0}, []int64{gib}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			readings := 0
			at := time.Unix(1700000000, 0) // one reading serves every write
			s := &shardStore{minFree: tc.minFree, now: func() time.Time { return at }, space: func() (metrics.Disk, error) {
				readings++
				return tc.disk, nil
			}}
			refused := -1
			for i, size := range tc.sizes {
				err := s.roomFor(size)
				if err != nil && !errors.Is(err, transport.ErrNoSpace) {
					t.Fatalf("roomFor(%d) = %v; want ErrNoSpace or nil", size, err)
				}
				if err != nil && refused < 0 {
					refused = i
				}
			}
			if refused != tc.refusedAt {
				t.Errorf("first refusal at write %d; want %d", refused, tc.refusedAt)
			}
			if readings > 1 {
				t.Errorf("%d readings of the disk for writes close together; want at most 1", readings)
			}
		})
	}
}

// BenchmarkRoomFor is the free-space check's cost per shard or inline
// record write, the disk read for real (statfs, at most every spaceTTL).
func BenchmarkRoomFor(b *testing.B) {
	dir := b.TempDir()
	s := &shardStore{minFree: 1, now: time.Now, space: func() (metrics.Disk, error) { return metrics.StatDisk(dir) }}
	for b.Loop() {
		if err := s.roomFor(1); err != nil {
			b.Fatal(err)
		}
	}
}

package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/minio/sha256-simd"

	"cairn/internal/metrics"
	"cairn/transport"
	"cairn/vfs"
)

// shardStore keeps a node's shards, by reference, in a segmentStore
// (segments.go).
type shardStore struct {
	segs *segmentStore
	// space reports the usage of the disk the shards are on; minFree is
	// Config.MinFreeBytes; now dates its readings.
	space   func() (metrics.Disk, error)
	minFree int64
	now     func() time.Time

	spaceMu  sync.Mutex
	disk     metrics.Disk // the last reading, less what was admitted since
	spaceAt  time.Time
	refusals atomic.Int64 // writes roomFor refused
}

func openShardStore(fsys vfs.FS, dir string, db *pebble.DB, now func() time.Time, segmentSize, minFree int64) (*shardStore, error) {
	segs, err := openSegmentStore(fsys, dir, db, now, segmentSize)
	if err != nil {
		return nil, err
	}
	s := &shardStore{segs: segs, minFree: minFree, now: now, space: func() (metrics.Disk, error) { return metrics.StatDisk(dir) }}
	if err := s.importFiles(fsys, dir); err != nil {
		segs.close()
		return nil, err
	}
	return s, nil
}

func (s *shardStore) close() error { return s.segs.close() }

// DefaultMaxMinFree caps the default of Config.MinFreeBytes, which is
// otherwise a twentieth of the disk.
const DefaultMaxMinFree = 1 << 30

// roomFor refuses size more bytes of shard data when they would leave less
// than the reserve free. The reserve is what the metadata store needs to
// keep taking records (deletes included) and compaction needs to reclaim
// space; writing on into it would fail a shard halfway, or worse, the
// metadata store's log.
func (s *shardStore) roomFor(size int64) error {
	if s.minFree < 0 {
		return nil
	}
	s.spaceMu.Lock()
	defer s.spaceMu.Unlock()
	// statfs costs 2.3 µs, by estimate ~3 % of a node's CPU under 4 KiB
	// PUTs if asked on every write: a reading serves for spaceTTL, less
	// what was admitted since. Space freed meanwhile is seen at the next
	// reading.
	if now := s.now(); now.Sub(s.spaceAt) > spaceTTL {
		disk, err := s.space()
		if err != nil {
			return nil // cannot tell: the write itself will say if the disk is full
		}
		s.disk, s.spaceAt = disk, now
	}
	reserve := s.reserve(s.disk.Capacity)
	if s.disk.Free-size < reserve {
		s.refusals.Add(1)
		return fmt.Errorf("%w: %d bytes free, %d bytes asked for, %d kept free", transport.ErrNoSpace, s.disk.Free, size, reserve)
	}
	s.disk.Free -= size
	return nil
}

// reserve is the space kept free on a disk of capacity bytes; negative
// when the check is off.
func (s *shardStore) reserve(capacity int64) int64 {
	if s.minFree == 0 {
		return min(DefaultMaxMinFree, capacity/20)
	}
	return s.minFree
}

// spaceTTL is how long a reading of the disk's free space is used.
const spaceTTL = 100 * time.Millisecond

// versionHash names a version on disk without letting the key near a path.
func versionHash(bucket, key, versionID string) string {
	h := sha256.New()
	io.WriteString(h, bucket)
	h.Write([]byte{0})
	io.WriteString(h, key)
	h.Write([]byte{0})
	io.WriteString(h, versionID)
	return hex.EncodeToString(h.Sum(nil))
}

func refKey(ref transport.ShardRef) []byte {
	return shardLocKey(versionHash(ref.Bucket, ref.Key, ref.VersionID), ref.Index)
}

// put stores size bytes from r as ref, durably, replacing what ref held.
// verify, if given, checks the bytes before they count.
func (s *shardStore) put(ctx context.Context, ref transport.ShardRef, r io.Reader, size int64, verify func(io.ReaderAt) error) error {
	if err := s.roomFor(size); err != nil {
		return fmt.Errorf("write shard %s: %w", ref, err)
	}
	err := s.segs.put(ctx, refKey(ref), r, size, verify)
	var short errShortBody
	var bad errVerify
	switch {
	case err == nil:
		return nil
	case errors.As(err, &short):
		return fmt.Errorf("write shard %s: %w: %v", ref, transport.ErrInvalid, err)
	case errors.As(err, &bad):
		return fmt.Errorf("verify shard %s: %w: %v", ref, transport.ErrCorrupt, bad.err)
	default:
		return fmt.Errorf("write shard %s: %w", ref, err)
	}
}

// copyBufSize is the size of the writes into a segment. io.Copy would
// use 32 KiB writes for a network body: 8 syscalls where one does.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

// copyShard copies r to w in writes of copyBufSize bytes but the last: a
// socket hands over what has arrived, often far less, so the buffer is
// filled before each write.
func copyShard(w io.Writer, r io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[copyBufSize]byte)
	defer copyBufs.Put(buf)
	var total int64
	for {
		n, rerr := io.ReadFull(r, buf[:])
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return total, nil
		default:
			return total, rerr
		}
	}
}

// storedShard is an open shard: size bytes at base of f, a file of its
// own that the caller closes.
type storedShard struct {
	f    vfs.File
	base int64
	size int64
}

func (s storedShard) Close() error { return s.f.Close() }

// section returns n bytes of the shard from off.
func (s storedShard) section(off, n int64) *io.SectionReader {
	return io.NewSectionReader(s.f, s.base+off, n)
}

func (s *shardStore) open(ref transport.ShardRef) (storedShard, error) {
	f, loc, err := s.segs.open(refKey(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return storedShard{}, fmt.Errorf("shard %s: %w", ref, transport.ErrNotFound)
	}
	if err != nil {
		return storedShard{}, fmt.Errorf("open shard %s: %w", ref, err)
	}
	return storedShard{f: f, base: loc.off, size: loc.size}, nil
}

// stat returns the size of ref's bytes, and whether the node holds them.
func (s *shardStore) stat(ref transport.ShardRef) (int64, bool, error) {
	loc, err := s.segs.lookup(refKey(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("stat shard %s: %w", ref, err)
	}
	return loc.size, true, nil
}

func (s *shardStore) remove(ref transport.ShardRef) error {
	if err := s.segs.remove(refKey(ref)); err != nil {
		return fmt.Errorf("remove shard %s: %w", ref, err)
	}
	return nil
}

// importFiles moves shards kept the way earlier versions did, a file per
// shard under <dir>/shards/<xx>/<hash>.<index>, into segments, and then
// removes the files. A crash in between imports a file twice, which is
// harmless. Temp files (".tmp.") were never acknowledged and go.
func (s *shardStore) importFiles(fsys vfs.FS, dir string) error {
	root := filepath.Join(dir, "shards")
	subdirs, err := fsys.List(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node: list old shard dir: %w", err)
	}
	ctx := context.Background()
	for _, sub := range subdirs {
		d := filepath.Join(root, sub)
		names, err := fsys.List(d)
		if err != nil {
			return fmt.Errorf("node: list old shard dir: %w", err)
		}
		for _, name := range names {
			p := filepath.Join(d, name)
			hash, idx, ok := strings.Cut(name, ".")
			index, aerr := strconv.Atoi(idx)
			if ok && aerr == nil && len(hash) == 64 && !strings.HasPrefix(name, ".") {
				if err := s.importFile(ctx, fsys, p, shardLocKey(hash, index)); err != nil {
					return err
				}
			}
			if err := fsys.Remove(p); err != nil {
				return fmt.Errorf("node: remove imported shard file: %w", err)
			}
		}
		if err := fsys.Remove(d); err != nil {
			return fmt.Errorf("node: remove old shard dir: %w", err)
		}
	}
	if err := fsys.Remove(root); err != nil {
		return fmt.Errorf("node: remove old shard dir: %w", err)
	}
	return syncDir(fsys, dir)
}

func (s *shardStore) importFile(ctx context.Context, fsys vfs.FS, path string, key []byte) error {
	f, err := fsys.Open(path)
	if err != nil {
		return fmt.Errorf("node: import shard file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("node: import shard file: %w", err)
	}
	if err := s.segs.put(ctx, key, f, st.Size(), nil); err != nil {
		return fmt.Errorf("node: import shard file %s: %w", filepath.Base(path), err)
	}
	return nil
}

func syncDir(fsys vfs.FS, dir string) error {
	d, err := fsys.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return d.Close()
}

// ShardExtent is where a node keeps a shard's bytes: Size bytes from
// Offset of the segment file Path. For tests and operators inspecting a
// disk; access goes through the node.
type ShardExtent struct {
	Path         string
	Offset, Size int64
}

// StoredShard is one shard a node holds, by its version's hash (the
// SHA-256 of bucket, key and version ID, each followed by a zero byte but
// the last) and index.
type StoredShard struct {
	VersionHash string
	Index       int
	ShardExtent
}

// ShardExtent returns where the node keeps ref's bytes, or an error
// satisfying errors.Is(err, transport.ErrNotFound).
func (n *Node) ShardExtent(ref transport.ShardRef) (ShardExtent, error) {
	return n.shards.segs.extentOf(ref)
}

func (s *segmentStore) extentOf(ref transport.ShardRef) (ShardExtent, error) {
	loc, err := s.lookup(refKey(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return ShardExtent{}, fmt.Errorf("shard %s: %w", ref, transport.ErrNotFound)
	}
	if err != nil {
		return ShardExtent{}, err
	}
	return s.extent(loc), nil
}

// StoredShards lists every shard the node holds.
func (n *Node) StoredShards(ctx context.Context) ([]StoredShard, error) {
	return n.shards.segs.stored(ctx)
}

func (s *segmentStore) stored(ctx context.Context) ([]StoredShard, error) {
	var out []StoredShard
	err := s.entries(ctx, func(key []byte, loc location) error {
		hash, index, ok := parseShardLocKey(key)
		if !ok {
			return fmt.Errorf("node: bad shard index key %q", key)
		}
		out = append(out, StoredShard{VersionHash: hash, Index: index, ShardExtent: s.extent(loc)})
		return nil
	})
	return out, err
}

func (s *segmentStore) extent(loc location) ShardExtent {
	return ShardExtent{Path: filepath.Join(s.dir, segmentName(loc.seq)), Offset: loc.off, Size: loc.size}
}

// ReadShardIndex lists the shards kept in the data directory dir of a node
// that is not running, for tests and operators inspecting a disk.
func ReadShardIndex(dir string) ([]StoredShard, error) {
	var out []StoredShard
	err := withOfflineIndex(dir, func(s *segmentStore) (err error) {
		out, err = s.stored(context.Background())
		return err
	})
	return out, err
}

// ReadShardExtent is ShardExtent for a node that is not running.
func ReadShardExtent(dir string, ref transport.ShardRef) (ShardExtent, error) {
	var ext ShardExtent
	err := withOfflineIndex(dir, func(s *segmentStore) (err error) {
		ext, err = s.extentOf(ref)
		return err
	})
	return ext, err
}

// withOfflineIndex opens the shard index of the stopped node in dir,
// read-only, for f.
func withOfflineIndex(dir string, f func(*segmentStore) error) error {
	db, err := pebble.Open(filepath.Join(dir, "meta"), &pebble.Options{ReadOnly: true, Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		return fmt.Errorf("node: open metadata store: %w", err)
	}
	defer db.Close()
	return f(&segmentStore{dir: filepath.Join(dir, segmentDirName), db: db})
}

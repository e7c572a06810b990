package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/vfs"
)

// Shards live in append-only segment files, <dir>/segments/<seq>.seg, and a
// location index in the metadata store ("s/" + version hash + index →
// segment, offset, size, time written). Writers share the newest segment:
// each reserves its byte range, writes it with pwrite, and waits for a
// group-committed fdatasync of the segment before its index entry is
// committed (pebble batches those syncs across writers too).
//
// The reason is cost, measured on this project's machines (ext4, 16
// writers): a new 256 KiB file with fdatasync, as a file per shard needs,
// took 1.4 ms of CPU and peaked near 1,100 files/s, where appending the same
// bytes to an open file with fdatasync took 0.15 ms and 5,000/s; for 4 MiB
// shards 7.4-9.6 ms against 1.2 ms. Creating, sizing and syncing a new
// inode dominated, not copying bytes.
//
// A deleted shard only loses its index entry. The scanner's pass compacts
// sealed segments whose live bytes have fallen under half their size:
// live shards are copied to the newest segment and their index entries
// repointed only if they still name the old place (a delete or rewrite
// meanwhile wins), then the segment file goes. Bytes a crash left behind a
// reservation without an index entry are garbage that compaction reclaims
// the same way.
const (
	segmentDirName = "segments"
	segmentExt     = ".seg"
	// shardLocPrefix starts the index keys; docs/metadata-schema.md.
	shardLocPrefix = "s/"
	// DefaultSegmentSize is when a segment is sealed and a new one
	// started; a shard larger than what is left still goes in whole.
	DefaultSegmentSize = 128 << 20
)

// location is where a shard's bytes are: a range of a segment.
type location struct {
	seq     uint64
	off     int64
	size    int64
	written int64 // unix nanoseconds, for the orphan grace
}

const locationLen = 32

func (l location) encode() []byte {
	b := make([]byte, locationLen)
	binary.BigEndian.PutUint64(b[0:], l.seq)
	binary.BigEndian.PutUint64(b[8:], uint64(l.off))
	binary.BigEndian.PutUint64(b[16:], uint64(l.size))
	binary.BigEndian.PutUint64(b[24:], uint64(l.written))
	return b
}

func decodeLocation(b []byte) (location, error) {
	if len(b) != locationLen {
		return location{}, fmt.Errorf("node: shard location of %d bytes, want %d", len(b), locationLen)
	}
	return location{
		seq:     binary.BigEndian.Uint64(b[0:]),
		off:     int64(binary.BigEndian.Uint64(b[8:])),
		size:    int64(binary.BigEndian.Uint64(b[16:])),
		written: int64(binary.BigEndian.Uint64(b[24:])),
	}, nil
}

// shardLocKey is the index key of shard index of the version whose hash
// (versionHash) is hash.
func shardLocKey(hash string, index int) []byte {
	k := make([]byte, 0, len(shardLocPrefix)+len(hash)+3)
	k = append(k, shardLocPrefix...)
	k = append(k, hash...)
	k = append(k, '/')
	return strconv.AppendInt(k, int64(index), 10)
}

// parseShardLocKey splits an index key into version hash and shard index.
func parseShardLocKey(k []byte) (hash string, index int, ok bool) {
	rest, found := strings.CutPrefix(string(k), shardLocPrefix)
	if !found {
		return "", 0, false
	}
	hash, idx, found := strings.Cut(rest, "/")
	if !found || len(hash) != 64 {
		return "", 0, false
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 {
		return "", 0, false
	}
	return hash, i, true
}

// segment is one segment file, open for reading and, while it is the
// newest, for appending.
type segment struct {
	seq  uint64
	path string
	f    vfs.File

	framed bool // names its extents (segframe.go); false for older segments

	// Guarded by segmentStore.mu.
	size     int64 // bytes reserved so far
	inflight int   // reservations whose writers have not finished
	marked   bool  // sealed with every index entry committed (segframe.go)

	sync groupSync
}

// groupSync runs one fdatasync for every writer that asked while the
// previous one was running: a writer needs a sync that started after its
// bytes were written, and whoever finds none running starts the next.
type groupSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	started uint64 // syncs started
	done    uint64 // syncs finished
	err     error  // sticky: a failed fdatasync leaves the page cache state unknown
}

func (g *groupSync) sync(f vfs.File) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	want := g.started + 1
	for g.done < want && g.err == nil {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		mine := g.started
		g.mu.Unlock()
		err := dataSync(f)
		g.mu.Lock()
		g.running = false
		g.done = mine
		if err != nil {
			g.err = err
		}
		g.cond.Broadcast()
	}
	return g.err
}

// segmentStore is the shard bytes of one node.
type segmentStore struct {
	fs     vfs.FS
	dir    string
	db     *pebble.DB
	now    func() time.Time
	target int64

	mu      sync.Mutex
	active  *segment
	segs    map[uint64]*segment
	nextSeq uint64
	closed  bool

	// index orders index writes (readers) against compaction's
	// compare-and-set (the writer), which must not lose a write that lands
	// between its read and its update.
	index sync.RWMutex

	recovered RecoveryStats // what opening found (segframe.go)
	// opened is set once opening has read what it had to; a store closed
	// before then must not mark segments recovery has yet to read.
	opened bool
}

func openSegmentStore(fsys vfs.FS, dir string, db *pebble.DB, now func() time.Time, target int64) (*segmentStore, error) {
	s := &segmentStore{fs: fsys, dir: filepath.Join(dir, segmentDirName), db: db, now: now, target: target,
		segs: map[uint64]*segment{}, nextSeq: 1}
	if err := fsys.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("node: create segment dir: %w", err)
	}
	if err := syncDir(fsys, dir); err != nil {
		return nil, err
	}
	names, err := fsys.List(s.dir)
	if err != nil {
		return nil, fmt.Errorf("node: list segments: %w", err)
	}
	for _, name := range names {
		seq, ok := parseSegmentName(name)
		if !ok {
			continue
		}
		p := filepath.Join(s.dir, name)
		f, err := fsys.Open(p)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("node: open segment: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			s.close()
			return nil, fmt.Errorf("node: stat segment: %w", err)
		}
		framed, err := isFramed(f)
		if err != nil {
			f.Close()
			s.close()
			return nil, fmt.Errorf("node: read segment header: %w", err)
		}
		s.segs[seq] = &segment{seq: seq, path: p, f: f, size: st.Size(), framed: framed}
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	if s.recovered, err = s.recover(); err != nil {
		s.close()
		return nil, err
	}
	s.opened = true
	return s, nil
}

func segmentName(seq uint64) string { return fmt.Sprintf("%016x%s", seq, segmentExt) }

func parseSegmentName(name string) (uint64, bool) {
	hexSeq, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(hexSeq) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(hexSeq, 16, 64)
	return seq, err == nil
}

func (s *segmentStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.opened {
		// Nothing more is appended: spare the next open reading what is
		// marked now. Best effort; an unmarked segment is only read again.
		s.active = nil
		for _, seg := range s.segs {
			s.markIfDone(seg)
		}
		s.db.LogData(nil, pebble.Sync)
	}
	var errs []error
	for _, seg := range s.segs {
		errs = append(errs, seg.f.Close())
	}
	s.segs = nil
	return errors.Join(errs...)
}

// reserve hands out room for h's extent at the end of the newest segment,
// starting a new one when it is full, and writes h there; it returns where
// the data goes. A segment is never started after a restart's torn tail:
// the first write after opening starts a fresh one.
func (s *segmentStore) reserve(h extentHeader) (*segment, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, errors.New("node: shard store closed")
	}
	if s.active == nil || s.active.size >= s.target {
		seq := s.nextSeq
		p := filepath.Join(s.dir, segmentName(seq))
		f, err := s.fs.Create(p)
		if err != nil {
			return nil, 0, fmt.Errorf("node: create segment: %w", err)
		}
		if err := s.startSegment(f, seq); err != nil {
			f.Close()
			s.fs.Remove(p)
			return nil, 0, err
		}
		s.nextSeq++
		old := s.active
		s.active = &segment{seq: seq, path: p, f: f, size: segFileHeaderLen, framed: true}
		s.segs[seq] = s.active
		if old != nil {
			s.markIfDone(old) // sealed now
		}
	}
	seg := s.active
	off := seg.size
	// Written under the lock: a later reservation's sync must cover it, so
	// that recovery can step over this extent even if its writer never
	// finishes (segframe.go).
	if _, err := seg.f.WriteAt(h.encode(), off); err != nil {
		s.active = nil // what reached the file is unknown: start afresh
		return nil, 0, fmt.Errorf("node: write extent header: %w", err)
	}
	seg.size += h.span()
	seg.inflight++
	return seg, off + h.len(), nil
}

// startSegment readies the new segment file f, seq, for its first extent.
func (s *segmentStore) startSegment(f vfs.File, seq uint64) error {
	header := make([]byte, segFileHeaderLen)
	copy(header, segFileMagic)
	if _, err := f.WriteAt(header, 0); err != nil {
		return fmt.Errorf("node: create segment: %w", err)
	}
	// A sequence number can come again after its segment was compacted
	// away; a marker left from then must not spare the new segment from
	// recovery. Once per segment, so synced at once.
	if err := s.db.Delete(segMarkerKey(seq), pebble.Sync); err != nil {
		return fmt.Errorf("node: create segment: %w", err)
	}
	// The name must survive a crash before the first shard in it is
	// acknowledged; later syncs of the file cover its size.
	return syncDir(s.fs, s.dir)
}

// markIfDone records, once seg is sealed and its last writer has
// committed its index entry, that recovery need not read it. Called with
// s.mu held; the marker is committed after those entries, without a sync
// of its own: the next sync of the log covers both.
func (s *segmentStore) markIfDone(seg *segment) {
	if !seg.framed || seg.marked || seg.inflight > 0 || seg == s.active {
		return
	}
	seg.marked = true
	if err := s.db.Set(segMarkerKey(seg.seq), nil, pebble.NoSync); err != nil {
		seg.marked = false // read again at the next open; no harm
	}
}

// seal stops appending to seg if it is still the newest segment: after a
// failed fdatasync what reached its disk is unknown (and the failure
// sticks to the segment), so writes go on in a fresh one.
func (s *segmentStore) seal(seg *segment) {
	s.mu.Lock()
	if s.active == seg {
		s.active = nil
	}
	s.markIfDone(seg)
	s.mu.Unlock()
}

func (s *segmentStore) release(seg *segment) {
	s.mu.Lock()
	seg.inflight--
	s.markIfDone(seg)
	s.mu.Unlock()
}

// put appends size bytes from r, checks them with verify if given, makes
// them durable and points key at them. On error nothing points at the
// bytes written, which compaction later reclaims.
func (s *segmentStore) put(ctx context.Context, key []byte, r io.Reader, size int64, verify func(io.ReaderAt) error) error {
	h := extentHeader{key: key, size: size, written: s.now().UnixNano()}
	seg, off, err := s.appendDurably(ctx, h, r, verify)
	if err != nil {
		return err
	}
	defer s.release(seg)
	// Dated when durable, not when begun: the orphan grace runs from here,
	// and a slow upload's shard must not start it already old.
	loc := location{seq: seg.seq, off: off, size: size, written: s.now().UnixNano()}
	s.index.RLock()
	defer s.index.RUnlock()
	// No sync: the segment's, done, made the shard and its name durable,
	// and a crash that loses this entry has opening find it again
	// (segframe.go).
	return s.db.Set(key, loc.encode(), pebble.NoSync)
}

// appendDurably writes size bytes from r at the end of the newest segment,
// checks them with verify if given, and makes them durable. The caller
// releases the segment once it has pointed the index at the bytes (or
// given up): until then compaction leaves the segment alone.
func (s *segmentStore) appendDurably(ctx context.Context, h extentHeader, r io.Reader, verify func(io.ReaderAt) error) (*segment, int64, error) {
	seg, off, err := s.reserve(h)
	if err != nil {
		return nil, 0, err
	}
	if err := s.fill(ctx, seg, off, r, h, verify); err != nil {
		s.release(seg)
		return nil, 0, err
	}
	return seg, off, nil
}

// fill writes the data of the extent h reserved at off, checks it, writes
// the trailer that vouches for it and syncs the segment.
func (s *segmentStore) fill(ctx context.Context, seg *segment, off int64, r io.Reader, h extentHeader, verify func(io.ReaderAt) error) error {
	size := h.size
	crc := crc32.New(crcTable)
	n, err := copyShard(io.MultiWriter(io.NewOffsetWriter(seg.f, off), crc), io.LimitReader(r, size))
	if err != nil {
		return err
	}
	if n != size {
		return errShortBody{n, size}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if verify != nil {
		if err := verify(io.NewSectionReader(seg.f, off, size)); err != nil {
			return errVerify{err}
		}
	}
	if _, err := seg.f.WriteAt(encodeTrailer(crc.Sum32()), off+size); err != nil {
		s.seal(seg)
		return fmt.Errorf("write extent trailer: %w", err)
	}
	if err := seg.sync.sync(seg.f); err != nil {
		s.seal(seg)
		return fmt.Errorf("sync segment %s: %w", filepath.Base(seg.path), err)
	}
	dropCache(seg.f, off-h.len(), h.span())
	return nil
}

type errShortBody struct{ got, want int64 }

func (e errShortBody) Error() string {
	return fmt.Sprintf("body ended after %d of %d bytes", e.got, e.want)
}

type errVerify struct{ err error }

func (e errVerify) Error() string { return e.err.Error() }
func (e errVerify) Unwrap() error { return e.err }

// lookup returns where key's bytes are, or fs.ErrNotExist.
func (s *segmentStore) lookup(key []byte) (location, error) {
	val, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return location{}, fs.ErrNotExist
	}
	if err != nil {
		return location{}, err
	}
	defer closer.Close()
	return decodeLocation(val)
}

// open returns a file of its own (so that its offset may be moved, as
// sendfile needs) holding key's bytes at loc.
func (s *segmentStore) open(key []byte) (vfs.File, location, error) {
	for attempt := 0; ; attempt++ {
		loc, err := s.lookup(key)
		if err != nil {
			return nil, location{}, err
		}
		f, err := s.fs.Open(filepath.Join(s.dir, segmentName(loc.seq)))
		// Compaction may have moved the shard and removed the segment
		// between the lookup and the open: look again.
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, location{}, err
		}
		return f, loc, nil
	}
}

// remove forgets key. Its bytes stay until compaction.
func (s *segmentStore) remove(key []byte) error {
	s.index.RLock()
	defer s.index.RUnlock()
	return s.db.Delete(key, pebble.NoSync)
}

// removeIf forgets key if it still points at loc.
func (s *segmentStore) removeIf(key []byte, loc location) (bool, error) {
	s.index.Lock()
	defer s.index.Unlock()
	cur, err := s.lookup(key)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && cur != loc) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, s.db.Delete(key, pebble.NoSync)
}

// entries calls f for every index entry, in key order.
func (s *segmentStore) entries(ctx context.Context, f func(key []byte, loc location) error) error {
	lower := []byte(shardLocPrefix)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		loc, err := decodeLocation(it.Value())
		if err != nil {
			return fmt.Errorf("index entry %q: %w", it.Key(), err)
		}
		if err := f(it.Key(), loc); err != nil {
			return err
		}
	}
	return it.Error()
}

type indexEntry struct {
	key []byte
	loc location
}

// CompactionStats is what one compaction did.
type CompactionStats struct {
	Segments   int   // segments removed
	MovedBytes int64 // live bytes copied to the newest segment
	FreedBytes int64 // bytes of the removed segments
}

// compactionThreshold: a sealed segment whose live bytes are under this
// share of its size is rewritten.
const compactionThreshold = 0.5

// compact rewrites the sealed segments that are mostly garbage. pace is
// called before each live shard is copied, with its size.
func (s *segmentStore) compact(ctx context.Context, pace func(int64) error) (CompactionStats, error) {
	var st CompactionStats
	// Sealed segments with no write in flight: no write can start on them
	// again, so the index snapshot below sees every entry they will have.
	s.mu.Lock()
	sealed := map[uint64]*segment{}
	for seq, seg := range s.segs {
		if seg != s.active && seg.inflight == 0 {
			sealed[seq] = seg
		}
	}
	s.mu.Unlock()
	if len(sealed) == 0 {
		return st, nil
	}
	live := map[uint64]int64{}
	byseg := map[uint64][]indexEntry{}
	err := s.entries(ctx, func(key []byte, loc location) error {
		if _, ok := sealed[loc.seq]; ok {
			live[loc.seq] += loc.size
			byseg[loc.seq] = append(byseg[loc.seq], indexEntry{slices.Clone(key), loc})
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("compact: %w", err)
	}
	seqs := make([]uint64, 0, len(sealed))
	for seq, seg := range sealed {
		if float64(live[seq]) < compactionThreshold*float64(seg.size) {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	var errs []error
	for _, seq := range seqs {
		seg := sealed[seq]
		moved, err := s.evacuate(ctx, seg, byseg[seq], pace)
		st.MovedBytes += moved
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.dropSegment(seg); err != nil {
			errs = append(errs, err)
			continue
		}
		st.Segments++
		st.FreedBytes += seg.size
	}
	return st, errors.Join(errs...)
}

// evacuate copies the live entries of seg to the newest segment and
// repoints them. It returns the bytes copied.
func (s *segmentStore) evacuate(ctx context.Context, seg *segment, entries []indexEntry, pace func(int64) error) (int64, error) {
	var moved int64
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return moved, err
		}
		if err := pace(e.loc.size); err != nil {
			return moved, err
		}
		h := extentHeader{key: e.key, size: e.loc.size, written: e.loc.written}
		dst, off, err := s.appendDurably(ctx, h, io.NewSectionReader(seg.f, e.loc.off, e.loc.size), nil)
		if err != nil {
			return moved, fmt.Errorf("compact segment %d: %w", seg.seq, err)
		}
		nl := location{seq: dst.seq, off: off, size: e.loc.size, written: e.loc.written}
		s.index.Lock()
		cur, err := s.lookup(e.key)
		switch {
		case err == nil && cur == e.loc:
			err = s.db.Set(e.key, nl.encode(), pebble.NoSync)
		case errors.Is(err, fs.ErrNotExist):
			err = nil // deleted meanwhile
		}
		s.index.Unlock()
		s.release(dst)
		if err != nil {
			return moved, fmt.Errorf("compact segment %d: %w", seg.seq, err)
		}
		moved += e.loc.size
	}
	// The repointed entries must be durable before the old bytes go.
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		return moved, fmt.Errorf("compact segment %d: %w", seg.seq, err)
	}
	return moved, nil
}

// dropSegment removes a segment nothing points into. Readers that opened
// it keep their file.
func (s *segmentStore) dropSegment(seg *segment) error {
	s.mu.Lock()
	delete(s.segs, seg.seq)
	s.mu.Unlock()
	seg.f.Close()
	if err := s.fs.Remove(seg.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove segment %d: %w", seg.seq, err)
	}
	if seg.framed {
		// Only once the file is gone: a marker outliving it names nothing.
		return s.db.Delete(segMarkerKey(seg.seq), pebble.NoSync)
	}
	return nil
}

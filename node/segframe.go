package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// Segments name what they hold, so that a shard's index entry need not be
// synced on its own: the segment's fdatasync makes the shard and its name
// durable together, and the index entry is committed without a sync. A
// crash can then lose index entries of shards it had acknowledged; opening
// the store finds them again by reading the segments that may hold such
// shards and indexing every complete one the index lacks.
//
// Why: a shard write paid two syncs, the segment's and the metadata log's,
// and under 1 MiB PUTs the log's were about a tenth of a node's CPU (perf:
// the log writer's fdatasync and its wake-ups).
//
// Layout of a framed segment: a file header, then extents one after the
// other, each a header (magic, key length, data size, time written, CRC of
// the header), the key, the data, and a trailer holding the CRC of the
// data. The header is written when the extent is reserved, under the
// store's lock, so any later reservation's sync covers it and a reader can
// always step over an extent whose writer has not finished; the trailer is
// written once the data is complete and checked, so an extent with a good
// trailer is one whose writer got as far as its sync. Segments written
// before framing have no file header and are never scanned: their index
// entries were synced.
//
// Which segments to read: a sealed segment whose writers have all
// committed their index entries gets a marker in the index ("m/" + seq),
// committed after those entries, so a durable marker means durable
// entries. Opening the store reads every framed segment without a marker
// and then marks it; normally that is the one that was being written.
const (
	segFileMagic     = "CAIRNSG1"
	segFileHeaderLen = 16 // magic, then reserved zero bytes
	extentMagic      = 0x53484152
	extentFixedLen   = 4 + 2 + 2 + 8 + 8 + 4 // magic, key length, zero, size, written, CRC
	extentTrailerLen = 8                     // data CRC, magic
	maxExtentKeyLen  = 1 << 10
	// segMarkerPrefix starts the markers of segments whose index entries
	// are all durable; docs/metadata-schema.md.
	segMarkerPrefix = "m/"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func segMarkerKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(segMarkerPrefix), seq)
}

// extentHeader is what an extent says of itself.
type extentHeader struct {
	key     []byte
	size    int64
	written int64
}

func (h extentHeader) len() int64 { return extentFixedLen + int64(len(h.key)) }

// span is the bytes the extent takes in its segment.
func (h extentHeader) span() int64 { return h.len() + h.size + extentTrailerLen }

func (h extentHeader) encode() []byte {
	b := make([]byte, h.len())
	binary.BigEndian.PutUint32(b[0:], extentMagic)
	binary.BigEndian.PutUint16(b[4:], uint16(len(h.key)))
	binary.BigEndian.PutUint64(b[8:], uint64(h.size))
	binary.BigEndian.PutUint64(b[16:], uint64(h.written))
	copy(b[extentFixedLen:], h.key)
	binary.BigEndian.PutUint32(b[24:], crc32.Checksum(headerCRCInput(b), crcTable))
	return b
}

// headerCRCInput is the header with its CRC field left out.
func headerCRCInput(b []byte) []byte {
	in := make([]byte, 0, len(b)-4)
	in = append(in, b[:24]...)
	return append(in, b[extentFixedLen:]...)
}

func encodeTrailer(dataCRC uint32) []byte {
	b := make([]byte, extentTrailerLen)
	binary.BigEndian.PutUint32(b[0:], dataCRC)
	binary.BigEndian.PutUint32(b[4:], extentMagic)
	return b
}

var errNoExtent = errors.New("no extent")

// readExtentHeader reads the extent header at off of r; errNoExtent when
// there is none (the end of what was written, or a header a crash tore).
func readExtentHeader(r io.ReaderAt, off int64) (extentHeader, error) {
	fixed := make([]byte, extentFixedLen)
	if _, err := r.ReadAt(fixed, off); err != nil {
		if errors.Is(err, io.EOF) {
			return extentHeader{}, errNoExtent
		}
		return extentHeader{}, err
	}
	keyLen := int(binary.BigEndian.Uint16(fixed[4:]))
	if binary.BigEndian.Uint32(fixed[0:]) != extentMagic || keyLen > maxExtentKeyLen {
		return extentHeader{}, errNoExtent
	}
	b := make([]byte, extentFixedLen+keyLen)
	copy(b, fixed)
	if _, err := r.ReadAt(b[extentFixedLen:], off+extentFixedLen); err != nil {
		if errors.Is(err, io.EOF) {
			return extentHeader{}, errNoExtent
		}
		return extentHeader{}, err
	}
	if crc32.Checksum(headerCRCInput(b), crcTable) != binary.BigEndian.Uint32(b[24:]) {
		return extentHeader{}, errNoExtent
	}
	h := extentHeader{
		key:     b[extentFixedLen:],
		size:    int64(binary.BigEndian.Uint64(b[8:])),
		written: int64(binary.BigEndian.Uint64(b[16:])),
	}
	// No write of ours ends past the largest offset; such a size would
	// carry the walk to a negative one.
	if h.size < 0 || h.size > math.MaxInt64-off-h.len()-extentTrailerLen {
		return extentHeader{}, errNoExtent
	}
	return h, nil
}

// extentComplete reports whether the extent whose header is h, at off,
// has its data and a trailer that vouches for it.
func extentComplete(r io.ReaderAt, off int64, h extentHeader) (bool, error) {
	trailer := make([]byte, extentTrailerLen)
	if _, err := r.ReadAt(trailer, off+h.len()+h.size); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	if binary.BigEndian.Uint32(trailer[4:]) != extentMagic {
		return false, nil
	}
	crc := crc32.New(crcTable)
	if _, err := io.Copy(crc, io.NewSectionReader(r, off+h.len(), h.size)); err != nil {
		return false, err
	}
	return crc.Sum32() == binary.BigEndian.Uint32(trailer[0:]), nil
}

// isFramed reports whether f starts with the framed segment header.
func isFramed(f io.ReaderAt) (bool, error) {
	b := make([]byte, len(segFileMagic))
	if _, err := f.ReadAt(b, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	return string(b) == segFileMagic, nil
}

// RecoveryStats is what opening the shard store found in its segments.
type RecoveryStats struct {
	Segments int // framed segments read because they had no marker
	Extents  int // complete extents in them
	Indexed  int // of those, index entries the crash had lost, restored
}

// recover indexes the complete extents of every framed segment without a
// marker that the index lacks (or holds an older write of), then marks the
// segments. It runs at open, before any write.
func (s *segmentStore) recover() (RecoveryStats, error) {
	var st RecoveryStats
	for _, seg := range s.segs {
		if !seg.framed {
			continue
		}
		_, closer, err := s.db.Get(segMarkerKey(seg.seq))
		if err == nil {
			closer.Close()
			seg.marked = true
			continue
		}
		if !errors.Is(err, pebble.ErrNotFound) {
			return st, err
		}
		st.Segments++
		if err := s.recoverSegment(seg, &st); err != nil {
			return st, fmt.Errorf("node: recover segment %d: %w", seg.seq, err)
		}
		if err := s.db.Set(segMarkerKey(seg.seq), nil, pebble.NoSync); err != nil {
			return st, err
		}
		seg.marked = true
	}
	if st.Segments == 0 {
		return st, nil
	}
	return st, s.db.LogData(nil, pebble.Sync)
}

func (s *segmentStore) recoverSegment(seg *segment, st *RecoveryStats) error {
	return walkExtents(seg.f, seg.size, func(off int64, h extentHeader) error {
		cur, err := s.lookup(h.key)
		switch {
		case err == nil && cur.written >= h.written:
			// Indexed, or superseded by a later write of the same shard.
			st.Extents++
			return nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return err
		}
		ok, err := extentComplete(seg.f, off, h)
		if err != nil || !ok {
			return err
		}
		st.Extents++
		loc := location{seq: seg.seq, off: off + h.len(), size: h.size, written: h.written}
		if err := s.db.Set(h.key, loc.encode(), pebble.NoSync); err != nil {
			return err
		}
		st.Indexed++
		return nil
	})
}

// walkExtents calls fn with each extent header of the framed segment r,
// whose first size bytes were written, up to the first torn header.
func walkExtents(r io.ReaderAt, size int64, fn func(off int64, h extentHeader) error) error {
	for off := int64(segFileHeaderLen); off < size; {
		h, err := readExtentHeader(r, off)
		if errors.Is(err, errNoExtent) {
			return nil // nothing after a torn header was acknowledged
		}
		if err != nil {
			return err
		}
		if err := fn(off, h); err != nil {
			return err
		}
		off += h.span()
	}
	return nil
}

package benchmarks

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
)

// maxPayloadMemory bounds the random base buffers of one scenario: with big
// objects and many workers, workers share buffers.
const maxPayloadMemory = 1 << 30

// payloads hands out object bodies cheaply. It fills a few random base
// buffers once; an object is a base buffer with its 8-byte seed written
// over the start, the middle and the end. That makes every object distinct
// (so a node that returns another object's shard is caught) without
// spending CPU on random bytes per request.
type payloads struct {
	size int64
	bufs [][]byte
	seed maphash.Seed
}

func newPayloads(size int64, workers int, r *rand.Rand, hashSeed maphash.Seed) *payloads {
	n := max(1, min(workers, int(maxPayloadMemory/max(size, 1))))
	p := &payloads{size: size, bufs: make([][]byte, n), seed: hashSeed}
	var wg sync.WaitGroup
	for i := range p.bufs {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], r.Uint64())
		binary.LittleEndian.PutUint64(key[8:], r.Uint64())
		p.bufs[i] = make([]byte, size)
		wg.Go(func() { rand.NewChaCha8(key).Read(p.bufs[i]) })
	}
	wg.Wait()
	return p
}

// object returns the body of the object with the given seed, built on the
// base buffer of worker w, and its content hash.
func (p *payloads) object(w int, seed uint64) (*objectReader, uint64) {
	r := &objectReader{base: p.bufs[w%len(p.bufs)], size: p.size}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	for _, off := range []int64{0, p.size / 2 &^ 7, p.size - 8} {
		off = max(off, 0)
		if len(r.patches) > 0 && off < r.patches[len(r.patches)-1].end() {
			continue // small objects: patches would overlap
		}
		n := min(int64(8), p.size-off)
		if n > 0 {
			r.patches = append(r.patches, patch{off: off, b: b[:n:n]})
		}
	}
	h := maphash.Hash{}
	h.SetSeed(p.seed)
	r.WriteTo(&h)
	r.off = 0
	return r, h.Sum64()
}

// patch is a few bytes written over the base buffer at off.
type patch struct {
	off int64
	b   []byte
}

func (p patch) end() int64 { return p.off + int64(len(p.b)) }

// objectReader reads a base buffer with patches over it. It is an
// io.ReadSeeker (the SDK hashes the body to sign it, then rewinds) and an
// io.WriterTo (so bodies go to sockets and hashes straight from the base
// buffer, without a copy). It never writes to the base buffer, so workers
// may share one.
type objectReader struct {
	base    []byte
	size    int64
	patches []patch // sorted, disjoint, within [0, size)
	off     int64
}

var errNegativeOffset = errors.New("benchmarks: seek to a negative offset")

func (r *objectReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := copy(p, r.base[r.off:r.size])
	for _, pt := range r.patches {
		lo, hi := max(r.off, pt.off), min(r.off+int64(n), pt.end())
		if lo < hi {
			copy(p[lo-r.off:hi-r.off], pt.b[lo-pt.off:hi-pt.off])
		}
	}
	r.off += int64(n)
	return n, nil
}

func (r *objectReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	write := func(b []byte) error {
		n, err := w.Write(b)
		total += int64(n)
		r.off += int64(n)
		return err
	}
	for _, pt := range r.patches {
		if r.off >= pt.end() {
			continue
		}
		if r.off < pt.off {
			if err := write(r.base[r.off:pt.off]); err != nil {
				return total, err
			}
		}
		if err := write(pt.b[r.off-pt.off:]); err != nil {
			return total, err
		}
	}
	if r.off < r.size {
		if err := write(r.base[r.off:r.size]); err != nil {
			return total, err
		}
	}
	return total, nil
}

func (r *objectReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	}
	if offset < 0 {
		return r.off, errNegativeOffset
	}
	r.off = offset
	return offset, nil
}

// Len is what remains to read; the SDK and net/http use it to size the body.
func (r *objectReader) Len() int { return int(max(r.size-r.off, 0)) }

// ledgerEntry is an object the run wrote and believes stored.
type ledgerEntry struct {
	Key  string
	Size int64
	Hash uint64
}

// ledger is the set of objects a scenario has written and not deleted. It
// is safe for concurrent use.
type ledger struct {
	mu    sync.Mutex
	items []ledgerEntry
	idx   map[string]int
}

func newLedger() *ledger { return &ledger{idx: map[string]int{}} }

func (l *ledger) add(e ledgerEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.idx[e.Key]; ok {
		l.items[i] = e
		return
	}
	l.idx[e.Key] = len(l.items)
	l.items = append(l.items, e)
}

// pick returns a random entry.
func (l *ledger) pick(r *rand.Rand) (ledgerEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.items) == 0 {
		return ledgerEntry{}, false
	}
	return l.items[r.IntN(len(l.items))], true
}

// take removes and returns a random entry: a DELETE claims its key before
// it is sent, so no other worker expects to read it afterwards.
func (l *ledger) take(r *rand.Rand) (ledgerEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.items) == 0 {
		return ledgerEntry{}, false
	}
	i := r.IntN(len(l.items))
	e := l.items[i]
	last := len(l.items) - 1
	l.items[i] = l.items[last]
	l.idx[l.items[i].Key] = i
	l.items = l.items[:last]
	delete(l.idx, e.Key)
	return e, true
}

// has reports whether e is still the ledger's entry for its key.
func (l *ledger) has(e ledgerEntry) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.idx[e.Key]
	return ok && l.items[i] == e
}

func (l *ledger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}

// snapshot returns a copy of the entries; the caller owns it.
func (l *ledger) snapshot() []ledgerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.items)
}

package erasure_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"cairn/erasure"
)

var errMissing = errors.New("test: shard missing")

// randBytes returns n bytes from a seeded generator.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func newCodec(t testing.TB, k, m, blockSize int) *erasure.Codec {
	t.Helper()
	c, err := erasure.New(k, m, erasure.WithBlockSize(blockSize))
	if err != nil {
		t.Fatalf("New(%d, %d, WithBlockSize(%d)) error: %v", k, m, blockSize, err)
	}
	return c
}

// encodeStream encodes data through an Encoder, writing it in chunks of
// chunk bytes, and returns the shards.
func encodeStream(t testing.TB, c *erasure.Codec, data []byte, chunk int) [][]byte {
	t.Helper()
	bufs := make([]*bytes.Buffer, c.TotalShards())
	ws := make([]io.Writer, c.TotalShards())
	for i := range bufs {
		bufs[i] = new(bytes.Buffer)
		ws[i] = bufs[i]
	}
	e := c.NewEncoder(ws)
	for p := data; len(p) > 0; {
		n := min(chunk, len(p))
		w, err := e.Write(p[:n])
		if err != nil || w != n {
			t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", n, w, err, n)
		}
		p = p[n:]
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}
	shards := make([][]byte, len(bufs))
	for i, b := range bufs {
		shards[i] = b.Bytes()
	}
	return shards
}

type openCall struct {
	shard  int
	off, n int64
}

// store serves shards from memory to a decoder, with shards that can be
// missing, cut short or corrupted, and records what was asked of it.
type store struct {
	t       testing.TB
	shards  [][]byte
	missing []bool
	short   map[int]int // shard -> bytes it serves before io.EOF

	mu     sync.Mutex
	opens  []openCall
	closed int
}

func newStore(t testing.TB, shards [][]byte) *store {
	return &store{t: t, shards: shards, missing: make([]bool, len(shards)), short: map[int]int{}}
}

func (s *store) open(shard int, off, n int64) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opens = append(s.opens, openCall{shard, off, n})
	s.mu.Unlock()
	if s.missing[shard] {
		return nil, fmt.Errorf("shard %d: %w", shard, errMissing)
	}
	data := s.shards[shard]
	if off < 0 || n < 0 || off+n > int64(len(data)) {
		s.t.Errorf("open(%d, %d, %d) outside the %d-byte shard", shard, off, n, len(data))
		return nil, errors.New("test: bad range")
	}
	data = data[off : off+n]
	if lim, ok := s.short[shard]; ok && lim < len(data) {
		data = data[:lim]
	}
	return &trackedReader{Reader: bytes.NewReader(data), s: s}, nil
}

func (s *store) openCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.opens)
}

func (s *store) checkAllClosed() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	opened := 0
	for _, o := range s.opens {
		if !s.missing[o.shard] {
			opened++
		}
	}
	if s.closed != opened {
		s.t.Errorf("%d shard readers opened, %d closed", opened, s.closed)
	}
}

type trackedReader struct {
	*bytes.Reader
	s      *store
	closed bool
}

func (r *trackedReader) Close() error {
	if r.closed {
		r.s.t.Errorf("shard reader closed twice")
	}
	r.closed = true
	r.s.mu.Lock()
	r.s.closed++
	r.s.mu.Unlock()
	return nil
}

// failures records the WithShardFailure callbacks.
type failures struct {
	t    testing.TB
	errs map[int]error
}

func newFailures(t testing.TB) *failures { return &failures{t: t, errs: map[int]error{}} }

func (f *failures) option() erasure.DecodeOption {
	return erasure.WithShardFailure(func(shard int, err error) {
		if _, dup := f.errs[shard]; dup {
			f.t.Errorf("shard %d reported twice: %v", shard, err)
		}
		f.errs[shard] = err
	})
}

// readRange decodes [off, off+n) and returns what it read before any error.
func readRange(t testing.TB, c *erasure.Codec, size, off, n int64, s *store, opts ...erasure.DecodeOption) ([]byte, error) {
	t.Helper()
	r, err := c.NewDecoder(size, off, n, s.open, opts...)
	if err != nil {
		t.Fatalf("NewDecoder(%d, %d, %d) error: %v", size, off, n, err)
	}
	got, err := io.ReadAll(r)
	if cerr := r.Close(); cerr != nil {
		t.Errorf("decoder Close() = %v; want nil", cerr)
	}
	return got, err
}

func copyShards(shards [][]byte) [][]byte {
	out := make([][]byte, len(shards))
	for i, s := range shards {
		out[i] = bytes.Clone(s)
	}
	return out
}

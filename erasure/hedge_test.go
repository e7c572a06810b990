package erasure_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"cairn/erasure"
)

var errReaderClosed = errors.New("test: read on a closed shard reader")

// gatedStore serves a store's shards through readers whose Read blocks until
// the shard's gate is closed or the reader is, as a stuck node's stream does
// until its connection is torn down.
type gatedStore struct {
	*store
	gates map[int]chan struct{}
	// startOnly gates only readers opened at the start of a gated shard, as
	// when a node was slow for a while: a reopen further on is served. (Not
	// "the first reader opened": an abandoned source's goroutine may call the
	// opener after its replacement's does.)
	startOnly bool

	mu      sync.Mutex
	readers []*gatedReader
}

func newGatedStore(t testing.TB, shards [][]byte, blocked ...int) *gatedStore {
	g := &gatedStore{store: newStore(t, shards), gates: map[int]chan struct{}{}}
	for _, i := range blocked {
		g.gates[i] = make(chan struct{})
	}
	return g
}

func (g *gatedStore) open(shard int, off, n int64) (io.ReadCloser, error) {
	rc, err := g.store.open(shard, off, n)
	if err != nil {
		return nil, err
	}
	r := &gatedReader{tr: rc.(*trackedReader), shard: shard, gate: g.gates[shard], done: make(chan struct{})}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.startOnly && off > 0 {
		r.gate = nil
	}
	g.readers = append(g.readers, r)
	return r, nil
}

type gatedReader struct {
	tr    *trackedReader
	shard int
	gate  chan struct{} // nil: never blocks
	done  chan struct{} // closed by Close
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-r.done:
		}
	}
	select {
	case <-r.done:
		return 0, errReaderClosed
	default:
	}
	return r.tr.Read(p)
}

func (r *gatedReader) Close() error {
	close(r.done) // a second Close panics, and trackedReader reports it
	return r.tr.Close()
}

// maxConsumed returns the most bytes any reader of shard has consumed.
func (g *gatedStore) consumed(shard int) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var most int64
	for _, r := range g.readers {
		if r.shard == shard {
			most = max(most, r.tr.Size()-int64(r.tr.Len()))
		}
	}
	return most
}

// checkNoLeak fails if a decoder's shard goroutine is still running. It
// runs inside a synctest bubble after the decoders were closed; synctest
// would also fail the test if one of them were blocked at its end.
func checkNoLeak(t *testing.T) {
	t.Helper()
	synctest.Wait()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	if n := bytes.Count(buf, []byte("erasure.(*hedger).run")); n > 0 {
		t.Errorf("%d shard goroutines still running after Close:\n%s", n, buf)
	}
}

// TestExtraReadsBlockedShard blocks one data shard forever: the default
// decoder waits for it, WithExtraReads(1) reads the whole object without it.
func TestExtraReadsBlockedShard(t *testing.T) {
	const bs = 4096
	c := newCodec(t, 4, 2, bs)
	size := 6*bs + 100
	data := randBytes(21, size)
	shards := encodeStream(t, c, data, bs)
	stride := int64(32 + bs/4)

	t.Run("extra1", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGatedStore(t, shards, 1)
			f := newFailures(t)
			r, err := c.NewDecoder(int64(size), 0, int64(size), g.open, erasure.WithExtraReads(1), f.option())
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("decode with shard 1 blocked = %d bytes, %v; want the %d bytes written", len(got), err, size)
			}
			r.Close()
			if len(f.errs) != 0 {
				t.Errorf("shard failures %v; want none (a slow shard is not a failed one)", f.errs)
			}
			// Shard 1 is abandoned once two blocks are done without it,
			// and parity shard 5 takes its place at block 2.
			var opened5 []int64
			for _, o := range g.opens {
				if o.shard == 5 {
					opened5 = append(opened5, o.off)
				}
			}
			if len(opened5) != 1 || opened5[0] != 2*stride {
				t.Errorf("shard 5 opened at %v; want [%d] (block 2)", opened5, 2*stride)
			}
			if n := g.consumed(1); n != 0 {
				t.Errorf("blocked shard 1 delivered %d bytes", n)
			}
			g.checkAllClosed()
			checkNoLeak(t)
		})
	})

	t.Run("default", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGatedStore(t, shards, 1)
			r, err := c.NewDecoder(int64(size), 0, int64(size), g.open)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			done := make(chan error)
			go func() {
				var err error
				got, err = io.ReadAll(r)
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("default decoder finished (%v) with shard 1 blocked; want it to wait", err)
			case <-time.After(time.Hour): // fake time: instant once all are blocked
			}
			close(g.gates[1])
			if err := <-done; err != nil || !bytes.Equal(got, data) {
				t.Errorf("decode after unblocking = %d bytes, %v; want the original", len(got), err)
			}
			r.Close()
			g.checkAllClosed()
		})
	})
}

// TestExtraReadsStuckShards covers stuck shards with and without an untried
// shard to replace them, and Close in the middle of a read.
func TestExtraReadsStuckShards(t *testing.T) {
	const bs = 600
	for _, tc := range []struct {
		k, m, extra int
		blocked     []int
		startOnly   bool
		missing     []int
		short       map[int]int
		opens0      int // times shard 0 is opened, if not 0
	}{
		{k: 2, m: 1, extra: 1, blocked: []int{0}},                    // nothing to replace it with
		{k: 2, m: 1, extra: 1, blocked: []int{2}},                    // a stuck parity shard
		{k: 4, m: 2, extra: 2, blocked: []int{0, 3}},                 // two stuck, two extra
		{k: 4, m: 2, extra: 1, blocked: []int{2}, missing: []int{5}}, // replacement missing
		{k: 3, m: 3, extra: 2, blocked: []int{0, 1}},                 // one replaced, one kept
		{k: 3, m: 3, extra: 1, blocked: []int{0, 4}},                 // the replacement is abandoned in turn
		// Shard 0 is abandoned, its replacements fail, so it is reopened
		// (and is no longer slow), before shard 1 fails too.
		{k: 3, m: 3, extra: 1, blocked: []int{0}, startOnly: true, missing: []int{4, 5}, short: map[int]int{1: 5 * (32 + 200)}, opens0: 2},
		{k: 4, m: 2, extra: 5, blocked: []int{1}}, // extra > m reads all shards
	} {
		name := fmt.Sprintf("%d+%d/extra%d/blocked%v/missing%v", tc.k, tc.m, tc.extra, tc.blocked, tc.missing)
		t.Run(name, func(t *testing.T) {
			c := newCodec(t, tc.k, tc.m, bs)
			size := 9*bs + 17
			data := randBytes(uint64(tc.k*10+tc.m), size)
			shards := encodeStream(t, c, data, 1000)
			synctest.Test(t, func(t *testing.T) {
				g := newGatedStore(t, shards, tc.blocked...)
				g.startOnly = tc.startOnly
				for _, i := range tc.missing {
					g.missing[i] = true
				}
				if tc.short != nil {
					g.short = tc.short
				}
				f := newFailures(t)
				got, err := decodeWith(t, c, int64(size), 0, int64(size), g.open, erasure.WithExtraReads(tc.extra), f.option())
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("decode = %d bytes, %v; want the original", len(got), err)
				}
				for i, err := range f.errs {
					if _, short := tc.short[i]; !short && !slicesContains(tc.missing, i) {
						t.Errorf("shard %d reported failed: %v", i, err)
					}
				}
				if opens := countOpens(g.store, 0); tc.opens0 != 0 && opens != tc.opens0 {
					t.Errorf("shard 0 opened %d times; want %d", opens, tc.opens0)
				}
				g.checkAllClosed()
				checkNoLeak(t)

				// Close part way, with blocked sources still open.
				r, err := c.NewDecoder(int64(size), 10, int64(size-20), g.open, erasure.WithExtraReads(tc.extra))
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 3*bs)
				if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, data[10:10+len(buf)]) {
					t.Errorf("partial read = %v; want the original", err)
				}
				r.Close()
				if n, err := r.Read(buf); n != 0 || err == nil {
					t.Errorf("Read after Close = %d, %v; want an error", n, err)
				}
				g.checkAllClosed()
				checkNoLeak(t)
			})
		})
	}
}

// decodeWith decodes [off, off+n) through open and returns what it read
// before any error.
func decodeWith(t testing.TB, c *erasure.Codec, size, off, n int64, open erasure.ShardOpener, opts ...erasure.DecodeOption) ([]byte, error) {
	t.Helper()
	r, err := c.NewDecoder(size, off, n, open, opts...)
	if err != nil {
		t.Fatalf("NewDecoder(%d, %d, %d) error: %v", size, off, n, err)
	}
	got, err := io.ReadAll(r)
	if cerr := r.Close(); cerr != nil {
		t.Errorf("decoder Close() = %v; want nil", cerr)
	}
	return got, err
}

func countOpens(s *store, shard int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, o := range s.opens {
		if o.shard == shard {
			n++
		}
	}
	return n
}

// TestExtraReadsReadAhead checks that a source reads at most two frames
// ahead of the block being returned, however far the object goes on.
func TestExtraReadsReadAhead(t *testing.T) {
	const bs = 800
	c := newCodec(t, 4, 2, bs)
	size := 20 * bs
	data := randBytes(8, size)
	shards := encodeStream(t, c, data, bs)
	stride := int64(32 + bs/4)
	synctest.Test(t, func(t *testing.T) {
		g := newGatedStore(t, shards, 2)
		r, err := c.NewDecoder(int64(size), 0, int64(size), g.open, erasure.WithExtraReads(1))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 3*bs+1) // into block 3
		if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, data[:len(buf)]) {
			t.Fatalf("ReadFull = %v; want the original", err)
		}
		synctest.Wait()
		for i := range c.TotalShards() {
			if n := g.consumed(i); n > 5*stride {
				t.Errorf("shard %d read %d bytes (%d frames) while block 3 is returned; want at most 5 frames", i, n, n/stride)
			}
		}
		if n := g.consumed(2); n != 0 {
			t.Errorf("blocked shard 2 read %d bytes", n)
		}
		rest, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(rest, data[len(buf):]) {
			t.Errorf("rest = %d bytes, %v; want the original", len(rest), err)
		}
		r.Close()
		g.checkAllClosed()
		checkNoLeak(t)
	})
}

// TestExtraReadsZero checks that without extra reads, or without parity to
// read, the decoder opens the data shards only, as the default one does.
func TestExtraReadsZero(t *testing.T) {
	const bs = 512
	for _, tc := range []struct{ k, m, extra int }{{4, 2, 0}, {4, 2, -1}, {3, 0, 2}} {
		c := newCodec(t, tc.k, tc.m, bs)
		size := 3*bs + 5
		data := randBytes(3, size)
		s := newStore(t, encodeStream(t, c, data, bs))
		got, err := readRange(t, c, int64(size), 0, int64(size), s, erasure.WithExtraReads(tc.extra))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d+%d WithExtraReads(%d): decode = %d bytes, %v; want the original", tc.k, tc.m, tc.extra, len(got), err)
		}
		for _, o := range s.opens {
			if o.shard >= tc.k {
				t.Errorf("%d+%d WithExtraReads(%d) opened parity shard %d", tc.k, tc.m, tc.extra, o.shard)
			}
		}
		s.checkAllClosed()
	}
}

// TestExtraReadsRandom decodes random ranges with extra reads over random
// sets of missing, short and corrupt shards. Up to m bad shards it must
// return the original; beyond, a true prefix and ErrTooFewShards. Only bad
// shards may be reported.
func TestExtraReadsRandom(t *testing.T) {
	const bs = 1000
	r := rand.New(rand.NewPCG(77, 1))
	for _, sh := range []struct{ k, m int }{{4, 2}, {3, 3}, {2, 1}, {5, 3}, {10, 4}} {
		c := newCodec(t, sh.k, sh.m, bs)
		n := sh.k + sh.m
		size := 6*bs + 321
		data := randBytes(uint64(n), size)
		shards := encodeStream(t, c, data, 4000)
		shardSize := int(c.ShardFileSize(int64(size)))
		for _, extra := range []int{1, 2} {
			for iter := range 150 {
				bad := r.IntN(sh.m + 2) // 0 to m+1
				cs := copyShards(shards)
				s := newStore(t, cs)
				badSet := map[int]string{}
				for _, i := range r.Perm(n)[:bad] {
					switch r.IntN(3) {
					case 0:
						s.missing[i] = true
						badSet[i] = "missing"
					case 1:
						s.short[i] = r.IntN(shardSize)
						badSet[i] = fmt.Sprintf("short %d", s.short[i])
					default:
						pos := r.IntN(shardSize)
						cs[i][pos] ^= 1 << r.IntN(8)
						badSet[i] = fmt.Sprintf("corrupt at %d", pos)
					}
				}
				off := r.Int64N(int64(size) + 1)
				l := r.Int64N(int64(size) - off + 1)
				if iter%3 == 0 {
					off, l = 0, int64(size)
				}
				name := fmt.Sprintf("%d+%d extra %d [%d, %d) bad %v", sh.k, sh.m, extra, off, off+l, badSet)
				f := newFailures(t)
				got, err := readRange(t, c, int64(size), off, l, s, erasure.WithExtraReads(extra), f.option())
				if !bytes.Equal(got, data[off:off+int64(len(got))]) {
					t.Fatalf("%s: decode returned wrong bytes", name)
				}
				switch {
				case err == nil && int64(len(got)) != l:
					t.Errorf("%s: decode = %d bytes, nil; want %d", name, len(got), l)
				case err != nil && bad <= sh.m:
					t.Errorf("%s: decode = %d bytes, %v; want the original", name, len(got), err)
				case err != nil && !errors.Is(err, erasure.ErrTooFewShards):
					t.Errorf("%s: decode error %v; want ErrTooFewShards", name, err)
				}
				for i, ferr := range f.errs {
					if _, ok := badSet[i]; !ok {
						t.Errorf("%s: good shard %d reported: %v", name, i, ferr)
					}
					if strings.HasPrefix(badSet[i], "corrupt") && !errors.Is(ferr, erasure.ErrCorrupt) {
						t.Errorf("%s: corrupt shard %d reported %v; want ErrCorrupt", name, i, ferr)
					}
				}
				s.checkAllClosed()
			}
		}
	}
}

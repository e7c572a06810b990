package erasure_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"cairn/erasure"
)

// rebuild runs ReconstructShards for want over s and returns what was
// written for each wanted shard.
func rebuild(t testing.TB, c *erasure.Codec, size int64, want []int, s *store, opts ...erasure.DecodeOption) ([][]byte, error) {
	t.Helper()
	bufs := make([]bytes.Buffer, len(want))
	out := make([]io.Writer, len(want))
	for j := range bufs {
		out[j] = &bufs[j]
	}
	err := c.ReconstructShards(size, want, s.open, out, opts...)
	got := make([][]byte, len(want))
	for j := range bufs {
		got[j] = bufs[j].Bytes()
	}
	return got, err
}

// maskBits lists the set bits of mask below n.
func maskBits(mask, n int) []int {
	var idx []int
	for i := range n {
		if mask&(1<<i) != 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// checkOpens checks that no wanted shard was opened and that every shard
// was opened at the start of a block and asked for the rest of the shard.
func checkOpens(t testing.TB, name string, c *erasure.Codec, size int64, want []int, s *store) {
	t.Helper()
	stride := int64(erasure.ChecksumSize + (c.BlockSize()+c.DataShards()-1)/c.DataShards())
	end := c.ShardFileSize(size)
	for _, o := range s.opens {
		if slices.Contains(want, o.shard) {
			t.Errorf("%s: opened wanted shard %d as a source", name, o.shard)
		}
		if o.off%stride != 0 || o.off >= end || o.off+o.n != end {
			t.Errorf("%s: open(%d, %d, %d); want a block start and the rest of the %d-byte shard", name, o.shard, o.off, o.n, end)
		}
	}
}

// TestReconstructShards rebuilds every set of up to m shards with every
// pattern of missing sources, and compares the result with the encoder's
// shards byte for byte.
func TestReconstructShards(t *testing.T) {
	const bs = 64
	for _, sh := range []struct{ k, m int }{{4, 2}, {3, 3}, {2, 1}} {
		c := newCodec(t, sh.k, sh.m, bs)
		n := sh.k + sh.m
		for _, size := range []int{0, 1, bs - 1, bs, 3*bs + 17} {
			data := randBytes(uint64(size)+7, size)
			shards := encodeStream(t, c, data, 50)
			all, err := c.EncodeAll(data)
			if err != nil {
				t.Fatal(err)
			}
			for i := range shards {
				if !bytes.Equal(shards[i], all[i]) {
					t.Fatalf("%d+%d size %d: Encoder and EncodeAll differ on shard %d", sh.k, sh.m, size, i)
				}
			}
			for wantMask := 1; wantMask < 1<<n; wantMask++ {
				if bits.OnesCount(uint(wantMask)) > sh.m {
					continue
				}
				want := maskBits(wantMask, n)
				for lostMask := 0; lostMask < 1<<n; lostMask++ {
					if lostMask&wantMask != 0 {
						continue
					}
					name := fmt.Sprintf("%d+%d size %d want %v lost %v", sh.k, sh.m, size, want, maskBits(lostMask, n))
					s := newStore(t, shards)
					for i := range n {
						s.missing[i] = lostMask&(1<<i) != 0
					}
					f := newFailures(t)
					got, err := rebuild(t, c, int64(size), want, s, f.option())

					// The k good sources are the first shards neither
					// wanted nor lost; lost shards before the last of them
					// were tried and reported.
					var good []int
					for i := 0; i < n && len(good) < sh.k; i++ {
						if (wantMask|lostMask)&(1<<i) == 0 {
							good = append(good, i)
						}
					}
					var tried []int
					switch {
					case size == 0:
						if err != nil || s.openCount() != 0 {
							t.Errorf("%s: err %v, %d opens; want nil and none", name, err, s.openCount())
						}
						good = nil
					case len(good) == sh.k:
						if err != nil {
							t.Errorf("%s: error %v; want nil", name, err)
						}
						tried = maskBits(lostMask&(1<<(good[sh.k-1]+1)-1), n)
					default:
						if !errors.Is(err, erasure.ErrTooFewShards) || !errors.Is(err, errMissing) {
							t.Errorf("%s: error %v; want ErrTooFewShards and the sources' errors", name, err)
						}
						var e *erasure.Error
						if !errors.As(err, &e) || e.Op != "reconstruct" || e.Usable >= sh.k {
							t.Errorf("%s: error %#v; want an *Error of op reconstruct with Usable < %d", name, e, sh.k)
						}
						tried = maskBits(lostMask, n)
					}
					if err == nil {
						for j, i := range want {
							if !bytes.Equal(got[j], shards[i]) {
								t.Errorf("%s: rebuilt shard %d (%d bytes) differs from the encoder's (%d bytes)", name, i, len(got[j]), len(shards[i]))
							}
						}
						var opened []int
						for _, o := range s.opens {
							if !s.missing[o.shard] {
								opened = append(opened, o.shard)
							}
						}
						slices.Sort(opened)
						if !slices.Equal(opened, good) {
							t.Errorf("%s: read shards %v; want %v", name, opened, good)
						}
					}
					var reported []int
					for i, ferr := range f.errs {
						reported = append(reported, i)
						if !errors.Is(ferr, errMissing) {
							t.Errorf("%s: shard %d reported %v; want errMissing", name, i, ferr)
						}
					}
					slices.Sort(reported)
					if !slices.Equal(reported, tried) {
						t.Errorf("%s: reported shards %v; want %v", name, reported, tried)
					}
					checkOpens(t, name, c, int64(size), want, s)
					s.checkAllClosed()
				}
			}
		}
	}
}

// TestReconstructCorruptSources flips bytes in the sources' frames: a
// corrupt source is reported with ErrCorrupt and replaced at that block, and
// the rebuilt shards are still exact, or with too few good sources the call
// fails.
func TestReconstructCorruptSources(t *testing.T) {
	const bs = 64
	for _, sh := range []struct{ k, m int }{{4, 2}, {3, 3}, {2, 1}} {
		c := newCodec(t, sh.k, sh.m, bs)
		n := sh.k + sh.m
		size := 3*bs + 17
		blocks := 4
		stride := erasure.ChecksumSize + (bs+sh.k-1)/sh.k
		data := randBytes(21, size)
		shards := encodeStream(t, c, data, 100)
		r := rand.New(rand.NewPCG(uint64(sh.k), uint64(sh.m)))
		for wantMask := 1; wantMask < 1<<n; wantMask++ {
			if bits.OnesCount(uint(wantMask)) > sh.m {
				continue
			}
			want := maskBits(wantMask, n)
			slack := n - len(want) - sh.k
			for badMask := 1; badMask < 1<<n; badMask++ {
				bad := bits.OnesCount(uint(badMask))
				if badMask&wantMask != 0 || bad > slack+1 {
					continue
				}
				cs := copyShards(shards)
				badBlock := map[int]int{}
				// More bad sources than slack go bad at the same block, so
				// that it has too few good frames; a source opened past its
				// bad block would never notice.
				sameBlock := r.IntN(blocks)
				for _, i := range maskBits(badMask, n) {
					b := r.IntN(blocks)
					if bad > slack {
						b = sameBlock
					}
					frame := cs[i][b*stride:]
					frame = frame[:min(len(frame), stride)]
					pos := r.IntN(len(frame)) // checksum or fragment
					frame[pos] ^= 1 << r.IntN(8)
					badBlock[i] = b
				}
				name := fmt.Sprintf("%d+%d want %v corrupt %v", sh.k, sh.m, want, badBlock)
				s := newStore(t, cs)
				f := newFailures(t)
				got, err := rebuild(t, c, int64(size), want, s, f.option())
				if bad <= slack {
					if err != nil {
						t.Errorf("%s: error %v; want nil", name, err)
					}
					for j, i := range want {
						if !bytes.Equal(got[j], shards[i]) {
							t.Errorf("%s: rebuilt shard %d differs from the encoder's", name, i)
						}
					}
				} else if !errors.Is(err, erasure.ErrTooFewShards) || !errors.Is(err, erasure.ErrCorrupt) {
					t.Errorf("%s: error %v; want ErrTooFewShards and ErrCorrupt", name, err)
				}
				for i, ferr := range f.errs {
					if _, ok := badBlock[i]; !ok || !errors.Is(ferr, erasure.ErrCorrupt) {
						t.Errorf("%s: shard %d reported %v; want only corrupt shards, with ErrCorrupt", name, i, ferr)
					}
				}
				// A corrupt shard among the first k candidates is always read
				// to its bad block; with too few sources, every one is.
				cand := 0
				for i := range n {
					if wantMask&(1<<i) != 0 {
						continue
					}
					cand++
					if _, isBad := badBlock[i]; isBad && (cand <= sh.k || bad > slack) && f.errs[i] == nil {
						t.Errorf("%s: corrupt source %d not reported", name, i)
					}
				}
				// A replacement is opened at the block where a source failed.
				var replAt []int64
				for _, o := range s.opens {
					if o.off != 0 {
						replAt = append(replAt, o.off/int64(stride))
					}
				}
				for _, b := range replAt {
					found := false
					for i, bb := range badBlock {
						found = found || (int64(bb) == b && f.errs[i] != nil)
					}
					if !found {
						t.Errorf("%s: a source opened at block %d, where none failed", name, b)
					}
				}
				checkOpens(t, name, c, int64(size), want, s)
				s.checkAllClosed()
			}
		}
	}
}

// TestReconstructShortSources cuts sources off part way through, so that
// they are replaced at a later block, mixed with missing ones.
func TestReconstructShortSources(t *testing.T) {
	const bs = 1000
	c := newCodec(t, 4, 2, bs)
	size := 5*bs + 99
	data := randBytes(13, size)
	shards := encodeStream(t, c, data, bs)
	stride := 32 + bs/4
	tests := []struct {
		want     []int
		short    map[int]int // shard -> bytes of its range it serves
		missing  []int
		ok       bool
		failed   []int         // shards reported failed
		openedAt map[int]int64 // shard -> block it was opened at
	}{
		{want: []int{0}, short: map[int]int{1: 2*stride + 10}, ok: true, failed: []int{1}, openedAt: map[int]int64{5: 2}},
		{want: []int{5}, short: map[int]int{3: 0}, ok: true, failed: []int{3}, openedAt: map[int]int64{4: 0}},
		{want: []int{2}, short: map[int]int{0: 4 * stride}, ok: true, failed: []int{0}, openedAt: map[int]int64{5: 4}},
		{want: []int{0}, missing: []int{2}, ok: true, failed: []int{2}, openedAt: map[int]int64{4: 0, 5: 0}},
		{want: []int{1, 3}, short: map[int]int{5: 7 * stride}, ok: true, openedAt: map[int]int64{0: 0, 2: 0, 4: 0, 5: 0}},
		// The replacement's range starts at block 1, so it serves blocks 1 to 3.
		{want: []int{4}, short: map[int]int{0: stride, 5: 3 * stride}, ok: false, failed: []int{0, 5}, openedAt: map[int]int64{5: 1}},
		{want: []int{0, 4}, short: map[int]int{5: 5 * stride}, ok: false, failed: []int{5}},
		{want: []int{2}, short: map[int]int{4: 3 * stride}, missing: []int{1}, ok: false, failed: []int{1, 4}, openedAt: map[int]int64{5: 0}},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("want %v short %v missing %v", tc.want, tc.short, tc.missing)
		s := newStore(t, shards)
		s.short = tc.short
		for _, i := range tc.missing {
			s.missing[i] = true
		}
		f := newFailures(t)
		got, err := rebuild(t, c, int64(size), tc.want, s, f.option())
		if tc.ok {
			if err != nil {
				t.Errorf("%s: error %v; want nil", name, err)
			}
			for j, i := range tc.want {
				if !bytes.Equal(got[j], shards[i]) {
					t.Errorf("%s: rebuilt shard %d differs from the encoder's", name, i)
				}
			}
		} else if !errors.Is(err, erasure.ErrTooFewShards) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: error %v; want ErrTooFewShards and io.ErrUnexpectedEOF", name, err)
		}
		var reported []int
		for i, ferr := range f.errs {
			reported = append(reported, i)
			if _, short := tc.short[i]; short && !errors.Is(ferr, io.ErrUnexpectedEOF) {
				t.Errorf("%s: short shard %d reported %v; want io.ErrUnexpectedEOF", name, i, ferr)
			}
		}
		slices.Sort(reported)
		if !slices.Equal(reported, tc.failed) {
			t.Errorf("%s: reported shards %v; want %v", name, reported, tc.failed)
		}
		for i, b := range tc.openedAt {
			found := false
			for _, o := range s.opens {
				found = found || o.shard == i && o.off == b*int64(stride)
			}
			if !found {
				t.Errorf("%s: shard %d not opened at block %d; opens %v", name, i, b, s.opens)
			}
		}
		checkOpens(t, name, c, int64(size), tc.want, s)
		s.checkAllClosed()
	}
}

// TestReconstructTooManyWanted asks for more than m shards: there cannot be
// k sources, so nothing is opened.
func TestReconstructTooManyWanted(t *testing.T) {
	c := newCodec(t, 4, 2, 100)
	for _, size := range []int{0, 1, 350} {
		shards := encodeStream(t, c, randBytes(3, size), 64)
		for _, want := range [][]int{{0, 1, 2}, {3, 4, 5}, {0, 1, 2, 3, 4, 5}} {
			s := newStore(t, shards)
			got, err := rebuild(t, c, int64(size), want, s)
			var e *erasure.Error
			if !errors.As(err, &e) || !errors.Is(err, erasure.ErrTooFewShards) || e.Usable != 6-len(want) || e.Need != 4 {
				t.Errorf("ReconstructShards(%d, %v) = %v; want an *Error wrapping ErrTooFewShards, Usable %d, Need 4", size, want, err, 6-len(want))
			}
			if n := s.openCount(); n != 0 {
				t.Errorf("ReconstructShards(%d, %v) opened %d shards; want 0", size, want, n)
			}
			for j := range got {
				if len(got[j]) != 0 {
					t.Errorf("ReconstructShards(%d, %v) wrote %d bytes for shard %d", size, want, len(got[j]), want[j])
				}
			}
		}
	}
	// With m = 0 no shard can be rebuilt.
	c0 := newCodec(t, 3, 0, 100)
	s := newStore(t, encodeStream(t, c0, randBytes(4, 250), 64))
	if _, err := rebuild(t, c0, 250, []int{1}, s); !errors.Is(err, erasure.ErrTooFewShards) {
		t.Errorf("3+0: ReconstructShards(250, [1]) = %v; want ErrTooFewShards", err)
	}
}

func TestReconstructInvalidArgs(t *testing.T) {
	c := newCodec(t, 4, 2, 100)
	shards := encodeStream(t, c, randBytes(5, 250), 64)
	s := newStore(t, shards)
	w := func(n int) []io.Writer {
		out := make([]io.Writer, n)
		for i := range out {
			out[i] = io.Discard
		}
		return out
	}
	tests := []struct {
		name string
		size int64
		want []int
		open erasure.ShardOpener
		out  []io.Writer
	}{
		{"negative size", -1, []int{0}, s.open, w(1)},
		{"shard -1", 250, []int{-1}, s.open, w(1)},
		{"shard k+m", 250, []int{6}, s.open, w(1)},
		{"shard twice", 250, []int{2, 2}, s.open, w(2)},
		{"fewer writers", 250, []int{0, 1}, s.open, w(1)},
		{"more writers", 250, []int{0}, s.open, w(2)},
		{"nil writer", 250, []int{0, 1}, s.open, []io.Writer{io.Discard, nil}},
		{"nil opener", 250, []int{0}, nil, w(1)},
	}
	for _, tc := range tests {
		if err := c.ReconstructShards(tc.size, tc.want, tc.open, tc.out); err == nil {
			t.Errorf("ReconstructShards(%s) = nil; want an error", tc.name)
		}
	}
	if err := c.ReconstructShards(-1, []int{0}, s.open, w(1)); !errors.Is(err, erasure.ErrInvalidRange) {
		t.Errorf("ReconstructShards(size -1) = %v; want ErrInvalidRange", err)
	}
	// Nothing wanted: nothing to do.
	if err := c.ReconstructShards(250, nil, s.open, nil); err != nil {
		t.Errorf("ReconstructShards(want nil) = %v; want nil", err)
	}
	if n := s.openCount(); n != 0 {
		t.Errorf("invalid calls opened %d shards; want 0", n)
	}
}

// TestReconstructWriterFails checks that a failing or short writer ends the
// rebuild with its error, and that every source is closed.
func TestReconstructWriterFails(t *testing.T) {
	const bs = 1000
	c := newCodec(t, 4, 2, bs)
	size := 5*bs + 17
	shards := encodeStream(t, c, randBytes(8, size), bs)
	stride := 32 + bs/4
	tests := []struct {
		want  []int
		fail  int // index into want of the failing writer
		limit int // bytes it takes before failing
		short bool
	}{
		{want: []int{0}, fail: 0, limit: 0},
		{want: []int{3}, fail: 0, limit: 2 * stride},
		{want: []int{1, 5}, fail: 1, limit: 4 * stride},
		{want: []int{2, 4}, fail: 0, limit: stride + 3, short: true},
		{want: []int{5}, fail: 0, limit: 5 * stride, short: true}, // the last, short frame
	}
	for _, tc := range tests {
		name := fmt.Sprintf("want %v, writer of shard %d fails after %d bytes (short %v)", tc.want, tc.want[tc.fail], tc.limit, tc.short)
		s := newStore(t, shards)
		out := make([]io.Writer, len(tc.want))
		fw := &failWriter{limit: tc.limit, short: tc.short}
		for j := range out {
			out[j] = io.Discard
		}
		out[tc.fail] = fw
		err := c.ReconstructShards(int64(size), tc.want, s.open, out)
		wantErr := errDisk
		if tc.short {
			wantErr = io.ErrShortWrite
		}
		if !errors.Is(err, wantErr) || !strings.Contains(fmt.Sprint(err), fmt.Sprintf("shard %d", tc.want[tc.fail])) {
			t.Errorf("%s: error %v; want %v naming the shard", name, err, wantErr)
		}
		if fw.afterFail != 0 {
			t.Errorf("%s: %d writes after the writer failed; want 0", name, fw.afterFail)
		}
		if !bytes.Equal(fw.Bytes(), shards[tc.want[tc.fail]][:fw.Len()]) {
			t.Errorf("%s: the failing writer got wrong bytes before failing", name)
		}
		s.checkAllClosed()
	}
}

// checkWriter compares what is written to it with want as it goes, without
// keeping it.
type checkWriter struct {
	want []byte
	pos  int
	bad  bool
}

func (w *checkWriter) Write(p []byte) (int, error) {
	if w.pos+len(p) > len(w.want) || !bytes.Equal(p, w.want[w.pos:w.pos+len(p)]) {
		w.bad = true
	}
	w.pos += len(p)
	return len(p), nil
}

// TestReconstructBoundedMemory checks that a rebuild streams: rebuilding a
// 40-block object allocates about as much as a 2-block one, not a block per
// block.
func TestReconstructBoundedMemory(t *testing.T) {
	const bs = 256 << 10
	c := newCodec(t, 4, 2, bs)
	alloc := func(blocks int) uint64 {
		size := blocks * bs
		shards, err := c.EncodeAll(randBytes(uint64(blocks), size))
		if err != nil {
			t.Fatal(err)
		}
		open := func(i int, off, n int64) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(shards[i][off : off+n])), nil
		}
		w := &checkWriter{want: shards[1]}
		// The first call warms up reedsolomon's decode matrix cache.
		if err := c.ReconstructShards(int64(size), []int{1}, open, []io.Writer{io.Discard}); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err = c.ReconstructShards(int64(size), []int{1}, open, []io.Writer{w})
		runtime.ReadMemStats(&after)
		if err != nil || w.bad || w.pos != len(shards[1]) {
			t.Fatalf("rebuilding shard 1 of %d blocks: err %v, %d bytes, wrong bytes %v", blocks, err, w.pos, w.bad)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	// The frame buffers come from a sync.Pool, which a garbage collection
	// between the warm-up and the measured call empties, and which the
	// race detector drops from at random: a call may allocate its k+1
	// frames afresh (under 2 blocks here). A frame per block would be 39
	// more frames (about 10 blocks).
	small, large := alloc(2), alloc(40)
	if slack := uint64(4 * bs); large > small+slack {
		t.Errorf("rebuild allocated %d bytes for 2 blocks, %d for 40; want the same within %d", small, large, slack)
	}
}

func TestVerifyShardNamesBlock(t *testing.T) {
	const bs = 1000
	c := newCodec(t, 4, 2, bs)
	size := int64(4*bs + 10)
	shards := encodeStream(t, c, randBytes(1, int(size)), 999)
	stride := 32 + 250
	for _, tc := range []struct{ shard, pos, block int }{
		{0, 3, 0},              // checksum of block 0
		{1, stride + 100, 1},   // fragment of block 1
		{4, 3*stride + 31, 3},  // last checksum byte of block 3
		{5, 4*stride + 33, 4},  // the short last frame
		{2, 2*stride + 281, 2}, // last fragment byte of block 2
	} {
		bad := bytes.Clone(shards[tc.shard])
		bad[tc.pos] ^= 0x80
		err := c.VerifyShard(bytes.NewReader(bad), size)
		if !errors.Is(err, erasure.ErrCorrupt) || !strings.Contains(fmt.Sprint(err), fmt.Sprintf("block %d ", tc.block)) {
			t.Errorf("VerifyShard(shard %d, byte %d flipped) = %v; want ErrCorrupt naming block %d", tc.shard, tc.pos, err, tc.block)
		}
		// The corrupt shard is rebuilt from the others.
		s := newStore(t, shards)
		got, err := rebuild(t, c, size, []int{tc.shard}, s)
		if err != nil || !bytes.Equal(got[0], shards[tc.shard]) {
			t.Errorf("rebuild of shard %d = %v; want the encoder's shard", tc.shard, err)
		}
		if err := c.VerifyShard(bytes.NewReader(got[0]), size); err != nil {
			t.Errorf("VerifyShard(rebuilt shard %d) = %v; want nil", tc.shard, err)
		}
	}
}

package erasure_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"testing"

	"cairn/erasure"
)

var codecShapes = []struct{ k, m int }{{4, 2}, {2, 1}, {3, 3}, {1, 0}, {5, 0}, {10, 4}}

func roundTripSizes(k, bs int) []int {
	return []int{0, 1, k - 1, k, k + 1, bs - 1, bs, bs + 1, 2*bs - 1, 3*bs + 777}
}

func TestRoundTrip(t *testing.T) {
	const bs = 4096
	for _, sh := range codecShapes {
		c := newCodec(t, sh.k, sh.m, bs)
		for _, size := range roundTripSizes(sh.k, bs) {
			t.Run(fmt.Sprintf("%d+%d/%d", sh.k, sh.m, size), func(t *testing.T) {
				data := randBytes(uint64(size), size)
				for _, chunk := range []int{1 << 20, 1000, 1} {
					if chunk == 1 && size > 3*bs {
						continue
					}
					shards := encodeStream(t, c, data, chunk)
					all, err := c.EncodeAll(data)
					if err != nil {
						t.Fatalf("EncodeAll(%d bytes) error: %v", size, err)
					}
					for i := range shards {
						if got, want := int64(len(shards[i])), c.ShardFileSize(int64(size)); got != want {
							t.Errorf("shard %d is %d bytes; want ShardFileSize = %d", i, got, want)
						}
						if !bytes.Equal(shards[i], all[i]) {
							t.Errorf("chunk %d: Encoder shard %d differs from EncodeAll's", chunk, i)
						}
					}
					s := newStore(t, shards)
					f := newFailures(t)
					got, err := readRange(t, c, int64(size), 0, int64(size), s, f.option())
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("decode = %d bytes, %v; want the %d bytes written", len(got), err, size)
					}
					if len(f.errs) != 0 {
						t.Errorf("shard failures %v on intact shards", f.errs)
					}
					for _, o := range s.opens {
						if o.shard >= sh.k {
							t.Errorf("opened parity shard %d with every data shard intact", o.shard)
						}
					}
					s.checkAllClosed()
				}
			})
		}
	}
}

func TestRoundTripDefaultBlockSize(t *testing.T) {
	c, err := erasure.New(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	size := 3*erasure.DefaultBlockSize + 12345
	data := randBytes(7, size)
	shards := encodeStream(t, c, data, 64<<10+3)
	s := newStore(t, shards)
	s.missing[1] = true
	got, err := readRange(t, c, int64(size), 0, int64(size), s)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decode = %d bytes, %v; want the %d bytes written", len(got), err, size)
	}
	off, n := int64(erasure.DefaultBlockSize-100), int64(erasure.DefaultBlockSize+200)
	got, err = readRange(t, c, int64(size), off, n, s)
	if err != nil || !bytes.Equal(got, data[off:off+n]) {
		t.Fatalf("decode [%d, %d) = %d bytes, %v; want the original", off, off+n, len(got), err)
	}
}

// TestLossPatterns tries every set of missing shards.
func TestLossPatterns(t *testing.T) {
	const bs = 4096
	for _, sh := range []struct{ k, m int }{{4, 2}, {3, 3}, {2, 1}} {
		c := newCodec(t, sh.k, sh.m, bs)
		size := 3*bs + 1234
		data := randBytes(42, size)
		shards := encodeStream(t, c, data, 5000)
		n := sh.k + sh.m
		for mask := range 1 << n {
			lost := bits.OnesCount(uint(mask))
			if lost > sh.m+1 {
				continue
			}
			s := newStore(t, shards)
			for i := range n {
				s.missing[i] = mask&(1<<i) != 0
			}
			f := newFailures(t)
			got, err := readRange(t, c, int64(size), 0, int64(size), s, f.option())
			name := fmt.Sprintf("%d+%d missing %0*b", sh.k, sh.m, n, mask)
			if lost <= sh.m {
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%s: decode = %d bytes, %v; want the original", name, len(got), err)
				}
			} else {
				if !errors.Is(err, erasure.ErrTooFewShards) || len(got) != 0 {
					t.Errorf("%s: decode = %d bytes, %v; want 0, ErrTooFewShards", name, len(got), err)
				}
				var e *erasure.Error
				if errors.As(err, &e) && e.Usable >= sh.k {
					t.Errorf("%s: Error.Usable = %d; want < %d", name, e.Usable, sh.k)
				}
			}
			// Exactly the missing shards that were tried are reported.
			for i, ferr := range f.errs {
				if mask&(1<<i) == 0 || !errors.Is(ferr, errMissing) {
					t.Errorf("%s: shard %d reported failed: %v", name, i, ferr)
				}
			}
			for i := range sh.k {
				if mask&(1<<i) != 0 && f.errs[i] == nil {
					t.Errorf("%s: missing data shard %d not reported", name, i)
				}
			}
			s.checkAllClosed()
		}
	}
}

// TestShortShards cuts shards off in the middle of the object, so that they
// fail part way through and are replaced at a later block.
func TestShortShards(t *testing.T) {
	const bs = 4096
	c := newCodec(t, 4, 2, bs)
	size := 5*bs + 99
	data := randBytes(3, size)
	shards := encodeStream(t, c, data, bs)
	stride := 32 + bs/4
	for _, tc := range []struct {
		short    map[int]int
		missing  []int
		ok       bool
		reported []int
	}{
		{short: map[int]int{0: 2*stride + 10}, ok: true, reported: []int{0}},
		{short: map[int]int{3: 0}, ok: true, reported: []int{3}},
		{short: map[int]int{1: stride, 2: 3 * stride}, ok: true, reported: []int{1, 2}},
		{short: map[int]int{1: stride, 4: 10}, ok: true, reported: []int{1, 4}},
		{short: map[int]int{1: stride}, missing: []int{0}, ok: true, reported: []int{0, 1}},
		{short: map[int]int{1: stride, 2: 2 * stride, 4: 2*stride + 5}, ok: false, reported: []int{1, 2, 4}},
		{short: map[int]int{0: 4 * stride}, missing: []int{1, 5}, ok: false, reported: []int{0, 1, 5}},
	} {
		s := newStore(t, shards)
		s.short = tc.short
		for _, i := range tc.missing {
			s.missing[i] = true
		}
		f := newFailures(t)
		got, err := readRange(t, c, int64(size), 0, int64(size), s, f.option())
		if tc.ok && (err != nil || !bytes.Equal(got, data)) {
			t.Errorf("short %v missing %v: decode = %d bytes, %v; want the original", tc.short, tc.missing, len(got), err)
		}
		if !tc.ok && (!errors.Is(err, erasure.ErrTooFewShards) || !bytes.Equal(got, data[:len(got)])) {
			t.Errorf("short %v missing %v: decode = %d bytes, %v; want a true prefix and ErrTooFewShards", tc.short, tc.missing, len(got), err)
		}
		if len(f.errs) != len(tc.reported) {
			t.Errorf("short %v missing %v: reported %v; want shards %v", tc.short, tc.missing, f.errs, tc.reported)
		}
		for _, i := range tc.reported {
			if _, ok := tc.short[i]; ok && !errors.Is(f.errs[i], io.ErrUnexpectedEOF) {
				t.Errorf("short %v: shard %d reported %v; want io.ErrUnexpectedEOF", tc.short, i, f.errs[i])
			}
		}
		s.checkAllClosed()
	}
}

// TestCorruption flips bytes in frames and checks that the decoder notices,
// reports ErrCorrupt, and still returns the right bytes or none.
func TestCorruption(t *testing.T) {
	const bs = 4096
	for _, sh := range []struct{ k, m int }{{4, 2}, {3, 3}} {
		c := newCodec(t, sh.k, sh.m, bs)
		n := sh.k + sh.m
		size := 4*bs + 500
		blocks := 5
		data := randBytes(9, size)
		shards := encodeStream(t, c, data, 7000)
		stride := 32 + (bs+sh.k-1)/sh.k
		r := rand.New(rand.NewPCG(1, 2))

		// corrupt flips one byte of shard i's frame of block b: in the
		// checksum when inSum, else in the fragment.
		corrupt := func(shards [][]byte, i, b int, inSum bool) {
			frame := shards[i][b*stride:]
			frame = frame[:min(len(frame), stride)]
			pos := 32 + r.IntN(len(frame)-32)
			if inSum {
				pos = r.IntN(32)
			}
			frame[pos] ^= 1 << r.IntN(8)
		}

		// Every set of up to m+1 corrupted shards, each at a random block.
		for mask := 1; mask < 1<<n; mask++ {
			bad := bits.OnesCount(uint(mask))
			if bad > sh.m+1 {
				continue
			}
			cs := copyShards(shards)
			var missing []int
			// Up to m corrupt shards go bad at blocks of their own; m+1 at
			// the same block, so that no k good frames of it are left.
			sameBlock := r.IntN(blocks)
			for i := range n {
				if mask&(1<<i) != 0 {
					b := r.IntN(blocks)
					if bad > sh.m {
						b = sameBlock
					}
					corrupt(cs, i, b, r.IntN(4) == 0)
				}
			}
			// Lose data shards so that corrupt parity is read too.
			if bad < sh.m && mask>>sh.k != 0 {
				for i := 0; len(missing) < sh.m-bad && i < sh.k; i++ {
					if mask&(1<<i) == 0 {
						missing = append(missing, i)
					}
				}
			}
			s := newStore(t, cs)
			for _, i := range missing {
				s.missing[i] = true
			}
			f := newFailures(t)
			got, err := readRange(t, c, int64(size), 0, int64(size), s, f.option())
			name := fmt.Sprintf("%d+%d corrupt %0*b missing %v", sh.k, sh.m, n, mask, missing)
			if !bytes.Equal(got, data[:len(got)]) {
				t.Fatalf("%s: decode returned wrong bytes", name)
			}
			if bad <= sh.m {
				if err != nil || len(got) != size {
					t.Errorf("%s: decode = %d bytes, %v; want the original", name, len(got), err)
				}
			} else {
				if !errors.Is(err, erasure.ErrTooFewShards) || !errors.Is(err, erasure.ErrCorrupt) {
					t.Errorf("%s: decode error = %v; want ErrTooFewShards and ErrCorrupt", name, err)
				}
			}
			for i := range n {
				ferr, reported := f.errs[i]
				switch {
				case mask&(1<<i) != 0 && (i < sh.k || len(missing) > 0 || bad > sh.m):
					// A corrupt shard is reported if it was read past its bad
					// block; data shards always are unless the read stopped.
					if reported && !errors.Is(ferr, erasure.ErrCorrupt) {
						t.Errorf("%s: shard %d reported %v; want ErrCorrupt", name, i, ferr)
					}
					if !reported && i < sh.k && bad <= sh.m {
						t.Errorf("%s: corrupt data shard %d not reported", name, i)
					}
				case slicesContains(missing, i):
					if !errors.Is(ferr, errMissing) {
						t.Errorf("%s: missing shard %d reported %v", name, i, ferr)
					}
				case mask&(1<<i) == 0 && reported:
					t.Errorf("%s: good shard %d reported %v", name, i, ferr)
				}
			}
			s.checkAllClosed()
		}
	}
}

func slicesContains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestRangeReads compares random ranges with the original and checks that
// the decoder asks only for the ShardRange bytes.
func TestRangeReads(t *testing.T) {
	const bs = 4096
	for _, sh := range []struct{ k, m int }{{4, 2}, {3, 3}, {1, 0}} {
		c := newCodec(t, sh.k, sh.m, bs)
		size := 7*bs + 333
		data := randBytes(11, size)
		shards := encodeStream(t, c, data, 10000)
		stride := int64(32 + (bs+sh.k-1)/sh.k)
		r := rand.New(rand.NewPCG(uint64(sh.k), uint64(sh.m)))
		for iter := range 300 {
			off := r.Int64N(int64(size))
			n := r.Int64N(int64(size) - off + 1)
			if iter%3 == 0 { // short ranges around a block boundary
				off = max(0, r.Int64N(8)*bs-r.Int64N(20))
				off = min(off, int64(size))
				n = min(r.Int64N(40), int64(size)-off)
			}
			s := newStore(t, shards)
			// Sometimes a data shard is gone, or dies part way.
			switch {
			case sh.m > 0 && iter%4 == 1:
				s.missing[r.IntN(sh.k)] = true
			case sh.m > 0 && iter%4 == 2:
				s.short[r.IntN(sh.k)] = int(r.Int64N(c.ShardFileSize(int64(size))))
			}
			got, err := readRange(t, c, int64(size), off, n, s)
			if err != nil || !bytes.Equal(got, data[off:off+n]) {
				t.Fatalf("%d+%d: read [%d, %d) = %d bytes, %v; want the original", sh.k, sh.m, off, off+n, len(got), err)
			}
			wantOff, wantLen := c.ShardRange(int64(size), off, n)
			if n == 0 && len(s.opens) != 0 {
				t.Errorf("empty read opened %v", s.opens)
			}
			for _, o := range s.opens {
				// Data shards are opened at the start of the range; a
				// replacement at the start of some block within it. Either
				// way the request ends where the range does.
				if o.shard < sh.k && o.off != wantOff ||
					o.off < wantOff || (o.off-wantOff)%stride != 0 || o.off+o.n != wantOff+wantLen {
					t.Errorf("%d+%d: read [%d, %d): open(%d, %d, %d); want within ShardRange = %d, %d",
						sh.k, sh.m, off, off+n, o.shard, o.off, o.n, wantOff, wantLen)
				}
			}
			s.checkAllClosed()
		}
	}
}

// TestDecoderSmallReads reads a range a few bytes at a time, and closes a
// decoder part way.
func TestDecoderSmallReads(t *testing.T) {
	const bs = 100
	c := newCodec(t, 3, 2, bs)
	size := 1000
	data := randBytes(5, size)
	s := newStore(t, encodeStream(t, c, data, 33))
	s.missing[2] = true
	r, err := c.NewDecoder(int64(size), 50, 900, s.open)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read error after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, data[50:950]) {
		t.Errorf("read 7 bytes at a time: got %d bytes, not the original", len(got))
	}
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
	}
	r.Close()
	s.checkAllClosed()

	r, err = c.NewDecoder(int64(size), 0, int64(size), s.open)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if n, err := r.Read(buf); n != 0 || err == nil {
		t.Errorf("Read after Close = %d, %v; want an error", n, err)
	}
	s.checkAllClosed()
}

func TestVerifyShard(t *testing.T) {
	const bs = 1000
	c := newCodec(t, 4, 2, bs)
	size := int64(3*bs + 10)
	shards := encodeStream(t, c, randBytes(1, int(size)), 999)
	for i, sh := range shards {
		if err := c.VerifyShard(bytes.NewReader(sh), size); err != nil {
			t.Errorf("VerifyShard(shard %d) = %v; want nil", i, err)
		}
	}
	bad := bytes.Clone(shards[5])
	bad[2*(32+250)+40] ^= 0x10
	if err := c.VerifyShard(bytes.NewReader(bad), size); !errors.Is(err, erasure.ErrCorrupt) {
		t.Errorf("VerifyShard(corrupt) = %v; want ErrCorrupt", err)
	}
	if err := c.VerifyShard(bytes.NewReader(shards[0][:len(shards[0])-1]), size); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("VerifyShard(short) = %v; want io.ErrUnexpectedEOF", err)
	}
	if err := c.VerifyShard(bytes.NewReader(append(bytes.Clone(shards[0]), 0)), size); err == nil {
		t.Errorf("VerifyShard(one byte too long) = nil; want an error")
	}
	if err := c.VerifyShard(bytes.NewReader(nil), 0); err != nil {
		t.Errorf("VerifyShard(empty, 0) = %v; want nil", err)
	}
}

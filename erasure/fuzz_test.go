package erasure_test

import (
	"bytes"
	"errors"
	"math/bits"
	"testing"

	"cairn/erasure"
)

// FuzzRoundTrip encodes data, loses the shards in lossMask, flips one byte of
// one shard, and decodes a range. With at most m bad shards the decode must
// give the original bytes; with more it may fail with ErrTooFewShards, but it
// must never return a byte that differs from the original.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello, cairn"), uint8(0), uint32(0), uint32(12), uint8(0), uint16(0), uint8(0))
	f.Add(bytes.Repeat([]byte{7}, 300), uint8(1), uint32(50), uint32(200), uint8(0b101), uint16(0), uint8(0))
	f.Add(bytes.Repeat([]byte("abc"), 100), uint8(2), uint32(1), uint32(298), uint8(0b10), uint16(40), uint8(4))
	f.Add([]byte{}, uint8(3), uint32(0), uint32(0), uint8(0xff), uint16(0), uint8(0))
	shapes := []struct{ k, m, bs int }{{4, 2, 64}, {3, 3, 50}, {2, 1, 7}, {1, 0, 16}, {5, 2, 33}}
	f.Fuzz(func(t *testing.T, data []byte, shape uint8, off, n uint32, lossMask uint8, corruptAt uint16, corruptShard uint8) {
		sh := shapes[int(shape)%len(shapes)]
		c, err := erasure.New(sh.k, sh.m, erasure.WithBlockSize(sh.bs))
		if err != nil {
			t.Fatal(err)
		}
		size := int64(len(data))
		o := int64(off) % (size + 1)
		l := int64(n) % (size - o + 1)
		shards, err := c.EncodeAll(data)
		if err != nil {
			t.Fatal(err)
		}
		total := c.TotalShards()
		lossMask &= 1<<total - 1
		bad := bits.OnesCount8(lossMask)
		cs := int(corruptShard) % total
		if len(shards[cs]) > 0 && lossMask&(1<<cs) == 0 && corruptAt != 0 {
			shards[cs][int(corruptAt)%len(shards[cs])] ^= 0x40
			bad++
		}
		s := newStore(t, shards)
		for i := range total {
			s.missing[i] = lossMask&(1<<i) != 0
		}
		got, err := readRange(t, c, size, o, l, s)
		if !bytes.Equal(got, data[o:o+int64(len(got))]) {
			t.Fatalf("decode [%d, %d) returned wrong bytes", o, o+l)
		}
		switch {
		case err == nil:
			if int64(len(got)) != l {
				t.Fatalf("decode [%d, %d) = %d bytes; want %d", o, o+l, len(got), l)
			}
		case bad <= sh.m:
			t.Fatalf("decode [%d, %d) with %d bad shards of %d+%d: %v", o, o+l, bad, sh.k, sh.m, err)
		case !errors.Is(err, erasure.ErrTooFewShards):
			t.Fatalf("decode error = %v; want ErrTooFewShards", err)
		}
		s.checkAllClosed()
	})
}

// FuzzReconstruct rebuilds the shards in wantMask with the shards in
// lossMask gone and one byte of one source flipped. It must either write
// exactly the encoder's shards or fail; with enough good sources it must not
// fail.
func FuzzReconstruct(f *testing.F) {
	f.Add([]byte("hello, cairn"), uint8(0), uint8(1), uint8(0), uint16(0), uint8(0))
	f.Add(bytes.Repeat([]byte{7}, 300), uint8(1), uint8(0b100001), uint8(0b10), uint16(77), uint8(3))
	f.Add(bytes.Repeat([]byte("abc"), 100), uint8(2), uint8(0b100), uint8(0), uint16(40), uint8(0))
	f.Add([]byte{}, uint8(3), uint8(0b11), uint8(0), uint16(0), uint8(0))
	shapes := []struct{ k, m, bs int }{{4, 2, 64}, {3, 3, 50}, {2, 1, 7}, {5, 2, 33}}
	f.Fuzz(func(t *testing.T, data []byte, shape, wantMask, lossMask uint8, corruptAt uint16, corruptShard uint8) {
		sh := shapes[int(shape)%len(shapes)]
		c, err := erasure.New(sh.k, sh.m, erasure.WithBlockSize(sh.bs))
		if err != nil {
			t.Fatal(err)
		}
		shards, err := c.EncodeAll(data)
		if err != nil {
			t.Fatal(err)
		}
		total := c.TotalShards()
		wantMask &= 1<<total - 1
		lossMask &= 1<<total - 1
		lossMask &^= wantMask // a wanted shard is never a source anyway
		var want []int
		for i := range total {
			if wantMask&(1<<i) != 0 {
				want = append(want, i)
			}
		}
		sources := copyShards(shards)
		bad := bits.OnesCount8(lossMask)
		cs := int(corruptShard) % total
		if len(sources[cs]) > 0 && (lossMask|wantMask)&(1<<cs) == 0 && corruptAt != 0 {
			sources[cs][int(corruptAt)%len(sources[cs])] ^= 0x40
			bad++
		}
		s := newStore(t, sources)
		for i := range total {
			s.missing[i] = lossMask&(1<<i) != 0
		}
		got, err := rebuild(t, c, int64(len(data)), want, s)
		switch {
		case err == nil:
			for j, i := range want {
				if !bytes.Equal(got[j], shards[i]) {
					t.Fatalf("rebuilt shard %d differs from the encoder's", i)
				}
			}
		case total-len(want)-bad >= sh.k && len(data) > 0:
			t.Fatalf("rebuild of %v with %d bad sources of %d+%d: %v", want, bad, sh.k, sh.m, err)
		case len(want) > 0 && !errors.Is(err, erasure.ErrTooFewShards):
			t.Fatalf("rebuild error = %v; want ErrTooFewShards", err)
		}
		s.checkAllClosed()
	})
}

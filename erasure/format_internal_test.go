package erasure

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/reedsolomon"
	"github.com/minio/highwayhash"
)

// TestFormat parses shards by the format described in doc.go, with its own
// arithmetic and a fresh HighwayHash and Reed-Solomon coder, so that a change
// to the on-disk layout cannot go unnoticed.
func TestFormat(t *testing.T) {
	if len(checksumKey) != 32 {
		t.Fatalf("len(checksumKey) = %d; want 32", len(checksumKey))
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct{ k, m, bs, size int }{
		{4, 2, 10, 25}, {4, 2, 10, 1}, {3, 3, 4096, 3*4096 + 7}, {1, 0, 7, 20}, {5, 2, 64, 64 * 4}, {6, 3, 1000, 2},
	} {
		c, err := New(tc.k, tc.m, WithBlockSize(tc.bs))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := reedsolomon.New(tc.k, tc.m)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, tc.size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		shards, err := c.EncodeAll(data)
		if err != nil {
			t.Fatal(err)
		}
		full := (tc.bs + tc.k - 1) / tc.k
		off := 0
		for b := 0; b*tc.bs < tc.size; b++ {
			l := min(tc.bs, tc.size-b*tc.bs)
			fs := (l + tc.k - 1) / tc.k
			padded := make([]byte, fs*tc.k)
			copy(padded, data[b*tc.bs:b*tc.bs+l])
			if off != b*(32+full) {
				t.Fatalf("%+v: block %d at %d; want %d", tc, b, off, b*(32+full))
			}
			frags := make([][]byte, tc.k+tc.m)
			for i := range frags {
				frame := shards[i][off : off+32+fs]
				h, err := highwayhash.New(checksumKeyBytes)
				if err != nil {
					t.Fatal(err)
				}
				h.Write(frame[32:])
				if !bytes.Equal(h.Sum(nil), frame[:32]) {
					t.Errorf("%+v: shard %d block %d: checksum is not HighwayHash-256 of the fragment", tc, i, b)
				}
				frags[i] = frame[32:]
			}
			if got := bytes.Join(frags[:tc.k], nil); !bytes.Equal(got, padded) {
				t.Errorf("%+v: block %d: data fragments are not the zero-padded block", tc, b)
			}
			if tc.m > 0 {
				if ok, err := rs.Verify(frags); !ok || err != nil {
					t.Errorf("%+v: block %d: parity does not verify: %v", tc, b, err)
				}
			}
			off += 32 + fs
		}
		for i, s := range shards {
			if len(s) != off {
				t.Errorf("%+v: shard %d has %d bytes; want %d", tc, i, len(s), off)
			}
		}
	}
}

// TestGolden pins the checksum of a known fragment, so that changing the key
// or the hash shows up even if both sides of a round trip change together.
func TestGolden(t *testing.T) {
	sum := Checksum([]byte("cairn"))
	const want = "e25c635ef3e05724b0f0f0ff3edfd26d9f8bb25937bc34f7237d6ac8e7afb58f"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Checksum(%q) = %s; want %s", "cairn", got, want)
	}
}

func TestRelayout(t *testing.T) {
	// Every (from, to, l) for small fragments of k=4: moving in place must
	// give the same bytes as laying the block out afresh.
	const k = 4
	for from := 1; from <= 12; from++ {
		stride := ChecksumSize + from
		for l := 1; l <= k*from; l++ {
			to := (l + k - 1) / k
			block := make([]byte, l)
			for i := range block {
				block[i] = byte(i + 1)
			}
			buf := make([]byte, k*stride)
			for p := range l {
				buf[p/from*stride+ChecksumSize+p%from] = block[p]
			}
			relayout(buf, stride, from, to, l)
			for p := range l {
				if got := buf[p/to*stride+ChecksumSize+p%to]; got != block[p] {
					t.Fatalf("relayout(from %d, to %d, l %d): byte %d = %d; want %d", from, to, l, p, got, block[p])
				}
			}
		}
	}
}

package benchmarks

import (
	"bytes"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"testing"
)

func TestObjectReader(t *testing.T) {
	t.Parallel()
	seed := maphash.MakeSeed()
	for _, size := range []int64{0, 1, 7, 8, 9, 15, 16, 17, 100, 4 << 10, 100_003} {
		p := newPayloads(size, 2, rand.New(rand.NewPCG(1, 2)), seed)
		r1, h1 := p.object(0, 1)
		_, h2 := p.object(0, 2)
		b1, err := io.ReadAll(r1)
		if err != nil || int64(len(b1)) != size {
			t.Fatalf("size %d: ReadAll = %d bytes, %v", size, len(b1), err)
		}
		if got := maphash.Bytes(seed, b1); got != h1 {
			t.Errorf("size %d: hash of body = %x; object() said %x", size, got, h1)
		}
		if size > 0 && h1 == h2 {
			t.Errorf("size %d: objects with seeds 1 and 2 hash alike", size)
		}
		// WriteTo from a seeked position gives the same bytes as Read.
		for _, off := range []int64{0, 3, size / 2, size - 1} {
			if off < 0 || off > size {
				continue
			}
			if _, err := r1.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			n, err := r1.WriteTo(&buf)
			if err != nil || n != size-off || !bytes.Equal(buf.Bytes(), b1[off:]) {
				t.Errorf("size %d: WriteTo from %d = %d bytes, %v; want %d matching bytes", size, off, n, err, size-off)
			}
			if r1.Len() != 0 {
				t.Errorf("size %d: Len after WriteTo = %d; want 0", size, r1.Len())
			}
		}
		// The base buffer is never written to: the same object twice is the same.
		r3, h3 := p.object(0, 1)
		b3, _ := io.ReadAll(r3)
		if h3 != h1 || !bytes.Equal(b1, b3) {
			t.Errorf("size %d: object(0, 1) changed between calls", size)
		}
	}
}

func TestLedger(t *testing.T) {
	t.Parallel()
	l := newLedger()
	rng := rand.New(rand.NewPCG(3, 4))
	if _, ok := l.pick(rng); ok {
		t.Fatal("pick on an empty ledger succeeded")
	}
	for i := range 10 {
		l.add(ledgerEntry{Key: string(rune('a' + i)), Size: int64(i)})
	}
	seen := map[string]bool{}
	for range 10 {
		e, ok := l.take(rng)
		if !ok || seen[e.Key] || l.has(e) {
			t.Fatalf("take = %v, %v; taken before %v, still there %v", e, ok, seen[e.Key], l.has(e))
		}
		seen[e.Key] = true
	}
	if l.len() != 0 || len(seen) != 10 {
		t.Errorf("after 10 takes: len %d, %d distinct; want 0, 10", l.len(), len(seen))
	}
}

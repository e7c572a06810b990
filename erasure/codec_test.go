package erasure_test

import (
	"errors"
	"testing"

	"cairn/erasure"
)

func TestNew(t *testing.T) {
	tests := []struct {
		k, m, bs int
		ok       bool
	}{
		{4, 2, 4096, true},
		{1, 0, 1, true},
		{128, 128, erasure.DefaultBlockSize, true},
		{255, 1, 10, true},
		{0, 2, 4096, false},
		{-1, 2, 4096, false},
		{4, -1, 4096, false},
		{200, 57, 4096, false},
		{4, 2, 0, false},
		{4, 2, -5, false},
		{4, 2, erasure.MaxBlockSize + 1, false},
	}
	for _, tc := range tests {
		c, err := erasure.New(tc.k, tc.m, erasure.WithBlockSize(tc.bs))
		if (err == nil) != tc.ok {
			t.Errorf("New(%d, %d, WithBlockSize(%d)) error = %v; want ok=%v", tc.k, tc.m, tc.bs, err, tc.ok)
			continue
		}
		if err != nil {
			continue
		}
		if c.DataShards() != tc.k || c.ParityShards() != tc.m || c.TotalShards() != tc.k+tc.m || c.BlockSize() != tc.bs {
			t.Errorf("New(%d, %d, WithBlockSize(%d)) = %d+%d=%d shards, block %d", tc.k, tc.m, tc.bs,
				c.DataShards(), c.ParityShards(), c.TotalShards(), c.BlockSize())
		}
	}
	if c, err := erasure.New(4, 2); err != nil || c.BlockSize() != erasure.DefaultBlockSize {
		t.Errorf("New(4, 2) = %v, %v; want block size %d", c, err, erasure.DefaultBlockSize)
	}
	// Every problem is reported at once.
	_, err := erasure.New(0, -1, erasure.WithBlockSize(0))
	if err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) != 3 {
		t.Errorf("New(0, -1, WithBlockSize(0)) = %v; want 3 joined errors", err)
	}
}

func TestShardFileSize(t *testing.T) {
	tests := []struct {
		k, bs int
		size  int64
		want  int64
	}{
		// k=4, block 10: full fragment 3, full frame 35.
		{4, 10, 0, 0},
		{4, 10, -1, 0},
		{4, 10, 1, 33},
		{4, 10, 4, 33},
		{4, 10, 5, 34},
		{4, 10, 9, 35},
		{4, 10, 10, 35},
		{4, 10, 11, 35 + 33},
		{4, 10, 20, 70},
		{4, 10, 25, 104},
		{1, 10, 10, 42},
		{1, 10, 15, 79},
		{3, 4096, 2*4096 + 1, 2*(32+1366) + 33},
		{4, erasure.DefaultBlockSize, 5 << 20, 5 * (32 + 1<<18)},
	}
	for _, tc := range tests {
		c := newCodec(t, tc.k, 2, tc.bs)
		if got := c.ShardFileSize(tc.size); got != tc.want {
			t.Errorf("Codec(k=%d, block %d).ShardFileSize(%d) = %d; want %d", tc.k, tc.bs, tc.size, got, tc.want)
		}
	}
}

func TestShardRange(t *testing.T) {
	// k=4, block 10, object 25: blocks of 10, 10, 5 bytes; frames of 35, 35, 34.
	c := newCodec(t, 4, 2, 10)
	tests := []struct {
		size, off, n     int64
		wantOff, wantLen int64
	}{
		{25, 0, 25, 0, 104},
		{25, 0, 1, 0, 35},
		{25, 9, 1, 0, 35},
		{25, 9, 2, 0, 70},
		{25, 10, 10, 35, 35},
		{25, 10, 11, 35, 69},
		{25, 20, 5, 70, 34},
		{25, 24, 1, 70, 34},
		{25, 3, 20, 0, 104},
		{20, 19, 1, 35, 35},
		{25, 0, 0, 0, 0},
		{25, 25, 0, 0, 0},
		{25, 26, 1, 0, 0},
		{25, 20, 6, 0, 0},
		{25, -1, 2, 0, 0},
		{25, 0, -1, 0, 0},
		{0, 0, 0, 0, 0},
		{25, 1, 1<<63 - 1, 0, 0},
	}
	for _, tc := range tests {
		off, n := c.ShardRange(tc.size, tc.off, tc.n)
		if off != tc.wantOff || n != tc.wantLen {
			t.Errorf("ShardRange(%d, %d, %d) = %d, %d; want %d, %d", tc.size, tc.off, tc.n, off, n, tc.wantOff, tc.wantLen)
		}
	}
	// The whole object's range is the whole shard.
	for _, size := range []int64{1, 9, 10, 11, 99, 100, 101} {
		off, n := c.ShardRange(size, 0, size)
		if off != 0 || n != c.ShardFileSize(size) {
			t.Errorf("ShardRange(%d, 0, %d) = %d, %d; want 0, %d", size, size, off, n, c.ShardFileSize(size))
		}
	}
}

func TestNewDecoderInvalidRange(t *testing.T) {
	c := newCodec(t, 4, 2, 10)
	s := newStore(t, make([][]byte, 6))
	tests := []struct{ size, off, n int64 }{
		{25, 26, 0},
		{25, 20, 6},
		{25, -1, 1},
		{25, 0, -1},
		{-1, 0, 0},
		{25, 1, 1<<63 - 1},
	}
	for _, tc := range tests {
		if _, err := c.NewDecoder(tc.size, tc.off, tc.n, s.open); !errors.Is(err, erasure.ErrInvalidRange) {
			t.Errorf("NewDecoder(%d, %d, %d) error = %v; want ErrInvalidRange", tc.size, tc.off, tc.n, err)
		}
	}
	// Empty ranges read nothing and open nothing.
	for _, tc := range []struct{ size, off int64 }{{0, 0}, {25, 0}, {25, 25}} {
		got, err := readRange(t, c, tc.size, tc.off, 0, s)
		if err != nil || len(got) != 0 {
			t.Errorf("read(%d, %d, 0) = %d bytes, %v; want 0, nil", tc.size, tc.off, len(got), err)
		}
	}
	if n := s.openCount(); n != 0 {
		t.Errorf("empty reads opened %d shards; want 0", n)
	}
}

package erasure_test

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"cairn/erasure"
)

// TestOpenOrder checks that the decoder and ReconstructShards open the
// shards listed by WithOpenOrder first, fall back along the same order when
// one fails, and never open a shard they do not need.
func TestOpenOrder(t *testing.T) {
	t.Parallel()
	const bs = 600
	c := newCodec(t, 4, 2, bs)
	size := 5*bs + 7
	data := randBytes(11, size)
	shards := encodeStream(t, c, data, bs)
	for _, tc := range []struct {
		name       string
		order      []int
		missing    []int
		extra      int
		rebuild    []int // ReconstructShards of these instead of a read
		wantOpened []int
	}{
		{name: "no order: data shards", wantOpened: []int{0, 1, 2, 3}},
		{name: "a parity shard first", order: []int{4}, wantOpened: []int{0, 1, 2, 4}},
		{name: "parity only where listed", order: []int{5, 4, 0, 1}, wantOpened: []int{0, 1, 4, 5}},
		{name: "a listed shard fails", order: []int{5, 4, 0, 1}, missing: []int{5}, wantOpened: []int{0, 1, 2, 4, 5}},
		{name: "junk ignored", order: []int{9, -1, 4, 4}, wantOpened: []int{0, 1, 2, 4}},
		{name: "extra reads", order: []int{4, 5, 0, 1}, extra: 1, wantOpened: []int{0, 1, 2, 4, 5}},
		{name: "reconstruct", order: []int{5, 4, 1}, rebuild: []int{0}, wantOpened: []int{1, 2, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, shards)
			for _, i := range tc.missing {
				s.missing[i] = true
			}
			opts := []erasure.DecodeOption{erasure.WithOpenOrder(tc.order)}
			if tc.extra > 0 {
				opts = append(opts, erasure.WithExtraReads(tc.extra))
			}
			if tc.rebuild != nil {
				out := make([]io.Writer, len(tc.rebuild))
				bufs := make([]*bytes.Buffer, len(tc.rebuild))
				for j := range out {
					bufs[j] = new(bytes.Buffer)
					out[j] = bufs[j]
				}
				if err := c.ReconstructShards(int64(size), tc.rebuild, s.open, out, opts...); err != nil {
					t.Fatalf("ReconstructShards: %v", err)
				}
				for j, i := range tc.rebuild {
					if !bytes.Equal(bufs[j].Bytes(), shards[i]) {
						t.Errorf("shard %d rebuilt differs from the original", i)
					}
				}
			} else {
				got, err := readRange(t, c, int64(size), 0, int64(size), s, opts...)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read %d bytes, %v; want the original", len(got), err)
				}
			}
			s.checkAllClosed()
			// With extra reads a shard that lags may be replaced later
			// on; the order shows in the shards opened at the start.
			var opened []int
			for _, o := range s.opens {
				if o.off == 0 && !slices.Contains(opened, o.shard) {
					opened = append(opened, o.shard)
				}
			}
			slices.Sort(opened)
			if !slices.Equal(opened, tc.wantOpened) {
				t.Errorf("opened shards %v; want %v", opened, tc.wantOpened)
			}
		})
	}
}

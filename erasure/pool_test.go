package erasure_test

import (
	"bytes"
	"io"
	"testing"

	"cairn/erasure"
)

// TestBuffersReusedAcrossObjects encodes and decodes objects of shrinking
// and growing sizes with one codec, whose encoders and decoders reuse each
// other's buffers: stale bytes of a larger object must never reach the
// shards or the data of a smaller one.
func TestBuffersReusedAcrossObjects(t *testing.T) {
	c := newCodec(t, 4, 2, 4096)
	sizes := []int{3*4096 + 17, 4096, 100, 4095, 2*4096 + 1, 1, 5000, 3 * 4096}
	for round := range 2 {
		for j, size := range sizes {
			data := randBytes(uint64(round*100+j), size)
			want, err := c.EncodeAll(data)
			if err != nil {
				t.Fatalf("EncodeAll(%d bytes) error: %v", size, err)
			}
			got := encodeStream(t, c, data, 777)
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("round %d, %d bytes: streamed shard %d differs from EncodeAll's", round, size, i)
				}
			}
			// io.Copy goes through the encoder's ReadFrom; a reader that
			// hands out odd pieces makes the reads cross fragments.
			got = encodeReadFrom(t, c, &pieces{data: data, n: 1000 + round*3})
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("round %d, %d bytes: shard %d encoded by ReadFrom differs from EncodeAll's", round, size, i)
				}
			}
			// Lose a data shard so that decoding reconstructs into a
			// reused buffer too.
			s := newStore(t, copyShards(want))
			s.missing[1] = true
			for _, r := range [][2]int64{{0, int64(size)}, {int64(size) / 3, int64(size) - int64(size)/3}} {
				out, err := readRange(t, c, int64(size), r[0], r[1], s)
				if err != nil || !bytes.Equal(out, data[r[0]:r[0]+r[1]]) {
					t.Errorf("round %d, %d bytes: read [%d, +%d) = %d bytes, %v; want the data", round, size, r[0], r[1], len(out), err)
				}
				// io.Copy goes through the decoder's WriteTo.
				dec, err := c.NewDecoder(int64(size), r[0], r[1], s.open)
				if err != nil {
					t.Fatalf("NewDecoder(%d, %d, %d) error: %v", size, r[0], r[1], err)
				}
				var buf bytes.Buffer
				n, err := io.Copy(&buf, dec)
				dec.Close()
				if err != nil || n != r[1] || !bytes.Equal(buf.Bytes(), data[r[0]:r[0]+r[1]]) {
					t.Errorf("round %d, %d bytes: io.Copy of [%d, +%d) = %d, %v; want the data", round, size, r[0], r[1], n, err)
				}
			}
		}
	}
}

// pieces reads data at most n bytes at a time.
type pieces struct {
	data []byte
	n    int
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), p.n)], p.data)
	p.data = p.data[n:]
	return n, nil
}

func encodeReadFrom(t *testing.T, c *erasure.Codec, r io.Reader) [][]byte {
	t.Helper()
	bufs := make([]*bytes.Buffer, c.TotalShards())
	ws := make([]io.Writer, c.TotalShards())
	for i := range bufs {
		bufs[i] = new(bytes.Buffer)
		ws[i] = bufs[i]
	}
	e := c.NewEncoder(ws)
	if _, err := io.Copy(e, r); err != nil {
		t.Fatalf("io.Copy into the encoder = %v; want nil", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}
	out := make([][]byte, len(bufs))
	for i, b := range bufs {
		out[i] = b.Bytes()
	}
	return out
}

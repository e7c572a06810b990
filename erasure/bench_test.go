package erasure_test

import (
	"bytes"
	"io"
	"testing"

	"cairn/erasure"
	"github.com/klauspost/reedsolomon"
)

const benchSize = 16 << 20

func benchEncode(b *testing.B, c *erasure.Codec, data []byte) {
	ws := make([]io.Writer, c.TotalShards())
	for i := range ws {
		ws[i] = io.Discard
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		e := c.NewEncoder(ws)
		if _, err := e.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode measures encoding plus checksums, 4+2, 1 MiB blocks.
func BenchmarkEncode(b *testing.B) {
	c := newCodec(b, 4, 2, erasure.DefaultBlockSize)
	benchEncode(b, c, randBytes(1, benchSize))
}

func benchDecode(b *testing.B, missing ...int) { benchDecodeWith(b, nil, missing...) }

func benchDecodeWith(b *testing.B, opts []erasure.DecodeOption, missing ...int) {
	c := newCodec(b, 4, 2, erasure.DefaultBlockSize)
	data := randBytes(1, benchSize)
	shards, err := c.EncodeAll(data)
	if err != nil {
		b.Fatal(err)
	}
	gone := make([]bool, len(shards))
	for _, i := range missing {
		gone[i] = true
	}
	open := func(i int, off, n int64) (io.ReadCloser, error) {
		if gone[i] {
			return nil, io.ErrUnexpectedEOF
		}
		return io.NopCloser(bytes.NewReader(shards[i][off : off+n])), nil
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		r, err := c.NewDecoder(benchSize, 0, benchSize, open, opts...)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != benchSize {
			b.Fatalf("decoded %d bytes, %v", n, err)
		}
		r.Close()
	}
}

// BenchmarkDecode reads with every data shard present: no reconstruction.
func BenchmarkDecode(b *testing.B) { benchDecode(b) }

// BenchmarkDecodeExtraRead1 reads 5 of the 6 shards, using the first 4
// frames of each block: the cost of hedging when no shard is slow (an extra
// frame read and checked, and a reconstruction whenever the parity frame
// beats a data frame).
func BenchmarkDecodeExtraRead1(b *testing.B) {
	benchDecodeWith(b, []erasure.DecodeOption{erasure.WithExtraReads(1)})
}

// BenchmarkDecodeMissing2 reconstructs two missing data shards.
func BenchmarkDecodeMissing2(b *testing.B) { benchDecode(b, 0, 2) }

// rawBlocks cuts data into 4+2 fragment sets of 1 MiB blocks, as the codec does.
func rawBlocks(b *testing.B) (reedsolomon.Encoder, [][][]byte) {
	rs, err := reedsolomon.New(4, 2)
	if err != nil {
		b.Fatal(err)
	}
	data := randBytes(1, benchSize)
	var blocks [][][]byte
	for off := 0; off < len(data); off += erasure.DefaultBlockSize {
		frags := make([][]byte, 6)
		for i := range frags {
			frags[i] = make([]byte, erasure.DefaultBlockSize/4)
			if i < 4 {
				copy(frags[i], data[off+i*len(frags[i]):])
			}
		}
		blocks = append(blocks, frags)
	}
	return rs, blocks
}

// BenchmarkRawReedSolomonEncode is reedsolomon alone on the same blocks,
// without checksums, copies or shard writes.
func BenchmarkRawReedSolomonEncode(b *testing.B) {
	rs, blocks := rawBlocks(b)
	b.SetBytes(benchSize)
	for b.Loop() {
		for _, frags := range blocks {
			if err := rs.Encode(frags); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRawReedSolomonReconstruct rebuilds two data fragments per block.
func BenchmarkRawReedSolomonReconstruct(b *testing.B) {
	rs, blocks := rawBlocks(b)
	for _, frags := range blocks {
		if err := rs.Encode(frags); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		for _, frags := range blocks {
			frags[0], frags[2] = frags[0][:0], frags[2][:0]
			if err := rs.ReconstructData(frags); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchReconstruct(b *testing.B, want ...int) {
	c := newCodec(b, 4, 2, erasure.DefaultBlockSize)
	shards, err := c.EncodeAll(randBytes(1, benchSize))
	if err != nil {
		b.Fatal(err)
	}
	open := func(i int, off, n int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(shards[i][off : off+n])), nil
	}
	out := make([]io.Writer, len(want))
	for j := range out {
		out[j] = io.Discard
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		if err := c.ReconstructShards(benchSize, want, open, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconstructOneShard rebuilds data shard 0 of a 16 MiB object
// from shards 1 to 4; MB/s counts object bytes.
func BenchmarkReconstructOneShard(b *testing.B) { benchReconstruct(b, 0) }

// BenchmarkReconstructParityShard rebuilds parity shard 5 from the data
// shards: an encode without the copies.
func BenchmarkReconstructParityShard(b *testing.B) { benchReconstruct(b, 5) }

// BenchmarkReconstructTwoShards rebuilds a data and a parity shard at once.
func BenchmarkReconstructTwoShards(b *testing.B) { benchReconstruct(b, 1, 4) }

package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ShardOpener returns a reader over bytes [off, off+n) of shard i, or an
// error when the shard is unavailable. NewDecoder's reader and
// ReconstructShards close every reader they open. They may call the opener
// from several goroutines at once.
type ShardOpener func(shard int, off, n int64) (io.ReadCloser, error)

type decodeOptions struct {
	onFailure  func(shard int, err error)
	extraReads int
	order      []int
}

// DecodeOption configures NewDecoder and ReconstructShards.
type DecodeOption func(*decodeOptions)

// WithShardFailure makes the decoder, or ReconstructShards, call f once for
// every shard it gives up on: the opener failed, the reader failed or came up
// short, or a frame's checksum did not match (err then wraps ErrCorrupt).
// This lets the caller log, count and repair. f is called from the goroutine
// calling Read or ReconstructShards.
func WithShardFailure(f func(shard int, err error)) DecodeOption {
	return func(o *decodeOptions) { o.onFailure = f }
}

// WithOpenOrder makes NewDecoder, and ReconstructShards, try shards in the
// order given instead of in index order (data shards first, so that nothing
// needs decoding while they last). A caller that already holds some shards,
// or knows that some sources are slow, lists the cheap ones first: the
// other shards are then opened only if those fail. Shards missing from
// order are tried after it, in index order; indices out of range or listed
// twice are ignored.
func WithOpenOrder(order []int) DecodeOption {
	return func(o *decodeOptions) { o.order = order }
}

// openOrder returns the order in which to try the n shards.
func (o *decodeOptions) openOrder(n int) []int {
	order := make([]int, 0, n)
	seen := make([]bool, n)
	for _, i := range o.order {
		if i >= 0 && i < n && !seen[i] {
			seen[i] = true
			order = append(order, i)
		}
	}
	for i := range n {
		if !seen[i] {
			order = append(order, i)
		}
	}
	return order
}

// errReadClosed is returned by Read after Close.
var errReadClosed = errors.New("erasure: read after close")

// NewDecoder returns a reader of bytes [off, off+n) of an object of
// objectSize bytes, whose shards it reads through open.
//
// It reads only the blocks covering the range. It first opens the k data
// shards at ShardRange(objectSize, off, n), reads each block's frames from
// them concurrently and checks their checksums. A shard whose opener or
// reader fails, whose reader comes up short, or whose frame is corrupt is
// closed and dropped, and the next untried shard (the parity shards, in
// index order) is opened at the current block's offset; the missing data
// fragments are then reconstructed. Once fewer than k shards are usable,
// Read fails with an *Error wrapping ErrTooFewShards and every shard's
// cause. Read never returns bytes that did not pass their checksum.
//
// An invalid range gives an error wrapping ErrInvalidRange; an empty range
// gives a reader that returns io.EOF without opening any shard. The returned
// reader is not safe for concurrent use, and Close must not be called while
// a Read is in progress; to abandon a stuck read, cancel the shard readers
// (for example through the context the opener used).
//
// WithExtraReads(n) hedges against slow shards: it keeps k+n shards open,
// each read ahead by a goroutine of its own, and builds every block from the
// first k good frames; see there for what it asks of the shard readers.
func (c *Codec) NewDecoder(objectSize, off, n int64, open ShardOpener, opts ...DecodeOption) (io.ReadCloser, error) {
	if !validRange(objectSize, off, n) {
		return nil, fmt.Errorf("%w: offset %d length %d of a %d-byte object", ErrInvalidRange, off, n, objectSize)
	}
	if n == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	if open == nil {
		return nil, errors.New("erasure: nil ShardOpener")
	}
	var o decodeOptions
	for _, opt := range opts {
		opt(&o)
	}
	bs := int64(c.blockSize)
	shardOff, shardLen := c.ShardRange(objectSize, off, n)
	d := &decoder{
		c:         c,
		size:      objectSize,
		first:     off / bs,
		last:      (off + n - 1) / bs,
		firstOff:  int(off % bs),
		frags:     make([][]byte, c.k),
		all:       make([][]byte, c.TotalShards()),
		nextBlock: off / bs,
	}
	d.lastEnd = int(off + n - d.last*bs)
	if o.extraReads > 0 && c.m > 0 {
		d.h = newHedger(c, objectSize, d.first, d.last, shardOff+shardLen, open, o)
	} else {
		d.src = newFrameReader(c, "decode", objectSize, shardOff+shardLen, open, o)
	}
	return d, nil
}

type decoder struct {
	c    *Codec
	src  *frameReader // without extra reads
	h    *hedger      // with WithExtraReads
	size int64        // object size

	first, last       int64 // blocks covering the range
	firstOff, lastEnd int   // range start in the first block, end in the last
	nextBlock         int64

	// The current block: data fragment i is frags[i][:fragSize], and
	// bytes [pos, end) of the block are still to be returned.
	frags    [][]byte
	all      [][]byte // scratch for ReconstructData
	fragSize int
	pos, end int

	err error // sticky: io.EOF, a decode error, or errReadClosed
}

func (d *decoder) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n := 0
	for n < len(p) {
		if d.pos == d.end {
			if d.nextBlock > d.last {
				d.finish(io.EOF)
				break
			}
			if err := d.load(d.nextBlock); err != nil {
				d.finish(err)
				break
			}
			d.nextBlock++
		}
		i, o := d.pos/d.fragSize, d.pos%d.fragSize
		c := copy(p[n:], d.frags[i][o:min(d.fragSize, d.end-i*d.fragSize)])
		d.pos += c
		n += c
	}
	if n > 0 {
		return n, nil
	}
	return 0, d.err
}

// WriteTo implements io.WriterTo: io.Copy hands each decoded fragment
// straight to w, one write per fragment, where Read would copy it through a
// 32 KiB buffer first.
func (d *decoder) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for d.err == nil {
		if d.pos == d.end {
			if d.nextBlock > d.last {
				d.finish(io.EOF)
				break
			}
			if err := d.load(d.nextBlock); err != nil {
				d.finish(err)
				break
			}
			d.nextBlock++
			continue
		}
		i, o := d.pos/d.fragSize, d.pos%d.fragSize
		n, err := w.Write(d.frags[i][o:min(d.fragSize, d.end-i*d.fragSize)])
		d.pos += n
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	if d.err == io.EOF {
		return total, nil
	}
	return total, d.err
}

// Close closes every open shard reader.
func (d *decoder) Close() error {
	if d.err == nil {
		d.finish(errReadClosed)
	}
	return nil
}

func (d *decoder) finish(err error) {
	d.err = err
	if d.h != nil {
		d.h.close(err == io.EOF)
	} else {
		d.src.close()
	}
}

// load reads, verifies and if need be reconstructs block b.
func (d *decoder) load(b int64) error {
	var fs int
	var err error
	if d.h != nil {
		fs, err = d.h.load(b, d.frags)
	} else {
		fs, err = d.loadFrames(b)
	}
	if err != nil {
		return err
	}
	d.fragSize = fs
	d.pos, d.end = 0, d.c.blockLen(d.size, b)
	if b == d.first {
		d.pos = d.firstOff
	}
	if b == d.last {
		d.end = d.lastEnd
	}
	return nil
}

// loadFrames reads block b through the frameReader, puts its data
// fragments in d.frags and returns its fragment size.
func (d *decoder) loadFrames(b int64) (int, error) {
	c, src := d.c, d.src
	fs, err := src.readBlock(b)
	if err != nil {
		return 0, err
	}
	dataOK := true
	for i := range c.k {
		dataOK = dataOK && src.shards[i].ok
	}
	if dataOK {
		for i := range c.k {
			d.frags[i] = src.frag(i, fs)
		}
		return fs, nil
	}
	for i := range src.shards {
		s := &src.shards[i]
		switch {
		case s.ok:
			d.all[i] = src.frag(i, fs)
		case i < c.k:
			// A failed data shard's buffer receives its reconstruction.
			src.ensureBuf(s, fs)
			d.all[i] = s.buf[ChecksumSize:ChecksumSize]
		default:
			d.all[i] = nil
		}
	}
	if err := c.rs.ReconstructData(d.all); err != nil {
		return 0, fmt.Errorf("erasure: reconstruct block %d: %w", b, err)
	}
	copy(d.frags, d.all[:c.k])
	return fs, nil
}

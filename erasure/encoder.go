package erasure

import (
	"fmt"
	"io"
	"sync"
)

// Encoder cuts the bytes written to it into blocks and writes each block's
// k+m frames to the shard writers. Create one with Codec.NewEncoder.
//
// The k+m writes of a block run concurrently, and the next block waits until
// they have all returned, so a slow shard slows the stream down instead of
// piling up memory. A shard writer that fails is dropped: it is never written
// again, and its error is kept for ShardErrors. Write and Close fail, with an
// *Error wrapping ErrTooFewShards, once more than m shards have failed.
//
// The writers must not retain the slices passed to them (io.Writer's
// contract). An Encoder is not safe for concurrent use; every goroutine it
// starts has returned by the time Write or Close returns.
type Encoder struct {
	c      *Codec
	shards []io.Writer
	errs   []error // per shard; non-nil means dropped
	failed int

	// buf holds frame i of the current block at buf[i*stride:], so that
	// Write copies data straight into the data fragments and each frame
	// goes out in one Write call.
	buf    []byte
	bufp   *[]byte // buf's handle in Codec.blockBufs
	n      int     // bytes of the current block in buf
	block  int64   // index of the current block
	frames [][]byte
	frags  [][]byte

	err    error // sticky; set once too few shards remain
	closed bool
}

// NewEncoder returns an Encoder writing shard i to shards[i]. shards must
// hold k+m writers; a nil writer counts as a failed shard.
func (c *Codec) NewEncoder(shards []io.Writer) *Encoder {
	e := &Encoder{
		c:      c,
		shards: make([]io.Writer, c.TotalShards()),
		errs:   make([]error, c.TotalShards()),
		frames: make([][]byte, c.TotalShards()),
		frags:  make([][]byte, c.TotalShards()),
	}
	copy(e.shards, shards)
	for i, w := range e.shards {
		if w == nil {
			e.errs[i] = fmt.Errorf("erasure: shard %d: no writer", i)
			e.failed++
		}
	}
	e.checkQuorum()
	return e
}

// Write buffers p and encodes and writes every block it completes. It
// returns an error wrapping ErrTooFewShards when more than m shards have
// failed, and ErrClosed after Close.
func (e *Encoder) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.closed {
		return 0, ErrClosed
	}
	if e.buf == nil {
		e.bufp = getBuf(&e.c.blockBufs, e.c.TotalShards()*int(e.c.frameStride()))
		e.buf = *e.bufp
	}
	stride, fs, bs := int(e.c.frameStride()), e.c.fragSize, e.c.blockSize
	written := 0
	for len(p) > 0 {
		i, o := e.n/fs, e.n%fs
		start := i*stride + ChecksumSize + o
		c := copy(e.buf[start:start+min(fs-o, bs-e.n)], p)
		e.n += c
		written += c
		p = p[c:]
		if e.n == bs {
			if err := e.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// ReadFrom implements io.ReaderFrom: it reads r straight into the block
// buffer, one fragment at most per Read, so that io.Copy from a request body
// does not first copy every byte through a buffer of its own. It returns
// when r returns io.EOF (not an error) or an error, or when more than m
// shards have failed; the data read stays buffered until Close.
func (e *Encoder) ReadFrom(r io.Reader) (int64, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.closed {
		return 0, ErrClosed
	}
	if e.buf == nil {
		e.bufp = getBuf(&e.c.blockBufs, e.c.TotalShards()*int(e.c.frameStride()))
		e.buf = *e.bufp
	}
	stride, fs, bs := int(e.c.frameStride()), e.c.fragSize, e.c.blockSize
	var total int64
	for {
		i, o := e.n/fs, e.n%fs
		start := i*stride + ChecksumSize + o
		n, err := r.Read(e.buf[start : start+min(fs-o, bs-e.n)])
		e.n += n
		total += int64(n)
		if e.n == bs {
			if ferr := e.flush(); ferr != nil {
				return total, ferr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Close encodes and writes the last, partial block. Closing an Encoder again
// returns the result of the first Close.
func (e *Encoder) Close() error {
	if e.closed {
		return e.err
	}
	e.closed = true
	if e.err == nil {
		e.flush()
	}
	// Every shard write has returned, and writers do not retain what they
	// were given, so the buffer is free. After a failed Write it is not
	// reused: a writer that failed may still hold it.
	if e.bufp != nil && e.err == nil {
		e.c.blockBufs.Put(e.bufp)
	}
	e.buf, e.bufp = nil, nil
	return e.err
}

// ShardErrors returns each shard's error, nil for a shard that took every
// frame written to it. The caller owns the returned slice.
func (e *Encoder) ShardErrors() []error {
	return append([]error(nil), e.errs...)
}

// flush encodes the e.n buffered bytes as one block and writes its frames.
func (e *Encoder) flush() error {
	l := e.n
	if l == 0 {
		return e.err
	}
	c := e.c
	stride, k := int(c.frameStride()), c.k
	fs := ceilDiv(l, k)
	if fs != c.fragSize {
		relayout(e.buf, stride, c.fragSize, fs, l)
	}
	for i := range e.frames {
		e.frames[i] = e.buf[i*stride : i*stride+ChecksumSize+fs]
		e.frags[i] = e.frames[i][ChecksumSize:]
	}
	// Zero the padding of the data fragments: the tail of the last one, and
	// whole fragments when l < (k-1)*fs. Stale bytes from a longer block
	// could sit there.
	for i := range k {
		clear(e.frags[i][min(fs, max(0, l-i*fs)):])
	}

	var wg sync.WaitGroup
	send := func(i int) {
		if e.errs[i] != nil {
			return
		}
		wg.Go(func() {
			sum := Checksum(e.frags[i])
			copy(e.frames[i], sum[:])
			if err := writeFull(e.shards[i], e.frames[i]); err != nil {
				e.errs[i] = fmt.Errorf("erasure: write shard %d block %d: %w", i, e.block, err)
			}
		})
	}
	// Data frames go out while parity is computed: Encode only reads them.
	for i := range k {
		send(i)
	}
	var encErr error
	if c.m > 0 {
		encErr = c.rs.Encode(e.frags)
	}
	if encErr == nil {
		for i := k; i < c.TotalShards(); i++ {
			send(i)
		}
	}
	wg.Wait()

	e.n = 0
	e.block++
	if encErr != nil {
		e.err = fmt.Errorf("erasure: encode block %d: %w", e.block-1, encErr)
		return e.err
	}
	e.failed = 0
	for _, err := range e.errs {
		if err != nil {
			e.failed++
		}
	}
	e.checkQuorum()
	return e.err
}

func (e *Encoder) checkQuorum() {
	if e.err == nil && e.c.TotalShards()-e.failed < e.c.k {
		e.err = &Error{Op: "encode", Need: e.c.k, Usable: e.c.TotalShards() - e.failed, Errs: e.ShardErrors()}
	}
}

func writeFull(w io.Writer, p []byte) error {
	n, err := w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return err
}

// relayout moves the first l data bytes in buf, laid out as fragments of
// size from in frames of the given stride (fragment i at
// buf[i*stride+ChecksumSize:]), to fragments of size to <= from, in place.
//
// Byte p moves from frame p/from to frame p/to >= p/from, and never to a
// lower address, so moving runs from the last one down never overwrites a
// byte that has yet to move.
func relayout(buf []byte, stride, from, to, l int) {
	for p := l; p > 0; {
		q, q2 := (p-1)/from, (p-1)/to
		start := max(q*from, q2*to)
		src := q*stride + ChecksumSize + start - q*from
		dst := q2*stride + ChecksumSize + start - q2*to
		copy(buf[dst:dst+p-start], buf[src:src+p-start])
		p = start
	}
}

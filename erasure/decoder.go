package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ShardOpener returns a reader over bytes [off, off+n) of shard i, or an
// error when the shard is unavailable. The decoder closes every reader it
// opens. It may call the opener from several goroutines at once.
type ShardOpener func(shard int, off, n int64) (io.ReadCloser, error)

type decodeOptions struct {
	onFailure func(shard int, err error)
}

// DecodeOption configures NewDecoder.
type DecodeOption func(*decodeOptions)

// WithShardFailure makes the decoder call f once for every shard it gives up
// on: the opener failed, the reader failed or came up short, or a frame's
// checksum did not match (err then wraps ErrCorrupt). This lets the caller
// log, count and repair. f is called from the goroutine calling Read.
func WithShardFailure(f func(shard int, err error)) DecodeOption {
	return func(o *decodeOptions) { o.onFailure = f }
}

// errReadClosed is returned by Read after Close.
var errReadClosed = errors.New("erasure: read after close")

type shardState uint8

const (
	shardUntried shardState = iota
	shardActive
	shardFailed
)

// shardReader is the decoder's view of one shard.
type shardReader struct {
	state shardState
	rc    io.ReadCloser
	err   error  // why the shard failed
	buf   []byte // frame buffer, capacity of a full frame
	ok    bool   // the current block's frame was read and verified
	res   error  // result of the latest read task
}

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
		open:      open,
		opts:      o,
		size:      objectSize,
		first:     off / bs,
		last:      (off + n - 1) / bs,
		firstOff:  int(off % bs),
		rangeEnd:  shardOff + shardLen,
		shards:    make([]shardReader, c.TotalShards()),
		frags:     make([][]byte, c.k),
		all:       make([][]byte, c.TotalShards()),
		tasks:     make([]int, 0, c.TotalShards()),
		nextBlock: off / bs,
	}
	d.lastEnd = int(off + n - d.last*bs)
	return d, nil
}

type decoder struct {
	c    *Codec
	open ShardOpener
	opts decodeOptions
	size int64

	first, last       int64 // blocks covering the range
	firstOff, lastEnd int   // range start in the first block, end in the last
	rangeEnd          int64 // shard offset where the range's frames end
	nextBlock         int64

	shards []shardReader
	tasks  []int

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

// Close closes every open shard reader.
func (d *decoder) Close() error {
	if d.err == nil {
		d.finish(errReadClosed)
	}
	return nil
}

func (d *decoder) finish(err error) {
	d.err = err
	for i := range d.shards {
		if s := &d.shards[i]; s.rc != nil {
			s.rc.Close()
			s.rc = nil
		}
	}
}

// load reads, verifies and if need be reconstructs block b.
func (d *decoder) load(b int64) error {
	c := d.c
	l := c.blockLen(d.size, b)
	fs := ceilDiv(l, c.k)
	at := b * c.frameStride()
	for i := range d.shards {
		d.shards[i].ok = false
	}

	good := 0
	for good < c.k {
		// Read from every usable shard that has not delivered this block,
		// topping the set up to k with untried shards in index order: the
		// data shards first, then parity.
		tasks := d.tasks[:0]
		active := 0
		for i := range d.shards {
			if s := &d.shards[i]; s.state == shardActive {
				active++
				if !s.ok {
					tasks = append(tasks, i)
				}
			}
		}
		for i := 0; active < c.k && i < len(d.shards); i++ {
			if s := &d.shards[i]; s.state == shardUntried {
				s.state = shardActive
				active++
				tasks = append(tasks, i)
			}
		}
		if len(tasks) == 0 {
			break
		}
		var wg sync.WaitGroup
		for _, i := range tasks {
			s := &d.shards[i]
			wg.Go(func() { s.res = d.readFrame(i, s, b, at, fs) })
		}
		wg.Wait()
		for _, i := range tasks {
			if s := &d.shards[i]; s.res != nil {
				d.fail(i, s.res)
			} else {
				s.ok = true
				good++
			}
		}
	}
	if good < c.k {
		errs := make([]error, len(d.shards))
		for i := range d.shards {
			errs[i] = d.shards[i].err
		}
		return &Error{Op: "decode", Need: c.k, Usable: good, Errs: errs}
	}

	dataOK := true
	for i := range c.k {
		dataOK = dataOK && d.shards[i].ok
	}
	if dataOK {
		for i := range c.k {
			d.frags[i] = d.shards[i].buf[ChecksumSize : ChecksumSize+fs]
		}
	} else {
		for i := range d.shards {
			s := &d.shards[i]
			switch {
			case s.ok:
				d.all[i] = s.buf[ChecksumSize : ChecksumSize+fs]
			case i < c.k:
				// A failed data shard's buffer receives its reconstruction.
				if s.buf == nil {
					s.buf = make([]byte, c.frameStride())
				}
				d.all[i] = s.buf[ChecksumSize:ChecksumSize]
			default:
				d.all[i] = nil
			}
		}
		if err := c.rs.ReconstructData(d.all); err != nil {
			return fmt.Errorf("erasure: reconstruct block %d: %w", b, err)
		}
		copy(d.frags, d.all[:c.k])
	}
	d.fragSize = fs
	d.pos, d.end = 0, l
	if b == d.first {
		d.pos = d.firstOff
	}
	if b == d.last {
		d.end = d.lastEnd
	}
	return nil
}

// readFrame reads and verifies shard i's frame of block b, opening the shard
// at the block's offset if it is not open yet. It runs concurrently with the
// other shards' readFrame and touches only s.
func (d *decoder) readFrame(i int, s *shardReader, b, at int64, fs int) error {
	if s.rc == nil {
		rc, err := d.open(i, at, d.rangeEnd-at)
		if err == nil && rc == nil {
			err = errors.New("opener returned no reader")
		}
		if err != nil {
			return fmt.Errorf("erasure: open shard %d at %d: %w", i, at, err)
		}
		s.rc = rc
	}
	if s.buf == nil {
		s.buf = make([]byte, d.c.frameStride())
	}
	frame := s.buf[:ChecksumSize+fs]
	if _, err := io.ReadFull(s.rc, frame); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("erasure: read shard %d block %d: %w", i, b, err)
	}
	if sum := Checksum(frame[ChecksumSize:]); !bytes.Equal(sum[:], frame[:ChecksumSize]) {
		return fmt.Errorf("erasure: shard %d block %d: %w", i, b, ErrCorrupt)
	}
	return nil
}

// fail drops shard i for good.
func (d *decoder) fail(i int, err error) {
	s := &d.shards[i]
	s.state = shardFailed
	s.err = err
	s.ok = false
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
	if d.opts.onFailure != nil {
		d.opts.onFailure(i, err)
	}
}

// VerifyShard reads a whole shard of an object of objectSize bytes from r and
// checks every frame's checksum, as a scrubber would. It returns an error
// wrapping ErrCorrupt for the first bad frame, io.ErrUnexpectedEOF for a
// short shard, an error for bytes past the last frame, or r's error.
func (c *Codec) VerifyShard(r io.Reader, objectSize int64) error {
	if objectSize < 0 {
		return fmt.Errorf("%w: object size %d", ErrInvalidRange, objectSize)
	}
	buf := make([]byte, c.frameStride())
	blocks := ceilDiv64(objectSize, int64(c.blockSize))
	for b := range blocks {
		frame := buf[:ChecksumSize+ceilDiv(c.blockLen(objectSize, b), c.k)]
		if _, err := io.ReadFull(r, frame); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("erasure: verify block %d: %w", b, err)
		}
		if sum := Checksum(frame[ChecksumSize:]); !bytes.Equal(sum[:], frame[:ChecksumSize]) {
			return fmt.Errorf("erasure: verify block %d: %w", b, ErrCorrupt)
		}
	}
	var one [1]byte
	if n, err := io.ReadFull(r, one[:]); n > 0 {
		return fmt.Errorf("erasure: verify: shard longer than %d bytes", c.ShardFileSize(objectSize))
	} else if err != io.EOF {
		return fmt.Errorf("erasure: verify: %w", err)
	}
	return nil
}

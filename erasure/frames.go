package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

type shardState uint8

const (
	shardUntried shardState = iota
	shardActive
	shardFailed
	shardExcluded // never read: ReconstructShards is rebuilding it
)

// shardReader is a frameReader's view of one shard.
type shardReader struct {
	state shardState
	rc    io.ReadCloser
	err   error   // why the shard failed
	buf   []byte  // frame buffer, at least as long as the largest frame read
	bufp  *[]byte // buf's handle in Codec.frameBufs, if it came from there
	ok    bool    // the current block's frame was read and verified
	res   error   // result of the latest read task
}

// frameReader reads an object's shards block by block, keeping k verified
// frames of the current block. A shard whose opener or reader fails, whose
// reader comes up short, or whose frame is corrupt is closed and dropped
// for good, and the next untried shard in open order (by default index
// order: data shards first, so that no decoding is needed while they last)
// is opened at the current block. The decoder and ReconstructShards differ
// only in what they do with the frames.
type frameReader struct {
	c         *Codec
	op        string // Error.Op when too few shards remain
	open      ShardOpener
	onFailure func(shard int, err error)
	size      int64 // object size
	end       int64 // shard offset where the frames to be read end

	shards []shardReader
	order  []int // the order in which untried shards are opened
	tasks  []int
}

func newFrameReader(c *Codec, op string, size, end int64, open ShardOpener, o decodeOptions) *frameReader {
	return &frameReader{
		c:         c,
		op:        op,
		open:      open,
		onFailure: o.onFailure,
		size:      size,
		end:       end,
		shards:    make([]shardReader, c.TotalShards()),
		order:     o.openOrder(c.TotalShards()),
		tasks:     make([]int, 0, c.TotalShards()),
	}
}

// readBlock reads and verifies k frames of block b, and returns the
// block's fragment size. Afterwards exactly k shards have ok set, and
// frag(i) is their fragment. With fewer than k usable shards it returns an
// *Error.
func (r *frameReader) readBlock(b int64) (int, error) {
	c := r.c
	fs := ceilDiv(c.blockLen(r.size, b), c.k)
	at := b * c.frameStride()
	for i := range r.shards {
		r.shards[i].ok = false
	}

	good := 0
	for good < c.k {
		// Read from every usable shard that has not delivered this block,
		// topping the set up to k with untried shards in open order.
		tasks := r.tasks[:0]
		active := 0
		for i := range r.shards {
			if s := &r.shards[i]; s.state == shardActive {
				active++
				if !s.ok {
					tasks = append(tasks, i)
				}
			}
		}
		for _, i := range r.order {
			if active >= c.k {
				break
			}
			if s := &r.shards[i]; s.state == shardUntried {
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
			s := &r.shards[i]
			wg.Go(func() { s.res = r.readFrame(i, s, b, at, fs) })
		}
		wg.Wait()
		for _, i := range tasks {
			if s := &r.shards[i]; s.res != nil {
				r.fail(i, s.res)
			} else {
				s.ok = true
				good++
			}
		}
	}
	if good < c.k {
		return 0, r.tooFew(good)
	}
	return fs, nil
}

// tooFew returns the *Error for having only usable of the k shards needed.
func (r *frameReader) tooFew(usable int) *Error {
	errs := make([]error, len(r.shards))
	for i := range r.shards {
		errs[i] = r.shards[i].err
	}
	return &Error{Op: r.op, Need: r.c.k, Usable: usable, Errs: errs}
}

// frag returns shard i's fragment of the current block, of fragment size fs.
func (r *frameReader) frag(i, fs int) []byte {
	return r.shards[i].buf[ChecksumSize : ChecksumSize+fs]
}

// readFrame reads and verifies shard i's frame of block b, opening the shard
// at the block's offset if it is not open yet. It runs concurrently with the
// other shards' readFrame and touches only s.
func (r *frameReader) readFrame(i int, s *shardReader, b, at int64, fs int) error {
	if s.rc == nil {
		rc, err := r.open(i, at, r.end-at)
		if err == nil && rc == nil {
			err = errors.New("opener returned no reader")
		}
		if err != nil {
			return fmt.Errorf("erasure: open shard %d at %d: %w", i, at, err)
		}
		s.rc = rc
	}
	r.ensureBuf(s, fs)
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

// ensureBuf makes s.buf hold a frame with a fragment of fs bytes. Only an
// object's last block can be short, and it is read last, so the first
// frame read sizes the buffer; a small object gets a small buffer, not a
// full frame stride.
func (r *frameReader) ensureBuf(s *shardReader, fs int) {
	if len(s.buf) >= ChecksumSize+fs {
		return
	}
	r.releaseBuf(s)
	if stride := int(r.c.frameStride()); ChecksumSize+fs == stride {
		s.bufp = getBuf(&r.c.frameBufs, stride)
		s.buf = *s.bufp
		return
	}
	s.buf = make([]byte, ChecksumSize+fs)
}

func (r *frameReader) releaseBuf(s *shardReader) {
	if s.bufp != nil {
		r.c.frameBufs.Put(s.bufp)
	}
	s.buf, s.bufp = nil, nil
}

// fail drops shard i for good.
func (r *frameReader) fail(i int, err error) {
	s := &r.shards[i]
	s.state = shardFailed
	s.err = err
	s.ok = false
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
	if r.onFailure != nil {
		r.onFailure(i, err)
	}
}

// close closes every open shard reader and gives the frame buffers back:
// nothing may use a fragment after close.
func (r *frameReader) close() {
	for i := range r.shards {
		s := &r.shards[i]
		if s.rc != nil {
			s.rc.Close()
			s.rc = nil
		}
		r.releaseBuf(s)
	}
}

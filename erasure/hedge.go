package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// WithExtraReads makes NewDecoder hedge against slow shards: it keeps k+n
// shards open instead of k (fewer if the codec has fewer than n parity
// shards) and builds each block from the first k frames that arrive whole
// and pass their checksum, reconstructing when a parity frame is among them.
// One node that is much slower than the others then no longer sets the pace
// of the read. n <= 0, the default, reads exactly k shards as described at
// NewDecoder. ReconstructShards ignores this option.
//
// Each open shard is read by a goroutine of its own, in block order, into at
// most two frame buffers: a source cannot run more than about one block
// ahead of the block being returned, and frames of a block that is already
// done are read (so that the stream stays in place) and thrown away. A shard
// that is more than one block behind when a block is done is closed and
// abandoned, not reported as failed, and replaced by the next untried shard
// (opened at the next block), as long as one remains; a shard abandoned so
// is reopened only when no untried shard is left, and then never abandoned
// again. The decoder therefore holds two frames per open shard, usually
// 2(k+n), plus two per abandoned shard whose reader has yet to return, and
// never more than 4(k+m).
//
// The shard failure rules, and WithShardFailure, are as without extra
// reads, with two differences: a failure in a frame the read did not use may
// go unreported, and failures may be reported in any order. Read never
// returns bytes that did not pass their checksum.
//
// Close, and the end of the range, close every shard reader, possibly while
// one of these goroutines is blocked in the reader's Read, and then wait for
// the goroutines to return. The opener's readers must therefore allow Close
// concurrently with Read and make a pending Read return when closed (a
// net.Conn or an HTTP response body does); a pending opener call must
// return as well, for example when its context ends.
func WithExtraReads(n int) DecodeOption {
	return func(o *decodeOptions) { o.extraReads = n }
}

// hedgeDepth is how many frame buffers each source goroutine owns: one for
// the frame in use, one to read the next block into.
const hedgeDepth = 2

// shardSlow marks a shard abandoned for lagging; it may be reopened once.
const shardSlow = shardExcluded + 1

// hedgeFrame is a source goroutine's result: a verified frame of block, or
// the error that ended the source.
type hedgeFrame struct {
	src   *hedgeSource
	block int64
	buf   []byte // the frame; nil with err
	err   error
}

// hedgeSource is one opened generation of a shard and its goroutine.
type hedgeSource struct {
	shard int
	free  chan []byte   // buffers handed back by the decoder
	quit  chan struct{} // closed by shutdown

	mu     sync.Mutex
	rc     io.ReadCloser
	closed bool

	// Owned by the goroutine calling Read.
	next   int64        // next block this source will deliver
	stash  []hedgeFrame // frames of blocks after the current one
	dead   bool         // failed or abandoned: its frames are ignored
	noDrop bool         // a reopened slow shard is never abandoned again
}

// hedgeShard is the decoder's view of one shard index.
type hedgeShard struct {
	state shardState
	err   error
	src   *hedgeSource // the current generation, if any
}

// hedger reads blocks for a decoder from k+n concurrently read shards.
type hedger struct {
	c         *Codec
	open      ShardOpener
	onFailure func(shard int, err error)
	size, end int64 // object size; shard offset where the range's frames end
	last      int64 // last block of the range
	want      int   // sources to keep open: k+n
	frameCap  int   // largest frame of the range

	shards  []hedgeShard
	order   []int          // the order in which untried shards are opened
	srcs    []*hedgeSource // every generation started, for shutdown
	results chan hedgeFrame
	wg      sync.WaitGroup

	chosen []hedgeFrame // the current block's k frames
	all    [][]byte     // scratch for ReconstructData
	recon  [][]byte     // buffers for reconstructed data fragments
}

func newHedger(c *Codec, size, first, last, end int64, open ShardOpener, o decodeOptions) *hedger {
	n := c.TotalShards()
	return &hedger{
		c:         c,
		open:      open,
		onFailure: o.onFailure,
		size:      size,
		end:       end,
		last:      last,
		want:      c.k + min(o.extraReads, c.m),
		frameCap:  ChecksumSize + ceilDiv(c.blockLen(size, first), c.k),
		shards:    make([]hedgeShard, n),
		order:     o.openOrder(n),
		// Each of the at most two generations of a shard has at most
		// hedgeDepth frames and one error outstanding, so sends never block.
		results: make(chan hedgeFrame, 2*n*(hedgeDepth+1)),
		chosen:  make([]hedgeFrame, 0, c.k),
		all:     make([][]byte, n),
		recon:   make([][]byte, c.k),
	}
}

// load gathers the first k verified frames of block b, puts the block's
// data fragments in frags and returns its fragment size. The fragments stay
// valid until the next load or close.
func (h *hedger) load(b int64, frags [][]byte) (int, error) {
	c := h.c
	h.releaseChosen()
	fs := ceilDiv(c.blockLen(h.size, b), c.k)
	h.topUp(b)
	for i := range h.shards {
		if sh := &h.shards[i]; sh.state == shardActive {
			h.takeStashed(sh.src, b)
		}
	}
	for len(h.chosen) < c.k {
		if len(h.chosen)+h.pending(b) < c.k {
			return 0, h.tooFew(b)
		}
		h.accept(<-h.results, b)
	}
	h.dropLaggards(b)

	dataOnly := true
	for _, f := range h.chosen {
		dataOnly = dataOnly && f.src.shard < c.k
	}
	if dataOnly {
		for _, f := range h.chosen {
			frags[f.src.shard] = f.buf[ChecksumSize : ChecksumSize+fs]
		}
		return fs, nil
	}
	clear(h.all)
	for _, f := range h.chosen {
		h.all[f.src.shard] = f.buf[ChecksumSize : ChecksumSize+fs]
	}
	for i := range c.k {
		if h.all[i] == nil {
			if h.recon[i] == nil {
				h.recon[i] = make([]byte, h.frameCap-ChecksumSize)
			}
			h.all[i] = h.recon[i][:0] // ReconstructData fills it in place
		}
	}
	if err := c.rs.ReconstructData(h.all); err != nil {
		return 0, fmt.Errorf("erasure: reconstruct block %d: %w", b, err)
	}
	copy(frags, h.all[:c.k])
	return fs, nil
}

// accept takes one result while block b is being gathered.
func (h *hedger) accept(f hedgeFrame, b int64) {
	s := f.src
	switch {
	case s.dead:
	case f.err != nil:
		h.fail(s, f.err)
		h.topUp(b)
	case f.block < b:
		s.next = f.block + 1
		h.release(s, f.buf)
	case f.block == b && len(h.chosen) < h.c.k:
		s.next = f.block + 1
		h.chosen = append(h.chosen, f)
	case f.block == b:
		s.next = f.block + 1
		h.release(s, f.buf)
	default:
		s.next = f.block + 1
		s.stash = append(s.stash, f)
	}
}

// takeStashed drops s's stashed frames of blocks before b and takes its
// frame of b, if it arrived early.
func (h *hedger) takeStashed(s *hedgeSource, b int64) {
	for len(s.stash) > 0 && s.stash[0].block <= b {
		f := s.stash[0]
		s.stash = s.stash[1:]
		if f.block == b && len(h.chosen) < h.c.k {
			h.chosen = append(h.chosen, f)
		} else {
			h.release(s, f.buf)
		}
	}
}

// pending counts the open sources that have yet to deliver block b.
func (h *hedger) pending(b int64) int {
	n := 0
	for i := range h.shards {
		if sh := &h.shards[i]; sh.state == shardActive && sh.src.next <= b {
			n++
		}
	}
	return n
}

// topUp opens shards at block b until want are open: untried ones in open
// order, then abandoned slow ones.
func (h *hedger) topUp(b int64) {
	active := 0
	for i := range h.shards {
		if h.shards[i].state == shardActive {
			active++
		}
	}
	for _, st := range []shardState{shardUntried, shardSlow} {
		for _, i := range h.order {
			if active >= h.want {
				return
			}
			if h.shards[i].state == st {
				h.start(i, b, st == shardSlow)
				active++
			}
		}
	}
}

// start opens shard i at block b in a goroutine of its own.
func (h *hedger) start(i int, b int64, noDrop bool) {
	s := &hedgeSource{
		shard:  i,
		free:   make(chan []byte, hedgeDepth),
		quit:   make(chan struct{}),
		next:   b,
		noDrop: noDrop,
	}
	h.shards[i] = hedgeShard{state: shardActive, src: s}
	h.srcs = append(h.srcs, s)
	h.wg.Go(func() { h.run(s, b) })
}

// dropLaggards abandons, once block b is done, the sources still short of
// block b-1, for as long as untried shards remain to replace them.
func (h *hedger) dropLaggards(b int64) {
	untried := 0
	for i := range h.shards {
		if h.shards[i].state == shardUntried {
			untried++
		}
	}
	for i := range h.shards {
		if untried == 0 {
			return
		}
		sh := &h.shards[i]
		if sh.state != shardActive || sh.src.noDrop || sh.src.next >= b {
			continue
		}
		sh.src.dead = true
		h.shutdown(sh.src)
		sh.state = shardSlow
		sh.err = fmt.Errorf("erasure: shard %d abandoned: still on block %d when block %d was done", i, sh.src.next, b)
		untried--
	}
}

// fail drops the shard read by s for good.
func (h *hedger) fail(s *hedgeSource, err error) {
	s.dead = true
	h.shutdown(s)
	sh := &h.shards[s.shard]
	sh.state = shardFailed
	sh.err = err
	if h.onFailure != nil {
		h.onFailure(s.shard, err)
	}
}

// release hands a frame buffer back to its source.
func (h *hedger) release(s *hedgeSource, buf []byte) {
	if s.dead {
		return
	}
	select {
	case s.free <- buf:
	default: // cannot happen: a source owns at most hedgeDepth buffers
	}
}

func (h *hedger) releaseChosen() {
	for _, f := range h.chosen {
		h.release(f.src, f.buf)
	}
	clear(h.chosen)
	h.chosen = h.chosen[:0]
}

// tooFew returns the *Error for block b, which fewer than k shards can
// still deliver.
func (h *hedger) tooFew(b int64) *Error {
	errs := make([]error, len(h.shards))
	for i := range h.shards {
		errs[i] = h.shards[i].err
	}
	return &Error{Op: "decode", Need: h.c.k, Usable: len(h.chosen) + h.pending(b), Errs: errs}
}

// close stops every source and waits for its goroutine. At the end of the
// range (atEOF) it first reports the failures already received, which
// closing the readers could not have caused.
func (h *hedger) close(atEOF bool) {
	for atEOF {
		select {
		case f := <-h.results:
			if f.err != nil && !f.src.dead {
				h.fail(f.src, f.err)
			}
		default:
			atEOF = false
		}
	}
	for _, s := range h.srcs {
		s.dead = true
		h.shutdown(s)
	}
	h.wg.Wait()
	h.chosen = h.chosen[:0]
}

// shutdown closes s's reader, once, and tells its goroutine to stop. It may
// run while the goroutine is blocked in the reader's Read.
func (h *hedger) shutdown(s *hedgeSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.quit)
	if s.rc != nil {
		s.rc.Close()
	}
}

// run is a source goroutine: it opens shard s.shard at block first and
// sends its verified frames, in block order, until the range ends, a frame
// fails, or s is shut down.
func (h *hedger) run(s *hedgeSource, first int64) {
	defer h.shutdown(s)
	c := h.c
	at := first * c.frameStride()
	rc, err := h.open(s.shard, at, h.end-at)
	if err == nil && rc == nil {
		err = errors.New("opener returned no reader")
	}
	if err != nil {
		h.send(s, hedgeFrame{src: s, block: first, err: fmt.Errorf("erasure: open shard %d at %d: %w", s.shard, at, err)})
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		rc.Close()
		return
	}
	s.rc = rc
	s.mu.Unlock()

	owned := 0
	for b := first; b <= h.last; b++ {
		var buf []byte
		select {
		case buf = <-s.free:
		case <-s.quit:
			return
		default:
			if owned < hedgeDepth {
				buf = make([]byte, h.frameCap)
				owned++
				break
			}
			select {
			case buf = <-s.free:
			case <-s.quit:
				return
			}
		}
		frame := buf[:ChecksumSize+ceilDiv(c.blockLen(h.size, b), c.k)]
		if _, err := io.ReadFull(rc, frame); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			h.send(s, hedgeFrame{src: s, block: b, err: fmt.Errorf("erasure: read shard %d block %d: %w", s.shard, b, err)})
			return
		}
		if sum := Checksum(frame[ChecksumSize:]); !bytes.Equal(sum[:], frame[:ChecksumSize]) {
			h.send(s, hedgeFrame{src: s, block: b, err: fmt.Errorf("erasure: shard %d block %d: %w", s.shard, b, ErrCorrupt)})
			return
		}
		if !h.send(s, hedgeFrame{src: s, block: b, buf: buf}) {
			return
		}
	}
}

// send delivers f unless s has been shut down.
func (h *hedger) send(s *hedgeSource, f hedgeFrame) bool {
	select {
	case h.results <- f:
		return true
	case <-s.quit:
		return false
	}
}

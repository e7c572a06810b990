package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ReconstructShards regenerates the shards listed in want (indices 0 to
// k+m-1) of an object of objectSize bytes, writing each one whole to out[j]
// for want[j]: exactly the frames, checksum and fragment per block, that the
// encoder wrote. It is how repair (hinted handoff, read repair, the scanner,
// rebuilding a wiped node) restores shards without reading the object back.
//
// It reads the other shards through open as NewDecoder does: from the start,
// k at a time, the data shards first (or as WithOpenOrder says), verifying
// every frame's checksum. A shard that fails (its opener or reader fails,
// its reader comes up short, or a frame is corrupt) is reported through
// WithShardFailure, dropped, and replaced by the next untried shard at the
// current block. The shards in
// want are never read. Once fewer than k good sources remain it fails with
// an *Error wrapping ErrTooFewShards and every source's cause; it fails so
// at once, opening nothing, when want leaves fewer than k other shards.
//
// Only frames that passed their checksum go into a rebuilt fragment, so a
// shard is either rebuilt exactly or not at all. On error, what was written
// to out is incomplete and must be discarded by the caller; a failing writer
// ends the whole call, with its error.
//
// Each frame goes to its writer in one Write call, made from a goroutine of
// ReconstructShards while it reads the next block; every such goroutine has
// returned when ReconstructShards does, and the writers must not retain the
// slices passed to them. It holds about k+len(want) frames in memory. For an
// empty object every shard is empty: nothing is read or written.
func (c *Codec) ReconstructShards(objectSize int64, want []int, open ShardOpener, out []io.Writer, opts ...DecodeOption) error {
	if objectSize < 0 {
		return fmt.Errorf("%w: object size %d", ErrInvalidRange, objectSize)
	}
	if len(out) != len(want) {
		return fmt.Errorf("erasure: reconstruct: %d writers for %d shards", len(out), len(want))
	}
	n := c.TotalShards()
	wanted := make([]bool, n)
	for j, i := range want {
		switch {
		case i < 0 || i >= n:
			return fmt.Errorf("erasure: reconstruct: shard %d of a %d+%d codec", i, c.k, c.m)
		case wanted[i]:
			return fmt.Errorf("erasure: reconstruct: shard %d wanted twice", i)
		case out[j] == nil:
			return fmt.Errorf("erasure: reconstruct: no writer for shard %d", i)
		}
		wanted[i] = true
	}
	if len(want) == 0 {
		return nil
	}
	if n-len(want) < c.k {
		return &Error{Op: "reconstruct", Need: c.k, Usable: n - len(want), Errs: make([]error, n)}
	}
	if objectSize == 0 {
		return nil
	}
	if open == nil {
		return errors.New("erasure: nil ShardOpener")
	}
	var o decodeOptions
	for _, opt := range opts {
		opt(&o)
	}

	src := newFrameReader(c, "reconstruct", objectSize, c.ShardFileSize(objectSize), open, o)
	defer src.close()
	for _, i := range want {
		src.shards[i].state = shardExcluded
	}
	frames := make([][]byte, len(want))
	for j := range frames {
		frames[j] = make([]byte, c.frameStride())
	}
	writeErrs := make([]error, len(want))
	all := make([][]byte, n)
	var wg sync.WaitGroup
	// Block b's frames are written while block b+1 is read: the sources'
	// buffers and frames are disjoint, and the wait below frees frames
	// before they are rebuilt.
	for b := range ceilDiv64(objectSize, int64(c.blockSize)) {
		fs, err := src.readBlock(b)
		wg.Wait()
		if werr := errors.Join(writeErrs...); werr != nil {
			return errors.Join(werr, err)
		}
		if err != nil {
			return err
		}
		for i := range all {
			all[i] = nil
			if src.shards[i].ok {
				all[i] = src.frag(i, fs)
			}
		}
		for j, i := range want {
			all[i] = frames[j][ChecksumSize:ChecksumSize] // rebuilt in place
		}
		// ReconstructSome with k+m flags rebuilds wanted parity as well as
		// data, and nothing else.
		if err := c.rs.ReconstructSome(all, wanted); err != nil {
			return fmt.Errorf("erasure: reconstruct block %d: %w", b, err)
		}
		for j, i := range want {
			frame := frames[j][:ChecksumSize+fs]
			wg.Go(func() {
				sum := Checksum(frame[ChecksumSize:])
				copy(frame, sum[:])
				if err := writeFull(out[j], frame); err != nil {
					writeErrs[j] = fmt.Errorf("erasure: write shard %d block %d: %w", i, b, err)
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(writeErrs...)
}

// VerifyShard reads a whole shard of an object of objectSize bytes from r and
// checks every frame's checksum, as a scrubber would. It returns an error
// wrapping ErrCorrupt and naming the block for the first bad frame,
// io.ErrUnexpectedEOF for a short shard, an error for bytes past the last
// frame, or r's error.
func (c *Codec) VerifyShard(r io.Reader, objectSize int64) error {
	if objectSize < 0 {
		return fmt.Errorf("%w: object size %d", ErrInvalidRange, objectSize)
	}
	buf := make([]byte, c.frameStride())
	blocks := ceilDiv64(objectSize, int64(c.blockSize))
	for b := range blocks {
		at := b * c.frameStride()
		frame := buf[:ChecksumSize+ceilDiv(c.blockLen(objectSize, b), c.k)]
		if _, err := io.ReadFull(r, frame); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("erasure: verify block %d at offset %d: %w", b, at, err)
		}
		if sum := Checksum(frame[ChecksumSize:]); !bytes.Equal(sum[:], frame[:ChecksumSize]) {
			return fmt.Errorf("erasure: verify block %d at offset %d: %w", b, at, ErrCorrupt)
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

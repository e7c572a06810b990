package erasure

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/klauspost/reedsolomon"
	"github.com/minio/highwayhash"
)

// DefaultBlockSize is the block size used unless WithBlockSize says otherwise.
const DefaultBlockSize = 1 << 20

// ChecksumSize is the length in bytes of the checksum that starts every frame.
const ChecksumSize = 32

// MaxShards is the largest k+m a Codec accepts (the limit of GF(2^8)).
const MaxShards = 256

// MaxBlockSize is the largest block size a Codec accepts. An encoder or
// decoder holds about (k+m)/k blocks in memory.
const MaxBlockSize = 1 << 30

// checksumKey keys the HighwayHash-256 frame checksums. It is part of the
// format, not a secret: HighwayHash needs some key, and the checksum only has
// to catch bitrot, not forgery.
const checksumKey = "cairn/erasure bitrot hash key v1"

var checksumKeyBytes = []byte(checksumKey)

var (
	// ErrTooFewShards is returned (wrapped in an *Error) by encoders,
	// decoders and ReconstructShards when fewer than k shards remain usable.
	ErrTooFewShards = errors.New("erasure: too few shards")
	// ErrCorrupt marks a frame whose checksum does not match its fragment.
	// It is wrapped with the shard and block, and reported through
	// WithShardFailure and in *Error.
	ErrCorrupt = errors.New("erasure: checksum mismatch")
	// ErrInvalidRange is returned by NewDecoder for a range outside the object.
	ErrInvalidRange = errors.New("erasure: invalid range")
	// ErrClosed is returned by Encoder.Write after Close.
	ErrClosed = errors.New("erasure: encoder closed")
)

// Error reports that an operation could not go on because too few shards
// were usable. Unwrap exposes ErrTooFewShards and every shard's cause to
// errors.Is and errors.As.
type Error struct {
	Op     string  // "encode", "decode" or "reconstruct"
	Need   int     // shards needed (k)
	Usable int     // shards still usable
	Errs   []error // per shard; nil for a shard that was fine or never tried
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %s: %d of %d shards usable, need %d", ErrTooFewShards, e.Op, e.Usable, len(e.Errs), e.Need)
	for i, err := range e.Errs {
		if err != nil {
			fmt.Fprintf(&b, "; shard %d: %v", i, err)
		}
	}
	return b.String()
}

// Unwrap returns ErrTooFewShards followed by the non-nil shard errors.
func (e *Error) Unwrap() []error {
	errs := []error{ErrTooFewShards}
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

type options struct {
	blockSize int
}

// Option configures a Codec.
type Option func(*options)

// WithBlockSize sets the block size in bytes. It is part of the format: an
// object must be read with the block size it was written with.
func WithBlockSize(n int) Option {
	return func(o *options) { o.blockSize = n }
}

// Codec encodes and decodes objects with k data and m parity shards. It is
// safe for concurrent use.
type Codec struct {
	k, m      int
	blockSize int
	fragSize  int // fragment size of a full block: ceil(blockSize/k)
	rs        reedsolomon.Encoder

	// Buffers reused across requests: without them every large PUT
	// allocates and zeroes a block's k+m frames, and every GET k frames.
	blockBufs sync.Pool // *[]byte of k+m frame strides (Encoder)
	frameBufs sync.Pool // *[]byte of one frame stride (frameReader)
}

// getBuf returns a buffer of n bytes from pool, whose buffers all have n
// bytes. Its contents are whatever the last user left.
func getBuf(pool *sync.Pool, n int) *[]byte {
	if b, ok := pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, n)
	return &b
}

// New returns a Codec with k data shards and m parity shards.
func New(k, m int, opts ...Option) (*Codec, error) {
	o := options{blockSize: DefaultBlockSize}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if k < 1 {
		errs = append(errs, fmt.Errorf("erasure: data shards %d, need at least 1", k))
	}
	if m < 0 {
		errs = append(errs, fmt.Errorf("erasure: parity shards %d, need at least 0", m))
	}
	if k+m > MaxShards {
		errs = append(errs, fmt.Errorf("erasure: %d+%d shards, at most %d", k, m, MaxShards))
	}
	if o.blockSize <= 0 || o.blockSize > MaxBlockSize {
		errs = append(errs, fmt.Errorf("erasure: block size %d, need 1 to %d", o.blockSize, MaxBlockSize))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &Codec{k: k, m: m, blockSize: o.blockSize, fragSize: ceilDiv(o.blockSize, k)}
	rs, err := reedsolomon.New(k, m, reedsolomon.WithAutoGoroutines(c.fragSize))
	if err != nil {
		return nil, fmt.Errorf("erasure: %d+%d: %w", k, m, err)
	}
	c.rs = rs
	return c, nil
}

// DataShards returns k.
func (c *Codec) DataShards() int { return c.k }

// ParityShards returns m.
func (c *Codec) ParityShards() int { return c.m }

// TotalShards returns k+m.
func (c *Codec) TotalShards() int { return c.k + c.m }

// BlockSize returns the block size in bytes.
func (c *Codec) BlockSize() int { return c.blockSize }

// frameStride is the size of a full block's frame, and so the distance
// between the starts of consecutive blocks in a shard.
func (c *Codec) frameStride() int64 { return ChecksumSize + int64(c.fragSize) }

// blockLen returns the length of block b of an object of objectSize bytes.
func (c *Codec) blockLen(objectSize, b int64) int {
	return int(min(int64(c.blockSize), objectSize-b*int64(c.blockSize)))
}

// ShardFileSize returns the size in bytes of every shard of an object of
// objectSize bytes. It returns 0 for objectSize <= 0.
func (c *Codec) ShardFileSize(objectSize int64) int64 {
	return ShardSize(objectSize, c.k, c.blockSize)
}

// ShardSize is ShardFileSize for an object cut into blocks of blockSize
// bytes and k data fragments each, without building a codec.
func ShardSize(objectSize int64, k, blockSize int) int64 {
	if objectSize <= 0 || k <= 0 || blockSize <= 0 {
		return 0
	}
	bs := int64(blockSize)
	size := objectSize / bs * (ChecksumSize + ceilDiv64(bs, int64(k)))
	if tail := objectSize % bs; tail > 0 {
		size += ChecksumSize + ceilDiv64(tail, int64(k))
	}
	return size
}

// ShardRange returns the bytes [shardOff, shardOff+shardLen) of every shard
// that a read of bytes [off, off+n) of an object of objectSize bytes needs:
// the frames of the blocks covering that range. It returns 0, 0 when the
// range is empty or does not lie within the object.
func (c *Codec) ShardRange(objectSize, off, n int64) (shardOff, shardLen int64) {
	if !validRange(objectSize, off, n) || n == 0 {
		return 0, 0
	}
	bs := int64(c.blockSize)
	first, last := off/bs, (off+n-1)/bs
	shardOff = first * c.frameStride()
	end := last*c.frameStride() + ChecksumSize + ceilDiv64(int64(c.blockLen(objectSize, last)), int64(c.k))
	return shardOff, end - shardOff
}

func validRange(objectSize, off, n int64) bool {
	return objectSize >= 0 && off >= 0 && n >= 0 && off <= objectSize && n <= objectSize-off
}

// Checksum returns the frame checksum of fragment: its keyed HighwayHash-256.
func Checksum(fragment []byte) [ChecksumSize]byte {
	return highwayhash.Sum(fragment, checksumKeyBytes)
}

// EncodeAll returns the k+m shards of data, as NewEncoder would write them.
// It is meant for small objects that are kept whole in memory.
func (c *Codec) EncodeAll(data []byte) ([][]byte, error) {
	size := int64(len(data))
	shardSize := c.ShardFileSize(size)
	shards := make([][]byte, c.TotalShards())
	for i := range shards {
		shards[i] = make([]byte, shardSize)
	}
	frags := make([][]byte, c.TotalShards())
	for b, pos := int64(0), 0; pos < len(data); b++ {
		l := c.blockLen(size, b)
		fs := ceilDiv(l, c.k)
		at := b * c.frameStride()
		for i := range frags {
			frags[i] = shards[i][at+ChecksumSize : at+ChecksumSize+int64(fs)]
		}
		splitInto(frags[:c.k], data[pos:pos+l]) // shards start zeroed, so padding is in place
		if c.m > 0 {
			if err := c.rs.Encode(frags); err != nil {
				return nil, fmt.Errorf("erasure: encode block %d: %w", b, err)
			}
		}
		for i, f := range frags {
			sum := Checksum(f)
			copy(shards[i][at:], sum[:])
		}
		pos += l
	}
	return shards, nil
}

// splitInto copies block into the data fragments frags, which all have the
// same length; bytes past the end of block are left as they are.
func splitInto(frags [][]byte, block []byte) {
	for _, f := range frags {
		block = block[copy(f, block):]
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func ceilDiv64(a, b int64) int64 { return (a + b - 1) / b }

package httptransport

import (
	"context"
	"io"
	"net"
	"sync"
)

// copyBufSize is the size of the reads and socket writes of a shard body.
// io.Copy into an http.ResponseWriter or a net.Conn goes through 32 KiB
// buffers; on loopback 64 KiB writes already cost 2.7× the CPU of 1 MiB
// ones. A frame of the default 1 MiB block in 4+2 is 256 KiB and 32 bytes
// of checksum: a little more than that takes one in one read.
const copyBufSize = 256<<10 + 4<<10

var copyBufs = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

// copyBody copies r to w through a pooled copyBufSize buffer. The wrappers
// hide ReaderFrom and WriterTo, which would pick their own small buffers.
func copyBody(w io.Writer, r io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[copyBufSize]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, buf[:])
}

// bigWrites wraps dial so that a streamed request body goes to the socket
// in writes of up to copyBufSize bytes. net/http copies a body that does not
// fit its write buffer with the connection's ReadFrom, which for a pipe
// falls back to 32 KiB writes: a 16 MiB PUT would make about 800 writes per
// shard instead of about 100.
func bigWrites(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return bigWriteConn{c}, nil
	}
}

type bigWriteConn struct{ net.Conn }

// ReadFrom implements io.ReaderFrom.
func (c bigWriteConn) ReadFrom(r io.Reader) (int64, error) {
	return copyBody(c.Conn, r)
}

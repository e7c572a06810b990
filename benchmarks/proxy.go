package benchmarks

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// delayProxy is a TCP proxy that makes a node slow: each chunk read from
// either side is written to the other side delay after it was read. Chunks
// are pipelined, so the delay adds latency to every read and write without
// serialising them (a 50ms delay does not cost 50ms per 32 KiB), as a slow
// disk or a long link would. The delay can change at any time and applies
// to chunks written from then on.
type delayProxy struct {
	ln     net.Listener
	target string
	delay  atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// proxyChunk is the unit a proxy reads and delays.
const proxyChunk = 32 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, proxyChunk); return &b }}

// newDelayProxy listens on addr and forwards every connection to target.
func newDelayProxy(addr, target string) (*delayProxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &delayProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

func (p *delayProxy) Addr() string { return p.ln.Addr().String() }

// SetDelay sets the delay; 0 forwards at once.
func (p *delayProxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Close stops accepting, cuts every connection and waits for the
// proxy's goroutines.
func (p *delayProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *delayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *delayProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *delayProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve forwards one connection. If the node is down the client's
// connection is closed at once, which it sees as a reset.
func (p *delayProxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(server, client) })
	wg.Go(func() { p.pipe(client, server) })
	wg.Wait()
}

type stampedChunk struct {
	buf  *[]byte
	n    int
	read time.Time
}

// pipe copies src to dst through a bounded queue of read-stamped chunks.
// When src ends, dst's write side is shut once the queue drains; if dst
// fails, both are closed so the other direction ends too.
func (p *delayProxy) pipe(dst, src net.Conn) {
	q := make(chan stampedChunk, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		failed := false
		for c := range q {
			if !failed {
				if d := time.Duration(p.delay.Load()); d > 0 {
					time.Sleep(time.Until(c.read.Add(d)))
				}
				if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
					failed = true
					dst.Close()
					src.Close()
				}
			}
			chunkPool.Put(c.buf)
		}
		if tc, ok := dst.(*net.TCPConn); ok && !failed {
			tc.CloseWrite()
		}
	}()
	for {
		buf := chunkPool.Get().(*[]byte)
		n, err := src.Read(*buf)
		if n > 0 {
			q <- stampedChunk{buf: buf, n: n, read: time.Now()}
		} else {
			chunkPool.Put(buf)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			break
		}
	}
	close(q)
	<-done
}

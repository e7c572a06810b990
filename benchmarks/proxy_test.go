package benchmarks

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"cairn/internal/freeport"
)

// TestDelayProxy sends data through the proxy to an echo server and back:
// with no delay it arrives intact, with a delay the round trip takes at
// least twice the delay (once each way).
func TestDelayProxy(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	p, err := newDelayProxy("127.0.0.1:0", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	roundTrip := func(msg []byte) time.Duration {
		t.Helper()
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		go func() { c.Write(msg); c.(*net.TCPConn).CloseWrite() }()
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo through proxy = %d bytes, %v; want the %d sent", len(got), err, len(msg))
		}
		return time.Since(start)
	}
	msg := bytes.Repeat([]byte("cairn"), 100_000) // several chunks
	roundTrip(msg)
	const d = 40 * time.Millisecond
	p.SetDelay(d)
	if got := roundTrip(msg); got < 2*d {
		t.Errorf("round trip with %v delay took %v; want ≥ %v", d, got, 2*d)
	}
	p.SetDelay(0)
	roundTrip([]byte("x"))
}

// TestDelayProxyTargetDown: a connection to a dead node is closed at once.
func TestDelayProxyTargetDown(t *testing.T) {
	t.Parallel()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := newDelayProxy("127.0.0.1:0", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("Read through proxy to a dead node = %d, nil; want an error", n)
	}
}

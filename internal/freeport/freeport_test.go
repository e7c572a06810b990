package freeport

import (
	"net"
	"strconv"
	"testing"
)

// The address is loopback, bindable for TCP and UDP, and below the
// ephemeral range when there is room for that.
func TestAddr(t *testing.T) {
	t.Parallel()
	low := ephemeralLow()
	for range 20 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("Addr() = %q; want 127.0.0.1:port", addr)
		}
		p, _ := strconv.Atoi(port)
		if low > 20000 && (p < 10000 || p >= low) {
			t.Errorf("Addr() = %q; want a port in [10000, %d)", addr, low)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen tcp %s: %v", addr, err)
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			ln.Close()
			t.Fatalf("listen udp %s: %v", addr, err)
		}
		pc.Close()
		ln.Close()
	}
}

// A port taken for TCP is not offered.
func TestFreeRefusesABoundPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if free(ln.Addr().String()) {
		t.Errorf("free(%s) = true for a port in use", ln.Addr())
	}
}

// Ports picked but not bound yet are never picked again: a cluster's
// harness picks all its ports before any process binds one.
func TestAddrNeverRepeats(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 2000 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] {
			t.Fatalf("Addr() handed out %s twice", addr)
		}
		seen[addr] = true
	}
}

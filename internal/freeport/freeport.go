// Package freeport picks a loopback address for a process about to be
// started, as the test harnesses and cairnbench's local cluster do.
package freeport

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Addr returns a 127.0.0.1 address whose port is free now for TCP and UDP
// (gossip uses both).
//
// A port is free only until the process binds it. One the kernel hands out
// for ":0" comes from the ephemeral range, which every outgoing connection
// on the machine draws from too: under load one took a node's port before
// the node bound it, and the cluster never came up. So the port is chosen
// below that range, where only explicit binds compete, falling back to the
// kernel's choice where the range cannot be read or leaves too little room.
//
// A port handed out is not handed out again by this process: a harness
// picks every port of a cluster before starting it, and two random picks
// that agree would both look free until the first process bound it (one
// CI run had a node's admin port equal to another's gossip port).
func Addr() (string, error) {
	if low := ephemeralLow(); low > 20000 {
		for range 200 {
			port := 10000 + rand.IntN(low-10000)
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			if !given.claim(port) {
				continue
			}
			if free(addr) {
				return addr, nil
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// given is every port Addr returned (or found taken) in this process.
var given = claimed{ports: make(map[int]bool)}

type claimed struct {
	mu    sync.Mutex
	ports map[int]bool
}

// claim marks port as given and reports whether it was not before.
func (c *claimed) claim(port int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ports[port] {
		return false
	}
	c.ports[port] = true
	return true
}

func free(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

// ephemeralLow is the first port of Linux's ephemeral range, or 0.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	low, _ := strconv.Atoi(f[0])
	return low
}

// Package freeport picks a loopback address for a process about to be
// started, as the test harnesses and cairnbench's local cluster do.
package freeport

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
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
func Addr() (string, error) {
	if low := ephemeralLow(); low > 20000 {
		for range 200 {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(10000+rand.IntN(low-10000)))
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

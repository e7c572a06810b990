package e2e

import (
	"fmt"
	"os"
	"testing"
)

// TestMain puts the clusters' data directories on tmpfs when the machine
// has one and TMPDIR does not say otherwise. These tests exercise the
// S3 protocol and the cluster's behaviour over HTTP, not durability across
// power loss (node's crash tests do that on a crashable vfs); on a shared
// disk the directory fsyncs of each cluster's start alone cost seconds,
// on tmpfs a few milliseconds.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("TMPDIR") == "" {
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			dir, err := os.MkdirTemp("/dev/shm", "cairn-e2e-")
			if err == nil {
				defer os.RemoveAll(dir)
				os.Setenv("TMPDIR", dir)
			} else {
				fmt.Fprintf(os.Stderr, "e2e: no tmpfs dir (%v); using the default temp dir\n", err)
			}
		}
	}
	return m.Run()
}

//go:build !linux

package node

import "cairn/vfs"

// dataSync makes a file's bytes durable; elsewhere than Linux, by fsync.
func dataSync(f vfs.File) error { return f.Sync() }

// dropCache leaves the page cache alone elsewhere than Linux.
func dropCache(vfs.File, int64, int64) {}

// Package vfs is the seam between a storage node and its disk: every shard
// file operation goes through FS, so tests can inject faults (see
// errorfs-style wrappers) without touching the node's code.
//
// Default is the operating system's file system.
package vfs

import (
	"io"
	"io/fs"
	"os"
)

// File is an open file. Sync makes written data durable.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	Sync() error
	Stat() (fs.FileInfo, error)
}

// FS is the subset of a file system a shard store needs.
type FS interface {
	// Create creates or truncates the named file for writing.
	Create(name string) (File, error)
	// Open opens the named file for reading.
	Open(name string) (File, error)
	// OpenDir opens a directory so that Sync makes renames in it durable.
	OpenDir(name string) (File, error)
	Rename(oldname, newname string) error
	// Remove removes a file; a missing file returns an error satisfying
	// errors.Is(err, fs.ErrNotExist).
	Remove(name string) error
	MkdirAll(dir string, perm fs.FileMode) error
	// List returns the names of the entries in dir.
	List(dir string) ([]string, error)
	Stat(name string) (fs.FileInfo, error)
}

// Default is the operating system's file system. It holds no state.
var Default FS = osFS{}

type osFS struct{}

func (osFS) Create(name string) (File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
}

func (osFS) Open(name string) (File, error) { return os.Open(name) }

func (osFS) OpenDir(name string) (File, error) { return os.Open(name) }

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

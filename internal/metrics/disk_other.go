//go:build !linux

package metrics

// StatDisk returns ErrUnsupported: only Linux is wired up so far.
func StatDisk(dir string) (Disk, error) { return Disk{}, ErrUnsupported }

package metrics

import (
	"fmt"
	"syscall"
)

// StatDisk returns the usage of the file system holding dir.
func StatDisk(dir string) (Disk, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Disk{}, fmt.Errorf("metrics: statfs %s: %w", dir, err)
	}
	bs := int64(st.Bsize)
	return Disk{
		Capacity: int64(st.Blocks) * bs,
		Free:     int64(st.Bavail) * bs,
		Used:     int64(st.Blocks-st.Bfree) * bs,
	}, nil
}

package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrUnsupported is returned by StatDisk on systems where Cairn cannot ask
// for file system usage.
var ErrUnsupported = errors.New("metrics: disk usage not supported on this system")

// Disk is the usage of the file system holding a directory, in bytes.
type Disk struct {
	Capacity int64 // total size
	Free     int64 // available to an unprivileged writer
	Used     int64 // Capacity minus all free blocks, reserved ones included
}

// diskCollector exports the usage of the file system holding dir.
type diskCollector struct {
	dir                  string
	stat                 func(dir string) (Disk, error)
	capacity, free, used *prometheus.Desc
}

// NewDiskCollector returns a collector of the capacity, free and used bytes
// of the file system holding dir, as cairn_disk_capacity_bytes,
// cairn_disk_free_bytes and cairn_disk_used_bytes with the given constant
// labels. A scrape where the file system cannot be asked exports none of
// them rather than zeros.
func NewDiskCollector(dir string, labels prometheus.Labels) prometheus.Collector {
	return &diskCollector{
		dir:      dir,
		stat:     StatDisk,
		capacity: prometheus.NewDesc("cairn_disk_capacity_bytes", "Size of the file system holding the data directory.", nil, labels),
		free:     prometheus.NewDesc("cairn_disk_free_bytes", "Bytes of that file system available to Cairn.", nil, labels),
		used:     prometheus.NewDesc("cairn_disk_used_bytes", "Bytes of that file system in use.", nil, labels),
	}
}

func (c *diskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.capacity
	ch <- c.free
	ch <- c.used
}

func (c *diskCollector) Collect(ch chan<- prometheus.Metric) {
	d, err := c.stat(c.dir)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.capacity, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(d.Capacity))
	ch <- prometheus.MustNewConstMetric(c.free, prometheus.GaugeValue, float64(d.Free))
	ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(d.Used))
}

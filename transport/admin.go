package transport

import (
	"context"
	"time"
)

// NodeStats is what a node reports about itself to the gateway's admin API:
// enough for the cluster's status, the durability histogram, and the
// preview and progress of a rebalance.
type NodeStats struct {
	ID          string `json:"id"`
	LayoutEpoch uint64 `json:"layout_epoch"`

	// The file system holding the node's data directory.
	CapacityBytes uint64 `json:"capacity_bytes"`
	FreeBytes     uint64 `json:"free_bytes"`
	// MinFreeBytes is the space the node keeps free: with FreeBytes at or
	// below it, it refuses new object data. 0 when it does not check.
	MinFreeBytes uint64 `json:"min_free_bytes,omitempty"`

	// Shard files this node holds for the versions it is recorded as the
	// holder of, and their bytes.
	Shards     int64 `json:"shards"`
	ShardBytes int64 `json:"shard_bytes"`
	// PGBytes is ShardBytes (plus inline fragments) per placement group,
	// under the node's current layout's PG count.
	PGBytes map[int]int64 `json:"pg_bytes,omitempty"`

	// Hint debt: shards and records this node holds for homes that were
	// down (count, bytes, the oldest's age at the time of the report).
	HintCount  int64         `json:"hint_count"`
	HintBytes  int64         `json:"hint_bytes"`
	HintOldest time.Duration `json:"hint_oldest"`
	// RepairQueue is the repair debts and scrub findings waiting.
	RepairQueue int64 `json:"repair_queue"`

	// Misplaced counts shards this node holds whose home under the current
	// layout is another node: the rebalance work still to do here.
	Misplaced      int64 `json:"misplaced"`
	MisplacedBytes int64 `json:"misplaced_bytes"`
	// RepairRate is the rate, in bytes per second, at which this node
	// has measured itself restoring data to other nodes (hint replay,
	// rebalance); 0 before it has moved enough to tell.
	RepairRate float64 `json:"repair_rate"`
	// Moved counts shards handed over to their new home since start.
	Moved      int64 `json:"moved"`
	MovedBytes int64 `json:"moved_bytes"`

	// Redundancy is the durability histogram of the objects this node
	// counts (each object is counted by exactly one node: the first live
	// home of its PG), per bucket, as of the last scanner pass.
	Redundancy map[string]RedundancyCounts `json:"redundancy,omitempty"`
	// LastScan is when the last scanner pass ended; zero before the first.
	LastScan time.Time `json:"last_scan"`
	// CensusStarted is when the census behind Shards, PGBytes and
	// Redundancy began: they show the node's data as of then or later.
	CensusStarted time.Time `json:"census_started"`
}

// RedundancyCounts is a durability histogram: Objects[r] and Bytes[r] count
// the object versions that can lose r more shards and still be read, for r
// in 0..m; Lost counts those already below k shards.
type RedundancyCounts struct {
	Objects []int64 `json:"objects"`
	Bytes   []int64 `json:"bytes"`
	Lost    int64   `json:"lost"`
}

// Add adds o into c.
func (c *RedundancyCounts) Add(o RedundancyCounts) {
	for len(c.Objects) < len(o.Objects) {
		c.Objects = append(c.Objects, 0)
	}
	for len(c.Bytes) < len(o.Bytes) {
		c.Bytes = append(c.Bytes, 0)
	}
	for i, v := range o.Objects {
		c.Objects[i] += v
	}
	for i, v := range o.Bytes {
		c.Bytes[i] += v
	}
	c.Lost += o.Lost
}

// NodeAdmin is implemented by nodes that answer the admin API's questions.
type NodeAdmin interface {
	// NodeStats reports the node's state (see NodeStats).
	NodeStats(ctx context.Context) (*NodeStats, error)
	// StartScan starts a scanner pass (anti-entropy, repair, scrub,
	// rebalance) now, or right after the one running, and returns without
	// waiting for it.
	StartScan(ctx context.Context) error
}

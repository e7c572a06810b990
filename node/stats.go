package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	"cairn/internal/metrics"
	"cairn/transport"
)

// This file is the node side of the gateway's admin API (transport.
// NodeAdmin): what the node reports about itself, and a scanner pass on
// demand.

var _ transport.NodeAdmin = (*Node)(nil)

// scanReport is what the scanner's passes leave for NodeStats, and the
// way StartScan reaches the scanner loop.
type scanReport struct {
	kickOnce sync.Once
	kick     chan struct{}

	// findings is how many damaged shards the last scrub queued and has
	// not repaired (yet, or at all: a failed repair is tried again next
	// pass).
	findings atomic.Int64

	mu     sync.Mutex
	census *census // the last complete census; nil before the first
}

// kicks is the channel StartScan signals the scanner loop on. It holds one
// kick: any number of StartScan calls while a pass runs make one more pass.
func (r *scanReport) kicks() chan struct{} {
	r.kickOnce.Do(func() { r.kick = make(chan struct{}, 1) })
	return r.kick
}

func (r *scanReport) lastCensus() *census {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.census
}

func (r *scanReport) setCensus(c *census) {
	r.mu.Lock()
	r.census = c
	r.mu.Unlock()
}

// StartScan implements transport.NodeAdmin: the scanner loop starts a pass
// now, or right after the one running, whether or not the node scans
// periodically (Config.Peers and Config.Layout).
func (n *Node) StartScan(ctx context.Context) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if n.closed.Load() {
		return fmt.Errorf("node %s: start scan: %w: %v", n.cfg.ID, transport.ErrUnavailable, ErrClosed)
	}
	select {
	case n.scan.report.kicks() <- struct{}{}:
	default: // a pass is already asked for
	}
	return nil
}

// NodeStats implements transport.NodeAdmin. Disk usage and hint debt are
// read now; shard counts, bytes per placement group and the durability
// histogram are those of the last scanner pass (durability.go), absent
// before the first. The rebalance figures are the handover's
// (handover.go).
func (n *Node) NodeStats(ctx context.Context) (*transport.NodeStats, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	st := &transport.NodeStats{ID: n.cfg.ID, LastScan: n.ScannerStats().LastPass}
	switch d, err := metrics.StatDisk(n.cfg.Dir); {
	case err == nil:
		st.CapacityBytes, st.FreeBytes = uint64(max(0, d.Capacity)), uint64(max(0, d.Free))
		st.MinFreeBytes = uint64(max(0, n.shards.reserve(d.Capacity)))
	case !errors.Is(err, metrics.ErrUnsupported):
		return nil, fmt.Errorf("node %s: stats: %w", n.cfg.ID, err)
	}
	if n.layouts != nil {
		st.LayoutEpoch = n.layouts.Current().Epoch
	}
	rb := n.RebalanceStats()
	st.Misplaced, st.MisplacedBytes, st.Moved, st.MovedBytes = rb.Misplaced, rb.MisplacedBytes, rb.Moved, rb.MovedBytes
	st.RepairRate = rb.MoveRate
	now := n.cfg.Now()
	for _, h := range n.HintStats() {
		// Replays of a few bytes measure round trips, not a rate.
		if h.ReplayedBytes >= 4<<20 {
			st.RepairRate = max(st.RepairRate, h.ReplayRate)
		}
		st.HintCount += int64(h.Count)
		st.HintBytes += h.Bytes
		st.RepairQueue += int64(h.RepairDebts)
		if h.Count > 0 && !h.Oldest.IsZero() {
			st.HintOldest = max(st.HintOldest, now.Sub(h.Oldest))
		}
	}
	st.RepairQueue += n.scan.report.findings.Load()
	if c := n.scan.report.lastCensus(); c != nil {
		// The census is shared with later callers and the metrics: hand
		// out copies.
		st.CensusStarted = c.started
		st.Shards, st.ShardBytes = c.shards, c.shardBytes
		st.PGBytes = maps.Clone(c.pgBytes)
		st.Redundancy = make(map[string]transport.RedundancyCounts, len(c.redundancy))
		for b, r := range c.redundancy {
			var cp transport.RedundancyCounts
			cp.Add(r)
			st.Redundancy[b] = cp
		}
	}
	return st, nil
}

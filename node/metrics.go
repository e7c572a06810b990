package node

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"cairn/internal/metrics"
	"cairn/transport"
)

// ErrClosed is returned by Ready once the node has been closed.
var ErrClosed = errors.New("node: closed")

// Ready reports whether the node can serve: its store is open and its data
// directory is reachable. It is the node's readiness check.
func (n *Node) Ready() error {
	if n.closed.Load() {
		return ErrClosed
	}
	if _, err := n.cfg.FS.Stat(n.cfg.Dir); err != nil {
		return fmt.Errorf("node %s: data directory: %w", n.cfg.ID, err)
	}
	return nil
}

func (n *Node) registerMetrics() error {
	if n.cfg.Metrics == nil {
		return nil
	}
	c := newCollector(n)
	if err := n.cfg.Metrics.Register(c); err != nil {
		return fmt.Errorf("node: register metrics: %w", err)
	}
	n.metrics = c
	return nil
}

func (n *Node) unregisterMetrics() {
	if n.metrics != nil {
		n.cfg.Metrics.Unregister(n.metrics)
		n.metrics = nil
	}
}

// collector exports what the node already counts, read at scrape time:
// hint debt per home (HintStats), the scanner's counters (ScannerStats),
// the durability histogram of the last census (durability.go) and the
// usage of the data directory's file system. Every metric carries the
// node's ID, so that several nodes may share a registry in one process.
//
// The histogram covers the object versions this node counts, all buckets
// together: each version is counted by one node, so the cluster's is the
// sum over nodes. It is absent until the first census.
type collector struct {
	n    *Node
	disk prometheus.Collector

	hints, hintBytes, hintAge, replayed, replayRate, debts *prometheus.Desc

	scanCounters []scanCounter
	lastPass     *prometheus.Desc
	lastDuration *prometheus.Desc

	objectsByRedundancy, bytesByRedundancy, objectsLost *prometheus.Desc

	repairFindings, misplaced, misplacedBytes, moved, movedBytes, layoutEpoch *prometheus.Desc

	spaceRefusals *prometheus.Desc
}

type scanCounter struct {
	desc *prometheus.Desc
	get  func(*ScannerStats) int64
}

func newCollector(n *Node) *collector {
	labels := prometheus.Labels{"node": n.cfg.ID}
	home := []string{"home"}
	desc := func(name, help string, vars []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, vars, labels)
	}
	c := &collector{
		n:         n,
		disk:      metrics.NewDiskCollector(n.cfg.Dir, labels),
		hints:     desc("cairn_node_hints", "Hints held for a home that was away.", home),
		hintBytes: desc("cairn_node_hint_bytes", "Bytes of hints held for a home.", home),
		hintAge:   desc("cairn_node_hint_oldest_age_seconds", "Age of the oldest hint held for a home.", home),
		replayed:  desc("cairn_node_hint_replayed_bytes_total", "Hint bytes handed back to a home since the node started.", home),
		replayRate: desc("cairn_node_hint_replay_rate_bytes_per_second",
			"Bytes per second of the last hint replay to a home, throttling included.", home),
		debts:    desc("cairn_node_repair_debts", "Shards recorded for repair at a home instead of hinted.", home),
		lastPass: desc("cairn_node_scanner_last_pass_timestamp_seconds", "When the scanner's last pass ended, Unix time.", nil),
		lastDuration: desc("cairn_node_scanner_last_pass_duration_seconds",
			"How long the scanner's last pass took.", nil),
		objectsByRedundancy: desc("cairn_node_objects_by_redundancy",
			"Object versions this node counts, by how many more shards each can lose and still be read, as of the last scanner pass.",
			[]string{"redundancy"}),
		bytesByRedundancy: desc("cairn_node_bytes_by_redundancy",
			"Bytes of the object versions this node counts, by how many more shards each can lose, as of the last scanner pass.",
			[]string{"redundancy"}),
		objectsLost: desc("cairn_node_objects_lost",
			"Object versions this node counts that have fewer than k readable shards, as of the last scanner pass.", nil),
		repairFindings: desc("cairn_node_repair_queue",
			"Missing or corrupt shards the last scrub found and could not repair yet (repair debts are cairn_node_repair_debts).", nil),
		misplaced: desc("cairn_node_rebalance_misplaced_shards",
			"Shards this node holds whose home under the current layout is another node.", nil),
		misplacedBytes: desc("cairn_node_rebalance_misplaced_bytes", "Bytes of the misplaced shards.", nil),
		moved:          desc("cairn_node_rebalance_moved_shards_total", "Shards handed to their new home since the node started.", nil),
		movedBytes:     desc("cairn_node_rebalance_moved_bytes_total", "Bytes handed to new homes since the node started.", nil),
		layoutEpoch:    desc("cairn_node_layout_epoch", "Epoch of the layout document the node holds.", nil),
		spaceRefusals: desc("cairn_node_space_refusals_total",
			"Shards and inline records refused because the disk is down to --min-free-bytes; gateways placed them elsewhere.", nil),
	}
	for _, s := range []struct {
		name, help string
		get        func(*ScannerStats) int64
	}{
		{"passes", "Scanner passes completed.", func(s *ScannerStats) int64 { return s.Passes }},
		{"records_scanned", "Own records walked by the scrub.", func(s *ScannerStats) int64 { return s.RecordsScanned }},
		{"records_pulled", "Records taken from other homes by anti-entropy.", func(s *ScannerStats) int64 { return s.RecordsPulled }},
		{"buckets_pulled", "Bucket records taken from other nodes.", func(s *ScannerStats) int64 { return s.BucketsPulled }},
		{"shards_verified", "Shards whose every frame the scrub verified.", func(s *ScannerStats) int64 { return s.ShardsVerified }},
		{"verified_bytes", "Bytes the scrub verified.", func(s *ScannerStats) int64 { return s.BytesVerified }},
		{"shards_missing", "Shards the scrub found missing.", func(s *ScannerStats) int64 { return s.ShardsMissing }},
		{"shards_corrupt", "Shards and inline fragments that failed verification (checksum failures).", func(s *ScannerStats) int64 { return s.ShardsCorrupt }},
		{"shards_rebuilt", "Shards the scanner rebuilt or copied home.", func(s *ScannerStats) int64 { return s.ShardsRebuilt }},
		{"repair_failures", "Repairs the scanner attempted and could not finish.", func(s *ScannerStats) int64 { return s.RepairFailures }},
		{"orphans_removed", "Unreferenced shard files deleted.", func(s *ScannerStats) int64 { return s.OrphansRemoved }},
		{"debts_settled", "Repair debts settled.", func(s *ScannerStats) int64 { return s.DebtsSettled }},
	} {
		c.scanCounters = append(c.scanCounters, scanCounter{
			desc: desc("cairn_node_scanner_"+s.name+"_total", s.help, nil),
			get:  s.get,
		})
	}
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	c.disk.Describe(ch)
	for _, d := range []*prometheus.Desc{c.hints, c.hintBytes, c.hintAge, c.replayed, c.replayRate, c.debts, c.lastPass, c.lastDuration,
		c.objectsByRedundancy, c.bytesByRedundancy, c.objectsLost,
		c.repairFindings, c.misplaced, c.misplacedBytes, c.moved, c.movedBytes, c.layoutEpoch, c.spaceRefusals} {
		ch <- d
	}
	for _, s := range c.scanCounters {
		ch <- s.desc
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.disk.Collect(ch)
	now := c.n.cfg.Now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for home, s := range c.n.HintStats() {
		gauge(c.hints, float64(s.Count), home)
		gauge(c.hintBytes, float64(s.Bytes), home)
		age := 0.0
		if s.Count > 0 && !s.Oldest.IsZero() {
			age = max(0, now.Sub(s.Oldest).Seconds())
		}
		gauge(c.hintAge, age, home)
		ch <- prometheus.MustNewConstMetric(c.replayed, prometheus.CounterValue, float64(s.ReplayedBytes), home)
		gauge(c.replayRate, s.ReplayRate, home)
		gauge(c.debts, float64(s.RepairDebts), home)
	}
	st := c.n.ScannerStats()
	for _, s := range c.scanCounters {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.CounterValue, float64(s.get(&st)))
	}
	if !st.LastPass.IsZero() {
		gauge(c.lastPass, float64(st.LastPass.UnixNano())/1e9)
		gauge(c.lastDuration, st.LastPassDuration.Seconds())
	}
	gauge(c.repairFindings, float64(c.n.scan.report.findings.Load()))
	rb := c.n.RebalanceStats()
	gauge(c.misplaced, float64(rb.Misplaced))
	gauge(c.misplacedBytes, float64(rb.MisplacedBytes))
	ch <- prometheus.MustNewConstMetric(c.moved, prometheus.CounterValue, float64(rb.Moved))
	ch <- prometheus.MustNewConstMetric(c.movedBytes, prometheus.CounterValue, float64(rb.MovedBytes))
	ch <- prometheus.MustNewConstMetric(c.spaceRefusals, prometheus.CounterValue, float64(c.n.shards.refusals.Load()))
	if c.n.layouts != nil {
		gauge(c.layoutEpoch, float64(c.n.layouts.Current().Epoch))
	}
	if cs := c.n.scan.report.lastCensus(); cs != nil {
		var all transport.RedundancyCounts
		for _, r := range cs.redundancy {
			all.Add(r)
		}
		for r, objects := range all.Objects {
			label := strconv.Itoa(r)
			gauge(c.objectsByRedundancy, float64(objects), label)
			gauge(c.bytesByRedundancy, float64(all.Bytes[r]), label)
		}
		gauge(c.objectsLost, float64(all.Lost))
	}
}

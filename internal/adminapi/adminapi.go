// Package adminapi is the contract of the gateway's admin API: the JSON the
// gateway serves under /admin/v1/ on its admin listener and objctl reads.
// Every request is signed with AWS Signature V4 (service "s3", the
// cluster's region) by an access key the gateway's keyring marks admin.
//
//	GET  /admin/v1/status                 Status
//	GET  /admin/v1/layout                 LayoutView (with Preview when a change is staged)
//	POST /admin/v1/layout/stage           body LayoutChange → LayoutView
//	POST /admin/v1/layout/apply           → LayoutView of the new layout
//	POST /admin/v1/layout/revert          drops the staged change → LayoutView
//	POST /admin/v1/heal[?bucket=B]        starts a scanner pass on every live node → Status
//	GET  /admin/v1/durability[?afr=F]     Durability (afr: annual failure rate, default 0.02)
//
// Errors are JSON Error bodies with an HTTP status: 400 bad request, 403
// not an admin key or bad signature, 409 the change is refused (Problems
// say why), 503 not enough nodes answer.
//
// The cluster page (GET /cluster, HTML and SVG) renders the same Status.
package adminapi

import "time"

// Status is the cluster at a glance.
type Status struct {
	Time          time.Time `json:"time"`
	Gateway       string    `json:"gateway"`
	DataShards    int       `json:"data_shards"`
	ParityShards  int       `json:"parity_shards"`
	LayoutEpoch   uint64    `json:"layout_epoch"`
	LayoutVersion uint64    `json:"layout_version"`
	PGCount       int       `json:"pg_count"`

	Nodes []NodeStatus `json:"nodes"`

	// Durability is the cluster's histogram: objects and bytes by how many
	// more shards they can lose (0..m), from the nodes' last scans.
	Durability Redundancy `json:"durability"`
	// Buckets is the same histogram per bucket.
	Buckets map[string]Redundancy `json:"buckets,omitempty"`

	HintCount   int64         `json:"hint_count"`
	HintBytes   int64         `json:"hint_bytes"`
	HintOldest  time.Duration `json:"hint_oldest"`
	RepairQueue int64         `json:"repair_queue"`

	Rebalance Rebalance `json:"rebalance"`

	// Throughput is the gateway's recent traffic, oldest first, one point
	// per interval (ThroughputInterval).
	Throughput         []ThroughputPoint `json:"throughput,omitempty"`
	ThroughputInterval time.Duration     `json:"throughput_interval"`
}

// NodeStatus is one node of the layout, or one that answers gossip but is
// not in the layout yet.
type NodeStatus struct {
	ID     string  `json:"id"`
	Zone   string  `json:"zone"`
	Addr   string  `json:"addr,omitempty"`
	Weight float64 `json:"weight"`
	// State is "active" or "draining" in the applied layout, or
	// "unassigned" for a live node the layout does not have yet.
	State string `json:"state"`
	Alive bool   `json:"alive"`
	// Reported is false when the node did not answer the gateway's stats
	// call; the figures below are then zero.
	Reported      bool   `json:"reported"`
	LayoutEpoch   uint64 `json:"layout_epoch"`
	CapacityBytes uint64 `json:"capacity_bytes"`
	FreeBytes     uint64 `json:"free_bytes"`
	Shards        int64  `json:"shards"`
	ShardBytes    int64  `json:"shard_bytes"`
	// Full: the node is down to the space it keeps free (--min-free-bytes)
	// and sends new object data elsewhere.
	Full bool `json:"full,omitempty"`

	HintCount   int64 `json:"hint_count"`
	HintBytes   int64 `json:"hint_bytes"`
	RepairQueue int64 `json:"repair_queue"`

	Misplaced      int64 `json:"misplaced"`
	MisplacedBytes int64 `json:"misplaced_bytes"`
	Moved          int64 `json:"moved"`
	MovedBytes     int64 `json:"moved_bytes"`

	// LastScan is when the node's last scanner pass ended; zero before
	// the first. Shards, the histogram and Misplaced are as of that pass,
	// so a wait for a rebalance or a heal is over only once every live
	// node has ended a pass after the change.
	LastScan time.Time `json:"last_scan"`
	// CensusStarted is when the census behind the node's share of the
	// histogram began (early in a pass): a histogram from censuses all
	// begun after an event shows the data as of after it.
	CensusStarted time.Time `json:"census_started"`
}

// PassWatch follows nodes' scanner passes through successive statuses, to
// tell when a node has ended a pass begun after some moment. A pass's
// census starts before its rebalance step and its LastScan is set when it
// ends, but the next pass replaces CensusStarted before it ends itself: so
// the watch remembers the first census it sees begun after the moment and
// waits for a LastScan after that. The zero value is ready to use.
type PassWatch struct {
	began map[string]time.Time
}

// Ended reports whether node n has ended a scanner pass begun after since.
// Call it with each new status of n; since must not change between calls
// for one node.
func (w *PassWatch) Ended(n NodeStatus, since time.Time) bool {
	b, ok := w.began[n.ID]
	if !ok && n.CensusStarted.After(since) {
		if w.began == nil {
			w.began = map[string]time.Time{}
		}
		b, ok = n.CensusStarted, true
		w.began[n.ID] = b
	}
	return ok && n.LastScan.After(b)
}

// Redundancy is a durability histogram: Objects[r] and Bytes[r] for r =
// 0..m more shards that can be lost; Lost objects are below k shards.
type Redundancy struct {
	Objects []int64 `json:"objects"`
	Bytes   []int64 `json:"bytes"`
	Lost    int64   `json:"lost"`
}

// Degraded counts the objects below full redundancy, m being the parity
// shard count (Objects[m] are at full redundancy); lost ones not included.
func (r Redundancy) Degraded(m int) int64 {
	var n int64
	for _, c := range r.Objects[:min(m, len(r.Objects))] {
		n += c
	}
	return n
}

// Rebalance is the progress of moving shards to their homes under the
// current layout.
type Rebalance struct {
	// Active is true while any node still holds misplaced shards.
	Active         bool  `json:"active"`
	Misplaced      int64 `json:"misplaced"`
	MisplacedBytes int64 `json:"misplaced_bytes"`
	Moved          int64 `json:"moved"`
	MovedBytes     int64 `json:"moved_bytes"`
}

// ThroughputPoint is the gateway's traffic over one interval.
type ThroughputPoint struct {
	Time     time.Time `json:"time"`
	Requests float64   `json:"requests_per_second"`
	BytesIn  float64   `json:"bytes_in_per_second"`
	BytesOut float64   `json:"bytes_out_per_second"`
	Errors   float64   `json:"errors_per_second"`
}

// LayoutNode is a node as a layout has it.
type LayoutNode struct {
	ID     string  `json:"id"`
	Zone   string  `json:"zone"`
	Weight float64 `json:"weight"`
	State  string  `json:"state"` // "active" or "draining"
}

// LayoutView is the applied layout and the staged change, if any.
type LayoutView struct {
	Epoch   uint64       `json:"epoch"`
	Version uint64       `json:"version"`
	PGCount int          `json:"pg_count"`
	Homes   int          `json:"homes"`
	Nodes   []LayoutNode `json:"nodes"`
	// Staged is the node list of the next layout; nil when nothing is staged.
	Staged  []LayoutNode `json:"staged,omitempty"`
	Preview *Preview     `json:"preview,omitempty"`
}

// Preview says what applying the staged layout would do.
type Preview struct {
	// PGsMoved placement groups get at least one new home; ShardsMoved
	// (PG, shard index) pairs change node.
	PGsMoved    int `json:"pgs_moved"`
	ShardsMoved int `json:"shards_moved"`
	// BytesMoved estimates the data to copy, from the nodes' bytes per PG.
	BytesMoved int64 `json:"bytes_moved"`
	// In and Out are the shard moves per node.
	In  map[string]int `json:"in,omitempty"`
	Out map[string]int `json:"out,omitempty"`
	// RedundancyDuringMove is how many shards an object of a moving PG can
	// lose and still be read until its moved shard is copied: m-1, since
	// the new home holds nothing of it yet (m when nothing moves).
	RedundancyDuringMove int `json:"redundancy_during_move"`
	// Problems make apply refuse the change (too few active nodes for k+m
	// homes, too little room for the data). Empty when it can go ahead.
	Problems []string `json:"problems,omitempty"`
}

// LayoutChange is one staged edit; Op is "add-node", "remove-node",
// "set-weight" or "drain".
type LayoutChange struct {
	Op     string  `json:"op"`
	Node   string  `json:"node"`
	Zone   string  `json:"zone,omitempty"`   // add-node
	Weight float64 `json:"weight,omitempty"` // add-node (default 1), set-weight
}

// Durability is the modelled durability of the current EC profile.
type Durability struct {
	DataShards   int `json:"data_shards"`
	ParityShards int `json:"parity_shards"`
	Disks        int `json:"disks"`
	// AFR is the annual failure rate of one disk used by the model.
	AFR float64 `json:"afr"`
	// RepairHours is the time to restore one failed disk's shards: its
	// bytes over the measured repair rate (or the assumed one).
	RepairHours float64 `json:"repair_hours"`
	// RepairRateBytes is the repair rate used (bytes per second), and
	// RepairRateMeasured says whether it was measured or assumed.
	RepairRateBytes    float64 `json:"repair_rate_bytes"`
	RepairRateMeasured bool    `json:"repair_rate_measured"`
	// LossProbability is the chance per year that a stripe loses more than
	// m shards; Nines is -log10 of it.
	LossProbability float64 `json:"loss_probability"`
	Nines           float64 `json:"nines"`
	// Advice is set when the profile falls short (fewer than 11 nines).
	Advice string `json:"advice,omitempty"`
}

// Error is the body of every error reply.
type Error struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems,omitempty"`
}

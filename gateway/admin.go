package gateway

// The admin API (internal/adminapi has the contract) and the cluster page.
// Both are served on the admin listener, apart from the S3 port. Layout
// changes go through Config.Layouts: the gateway proposes a document with
// the next epoch, which its store spreads by gossip; nodes rebalance
// towards the new layout on their own (node/handover.go).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/sha256-simd"

	"cairn/internal/adminapi"
	durabilitymodel "cairn/internal/durability"
	"cairn/internal/s3api"
	"cairn/layoutstore"
	"cairn/placement"
	"cairn/transport"
)

// Member is a storage node as membership sees it: the admin API lists live
// nodes that the layout does not have yet, so an operator can add them.
type Member struct {
	ID    string
	Zone  string
	Addr  string
	Alive bool
}

// maxAdminBody bounds an admin request body.
const maxAdminBody = 64 << 10

// statsTimeout bounds how long the admin API waits for each node's stats.
const statsTimeout = 3 * time.Second

// AdminHandler serves the admin API under /admin/v1/ and the cluster page
// at /cluster. Every API request must be signed (SigV4) by an access key
// the Authorizer marks admin; the page shows the same status read-only,
// as /metrics does, and is meant for the admin listener only.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h func(*http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := g.adminAuth(r); err != nil {
				writeAdmin(w, nil, err)
				return
			}
			v, err := h(r)
			writeAdmin(w, v, err)
		})
	}
	api("GET /admin/v1/status", func(r *http.Request) (any, error) { return g.adminStatus(r.Context()) })
	api("GET /admin/v1/layout", func(r *http.Request) (any, error) { return g.layoutView(r.Context()) })
	api("POST /admin/v1/layout/stage", g.stageChange)
	api("POST /admin/v1/layout/apply", func(r *http.Request) (any, error) { return g.applyLayout(r.Context()) })
	api("POST /admin/v1/layout/revert", func(r *http.Request) (any, error) { return g.revertLayout(r.Context()) })
	api("POST /admin/v1/heal", func(r *http.Request) (any, error) { return g.heal(r.Context()) })
	api("GET /admin/v1/durability", g.durabilityModel)
	mux.HandleFunc("GET /cluster", func(w http.ResponseWriter, r *http.Request) {
		st, err := g.adminStatus(r.Context())
		if err != nil {
			http.Error(w, "status unavailable", http.StatusServiceUnavailable)
			return
		}
		var buf bytes.Buffer
		if err := adminapi.RenderPage(&buf, st); err != nil {
			g.log.Error("render cluster page", "err", err)
			http.Error(w, "page unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes())
	})
	return mux
}

// adminError is an admin API failure with its HTTP status.
type adminError struct {
	status   int
	msg      string
	problems []string
}

func (e *adminError) Error() string { return e.msg }

func adminErr(status int, format string, args ...any) *adminError {
	return &adminError{status: status, msg: fmt.Sprintf(format, args...)}
}

func writeAdmin(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		ae := new(adminError)
		if !errors.As(err, &ae) {
			ae = &adminError{status: http.StatusInternalServerError, msg: err.Error()}
		}
		w.WriteHeader(ae.status)
		json.NewEncoder(w).Encode(adminapi.Error{Error: ae.msg, Problems: ae.problems})
		return
	}
	json.NewEncoder(w).Encode(v)
}

// adminAuth checks the request's SigV4 signature, its payload hash, and
// that its key is an admin key.
func (g *Gateway) adminAuth(r *http.Request) error {
	auth, err := g.verifier.Verify(r)
	if err != nil {
		var se *s3api.Error
		if errors.As(err, &se) {
			return adminErr(http.StatusForbidden, "%s: %s", se.Code, se.Message)
		}
		return adminErr(http.StatusForbidden, "request not authenticated")
	}
	admins, ok := g.cfg.Authorizer.(interface{ IsAdmin(string) bool })
	if !ok || !admins.IsAdmin(auth.AccessKey) {
		return adminErr(http.StatusForbidden, "access key %q may not use the admin API", auth.AccessKey)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		return adminErr(http.StatusBadRequest, "read body: %v", err)
	}
	if len(body) > maxAdminBody {
		return adminErr(http.StatusRequestEntityTooLarge, "body over %d bytes", maxAdminBody)
	}
	if auth.PayloadMode == s3api.SignedPayload && hex.EncodeToString(sha256Sum(body)) != strings.ToLower(auth.SignedPayloadHash) {
		return adminErr(http.StatusForbidden, "XAmzContentSHA256Mismatch: body does not match its signed hash")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

func sha256Sum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

// nodeStats asks every node of the layout, and every other live member,
// for its stats at once. Nodes that do not answer are missing from the map.
func (g *Gateway) nodeStats(ctx context.Context, ids []string) map[string]*transport.NodeStats {
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]*transport.NodeStats{}
	for _, id := range ids {
		if !g.alive(id) {
			continue
		}
		wg.Go(func() {
			c, err := g.node(id)
			if err != nil {
				return
			}
			na, ok := c.(transport.NodeAdmin)
			if !ok {
				return
			}
			st, err := na.NodeStats(ctx)
			if err != nil {
				g.log.Debug("node stats", "node", id, "err", err)
				return
			}
			mu.Lock()
			out[id] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// clusterNodes lists the layout's nodes, then live members it lacks.
func (g *Gateway) clusterNodes() (ids []string, members map[string]Member) {
	members = map[string]Member{}
	if g.cfg.Members != nil {
		for _, m := range g.cfg.Members() {
			members[m.ID] = m
		}
	}
	l := g.layout()
	for _, n := range l.Nodes {
		ids = append(ids, string(n.ID))
	}
	var extra []string
	for id, m := range members {
		if _, in := l.Node(placement.NodeID(id)); !in && m.Alive {
			extra = append(extra, id)
		}
	}
	slices.Sort(extra)
	return append(ids, extra...), members
}

func (g *Gateway) adminStatus(ctx context.Context) (*adminapi.Status, error) {
	doc := g.layoutDoc()
	ids, members := g.clusterNodes()
	stats := g.nodeStats(ctx, ids)
	st := &adminapi.Status{
		Time: g.cfg.Now(), Gateway: g.origin, DataShards: g.cfg.DataShards, ParityShards: g.cfg.ParityShards,
		LayoutEpoch: doc.Epoch, LayoutVersion: doc.Layout.Version, PGCount: doc.Layout.PGCount,
		Buckets: map[string]adminapi.Redundancy{},
	}
	st.Durability = adminapi.Redundancy{Objects: make([]int64, g.cfg.ParityShards+1), Bytes: make([]int64, g.cfg.ParityShards+1)}
	for _, id := range ids {
		ns := adminapi.NodeStatus{ID: id, State: "unassigned", Alive: g.alive(id)}
		if n, ok := doc.Layout.Node(placement.NodeID(id)); ok {
			ns.Zone, ns.Addr, ns.Weight, ns.State = n.Zone, n.Addr, n.Weight, n.State.String()
		}
		if m, ok := members[id]; ok {
			ns.Zone, ns.Addr = cmp.Or(ns.Zone, m.Zone), cmp.Or(ns.Addr, m.Addr)
		}
		if s := stats[id]; s != nil {
			ns.Reported, ns.LastScan, ns.CensusStarted = true, s.LastScan, s.CensusStarted
			ns.LayoutEpoch, ns.CapacityBytes, ns.FreeBytes = s.LayoutEpoch, s.CapacityBytes, s.FreeBytes
			ns.Full = s.MinFreeBytes > 0 && s.FreeBytes <= s.MinFreeBytes
			ns.Shards, ns.ShardBytes = s.Shards, s.ShardBytes
			ns.HintCount, ns.HintBytes, ns.RepairQueue = s.HintCount, s.HintBytes, s.RepairQueue
			ns.Misplaced, ns.MisplacedBytes, ns.Moved, ns.MovedBytes = s.Misplaced, s.MisplacedBytes, s.Moved, s.MovedBytes
			st.HintCount += s.HintCount
			st.HintBytes += s.HintBytes
			st.HintOldest = max(st.HintOldest, s.HintOldest)
			st.RepairQueue += s.RepairQueue
			st.Rebalance.Misplaced += s.Misplaced
			st.Rebalance.MisplacedBytes += s.MisplacedBytes
			st.Rebalance.Moved += s.Moved
			st.Rebalance.MovedBytes += s.MovedBytes
			for bucket, rc := range s.Redundancy {
				b := st.Buckets[bucket]
				addRedundancy(&b, rc)
				st.Buckets[bucket] = b
				addRedundancy(&st.Durability, rc)
			}
		}
		st.Nodes = append(st.Nodes, ns)
	}
	st.Rebalance.Active = st.Rebalance.Misplaced > 0
	st.Throughput, st.ThroughputInterval = g.traffic.points(), trafficInterval
	return st, nil
}

func addRedundancy(dst *adminapi.Redundancy, rc transport.RedundancyCounts) {
	sum := transport.RedundancyCounts{Objects: dst.Objects, Bytes: dst.Bytes, Lost: dst.Lost}
	sum.Add(rc)
	*dst = adminapi.Redundancy{Objects: sum.Objects, Bytes: sum.Bytes, Lost: sum.Lost}
}

// layoutDoc returns the layout document in force: the store's, or one made
// from the static Layout of a gateway without a store.
func (g *Gateway) layoutDoc() *layoutstore.Document {
	if g.cfg.Layouts != nil {
		return g.cfg.Layouts.Current()
	}
	return &layoutstore.Document{Epoch: 1, Homes: g.codec.TotalShards(), Layout: g.cfg.Layout}
}

func (g *Gateway) layoutStore() (*layoutstore.Store, error) {
	if g.cfg.Layouts == nil {
		return nil, adminErr(http.StatusConflict, "this gateway has a fixed layout (no layout store)")
	}
	return g.cfg.Layouts, nil
}

func layoutNodes(nodes []placement.Node) []adminapi.LayoutNode {
	out := make([]adminapi.LayoutNode, len(nodes))
	for i, n := range nodes {
		out[i] = adminapi.LayoutNode{ID: string(n.ID), Zone: n.Zone, Weight: n.Weight, State: n.State.String()}
	}
	return out
}

func (g *Gateway) layoutView(ctx context.Context) (*adminapi.LayoutView, error) {
	doc := g.layoutDoc()
	v := &adminapi.LayoutView{Epoch: doc.Epoch, Version: doc.Layout.Version, PGCount: doc.Layout.PGCount,
		Homes: doc.Homes, Nodes: layoutNodes(doc.Layout.Nodes)}
	if doc.Staged != nil {
		v.Staged = layoutNodes(doc.Staged)
		v.Preview = g.preview(ctx, doc)
	}
	return v, nil
}

// preview says what applying doc's staged change would move, and why it
// would be refused, if it would.
func (g *Gateway) preview(ctx context.Context, doc *layoutstore.Document) *adminapi.Preview {
	p := &adminapi.Preview{RedundancyDuringMove: g.cfg.ParityShards}
	next, err := doc.Apply()
	if err != nil {
		p.Problems = append(p.Problems, err.Error())
		return p
	}
	ids, _ := g.clusterNodes()
	stats := g.nodeStats(ctx, ids)
	moves := placement.Moves(doc.Layout, next.Layout, doc.Homes)
	pgs := map[int]bool{}
	p.In, p.Out = map[string]int{}, map[string]int{}
	for _, m := range moves {
		pgs[m.PG] = true
		p.In[string(m.To)]++
		p.Out[string(m.From)]++
		if s := stats[string(m.From)]; s != nil {
			p.BytesMoved += s.PGBytes[m.PG]
		}
	}
	p.PGsMoved, p.ShardsMoved = len(pgs), len(moves)
	if len(moves) > 0 {
		p.RedundancyDuringMove = g.cfg.ParityShards - 1
	}
	p.Problems = append(p.Problems, g.roomProblems(doc, next, stats)...)
	return p
}

// roomProblems checks that the nodes keeping homes in next can take the
// data of the nodes that lose theirs, and that every node to be removed
// holds nothing any more.
func (g *Gateway) roomProblems(cur, next *layoutstore.Document, stats map[string]*transport.NodeStats) []string {
	var problems []string
	var leaving int64
	var free uint64
	for _, n := range cur.Layout.Nodes {
		after, kept := next.Layout.Node(n.ID)
		s := stats[string(n.ID)]
		switch {
		case !kept:
			if n.State == placement.Active {
				problems = append(problems, fmt.Sprintf("node %s is active: drain it before removing it", n.ID))
			} else if s == nil {
				problems = append(problems, fmt.Sprintf("node %s does not answer: cannot tell that it holds nothing", n.ID))
			} else if s.Shards > 0 || s.Misplaced > 0 {
				problems = append(problems, fmt.Sprintf("node %s still holds %d shards: wait for its drain to finish", n.ID, s.Shards))
			}
		case after.State != placement.Active && s != nil:
			leaving += s.ShardBytes
		case after.State == placement.Active && s != nil:
			free += s.FreeBytes
		}
	}
	if leaving > 0 && uint64(leaving) > free {
		problems = append(problems, fmt.Sprintf("the remaining active nodes have %d bytes free for the %d bytes of the draining nodes", free, leaving))
	}
	return problems
}

func (g *Gateway) stageChange(r *http.Request) (any, error) {
	store, err := g.layoutStore()
	if err != nil {
		return nil, err
	}
	var ch adminapi.LayoutChange
	if err := json.NewDecoder(r.Body).Decode(&ch); err != nil {
		return nil, adminErr(http.StatusBadRequest, "layout change: %v", err)
	}
	doc := store.Current()
	nodes := doc.Next()
	at := slices.IndexFunc(nodes, func(n placement.Node) bool { return string(n.ID) == ch.Node })
	if ch.Node == "" {
		return nil, adminErr(http.StatusBadRequest, "layout change: no node named")
	}
	switch ch.Op {
	case "add-node":
		if at >= 0 {
			return nil, adminErr(http.StatusConflict, "node %s is in the layout already", ch.Node)
		}
		zone := ch.Zone
		if zone == "" && g.cfg.Members != nil {
			for _, m := range g.cfg.Members() {
				if m.ID == ch.Node {
					zone = m.Zone
				}
			}
		}
		nodes = append(nodes, placement.Node{ID: placement.NodeID(ch.Node), Zone: zone, Weight: cmp.Or(ch.Weight, 1), State: placement.Active})
	case "remove-node", "set-weight", "drain":
		if at < 0 {
			return nil, adminErr(http.StatusNotFound, "node %s is not in the layout", ch.Node)
		}
		switch ch.Op {
		case "remove-node":
			nodes = slices.Delete(nodes, at, at+1)
		case "set-weight":
			if !(ch.Weight > 0) || math.IsInf(ch.Weight, 0) {
				return nil, adminErr(http.StatusBadRequest, "weight %v must be positive", ch.Weight)
			}
			nodes[at].Weight = ch.Weight
		case "drain":
			nodes[at].State = placement.Draining
		}
	default:
		return nil, adminErr(http.StatusBadRequest, "unknown layout change %q", ch.Op)
	}
	next := doc.Stage(nodes)
	if err := next.Validate(); err != nil {
		return nil, adminErr(http.StatusBadRequest, "layout change: %v", err)
	}
	if err := store.Propose(next); err != nil {
		return nil, adminErr(http.StatusConflict, "layout change: %v", err)
	}
	g.log.Info("layout change staged", "op", ch.Op, "node", ch.Node, "epoch", next.Epoch)
	return g.layoutView(r.Context())
}

// layoutSpreadWait bounds how long apply waits for the live nodes to hold
// the new layout before it answers.
const layoutSpreadWait = 10 * time.Second

// staged returns the layout store and its document, which must have a
// change staged.
func (g *Gateway) staged() (*layoutstore.Store, *layoutstore.Document, error) {
	store, err := g.layoutStore()
	if err != nil {
		return nil, nil, err
	}
	doc := store.Current()
	if doc.Staged == nil {
		return nil, nil, adminErr(http.StatusConflict, "nothing staged")
	}
	return store, doc, nil
}

func (g *Gateway) applyLayout(ctx context.Context) (any, error) {
	store, doc, err := g.staged()
	if err != nil {
		return nil, err
	}
	if p := g.preview(ctx, doc); len(p.Problems) > 0 {
		return nil, &adminError{status: http.StatusConflict, msg: "layout change refused", problems: p.Problems}
	}
	next, err := doc.Apply()
	if err != nil {
		return nil, &adminError{status: http.StatusConflict, msg: "layout change refused", problems: []string{err.Error()}}
	}
	if err := store.Propose(next); err != nil {
		return nil, adminErr(http.StatusConflict, "apply: %v", err)
	}
	g.log.Info("layout applied", "epoch", next.Epoch, "version", next.Layout.Version,
		"moves", len(placement.Moves(doc.Layout, next.Layout, doc.Homes)))
	// Answer once the live nodes hold it, so that objctl's next status
	// shows the rebalance, and start their scanners now rather than at
	// their next interval.
	ids, _ := g.clusterNodes()
	deadline := time.Now().Add(layoutSpreadWait)
	for {
		behind := 0
		for id, s := range g.nodeStats(ctx, ids) {
			if s.LayoutEpoch < next.Epoch {
				behind++
				g.log.Debug("node behind the new layout", "node", id, "epoch", s.LayoutEpoch)
			}
		}
		if behind == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.startScans(ctx, ids)
	return g.layoutView(ctx)
}

func (g *Gateway) revertLayout(ctx context.Context) (any, error) {
	store, doc, err := g.staged()
	if err != nil {
		return nil, err
	}
	next := doc.Clone()
	next.Epoch++
	next.Staged = nil
	if err := store.Propose(next); err != nil {
		return nil, adminErr(http.StatusConflict, "revert: %v", err)
	}
	return g.layoutView(ctx)
}

// startScans asks every live node to run a scanner pass now.
func (g *Gateway) startScans(ctx context.Context, ids []string) int {
	started := 0
	for _, id := range ids {
		if !g.alive(id) {
			continue
		}
		c, err := g.node(id)
		if err != nil {
			continue
		}
		if na, ok := c.(transport.NodeAdmin); ok && na.StartScan(ctx) == nil {
			started++
		}
	}
	return started
}

func (g *Gateway) heal(ctx context.Context) (any, error) {
	ids, _ := g.clusterNodes()
	if g.startScans(ctx, ids) == 0 {
		return nil, adminErr(http.StatusServiceUnavailable, "no node answered")
	}
	return g.adminStatus(ctx)
}

// defaultAFR is the annual failure rate the durability model assumes for
// a disk when the caller gives none: about what large fleets report for
// commodity disks.
const defaultAFR = 0.02

// assumedRepairRate is the repair rate the model uses before any has been
// measured: a node's default rebalance and hint replay rate.
const assumedRepairRate = 64 << 20

func (g *Gateway) durabilityModel(r *http.Request) (any, error) {
	afr := defaultAFR
	if s := r.URL.Query().Get("afr"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f > 0 && f < 1) {
			return nil, adminErr(http.StatusBadRequest, "afr %q must be a fraction in (0, 1)", s)
		}
		afr = f
	}
	ids, _ := g.clusterNodes()
	stats := g.nodeStats(r.Context(), ids)
	d := adminapi.Durability{DataShards: g.cfg.DataShards, ParityShards: g.cfg.ParityShards, AFR: afr,
		Disks: len(g.layout().Nodes), RepairRateBytes: assumedRepairRate}
	var biggest int64
	var rates []float64
	for _, s := range stats {
		biggest = max(biggest, s.ShardBytes)
		if s.RepairRate > 0 {
			rates = append(rates, s.RepairRate)
		}
	}
	if len(rates) > 0 {
		// The slowest node bounds how fast a failed disk's data comes back.
		d.RepairRateBytes, d.RepairRateMeasured = slices.Min(rates), true
	}
	// Rebuilding a disk takes at least an hour of detection, scheduling
	// and scanning whatever it held.
	d.RepairHours = max(1, durabilitymodel.RepairHours(float64(biggest), d.RepairRateBytes))
	d.LossProbability, d.Nines = durabilitymodel.Model(d.DataShards, d.ParityShards, afr, d.RepairHours)
	d.Advice = durabilitymodel.Advise(d.DataShards, d.ParityShards, afr, d.RepairHours)
	return d, nil
}

// trafficInterval is the resolution of the cluster page's throughput.
const trafficInterval = 5 * time.Second

// trafficPoints is how many intervals the gateway remembers (10 minutes).
const trafficPoints = 120

// traffic counts requests and bytes for the throughput the admin status
// reports; totals are sampled into points every trafficInterval. Counting
// is on every request's path, so it takes no lock.
type traffic struct {
	requests, errors, bytesIn, bytesOut atomic.Int64

	mu     sync.Mutex // guards the samples
	last   [4]int64
	lastAt time.Time
	ring   []adminapi.ThroughputPoint
}

func (t *traffic) add(status int, in, out int64) {
	t.requests.Add(1)
	if status >= 500 {
		t.errors.Add(1)
	}
	t.bytesIn.Add(max(in, 0))
	t.bytesOut.Add(max(out, 0))
}

// sample closes the interval that ends at now.
func (t *traffic) sample(now time.Time) {
	cur := [4]int64{t.requests.Load(), t.errors.Load(), t.bytesIn.Load(), t.bytesOut.Load()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.lastAt.IsZero() {
		secs := now.Sub(t.lastAt).Seconds()
		if secs > 0 {
			rate := func(i int) float64 { return float64(cur[i]-t.last[i]) / secs }
			t.ring = append(t.ring, adminapi.ThroughputPoint{Time: now, Requests: rate(0), Errors: rate(1), BytesIn: rate(2), BytesOut: rate(3)})
			if len(t.ring) > trafficPoints {
				t.ring = slices.Delete(t.ring, 0, len(t.ring)-trafficPoints)
			}
		}
	}
	t.last, t.lastAt = cur, now
}

func (t *traffic) points() []adminapi.ThroughputPoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.ring)
}

// sampleTraffic samples the traffic counters until ctx ends.
func (g *Gateway) sampleTraffic(ctx context.Context) {
	tk := time.NewTicker(trafficInterval)
	defer tk.Stop()
	g.traffic.sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			g.traffic.sample(now)
		}
	}
}

// Layout returns the layout the gateway places new writes by.
func (g *Gateway) Layout() *placement.Layout { return g.layout() }

package benchmarks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"cairn/internal/adminapi"
	"cairn/internal/objctl"
)

// RedundancyTarget is a FaultTarget that can tell when a bucket is back at
// full redundancy after a fault: whether a faults run healed, not only
// whether its objects can be read.
type RedundancyTarget interface {
	// FullRedundancy returns the first cluster status, read after since,
	// that shows every node alive and reporting a scanner pass begun after
	// since, and every object of bucket at full redundancy with none lost.
	// It asks the nodes for scanner passes as they are needed, at most
	// every couple of seconds. When ctx ends first it returns the last
	// state it saw and an error.
	FullRedundancy(ctx context.Context, bucket string, since time.Time) (RedundancyState, error)
}

// RedundancyState is a bucket's redundancy as one cluster status showed it.
type RedundancyState struct {
	At time.Time `json:"at"` // when the status was read
	// Full says every node was alive, had ended a scanner pass begun after
	// the watch started, and every object was at full redundancy.
	Full bool `json:"full"`
	// ParityShards is m: Objects[r] objects can lose r more shards, r =
	// 0..m, so Objects[m] are at full redundancy.
	ParityShards int     `json:"parity_shards"`
	Objects      []int64 `json:"objects"`
	Lost         int64   `json:"lost"`
	// Hints and RepairQueue are the cluster's debt at the time: shards
	// still held by a fallback node for their home (they count as
	// readable), and repairs queued.
	Hints       int64 `json:"hints"`
	RepairQueue int64 `json:"repair_queue"`
	// Waiting says what was still missing when not Full.
	Waiting string `json:"waiting_for,omitempty"`
	// Polls and Heals count the status reads and the asks for scanner
	// passes.
	Polls int `json:"polls"`
	Heals int `json:"heals"`
}

// FullObjects is how many objects were at full redundancy.
func (s RedundancyState) FullObjects() int64 {
	if s.ParityShards < len(s.Objects) {
		return s.Objects[s.ParityShards]
	}
	return 0
}

// Histogram is "0:N 1:N ... m:N" of Objects.
func (s RedundancyState) Histogram() string {
	parts := make([]string, len(s.Objects))
	for r, n := range s.Objects {
		parts[r] = fmt.Sprintf("%d:%d", r, n)
	}
	return strings.Join(parts, " ")
}

// RedundancyResult is the time a scenario's cluster took to get every
// object back to full redundancy after the last restart (or resume) of a
// node, by the schedule or by the heal after the measured phase.
type RedundancyResult struct {
	Bucket string `json:"bucket"` // whose objects were counted
	After  string `json:"after"`  // the event timed from, e.g. "restart n5"
	// From is when that event was applied, from the start of the measured
	// phase, as in the fault records.
	From    time.Duration `json:"from_ns"`
	Healed  bool          `json:"healed,omitempty"` // the event was the heal's
	Reached bool          `json:"reached"`
	// Took runs from From to the first status showing full redundancy; when
	// not reached, to when the watch gave up.
	Took time.Duration `json:"took_ns"`
	// Limit is how long the watch was allowed.
	Limit time.Duration `json:"limit_ns"`
	// State is that first full status, or the last one seen.
	State RedundancyState `json:"state"`
	Err   string          `json:"err,omitempty"`
}

// Timings of a redundancy watch. Status reads are cheap (the gateway asks
// each node for figures it keeps); scanner passes are not, and a watch
// that asked for them all along would keep every node scanning and slow
// the restarted ones' own passes. So a pass is asked for when one is
// needed (see redundancyWatch.passWanted), at most every redundancyKick,
// and otherwise only every redundancyRekick in case an ask was lost.
const (
	redundancyPoll   = 250 * time.Millisecond
	redundancyKick   = 2 * time.Second
	redundancyRekick = 10 * time.Second
	redundancyLimit  = 2 * time.Minute
)

// adminAPI is the part of the gateway's admin API a watch uses;
// *objctl.Client is one.
type adminAPI interface {
	Status(ctx context.Context) (*adminapi.Status, error)
	Heal(ctx context.Context, bucket string) (*adminapi.Status, error)
}

// passStarts says, for the nodes it can, when the scanner pass that ended
// at the LastScan a status reports for the node began. Without it a watch
// needs two passes per node to know that one began after since.
type passStarts func(ctx context.Context, st *adminapi.Status) map[string]time.Time

// watchRedundancy polls api until a status shows bucket at full
// redundancy on a whole cluster (see redundancyWatch), asking for scanner
// passes as they are needed. It gives up when ctx ends, or at once on an
// error that retrying will not cure (a refused key).
func watchRedundancy(ctx context.Context, api adminAPI, bucket string, since time.Time, starts passStarts) (RedundancyState, error) {
	w := newRedundancyWatch(bucket, since)
	last := RedundancyState{Waiting: "the first status"}
	tick := time.NewTicker(redundancyPoll)
	defer tick.Stop()
	var kicked time.Time
	for {
		st, err := api.Status(ctx)
		w.polls++
		switch {
		case err == nil:
			var s map[string]time.Time
			if starts != nil {
				s = starts(ctx, st)
			}
			last = w.check(st, s, time.Now())
			if last.Full {
				return last, nil
			}
		case permanent(err):
			return w.stamp(last), fmt.Errorf("read the cluster status: %w", err)
		case ctx.Err() == nil:
			last.Waiting = "a status (" + err.Error() + ")"
		}
		if wait := time.Since(kicked); kicked.IsZero() || wait >= redundancyKick && err == nil && w.passWanted(last) || wait >= redundancyRekick {
			kicked = time.Now()
			w.heals++
			// Nodes down now are not asked; they count as new once up.
			w.asked = w.up
			if _, err := api.Heal(ctx, bucket); err != nil && permanent(err) {
				return w.stamp(last), fmt.Errorf("ask for scanner passes: %w", err)
			}
		}
		select {
		case <-ctx.Done():
			return w.stamp(last), fmt.Errorf("no full redundancy yet: waiting for %s: %w", last.Waiting, ctx.Err())
		case <-tick.C:
		}
	}
}

// permanent reports whether an admin API error will come back however
// often the call is made: a 4xx (a key that is not an admin's, a bad
// signature). Anything else, a 503 or a refused connection while the
// gateway starts, may pass.
func permanent(err error) bool {
	var ae *objctl.APIError
	return errors.As(err, &ae) && ae.StatusCode < 500
}

// redundancyWatch judges statuses one after another: it remembers what
// earlier ones showed of each node's passes.
type redundancyWatch struct {
	bucket string
	since  time.Time
	// ended is, per node, the first LastScan seen after since. LastScan is
	// when a pass ended, so that pass may have begun before since; but
	// passes run one at a time, so any pass that ends later began after it.
	ended map[string]time.Time
	// up is the nodes alive and reporting in the last status; asked, in
	// the status before the last ask for passes. stale says a node's last
	// pass ended after since but is not known to have begun after it;
	// scanned that every node's is.
	up, asked      map[string]bool
	stale, scanned bool
	polls, heals   int
}

func newRedundancyWatch(bucket string, since time.Time) *redundancyWatch {
	return &redundancyWatch{bucket: bucket, since: since, ended: map[string]time.Time{}}
}

func (w *redundancyWatch) stamp(s RedundancyState) RedundancyState {
	s.Polls, s.Heals = w.polls, w.heals
	return s
}

// check judges one status read at at. starts (may be nil) has, for some
// nodes, when the pass that ended at the node's LastScan began.
func (w *redundancyWatch) check(st *adminapi.Status, starts map[string]time.Time, at time.Time) RedundancyState {
	r := st.Buckets[w.bucket]
	m := st.ParityShards
	s := w.stamp(RedundancyState{At: at, ParityShards: m, Objects: slices.Clone(r.Objects), Lost: r.Lost,
		Hints: st.HintCount, RepairQueue: st.RepairQueue})
	for len(s.Objects) < m+1 {
		s.Objects = append(s.Objects, 0)
	}
	var pending []string
	nodes := 0
	w.up, w.stale = map[string]bool{}, false
	for _, n := range st.Nodes {
		if n.State == "unassigned" {
			continue // not a home of anything yet
		}
		nodes++
		switch {
		case !n.Alive:
			pending = append(pending, n.ID+" (down)")
		case !n.Reported:
			pending = append(pending, n.ID+" (no answer)")
		case !w.fresh(n, starts):
			w.up[n.ID] = true
			w.stale = w.stale || n.LastScan.After(w.since)
			pending = append(pending, n.ID+" (scanning)")
		default:
			w.up[n.ID] = true
		}
	}
	w.scanned = nodes > 0 && len(pending) == 0
	var degraded int64
	for i, n := range s.Objects {
		if i < m {
			degraded += n
		}
	}
	switch {
	case nodes == 0:
		s.Waiting = "the gateway to list the nodes"
	case len(pending) > 0:
		s.Waiting = "a scanner pass begun after the restart on " + strings.Join(pending, ", ")
	case degraded > 0:
		s.Waiting = fmt.Sprintf("%d objects below full redundancy", degraded)
	case r.Lost > 0:
		s.Waiting = fmt.Sprintf("%d lost objects (fewer than %d shards readable)", r.Lost, st.DataShards)
	default:
		s.Full = true
	}
	return s
}

// passWanted reports whether asking for scanner passes now would help,
// after the status that gave s: a node has come up since the last ask (it
// was not asked), a node's last pass ended after since but is not known
// to have begun after it (it may have been idle when asked: the next pass
// tells), or every node has scanned afresh and objects are still below
// full redundancy (a pass repairs). Otherwise the passes asked for are
// still running.
func (w *redundancyWatch) passWanted(s RedundancyState) bool {
	for id := range w.up {
		if !w.asked[id] {
			return true
		}
	}
	return w.stale || w.scanned && !s.Full
}

// fresh reports whether the node's last pass is known to have begun after
// w.since: by starts, or by an earlier pass seen ending after since.
func (w *redundancyWatch) fresh(n adminapi.NodeStatus, starts map[string]time.Time) bool {
	if !n.LastScan.After(w.since) {
		return false
	}
	if t, ok := starts[n.ID]; ok && !t.Before(w.since) {
		return true
	}
	first, seen := w.ended[n.ID]
	if !seen {
		w.ended[n.ID] = n.LastScan
		return false
	}
	return n.LastScan.After(first)
}

// Names of the node metrics that say when its last scanner pass ended and
// how long it took (node/metrics.go).
const (
	metricLastPass     = "cairn_node_scanner_last_pass_timestamp_seconds"
	metricLastDuration = "cairn_node_scanner_last_pass_duration_seconds"
)

// parseLastPass reads a node's Prometheus text exposition for when its
// last scanner pass ended and how long it took; ok is false before its
// first pass.
func parseLastPass(r io.Reader) (end time.Time, took time.Duration, ok bool, err error) {
	var gotEnd, gotTook bool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			continue
		}
		name, rest := line[:i], line[i:]
		if name != metricLastPass && name != metricLastDuration {
			continue
		}
		if rest[0] == '{' {
			j := strings.IndexByte(rest, '}')
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, perr := strconv.ParseFloat(f[0], 64)
		if perr != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if name == metricLastPass {
			sec, frac := math.Modf(v)
			end, gotEnd = time.Unix(int64(sec), int64(frac*1e9)), true
		} else {
			took, gotTook = time.Duration(v*float64(time.Second)), true
		}
	}
	return end, took, gotEnd && gotTook, sc.Err()
}

// passMatch is how close a node's metrics and the gateway's status must
// put the end of a pass to be taken for the same pass: the metric is a
// float of seconds, good to a microsecond, and passes are far apart.
const passMatch = time.Millisecond

// lastPassFunc says when a node's last scanner pass ended and how long it
// took, as the node itself reports it.
type lastPassFunc func(ctx context.Context, id string) (end time.Time, took time.Duration, ok bool)

// passStartsFrom is a passStarts that asks lastPass about each node once
// per pass the status reports: the pass began at its end less its length.
func passStartsFrom(lastPass lastPassFunc) passStarts {
	type pass struct{ end, start time.Time }
	known := map[string]pass{}
	return func(ctx context.Context, st *adminapi.Status) map[string]time.Time {
		out := map[string]time.Time{}
		for _, n := range st.Nodes {
			if !n.Reported || n.LastScan.IsZero() {
				continue
			}
			if p, ok := known[n.ID]; ok && p.end.Equal(n.LastScan) {
				out[n.ID] = p.start
				continue
			}
			end, took, ok := lastPass(ctx, n.ID)
			// A pass that ended between the status and this call is not
			// the one the status's histogram is from.
			if !ok || end.Sub(n.LastScan).Abs() > passMatch {
				continue
			}
			known[n.ID] = pass{n.LastScan, end.Add(-took)}
			out[n.ID] = end.Add(-took)
		}
		return out
	}
}

// metricsLastPass is a lastPassFunc that reads the node's /metrics at
// metricsURL(id); "" means the node has none.
func metricsLastPass(hc *http.Client, metricsURL func(id string) string) lastPassFunc {
	return func(ctx context.Context, id string) (time.Time, time.Duration, bool) {
		u := metricsURL(id)
		if u == "" {
			return time.Time{}, 0, false
		}
		return fetchLastPass(ctx, hc, u)
	}
}

func fetchLastPass(ctx context.Context, hc *http.Client, url string) (time.Time, time.Duration, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return time.Time{}, 0, false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return time.Time{}, 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, 0, false
	}
	end, took, ok, err := parseLastPass(resp.Body)
	return end, took, ok && err == nil
}

// redundancyWatcher is a RedundancyTarget's watch running beside a
// scenario; res is final once done is closed.
type redundancyWatcher struct {
	res    RedundancyResult
	cancel context.CancelFunc
	done   chan struct{}
}

// startWatch starts timing the return to full redundancy after rec, a
// restart or resume just applied, if the runner can: its Faults is a
// RedundancyTarget and the measurement is not turned off. Passes must
// begin from now, once rec is over: one begun while the node was still
// starting would count it down.
func (st *scenarioRun) startWatch(ctx context.Context, rec FaultRecord) {
	rt, ok := st.r.cfg.Faults.(RedundancyTarget)
	limit := st.r.cfg.RedundancyTimeout
	if !ok || limit < 0 {
		return
	}
	since := time.Now()
	from := st.rec.start.Add(rec.Actual)
	ctx, cancel := context.WithTimeout(ctx, limit)
	w := &redundancyWatcher{cancel: cancel, done: make(chan struct{}),
		res: RedundancyResult{Bucket: st.r.cfg.Bucket, After: rec.Label, From: rec.Actual, Healed: rec.Healed, Limit: limit}}
	st.watch = w
	go func() {
		defer close(w.done)
		defer cancel()
		state, err := rt.FullRedundancy(ctx, st.r.cfg.Bucket, since)
		end := state.At
		w.res.State, w.res.Reached = state, err == nil && state.Full
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			w.res.Err = err.Error() // running out of time is Reached false, not an error
		}
		if !w.res.Reached || end.IsZero() {
			end = time.Now()
		}
		w.res.Took = end.Sub(from)
	}()
}

// stopWatch ends a running watch and forgets it: a later restart
// supersedes it, or the scenario failed.
func (st *scenarioRun) stopWatch() {
	if w := st.watch; w != nil {
		w.cancel()
		<-w.done
		st.watch = nil
	}
}

// Line is the result as the report's line says it, without the leading
// "time to full redundancy".
func (r *RedundancyResult) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "after the last restart (%s at %.1fs", r.After, r.From.Seconds())
	if r.Healed {
		b.WriteString(", by the heal after the measured phase")
	}
	b.WriteString("): ")
	s := r.State
	if r.Reached {
		fmt.Fprintf(&b, "%.1f s (at %.1fs); %d objects of bucket %s at full redundancy (each can lose %d more shards), none lost",
			r.Took.Seconds(), (r.From + r.Took).Seconds(), s.FullObjects(), r.Bucket, s.ParityShards)
		if s.Hints > 0 {
			fmt.Fprintf(&b, "; %d shards still held as hints for their homes", s.Hints)
		}
		if s.RepairQueue > 0 {
			fmt.Fprintf(&b, "; %d repairs queued", s.RepairQueue)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "**not reached** in %.1f s (limit %v)", r.Took.Seconds(), r.Limit)
	if r.Err != "" {
		fmt.Fprintf(&b, ": %s", r.Err)
	}
	if len(s.Objects) > 0 {
		fmt.Fprintf(&b, "; last seen: objects of bucket %s by how many more shards they can lose %s, %d lost", r.Bucket, s.Histogram(), s.Lost)
	}
	if s.Waiting != "" {
		fmt.Fprintf(&b, "; waiting for %s", s.Waiting)
	}
	return b.String()
}

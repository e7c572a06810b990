package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// that shows every node alive and reporting a census begun at or after
	// since, and every object of bucket at full redundancy with none lost.
	// It asks the nodes for scanner passes (each starts with a census) as
	// they are needed, at most every couple of seconds. When ctx ends
	// first it returns the last state it saw and an error.
	FullRedundancy(ctx context.Context, bucket string, since time.Time) (RedundancyState, error)
}

// RedundancyState is a bucket's redundancy as one cluster status showed it.
type RedundancyState struct {
	At time.Time `json:"at"` // when the status was read
	// Full says every node was alive, had a census begun after the watch
	// started, every object was at full redundancy, and no shard was
	// still held as a hint.
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

// degraded is how many objects were below full redundancy.
func (s RedundancyState) degraded() int64 {
	return adminapi.Redundancy{Objects: s.Objects}.Degraded(s.ParityShards)
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

// watchRedundancy polls api until a status shows bucket at full
// redundancy on a whole cluster (see redundancyWatch), asking for scanner
// passes as they are needed. It gives up when ctx ends, or at once on an
// error that retrying will not cure (a refused key).
func watchRedundancy(ctx context.Context, api adminAPI, bucket string, since time.Time) (RedundancyState, error) {
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
			last = w.check(st, time.Now())
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
			w.ask(kicked)
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

// redundancyWatch judges statuses one after another. A node's share of
// the histogram comes from its last census, which counts the data as of
// when it began (NodeStatus.CensusStarted); so a histogram shows the
// cluster after since once every node's census began at or after since.
type redundancyWatch struct {
	bucket string
	since  time.Time
	// up is the nodes alive and reporting in the last status; asked, in
	// the status before the last ask for passes, made at askedAt.
	// recounted says every node of the layout had, in the last status, a
	// census begun after since and after askedAt.
	up, asked    map[string]bool
	askedAt      time.Time
	recounted    bool
	polls, heals int
}

func newRedundancyWatch(bucket string, since time.Time) *redundancyWatch {
	return &redundancyWatch{bucket: bucket, since: since}
}

func (w *redundancyWatch) stamp(s RedundancyState) RedundancyState {
	s.Polls, s.Heals = w.polls, w.heals
	return s
}

// check judges one status read at at.
func (w *redundancyWatch) check(st *adminapi.Status, at time.Time) RedundancyState {
	r := st.Buckets[w.bucket]
	m := st.ParityShards
	s := w.stamp(RedundancyState{At: at, ParityShards: m, Objects: slices.Clone(r.Objects), Lost: r.Lost,
		Hints: st.HintCount, RepairQueue: st.RepairQueue})
	for len(s.Objects) < m+1 {
		s.Objects = append(s.Objects, 0)
	}
	var pending []string
	nodes := 0
	w.up, w.recounted = map[string]bool{}, true
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
		case n.CensusStarted.IsZero():
			w.up[n.ID] = true
			pending = append(pending, n.ID+" (no census yet)")
		case n.CensusStarted.Before(w.since):
			w.up[n.ID] = true
			pending = append(pending, n.ID+" (census from before)")
		default:
			w.up[n.ID] = true
			w.recounted = w.recounted && !n.CensusStarted.Before(w.askedAt)
		}
	}
	w.recounted = w.recounted && nodes > 0 && len(pending) == 0
	degraded := s.degraded()
	switch {
	case nodes == 0:
		s.Waiting = "the gateway to list the nodes"
	case len(pending) > 0:
		s.Waiting = "a census begun after the restart on " + strings.Join(pending, ", ")
	case degraded > 0:
		s.Waiting = fmt.Sprintf("%d objects below full redundancy", degraded)
	case r.Lost > 0:
		s.Waiting = fmt.Sprintf("%d lost objects (fewer than %d shards readable)", r.Lost, st.DataShards)
	case st.HintCount > 0:
		// A census counts a hinted shard as readable, but full redundancy
		// is every shard back on its home: a fallback holding a shard may
		// hold another of the same object too.
		s.Waiting = fmt.Sprintf("%d shards still held as hints for their homes", st.HintCount)
	default:
		s.Full = true
	}
	return s
}

// ask notes an ask for scanner passes made at at. Nodes down now are not
// asked; they count as new once up.
func (w *redundancyWatch) ask(at time.Time) {
	w.heals++
	w.asked, w.askedAt = w.up, at
}

// passWanted reports whether asking for scanner passes now would help,
// after the status that gave s: a node has come up since the last ask (it
// was not asked), or every node has counted afresh, since the last ask
// too, and objects are still below full redundancy (a pass repairs, and a
// census may have run before another node's repair or hint replay
// landed). Otherwise the censuses asked for are still to come: a node
// asked while in a pass runs one more after it, whose census begins after
// the ask, and asking again would only queue another.
func (w *redundancyWatch) passWanted(s RedundancyState) bool {
	for id := range w.up {
		if !w.asked[id] {
			return true
		}
	}
	return w.recounted && s.degraded() > 0
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

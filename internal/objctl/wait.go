package objctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"cairn/internal/adminapi"
)

// waiter follows work the cluster does after a change (a rebalance, a
// drain, a heal) by reading the status every poll interval, with a
// progress bar on stderr, until the work is over or --timeout passes.
//
// Shard counts and the durability histogram are as of each node's last
// census, early in its scanner pass, and the misplaced counts as of the
// rebalance step later in it; only the moved counters, hint debt and the
// repair queue move in between. So a rebalance or a drain is over only
// when every live node has ended a pass after the change
// (NodeStatus.LastScan after since) and that pass found nothing left. A
// heal reads only the histogram of those, which shows the data as of when
// its censuses began (NodeStatus.CensusStarted): censuses begun after
// since are enough, and waiting for their passes to end would also wait
// out the scrub, minutes over a few gigabytes, for nothing the heal looks
// at.
type waiter struct {
	s      *session
	before *adminapi.Status
	// since is the gateway's time just before the change; zero when any
	// pass will do.
	since time.Time
	// epoch is the layout the nodes must hold; zero for any.
	epoch   uint64
	preview *adminapi.Preview
	// held is, per node, the time of the first status that showed it
	// holding epoch, and passes its scanner passes begun since (rebalance).
	held   map[string]time.Time
	passes adminapi.PassWatch
}

func (s *session) newWaiter(before *adminapi.Status, since time.Time, epoch uint64, preview *adminapi.Preview) *waiter {
	return &waiter{s: s, before: before, since: since, epoch: epoch, preview: preview, held: map[string]time.Time{}}
}

// progress is how far the followed work is, as one status shows it.
type progress struct {
	done        bool
	amount      int64 // work done since the start, in the bar's unit
	total       int64 // the work there is, as far as known
	waitingFor  string
	unreachable error // a state the work cannot get past
}

// unit is what a bar counts.
type unit int

const (
	unitBytes unit = iota
	unitShards
	unitItems
)

// follow polls the status and feeds step's progress to a bar until step
// says done, the status cannot be read for a reason that will not pass,
// or the timeout.
func (w *waiter) follow(ctx context.Context, what string, u unit, step func(*adminapi.Status) progress) error {
	ctx, cancel := context.WithTimeout(ctx, w.s.g.timeout)
	defer cancel()
	tick := time.NewTicker(w.s.poll)
	defer tick.Stop()
	var bar *progressbar.ProgressBar
	last := progress{waitingFor: "the first status"}
	for {
		st, err := w.s.c.Status(ctx)
		switch {
		case err == nil:
			last = step(st)
			if bar == nil {
				bar = newBar(w.s, what, u, last.total)
			}
			updateBar(bar, last)
			if last.unreachable != nil {
				bar.Exit()
				return last.unreachable
			}
			if last.done {
				bar.Finish() // ends the line too
				return nil
			}
		case ctx.Err() != nil:
		case !transient(err):
			if bar != nil {
				bar.Exit()
			}
			return err
		}
		select {
		case <-ctx.Done():
			if bar != nil {
				bar.Exit()
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("gave up on the %s after %v: waiting for %s", what, w.s.g.timeout, last.waitingFor)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// transient reports whether a failed status read is worth trying again:
// the gateway restarting, or too few nodes answering for a moment.
func transient(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode >= 500
	}
	return true
}

func newBar(s *session, what string, u unit, total int64) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(s.env.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true), // the ETA
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(s.env.Stderr) }),
	}
	// Bytes show their rate themselves; counts need it asked for.
	switch u {
	case unitBytes:
		opts = append(opts, progressbar.OptionShowBytes(true))
	case unitShards:
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString("shards"))
	default:
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString("items"))
	}
	return progressbar.NewOptions64(max(total, 1), opts...)
}

func updateBar(bar *progressbar.ProgressBar, p progress) {
	total := max(p.total, p.amount, 1)
	if total != bar.GetMax64() {
		bar.ChangeMax64(total)
	}
	if p.done {
		return
	}
	bar.Set64(min(p.amount, total))
}

// scanned returns the live nodes that have not ended a scanner pass begun
// under epoch since w.since, or do not hold epoch yet, and the nodes of the
// layout that are down: the work cannot be known to be over while either
// list is not empty.
//
// A pass that merely ended after the change is not enough for a node's
// misplaced count: the pass may have run its rebalance step under the old
// layout, where nothing was misplaced, and adopted the new one before it
// ended. So the pass must have begun (its census, before its rebalance
// step) after a status showed the node holding epoch.
func (w *waiter) scanned(st *adminapi.Status) []string {
	return w.pending(st, "scanning", func(n adminapi.NodeStatus) bool {
		held, ok := w.held[n.ID]
		if !ok {
			held = st.Time
			w.held[n.ID] = held
		}
		return w.passes.Ended(n, held) // held is after w.since
	})
}

// counted is scanned for the durability histogram alone: it wants of each
// live node a census begun after w.since rather than a pass ended after it.
func (w *waiter) counted(st *adminapi.Status) []string {
	return w.pending(st, "counting", func(n adminapi.NodeStatus) bool { return n.CensusStarted.After(w.since) })
}

// pending lists the nodes of the layout that are down, do not answer, do
// not hold epoch yet, or whose figures fresh finds older than the change,
// these marked busy ("n1 (counting)").
func (w *waiter) pending(st *adminapi.Status, busy string, fresh func(adminapi.NodeStatus) bool) (pending []string) {
	for _, n := range st.Nodes {
		if n.State == "unassigned" {
			continue
		}
		switch {
		case !n.Alive:
			pending = append(pending, n.ID+" (down)")
		case !n.Reported:
			pending = append(pending, n.ID+" (no answer)")
		case n.LayoutEpoch < w.epoch:
			pending = append(pending, n.ID+" (older layout)")
		case !fresh(n):
			pending = append(pending, n.ID+" ("+busy+")")
		}
	}
	return pending
}

// rebalance follows the move of every shard to its home under the layout
// just applied. The bar counts bytes moved since the start out of the
// preview's estimate, or the bytes misplaced at the start if more.
func (w *waiter) rebalance(ctx context.Context) error {
	u, total := unitBytes, w.before.Rebalance.MisplacedBytes
	if w.preview != nil {
		total = max(total, w.preview.BytesMoved)
	}
	if total == 0 {
		u, total = unitShards, w.before.Rebalance.Misplaced
	}
	return w.follow(ctx, "rebalance", u, func(st *adminapi.Status) progress {
		p := progress{total: total}
		var moved, left int64
		for _, n := range st.Nodes {
			b := findNode(w.before, n.ID)
			if u == unitBytes {
				moved += sinceStart(n.MovedBytes, b, func(b *adminapi.NodeStatus) int64 { return b.MovedBytes })
			} else {
				moved += sinceStart(n.Moved, b, func(b *adminapi.NodeStatus) int64 { return b.Moved })
			}
		}
		left = st.Rebalance.Misplaced
		p.amount = moved
		pending := w.scanned(st)
		switch {
		case len(pending) > 0:
			p.waitingFor = "a scanner pass on " + strings.Join(pending, ", ")
		case left > 0:
			p.waitingFor = fmt.Sprintf("%d misplaced shards (%s)", left, adminapi.FormatBytes(st.Rebalance.MisplacedBytes))
		default:
			p.done = true
		}
		return p
	})
}

// sinceStart is a node's counter now less what it was at the start; a node
// that restarted since counts from zero.
func sinceStart(now int64, before *adminapi.NodeStatus, field func(*adminapi.NodeStatus) int64) int64 {
	if before == nil {
		return now
	}
	if b := field(before); now >= b {
		return now - b
	}
	return now
}

// drain follows a draining node until it holds nothing: no shards as the
// recorded holder, nothing misplaced. The bar counts the bytes it has
// handed over since the start, out of what it held then.
func (w *waiter) drain(ctx context.Context, id string) error {
	b := findNode(w.before, id)
	var total int64
	if b != nil {
		total = max(b.ShardBytes, b.MisplacedBytes)
	}
	return w.follow(ctx, "drain of "+id, unitBytes, func(st *adminapi.Status) progress {
		p := progress{total: total}
		n := findNode(st, id)
		switch {
		case n == nil:
			p.unreachable = fmt.Errorf("node %s is no longer in the cluster's status", id)
			return p
		case n.State != "draining":
			p.unreachable = fmt.Errorf("node %s is %s, not draining: was the drain reverted?", id, n.State)
			return p
		}
		p.amount = sinceStart(n.MovedBytes, b, func(b *adminapi.NodeStatus) int64 { return b.MovedBytes })
		switch {
		case !n.Alive:
			p.waitingFor = id + " to come back up"
		case !n.Reported:
			p.waitingFor = id + " to answer"
		case n.LayoutEpoch < w.epoch:
			p.waitingFor = id + " to hold the new layout"
		case !n.LastScan.After(w.since):
			p.waitingFor = "a scanner pass on " + id
		case n.Shards > 0 || n.Misplaced > 0:
			p.waitingFor = fmt.Sprintf("%s to hand over %d shards (%s)", id, max(n.Shards, n.Misplaced), adminapi.FormatBytes(max(n.ShardBytes, n.MisplacedBytes)))
		default:
			p.done = true
		}
		return p
	})
}

// heal follows a heal until hint debt and the repair queue are empty and
// every object (of bucket, if set) is at full redundancy, by a histogram
// whose censuses all began after the heal. The bar counts debt paid off:
// hints, queued repairs and degraded objects.
func (w *waiter) heal(ctx context.Context, bucket string) error {
	debt := func(st *adminapi.Status) (degraded, lost, total int64) {
		r := st.Durability
		if bucket != "" {
			r = st.Buckets[bucket]
		}
		degraded = r.Degraded(st.ParityShards)
		return degraded, r.Lost, st.HintCount + st.RepairQueue + degraded
	}
	_, _, total := debt(w.before)
	what := "heal"
	if bucket != "" {
		what = "heal of " + bucket
	}
	return w.follow(ctx, what, unitItems, func(st *adminapi.Status) progress {
		degraded, lost, left := debt(st)
		total = max(total, left)
		p := progress{total: total, amount: total - left}
		pending := w.counted(st)
		switch {
		case len(pending) > 0:
			p.waitingFor = "a census begun after the heal on " + strings.Join(pending, ", ")
		case left > 0:
			// Every node has counted since the last start and work is
			// left: one node's census may have run before another's
			// repair or hint replay landed. Start the next passes now
			// rather than wait for the scan interval; a node still in its
			// pass runs one more after it, whose census begins after
			// st.Time.
			if _, err := w.s.c.Heal(ctx, bucket); err == nil {
				w.since = st.Time
			}
			var parts []string
			if st.HintCount > 0 {
				parts = append(parts, fmt.Sprintf("%d hints", st.HintCount))
			}
			if st.RepairQueue > 0 {
				parts = append(parts, fmt.Sprintf("%d queued repairs", st.RepairQueue))
			}
			if degraded > 0 {
				parts = append(parts, fmt.Sprintf("%d objects below full redundancy", degraded))
			}
			p.waitingFor = strings.Join(parts, ", ")
		case lost > 0:
			p.unreachable = fmt.Errorf("%d objects are lost (fewer than %d shards remain): a heal cannot rebuild them", lost, st.DataShards)
		default:
			p.done = true
		}
		return p
	})
}

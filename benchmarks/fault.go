package benchmarks

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FaultAction is what a fault event does to a node.
type FaultAction int

// Fault actions. Zero is unset.
const (
	FaultKill    FaultAction = 1 + iota // SIGKILL the node's process
	FaultRestart                        // start a killed node again on the same data
	FaultPause                          // SIGSTOP: the process hangs, its sockets stay open
	FaultResume                         // SIGCONT after a pause
	FaultSlow                           // delay every read and write through the node's proxy by Delay (0 undoes it)
)

var faultActionNames = map[FaultAction]string{
	FaultKill: "kill", FaultRestart: "restart", FaultPause: "pause", FaultResume: "resume", FaultSlow: "slow",
}

func (a FaultAction) String() string {
	if s, ok := faultActionNames[a]; ok {
		return s
	}
	return "FaultAction(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText makes actions read as words in JSON.
func (a FaultAction) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// FaultEvent is one scheduled change to one node, At after the start of a
// scenario's measured phase.
type FaultEvent struct {
	At     time.Duration `json:"at_ns"`
	Action FaultAction   `json:"action"`
	Node   int           `json:"node"`               // 1-based: node 3 is n3
	Delay  time.Duration `json:"delay_ns,omitempty"` // FaultSlow only
}

// String is the event's label on charts and in reports: "kill n3",
// "slow n2 +50ms", "unslow n2".
func (e FaultEvent) String() string {
	switch {
	case e.Action == FaultSlow && e.Delay == 0:
		return fmt.Sprintf("unslow n%d", e.Node)
	case e.Action == FaultSlow:
		return fmt.Sprintf("slow n%d +%v", e.Node, e.Delay)
	}
	return fmt.Sprintf("%s n%d", e.Action, e.Node)
}

// ParseFaults parses a fault schedule. Events are separated by newlines or
// semicolons; '#' starts a comment. Each event is
//
//	VERB node N[,N...] [by DURATION] [at DURATION] [for DURATION]
//
// where VERB is kill, restart, pause, resume, slow or unslow, "nodes" may be
// written for "node", "at" defaults to 0s, "by" is required by slow and
// allowed only there, and "for D" adds the undoing event D later (restart
// after kill, resume after pause, unslow after slow). Examples:
//
//	kill node 3 at 10s
//	restart node 3 at 30s
//	pause node 5 at 5s for 15s
//	slow node 2 by 50ms
//	kill nodes 3,5 at 10s for 15s
//
// The events come back sorted by time (stable, so same-time events keep
// their order).
func ParseFaults(s string) ([]FaultEvent, error) {
	var out []FaultEvent
	sc := bufio.NewScanner(strings.NewReader(s))
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		for _, part := range strings.Split(text, ";") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			evs, err := parseFaultEvent(part)
			if err != nil {
				if strings.Count(s, "\n") > 0 {
					return nil, fmt.Errorf("line %d: %w", line, err)
				}
				return nil, err
			}
			out = append(out, evs...)
		}
	}
	slices.SortStableFunc(out, func(a, b FaultEvent) int { return cmp.Compare(a.At, b.At) })
	return out, nil
}

// ReadFaults parses a fault schedule file with ParseFaults.
func ReadFaults(r io.Reader) ([]FaultEvent, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return ParseFaults(string(b))
}

func parseFaultEvent(s string) ([]FaultEvent, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: fault %q: %s", ErrSyntax, strings.TrimSpace(s), fmt.Sprintf(format, args...))
	}
	f := strings.Fields(strings.ToLower(s))
	if len(f) < 3 {
		return nil, bad("want VERB node N [by D] [at D] [for D]")
	}
	var ev FaultEvent
	undo := FaultAction(0)
	switch f[0] {
	case "kill":
		ev.Action, undo = FaultKill, FaultRestart
	case "restart":
		ev.Action = FaultRestart
	case "pause":
		ev.Action, undo = FaultPause, FaultResume
	case "resume":
		ev.Action = FaultResume
	case "slow", "unslow":
		ev.Action, undo = FaultSlow, FaultSlow
	default:
		return nil, bad("unknown verb %q (want kill, restart, pause, resume, slow or unslow)", f[0])
	}
	if f[1] != "node" && f[1] != "nodes" {
		return nil, bad("want \"node N\" after %q", f[0])
	}
	var nodes []int
	for _, n := range strings.Split(f[2], ",") {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			return nil, bad("node %q: want a node number ≥ 1", n)
		}
		nodes = append(nodes, v)
	}
	var forD time.Duration
	seen := map[string]bool{}
	for i := 3; i < len(f); i += 2 {
		kw := f[i]
		if i+1 >= len(f) {
			return nil, bad("%q needs a duration", kw)
		}
		if seen[kw] {
			return nil, bad("%q given twice", kw)
		}
		seen[kw] = true
		d, err := time.ParseDuration(f[i+1])
		if err != nil || d < 0 {
			return nil, bad("%s %q: want a duration such as 10s or 50ms", kw, f[i+1])
		}
		switch kw {
		case "at":
			ev.At = d
		case "by":
			if f[0] != "slow" {
				return nil, bad("only slow takes \"by\"")
			}
			ev.Delay = d
		case "for":
			if undo == 0 {
				return nil, bad("%s does not take \"for\"", f[0])
			}
			if d == 0 {
				return nil, bad("\"for\" must be positive")
			}
			forD = d
		default:
			return nil, bad("unknown word %q (want by, at or for)", kw)
		}
	}
	if f[0] == "slow" && !seen["by"] {
		return nil, bad("slow needs \"by DURATION\"")
	}
	if f[0] == "unslow" && forD > 0 {
		return nil, bad("unslow does not take \"for\"")
	}
	var out []FaultEvent
	for _, n := range nodes {
		e := ev
		e.Node = n
		out = append(out, e)
	}
	if forD > 0 {
		for _, n := range nodes {
			out = append(out, FaultEvent{At: ev.At + forD, Action: undo, Node: n})
		}
	}
	return out, nil
}

// ValidateFaults reports events that name a node outside 1..nodes.
func ValidateFaults(events []FaultEvent, nodes int) error {
	for _, e := range events {
		if e.Node < 1 || e.Node > nodes {
			return fmt.Errorf("benchmarks: fault %q: the cluster has nodes 1..%d", e, nodes)
		}
	}
	return nil
}

// FaultTarget is a cluster whose nodes a fault schedule can hurt. Nodes are
// numbered from 1. Methods are called from one goroutine at a time.
type FaultTarget interface {
	Nodes() int
	Kill(node int) error
	Restart(node int) error
	Pause(node int) error
	Resume(node int) error
	// Slow delays every read and write to and from the node by d; 0 undoes it.
	Slow(node int, d time.Duration) error
	// Heal undoes every fault still in force (resume, unslow, restart) and
	// returns what it did, so the next scenario starts on a whole cluster.
	Heal() ([]FaultEvent, error)
}

// FaultRecord is an event as it happened.
type FaultRecord struct {
	FaultEvent
	Label string `json:"label"`
	// Actual is when it was applied, from the start of the measured phase.
	Actual time.Duration `json:"actual_ns"`
	Err    string        `json:"err,omitempty"`
	// Healed marks events that Heal applied after the measured phase.
	Healed bool `json:"healed,omitempty"`
}

// runFaults applies events at their times relative to start until ctx ends,
// and returns what it applied. Events due after ctx ends are not applied.
// applied, if not nil, is called with each event's index and record right
// after it was applied.
func runFaults(ctx context.Context, start time.Time, events []FaultEvent, target FaultTarget, applied func(int, FaultRecord)) []FaultRecord {
	var recs []FaultRecord
	for i, e := range events {
		t := time.NewTimer(time.Until(start.Add(e.At)))
		select {
		case <-ctx.Done():
			t.Stop()
			return recs
		case <-t.C:
		}
		rec := applyFault(target, e, time.Since(start))
		recs = append(recs, rec)
		if applied != nil {
			applied(i, rec)
		}
	}
	return recs
}

// recovers reports whether the action brings a node back.
func (a FaultAction) recovers() bool { return a == FaultRestart || a == FaultResume }

// lastRecovery is the index of the event after which the schedule leaves
// every node it hurt up again: a restart or resume with no node down or
// paused after it, and no kill or pause later; -1 when there is none (the
// heal after the measured phase brings the nodes back).
func lastRecovery(events []FaultEvent) int {
	last := -1
	down := map[int]bool{}
	for i, e := range events {
		switch e.Action {
		case FaultKill, FaultPause:
			down[e.Node] = true
			last = -1
		case FaultRestart, FaultResume:
			delete(down, e.Node)
			if len(down) == 0 {
				last = i
			}
		}
	}
	return last
}

func applyFault(target FaultTarget, e FaultEvent, at time.Duration) FaultRecord {
	var err error
	switch e.Action {
	case FaultKill:
		err = target.Kill(e.Node)
	case FaultRestart:
		err = target.Restart(e.Node)
	case FaultPause:
		err = target.Pause(e.Node)
	case FaultResume:
		err = target.Resume(e.Node)
	case FaultSlow:
		err = target.Slow(e.Node, e.Delay)
	default:
		err = fmt.Errorf("unknown action %v", e.Action)
	}
	r := FaultRecord{FaultEvent: e, Label: e.String(), Actual: at}
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// UnmarshalText reads what MarshalText writes.
func (a *FaultAction) UnmarshalText(b []byte) error {
	for k, v := range faultActionNames {
		if v == string(b) {
			*a = k
			return nil
		}
	}
	return fmt.Errorf("%w: fault action %q", ErrSyntax, b)
}

package placement

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// DefaultPGCount is the number of placement groups for a new cluster. It is a
// value for whoever creates the first layout; a stored layout always carries its
// own PGCount, because changing it remaps every object.
const DefaultPGCount = 256

// MaxPGCount bounds Layout.PGCount. Per-PG work (rebalancing, [Moved], scanner
// digests) grows with it, and far fewer PGs already spread data evenly.
const MaxPGCount = 1 << 20

// ErrInvalidLayout is wrapped by every problem [Layout.Validate] reports, and by
// [Place] when the layout cannot place anything.
var ErrInvalidLayout = errors.New("placement: invalid layout")

// ErrTooFewNodes is returned by [Place] when the layout has fewer nodes than
// homes were asked for.
var ErrTooFewNodes = errors.New("placement: too few nodes")

// NodeID names a storage node. It is stable for the node's life, unlike its address.
type NodeID string

// NodeState is the role an operator gave a node in the layout. It is not liveness:
// whether a node is up comes from membership, not from the layout.
type NodeState uint8

const (
	// Active nodes are homes and fallbacks.
	Active NodeState = 1 + iota
	// Draining nodes get no homes while enough active nodes exist, but remain
	// fallbacks and keep serving what they hold until it has moved elsewhere.
	Draining
)

// String returns "active", "draining", or "NodeState(n)" for other values.
func (s NodeState) String() string {
	switch s {
	case Active:
		return "active"
	case Draining:
		return "draining"
	}
	return "NodeState(" + strconv.Itoa(int(s)) + ")"
}

func (s NodeState) valid() bool { return s == Active || s == Draining }

// Node is one storage node of a layout.
type Node struct {
	ID     NodeID
	Addr   string // where the gateway reaches the node; may be empty if resolved elsewhere
	Zone   string // failure domain (rack, room, site); "" is a zone like any other
	Weight float64
	State  NodeState
}

// Layout is one version of the cluster map. Layouts are changed by building a new
// one with a higher Version; the newest version wins.
type Layout struct {
	Version uint64
	PGCount int // number of placement groups; see DefaultPGCount
	Nodes   []Node
	// Table, when set, is the homes of every PG: Table[pg][i] stores shard i
	// of new writes to pg. [Next] builds it so that a layout change moves
	// only the shards of the nodes that leave a PG's home set; without it
	// (the first layout of a cluster) homes are the preference order.
	Table [][]NodeID `json:",omitempty"`
}

// Validate reports every problem of the layout at once, joined with errors.Join;
// each one wraps [ErrInvalidLayout]. It returns nil for a usable layout.
func (l *Layout) Validate() error {
	if l == nil {
		return fmt.Errorf("%w: nil layout", ErrInvalidLayout)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidLayout}, args...)...))
	}
	if l.PGCount < 1 || l.PGCount > MaxPGCount {
		bad("PGCount %d not in [1, %d]", l.PGCount, MaxPGCount)
	}
	if len(l.Nodes) == 0 {
		bad("no nodes")
	}
	ids := make(map[NodeID]int, len(l.Nodes))
	addrs := make(map[string]int, len(l.Nodes))
	for i, n := range l.Nodes {
		if n.ID == "" {
			bad("node %d: empty ID", i)
		} else if j, dup := ids[n.ID]; dup {
			bad("node %d: duplicate ID %q (also node %d)", i, n.ID, j)
		} else {
			ids[n.ID] = i
		}
		if n.Addr != "" {
			if j, dup := addrs[n.Addr]; dup {
				bad("node %d (%q): duplicate address %q (also node %d)", i, n.ID, n.Addr, j)
			} else {
				addrs[n.Addr] = i
			}
		}
		// !(w > 0) also catches NaN.
		if !(n.Weight > 0) || math.IsInf(n.Weight, 0) {
			bad("node %d (%q): weight %v must be positive and finite", i, n.ID, n.Weight)
		}
		if !n.State.valid() {
			bad("node %d (%q): unknown state %v", i, n.ID, n.State)
		}
	}
	if l.Table != nil && len(l.Table) != l.PGCount {
		bad("table has %d rows for %d PGs", len(l.Table), l.PGCount)
	}
	for pg, row := range l.Table {
		if len(row) != len(l.Table[0]) || len(row) == 0 {
			bad("table row %d has %d homes, row 0 has %d", pg, len(row), len(l.Table[0]))
			break
		}
		for i, id := range row {
			if _, ok := ids[id]; !ok {
				bad("table row %d: home %d is %q, not a node of the layout", pg, i, id)
			} else if slices.Index(row, id) != i {
				bad("table row %d: %q is home twice", pg, id)
			}
		}
	}
	return errors.Join(errs...)
}

// Node returns the node with the given ID and whether it exists.
func (l *Layout) Node(id NodeID) (Node, bool) {
	if l == nil {
		return Node{}, false
	}
	for _, n := range l.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

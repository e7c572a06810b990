package placement

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestNodeStateString(t *testing.T) {
	for _, tc := range []struct {
		s    NodeState
		want string
	}{
		{Active, "active"},
		{Draining, "draining"},
		{0, "NodeState(0)"},
		{9, "NodeState(9)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("NodeState(%d).String() = %q; want %q", uint8(tc.s), got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	node := func(id string, w float64) Node { return Node{ID: NodeID(id), Weight: w, State: Active} }
	for _, tc := range []struct {
		name string
		l    *Layout
		want []string // substrings, one per expected problem; nil means valid
	}{
		{"valid", &Layout{PGCount: 256, Nodes: []Node{node("a", 1), node("b", 2.5)}}, nil},
		{"valid max PGs, addresses", &Layout{PGCount: MaxPGCount, Nodes: []Node{
			{ID: "a", Addr: "h1:1", Weight: 1, State: Active},
			{ID: "b", Addr: "h1:2", Weight: 1, State: Draining},
			{ID: "c", Weight: 1, State: Active}, {ID: "d", Weight: 1, State: Active}, // empty Addr may repeat
		}}, nil},
		{"nil", nil, []string{"nil layout"}},
		{"zero PGs", &Layout{Nodes: []Node{node("a", 1)}}, []string{"PGCount 0"}},
		{"too many PGs", &Layout{PGCount: MaxPGCount + 1, Nodes: []Node{node("a", 1)}}, []string{"PGCount 1048577"}},
		{"no nodes", &Layout{PGCount: 1}, []string{"no nodes"}},
		{"empty ID", &Layout{PGCount: 1, Nodes: []Node{node("", 1)}}, []string{"node 0: empty ID"}},
		{"duplicate ID", &Layout{PGCount: 1, Nodes: []Node{node("a", 1), node("b", 1), node("a", 1)}},
			[]string{`node 2: duplicate ID "a" (also node 0)`}},
		{"duplicate address", &Layout{PGCount: 1, Nodes: []Node{
			{ID: "a", Addr: "h:1", Weight: 1, State: Active}, {ID: "b", Addr: "h:1", Weight: 1, State: Active}}},
			[]string{`node 1 ("b"): duplicate address "h:1" (also node 0)`}},
		{"zero weight", &Layout{PGCount: 1, Nodes: []Node{node("a", 0)}}, []string{`node 0 ("a"): weight 0`}},
		{"negative weight", &Layout{PGCount: 1, Nodes: []Node{node("a", -1)}}, []string{"weight -1"}},
		{"NaN weight", &Layout{PGCount: 1, Nodes: []Node{node("a", math.NaN())}}, []string{"weight NaN"}},
		{"infinite weight", &Layout{PGCount: 1, Nodes: []Node{node("a", math.Inf(1))}}, []string{"weight +Inf"}},
		{"unset state", &Layout{PGCount: 1, Nodes: []Node{{ID: "a", Weight: 1}}}, []string{"unknown state NodeState(0)"}},
		{"everything at once", &Layout{PGCount: -1, Nodes: []Node{
			{ID: "", Weight: 1, State: Active},
			{ID: "x", Weight: 0, State: 7},
			{ID: "x", Weight: 1, State: Active},
		}}, []string{"PGCount -1", "node 0: empty ID", `node 1 ("x"): weight 0`, "unknown state NodeState(7)", `node 2: duplicate ID "x"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil; want %d problems", len(tc.want))
			}
			if !errors.Is(err, ErrInvalidLayout) {
				t.Errorf("errors.Is(Validate(), ErrInvalidLayout) = false for %v", err)
			}
			problems := 1
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				problems = len(j.Unwrap())
			}
			if problems != len(tc.want) {
				t.Errorf("Validate() reported %d problems; want %d: %v", problems, len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q; want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestLayoutNode(t *testing.T) {
	l := &Layout{PGCount: 1, Nodes: []Node{
		{ID: "a", Addr: "h:1", Weight: 1, State: Active},
		{ID: "b", Addr: "h:2", Zone: "z", Weight: 2, State: Draining},
	}}
	for _, tc := range []struct {
		l      *Layout
		id     NodeID
		want   Node
		wantOK bool
	}{
		{l, "b", l.Nodes[1], true},
		{l, "a", l.Nodes[0], true},
		{l, "c", Node{}, false},
		{l, "", Node{}, false},
		{nil, "a", Node{}, false},
	} {
		got, ok := tc.l.Node(tc.id)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("Node(%q) = %v, %v; want %v, %v", tc.id, got, ok, tc.want, tc.wantOK)
		}
	}
}

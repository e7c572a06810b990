package placement

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func nodesOf(ids ...string) []Node {
	out := make([]Node, len(ids))
	for i, id := range ids {
		out[i] = Node{ID: NodeID(id), Zone: fmt.Sprintf("z%d", i%3), Weight: 1, State: Active}
	}
	return out
}

func TestNextMovesOnlyWhatChanges(t *testing.T) {
	t.Parallel()
	six := &Layout{Version: 1, PGCount: 256, Nodes: nodesOf("n1", "n2", "n3", "n4", "n5", "n6")}
	seven, err := Next(six, nodesOf("n1", "n2", "n3", "n4", "n5", "n6", "n7"), 6)
	if err != nil {
		t.Fatal(err)
	}
	if seven.Version != 2 || seven.Validate() != nil {
		t.Fatalf("next layout: version %d, validate %v", seven.Version, seven.Validate())
	}
	moves := Moves(six, seven, 6)
	perPG := map[int]int{}
	for _, m := range moves {
		if m.To != "n7" {
			t.Errorf("move %+v goes to a node that was there before", m)
		}
		if got := six.Homes(m.PG, 6)[m.Index]; got != m.From {
			t.Errorf("move %+v: shard %d of PG %d was on %s", m, m.Index, m.PG, got)
		}
		perPG[m.PG]++
	}
	for pg, n := range perPG {
		if n != 1 {
			t.Errorf("PG %d moves %d shards, want 1", pg, n)
		}
	}
	// n7 joins zone z0, which then has three nodes for its two places in
	// each PG (zone spread): it wins about 2 of 3 PGs.
	if len(moves) < 256/2 || len(moves) > 256*5/6 {
		t.Errorf("%d PGs move, want about %d", len(moves), 256*2/3)
	}
	for pg := range 256 {
		before, after := six.Homes(pg, 6), seven.Homes(pg, 6)
		for i := range after {
			if after[i] != before[i] && after[i] != "n7" {
				t.Fatalf("PG %d index %d: %s → %s", pg, i, before[i], after[i])
			}
		}
	}
	// Draining n3 moves exactly n3's shards, each to a node not already home.
	drain := nodesOf("n1", "n2", "n3", "n4", "n5", "n6", "n7")
	drain[2].State = Draining
	drained, err := Next(seven, drain, 6)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range Moves(seven, drained, 6) {
		if m.From != "n3" || slices.Contains(seven.Homes(m.PG, 6), m.To) {
			t.Errorf("drain move %+v", m)
		}
	}
	for pg := range 256 {
		if slices.Contains(drained.Homes(pg, 6), "n3") {
			t.Fatalf("PG %d still homes n3 after the drain", pg)
		}
	}
	// Plans follow the table; fallbacks are every other node.
	plan, err := Place(drained, "b", "k", 6)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.Homes, drained.Homes(plan.PG, 6)) || len(plan.Fallbacks) != 1 || plan.Fallbacks[0] != "n3" {
		t.Errorf("plan %+v", plan)
	}
}

func TestNextRefuses(t *testing.T) {
	t.Parallel()
	six := &Layout{Version: 1, PGCount: 64, Nodes: nodesOf("n1", "n2", "n3", "n4", "n5", "n6")}
	drain := nodesOf("n1", "n2", "n3", "n4", "n5", "n6")
	drain[0].State = Draining
	if _, err := Next(six, drain, 6); !errors.Is(err, ErrTooFewNodes) {
		t.Errorf("draining one of six with 6 homes: %v, want ErrTooFewNodes", err)
	}
	if _, err := Next(six, nodesOf("n1", "n1"), 1); !errors.Is(err, ErrInvalidLayout) {
		t.Errorf("duplicate IDs: %v", err)
	}
	bad := *six
	bad.Table = [][]NodeID{{"n1"}}
	if err := bad.Validate(); !errors.Is(err, ErrInvalidLayout) {
		t.Errorf("short table: %v", err)
	}
}

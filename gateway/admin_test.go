package gateway

import (
	"strings"
	"testing"

	"cairn/layoutstore"
	"cairn/placement"
	"cairn/transport"
)

func TestRoomProblems(t *testing.T) {
	t.Parallel()
	nodes := func(states ...placement.NodeState) []placement.Node {
		var out []placement.Node
		for i, s := range states {
			out = append(out, placement.Node{ID: placement.NodeID("n" + string(rune('1'+i))), Weight: 1, State: s})
		}
		return out
	}
	A, D := placement.Active, placement.Draining
	doc := func(ns []placement.Node) *layoutstore.Document {
		return &layoutstore.Document{Epoch: 1, Homes: 6, Layout: &placement.Layout{Version: 1, PGCount: 8, Nodes: ns}}
	}
	stats := func(shardBytes int64, free uint64, shards int64) *transport.NodeStats {
		return &transport.NodeStats{ShardBytes: shardBytes, FreeBytes: free, Shards: shards}
	}
	roomy := map[string]*transport.NodeStats{}
	for i := range 7 {
		roomy["n"+string(rune('1'+i))] = stats(100, 1000, 1)
	}
	for _, tc := range []struct {
		name      string
		cur, next []placement.Node
		stats     map[string]*transport.NodeStats
		want      string // a problem containing this; "" for none
	}{
		{"drain with room", nodes(A, A, A, A, A, A, A), nodes(D, A, A, A, A, A, A), roomy, ""},
		{"add a node", nodes(A, A, A, A, A, A), nodes(A, A, A, A, A, A, A), roomy, ""},
		{"remove an active node", nodes(A, A, A, A, A, A, A), nodes(A, A, A, A, A, A), roomy, "n7 is active: drain it"},
		{"remove a drained node", nodes(A, A, A, A, A, A, D), nodes(A, A, A, A, A, A),
			map[string]*transport.NodeStats{"n7": stats(0, 1000, 0)}, ""},
		{"remove a node still holding shards", nodes(A, A, A, A, A, A, D), nodes(A, A, A, A, A, A),
			map[string]*transport.NodeStats{"n7": stats(50, 1000, 3)}, "still holds 3 shards"},
		{"remove a silent node", nodes(A, A, A, A, A, A, D), nodes(A, A, A, A, A, A),
			map[string]*transport.NodeStats{}, "does not answer"},
		{"drain more than the others can take", nodes(A, A, A, A, A, A, A), nodes(D, A, A, A, A, A, A),
			map[string]*transport.NodeStats{"n1": stats(5000, 0, 10), "n2": stats(0, 100, 0), "n3": stats(0, 100, 0)},
			"200 bytes free for the 5000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := (&Gateway{}).roomProblems(doc(tc.cur), doc(tc.next), tc.stats)
			if tc.want == "" {
				if len(got) != 0 {
					t.Errorf("problems %q; want none", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Errorf("problems %q; want one containing %q", got, tc.want)
			}
		})
	}
}

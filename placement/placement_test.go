package placement

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
)

// uniform returns an Active layout of n equally weighted nodes n1..nn without zones.
func uniform(n, pgs int) *Layout {
	l := &Layout{Version: 1, PGCount: pgs}
	for i := 1; i <= n; i++ {
		l.Nodes = append(l.Nodes, Node{ID: NodeID(fmt.Sprintf("n%d", i)), Weight: 1, State: Active})
	}
	return l
}

func goldenLayout() *Layout {
	return &Layout{Version: 3, PGCount: 16, Nodes: []Node{
		{ID: "a1", Zone: "a", Weight: 1, State: Active},
		{ID: "a2", Zone: "a", Weight: 2, State: Active},
		{ID: "b1", Zone: "b", Weight: 1, State: Active},
		{ID: "b2", Zone: "b", Weight: 1, State: Draining},
		{ID: "c1", Zone: "c", Weight: 1, State: Active},
	}}
}

// randomLayout draws a layout with up to 12 nodes in up to 4 zones, mixed weights
// and states; valid except that it may lack active nodes.
func randomLayout(r *rand.Rand) *Layout {
	l := &Layout{Version: r.Uint64(), PGCount: 1 + r.IntN(64)}
	for i := range 1 + r.IntN(12) {
		st := Active
		if r.IntN(4) == 0 {
			st = Draining
		}
		l.Nodes = append(l.Nodes, Node{
			ID:     NodeID(fmt.Sprintf("node-%d-%d", i, r.IntN(1000))),
			Zone:   fmt.Sprintf("z%d", r.IntN(4)),
			Weight: float64(1+r.IntN(4)) / 2,
			State:  st,
		})
	}
	return l
}

// referencePreference is the rule of the package doc written the slow, literal
// way, to check the two-sort implementation against.
func referencePreference(l *Layout, pg int) []NodeID {
	var out []NodeID
	for _, draining := range []bool{false, true} {
		zones := map[string][]candidate{}
		for _, n := range l.Nodes {
			if (n.State != Active) == draining {
				zones[n.Zone] = append(zones[n.Zone], candidate{id: n.ID, score: score(n.ID, pg, n.Weight)})
			}
		}
		for _, cs := range zones {
			slices.SortFunc(cs, byScore)
		}
		for len(zones) > 0 {
			var round []candidate
			for z, cs := range zones {
				round = append(round, cs[0])
				if len(cs) == 1 {
					delete(zones, z)
				} else {
					zones[z] = cs[1:]
				}
			}
			slices.SortFunc(round, byScore)
			for _, c := range round {
				out = append(out, c.id)
			}
		}
	}
	return out
}

func TestFNVMatchesStdlib(t *testing.T) {
	for _, s := range []string{"", "a", "n1", "photos/2024/cat.jpg", "\x00\xff"} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got, want := fnv1a(fnvOffset64, s), h.Sum64(); got != want {
			t.Errorf("fnv1a(%q) = %#x; want %#x (hash/fnv)", s, got, want)
		}
	}
}

// TestPGGolden pins the object → PG hash: if it changes, every stored object moves.
func TestPGGolden(t *testing.T) {
	l := &Layout{PGCount: 256}
	for _, tc := range []struct {
		bucket, key string
		want        int
	}{
		{"b", "k", 82},
		{"photos", "2024/cat.jpg", 82},
		{"", "", 125},
		{"bucket", "a/b/c", 158},
		{"bucket", "é", 182},
	} {
		if got := PG(l, tc.bucket, tc.key); got != tc.want {
			t.Errorf("PG(%q, %q) = %d; want %d", tc.bucket, tc.key, got, tc.want)
		}
	}
}

func TestPGRangeAndSpread(t *testing.T) {
	for _, pgs := range []int{1, 7, 256, 4096} {
		l := &Layout{PGCount: pgs}
		seen := map[int]bool{}
		for i := range 20 * pgs {
			key := fmt.Sprintf("obj-%d", i)
			pg := PG(l, "bucket", key)
			if pg < 0 || pg >= pgs {
				t.Fatalf("PG(bucket, %q) with PGCount %d = %d; want in [0, %d)", key, pgs, pg, pgs)
			}
			if again := PG(l, "bucket", key); again != pg {
				t.Fatalf("PG(bucket, %q) = %d, then %d; want stable", key, pg, again)
			}
			seen[pg] = true
		}
		// 20 keys per PG on average: an empty PG has odds e^-20 per PG.
		if len(seen) != pgs {
			t.Errorf("PGCount %d: %d keys hit only %d PGs; want all", pgs, 20*pgs, len(seen))
		}
	}
	for _, l := range []*Layout{nil, {}, {PGCount: -3}} {
		if got := PG(l, "b", "k"); got != 0 {
			t.Errorf("PG(%v, b, k) = %d; want 0 for an unusable layout", l, got)
		}
	}
}

// TestPreferenceGolden pins the PG → nodes rule for a small layout with zones,
// weights and a draining node.
func TestPreferenceGolden(t *testing.T) {
	l := goldenLayout()
	for _, tc := range []struct {
		pg   int
		want []NodeID
	}{
		{0, []NodeID{"a1", "b1", "c1", "a2", "b2"}},
		{1, []NodeID{"a2", "b1", "c1", "a1", "b2"}},
		{2, []NodeID{"b1", "a2", "c1", "a1", "b2"}},
		{3, []NodeID{"a2", "b1", "c1", "a1", "b2"}},
	} {
		if got := Preference(l, tc.pg); !slices.Equal(got, tc.want) {
			t.Errorf("Preference(golden, %d) = %v; want %v", tc.pg, got, tc.want)
		}
	}
}

func TestPreferenceProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		l := randomLayout(r)
		state := map[NodeID]NodeState{}
		zone := map[NodeID]string{}
		activeZones := map[string]bool{}
		for _, n := range l.Nodes {
			state[n.ID], zone[n.ID] = n.State, n.Zone
			if n.State == Active {
				activeZones[n.Zone] = true
			}
		}
		for pg := range l.PGCount {
			got := Preference(l, pg)
			if want := referencePreference(l, pg); !slices.Equal(got, want) {
				t.Fatalf("Preference(%v, %d) = %v; want %v (reference rule)", l, pg, got, want)
			}
			if again := Preference(l, pg); !slices.Equal(got, again) {
				t.Fatalf("Preference(%v, %d) = %v, then %v; want deterministic", l, pg, got, again)
			}
			var ids []NodeID
			for _, n := range l.Nodes {
				ids = append(ids, n.ID)
			}
			if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(ids))) {
				t.Fatalf("Preference(%v, %d) = %v; want a permutation of %v", l, pg, got, ids)
			}
			// Active first; any active prefix covers as many zones as it can.
			seen := map[string]bool{}
			for i, id := range got {
				if state[id] != Active {
					if rest := slices.IndexFunc(got[i:], func(id NodeID) bool { return state[id] == Active }); rest >= 0 {
						t.Fatalf("Preference(%v, %d) = %v: draining %s before active %s", l, pg, got, id, got[i+rest])
					}
					break
				}
				seen[zone[id]] = true
				if want := min(i+1, len(activeZones)); len(seen) != want {
					t.Fatalf("Preference(%v, %d) = %v: first %d cover %d zones; want %d", l, pg, got, i+1, len(seen), want)
				}
			}
		}
	}
}

func TestPreferenceEmpty(t *testing.T) {
	for _, l := range []*Layout{nil, {PGCount: 4}} {
		if got := Preference(l, 0); len(got) != 0 {
			t.Errorf("Preference(%v, 0) = %v; want empty", l, got)
		}
	}
}

// Draining nodes must not be homes while enough active nodes exist, yet stay fallbacks.
func TestPreferenceDraining(t *testing.T) {
	l := uniform(8, 256)
	l.Nodes[2].State = Draining
	l.Nodes[5].State = Draining
	for pg := range l.PGCount {
		got := Preference(l, pg)
		if tail := []NodeID{got[6], got[7]}; !slices.Contains(tail, "n3") || !slices.Contains(tail, "n6") {
			t.Fatalf("Preference(pg %d) = %v; want draining n3, n6 last", pg, got)
		}
	}
	// With fewer active nodes than homes, draining nodes fill the remaining homes.
	p, err := Place(l, "b", "k", 7)
	if err != nil {
		t.Fatalf("Place(n=7) with 6 active: %v", err)
	}
	if !slices.Contains(p.Homes, "n3") && !slices.Contains(p.Homes, "n6") {
		t.Errorf("Place(n=7) homes = %v; want one draining node among them", p.Homes)
	}
}

// Adding a 7th node to 6 must move first homes only to the new node, about 1/7 of them.
func TestAddNodeFirstHome(t *testing.T) {
	a, b := uniform(6, 256), uniform(7, 256)
	toNew := 0
	for pg := range a.PGCount {
		before, after := Preference(a, pg)[0], Preference(b, pg)[0]
		if before != after && after != "n7" {
			t.Errorf("pg %d: first home %s -> %s; only moves to the new n7 are allowed", pg, before, after)
		}
		if after == "n7" {
			toNew++
		}
	}
	moved := Moved(a, b, 1)
	if moved != toNew {
		t.Errorf("Moved(6 nodes, 7 nodes, 1) = %d; want %d, the PGs n7 now leads", moved, toNew)
	}
	// Binomial(256, 1/7): mean 36.6, sd 5.6. The hash is fixed, so this is one
	// draw (51, 0.199); the bounds are mean ± 3 sd so a sound hash passes.
	if f := float64(moved) / 256; f < 0.08 || f > 0.21 {
		t.Errorf("Moved(6 nodes, 7 nodes, 1) = %d (%.3f of 256 PGs); want ≈ 1/7", moved, f)
	}
}

// With n = 6 of 7 nodes, a new node can take at most one home slot per PG.
func TestAddNodeSixHomes(t *testing.T) {
	a, b := uniform(6, 256), uniform(7, 256)
	changed := 0
	for pg := range a.PGCount {
		before, after := Preference(a, pg), Preference(b, pg)[:6]
		var gone, added []NodeID
		for _, id := range before {
			if !slices.Contains(after, id) {
				gone = append(gone, id)
			}
		}
		for _, id := range after {
			if !slices.Contains(before, id) {
				added = append(added, id)
			}
		}
		switch {
		case len(gone) == 0 && len(added) == 0:
		case len(gone) == 1 && slices.Equal(added, []NodeID{"n7"}):
			changed++
		default:
			t.Errorf("pg %d: homes %v -> %v; want at most n7 replacing one node", pg, before, after)
		}
	}
	if got := Moved(a, b, 6); got != changed {
		t.Errorf("Moved(6 nodes, 7 nodes, 6) = %d; want %d", got, changed)
	}
	// n7 is a home of a PG exactly when it is not last of 7: probability 6/7.
	if f := float64(changed) / 256; f < 0.78 || f > 0.93 {
		t.Errorf("%d of 256 PGs (%.3f) gained n7; want ≈ 6/7", changed, f)
	}
}

// Removing a node moves only the PGs that had it as a home.
func TestRemoveNode(t *testing.T) {
	a := uniform(7, 256)
	b := &Layout{Version: 2, PGCount: a.PGCount, Nodes: slices.Delete(slices.Clone(a.Nodes), 3, 4)} // drop n4
	for pg := range a.PGCount {
		before, after := Preference(a, pg), Preference(b, pg)
		if want := slices.DeleteFunc(slices.Clone(before), func(id NodeID) bool { return id == "n4" }); !slices.Equal(after, want) {
			t.Errorf("pg %d: %v -> %v; want the old list without n4: %v", pg, before, after, want)
		}
	}
}

func TestWeighted(t *testing.T) {
	l := uniform(6, 4096)
	l.Nodes[5].Weight = 2
	first := map[NodeID]int{}
	for pg := range l.PGCount {
		first[Preference(l, pg)[0]]++
	}
	heavy := float64(first["n6"])
	for _, id := range []NodeID{"n1", "n2", "n3", "n4", "n5"} {
		// Expected 585 vs 1170 first homes (sd ≈ 22 and 29): ratio 2 ± 0.15 at 2 sd.
		if ratio := heavy / float64(first[id]); ratio < 1.7 || ratio > 2.3 {
			t.Errorf("first homes: n6 (weight 2) %v, %s (weight 1) %d: ratio %.2f; want ≈ 2", heavy, id, first[id], ratio)
		}
	}
}

func TestZones(t *testing.T) {
	l := &Layout{Version: 1, PGCount: 1024}
	for i, z := range []string{"x", "x", "y", "y", "z", "z"} {
		l.Nodes = append(l.Nodes, Node{ID: NodeID(fmt.Sprintf("n%d", i+1)), Zone: z, Weight: 1, State: Active})
	}
	homes := map[NodeID]int{}
	for pg := range l.PGCount {
		p := Preference(l, pg)
		zones := map[string]bool{}
		for _, id := range p[:3] {
			n, _ := l.Node(id)
			zones[n.Zone] = true
			homes[id]++
		}
		if len(zones) != 3 {
			t.Errorf("pg %d: first 3 homes %v span %d zones; want 3", pg, p[:3], len(zones))
		}
	}
	// Within a zone the two nodes share its slot: 512 each on average, sd 16.
	for id, c := range homes {
		if c < 440 || c > 584 {
			t.Errorf("node %s is among the first 3 of %d of 1024 PGs; want ≈ 512", id, c)
		}
	}
}

func TestPlace(t *testing.T) {
	l := goldenLayout()
	p, err := Place(l, "photos", "2024/cat.jpg", 3)
	if err != nil {
		t.Fatalf("Place(golden, photos/2024/cat.jpg, 3) error: %v", err)
	}
	pref := Preference(l, p.PG)
	if p.PG != PG(l, "photos", "2024/cat.jpg") || !slices.Equal(p.Homes, pref[:3]) || !slices.Equal(p.Fallbacks, pref[3:]) {
		t.Errorf("Place(golden, photos/2024/cat.jpg, 3) = %+v; want PG %d split of %v", p, PG(l, "photos", "2024/cat.jpg"), pref)
	}
	// The caller owns Homes: appending to it must not clobber Fallbacks.
	fb := slices.Clone(p.Fallbacks)
	_ = append(p.Homes, "x")
	if !slices.Equal(p.Fallbacks, fb) {
		t.Errorf("append(plan.Homes) changed Fallbacks to %v; want %v", p.Fallbacks, fb)
	}
	all, err := Place(l, "b", "k", 5)
	if err != nil || len(all.Homes) != 5 || len(all.Fallbacks) != 0 {
		t.Errorf("Place(golden, b, k, 5) = %+v, %v; want 5 homes, no fallbacks", all, err)
	}

	for _, tc := range []struct {
		name string
		l    *Layout
		n    int
		want error
	}{
		{"too few nodes", l, 6, ErrTooFewNodes},
		{"nil layout", nil, 1, ErrInvalidLayout},
		{"no PGs", &Layout{Nodes: l.Nodes}, 1, ErrInvalidLayout},
		{"zero homes", l, 0, ErrInvalidLayout},
	} {
		if _, err := Place(tc.l, "b", "k", tc.n); !errors.Is(err, tc.want) {
			t.Errorf("Place(%s, n=%d) error = %v; want %v", tc.name, tc.n, err, tc.want)
		}
	}
}

func TestMoved(t *testing.T) {
	six, seven := uniform(6, 256), uniform(7, 256)
	reweighted := uniform(6, 256)
	reweighted.Nodes[0].Weight = 3
	for _, tc := range []struct {
		name string
		a, b *Layout
		n    int
		want int
	}{
		{"same layout", six, six, 6, 0},
		{"same nodes, new version", six, &Layout{Version: 9, PGCount: 256, Nodes: six.Nodes}, 3, 0},
		{"all homes are all nodes", six, reweighted, 6, 0},
		{"n beyond node count", six, reweighted, 10, 0},
		{"PG count change remaps all", six, uniform(6, 512), 1, 512},
		{"from nothing", nil, six, 1, 256},
		{"to nothing", six, &Layout{PGCount: 256}, 2, 256},
		{"nil both", nil, nil, 3, 0},
		{"n=0 compares empty sets", six, seven, 0, 0},
	} {
		if got := Moved(tc.a, tc.b, tc.n); got != tc.want {
			t.Errorf("Moved(%s, n=%d) = %d; want %d", tc.name, tc.n, got, tc.want)
		}
	}
	// Reweighting moves first homes towards the heavier node only.
	if got := Moved(six, reweighted, 1); got == 0 || got > 256 {
		t.Errorf("Moved(six, n1 weight 3, 1) = %d; want some PGs", got)
	}
}

func TestAlign(t *testing.T) {
	for _, tc := range []struct {
		prev, next, want []NodeID
	}{
		{[]NodeID{"a", "b", "c"}, []NodeID{"a", "b", "c"}, []NodeID{"a", "b", "c"}},
		{[]NodeID{"a", "b", "c"}, []NodeID{"c", "a", "b"}, []NodeID{"a", "b", "c"}},
		// x entered at the front and pushed the others back; b left.
		{[]NodeID{"a", "b", "c"}, []NodeID{"x", "a", "c"}, []NodeID{"a", "x", "c"}},
		{[]NodeID{"a", "b", "c", "d"}, []NodeID{"y", "x", "c", "a"}, []NodeID{"a", "y", "c", "x"}},
		{nil, []NodeID{"a", "b"}, []NodeID{"a", "b"}},
		{[]NodeID{"a", "b"}, nil, []NodeID{}},
		// Growing: old indices kept, new slots at the end filled in order.
		{[]NodeID{"b", "a"}, []NodeID{"a", "b", "c"}, []NodeID{"b", "a", "c"}},
		// Shrinking: an old index past the new width cannot be kept.
		{[]NodeID{"a", "b", "c"}, []NodeID{"c", "a"}, []NodeID{"a", "c"}},
		{[]NodeID{"a", "a"}, []NodeID{"a", "b"}, []NodeID{"a", "b"}},
	} {
		if got := Align(tc.prev, tc.next); !slices.Equal(got, tc.want) {
			t.Errorf("Align(%v, %v) = %v; want %v", tc.prev, tc.next, got, tc.want)
		}
	}
}

// After adding a node, aligning each PG's new homes to its old ones leaves at
// most one shard index with a different node.
func TestAlignAfterAddNode(t *testing.T) {
	a, b := uniform(6, 256), uniform(7, 256)
	for pg := range a.PGCount {
		prev, next := Preference(a, pg), Preference(b, pg)[:6]
		got := Align(prev, next)
		diff := 0
		for i := range got {
			if got[i] != prev[i] {
				diff++
			}
		}
		if diff > 1 {
			t.Errorf("pg %d: Align(%v, %v) = %v changes %d shard indices; want at most 1", pg, prev, next, got, diff)
		}
	}
}

func FuzzPreference(f *testing.F) {
	f.Add("a", "b", "c", "z", 1.0, 2.0, uint8(1), 3)
	f.Add("", "", "x", "", -1.0, 0.0, uint8(0), -7)
	f.Fuzz(func(t *testing.T, id1, id2, id3, zone string, w1, w2 float64, st uint8, pg int) {
		l := &Layout{PGCount: 8, Nodes: []Node{
			{ID: NodeID(id1), Zone: zone, Weight: w1, State: NodeState(st)},
			{ID: NodeID(id2), Weight: w2, State: Active},
			{ID: NodeID(id3), Zone: zone, Weight: 1, State: Draining},
		}}
		got := Preference(l, pg)
		want := []NodeID{NodeID(id1), NodeID(id2), NodeID(id3)}
		if !slices.Equal(slices.SortedFunc(slices.Values(got), cmp.Compare), slices.SortedFunc(slices.Values(want), cmp.Compare)) {
			t.Fatalf("Preference(%v, %d) = %v; want a permutation of %v", l, pg, got, want)
		}
		if again := Preference(l, pg); !slices.Equal(got, again) {
			t.Fatalf("Preference(%v, %d) = %v, then %v; want deterministic", l, pg, got, again)
		}
	})
}

func BenchmarkPreference(b *testing.B) {
	for _, tc := range []struct {
		name string
		l    *Layout
	}{
		{"6nodes", uniform(6, 256)},
		{"golden5", goldenLayout()},
		{"100nodes", uniform(100, 4096)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			pg := 0
			for b.Loop() {
				Preference(tc.l, pg%tc.l.PGCount)
				pg++
			}
		})
	}
}

func BenchmarkPlace(b *testing.B) {
	l := uniform(6, 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Place(l, "photos", "2024/cat.jpg", 6); err != nil {
			b.Fatal(err)
		}
	}
}

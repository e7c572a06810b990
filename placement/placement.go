package placement

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// The hash functions below are part of the on-disk format (see the package doc):
// never change them. FNV-1a is written out rather than taken from hash/fnv so
// that hashing a string does not allocate on the request path.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
	golden64    = 0x9e3779b97f4a7c15 // SplitMix64 increment
)

func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// mix is the SplitMix64 finalizer. FNV-1a alone changes mostly low bits for
// similar inputs ("n1", "n2"); mixing spreads every input bit over all output bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// PG returns the placement group of an object: a stable hash of bucket+"/"+key
// modulo l.PGCount. It returns 0 for a nil layout or one with PGCount < 1, which
// [Layout.Validate] rejects.
func PG(l *Layout, bucket, key string) int {
	if l == nil || l.PGCount < 1 {
		return 0
	}
	h := fnv1a(fnv1a(fnv1a(fnvOffset64, bucket), "/"), key)
	return int(mix(h) % uint64(l.PGCount))
}

// nodeHash is the pg-th output of a SplitMix64 stream seeded by the node ID, so
// every node draws its own independent sequence of scores over the PGs.
func nodeHash(id NodeID, pg int) uint64 {
	return mix(mix(fnv1a(fnvOffset64, string(id))) + uint64(pg)*golden64)
}

// score is the weighted rendezvous score: -weight/ln(u) for u uniform in (0, 1).
// The node with the highest score is the first choice with probability
// weight/Σweights, and that stays true for the remaining nodes after removing any.
func score(id NodeID, pg int, weight float64) float64 {
	if !(weight > 0) || math.IsInf(weight, 0) {
		return 0 // an invalid weight ranks last instead of poisoning the sort with NaN
	}
	// The top 53 bits as a float in (0, 1); the +0.5 keeps u away from 0 and 1.
	u := (float64(nodeHash(id, pg)>>11) + 0.5) * 0x1p-53
	return weight / -math.Log(u)
}

type candidate struct {
	id    NodeID
	zone  string
	tier  int // 0 active, 1 draining (or unknown state)
	rank  int // position of the node within its zone and tier, 0 = best
	score float64
}

// byScore orders by score descending, then ID, so equal scores stay deterministic.
func byScore(a, b candidate) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// Preference returns every node of the layout ordered for placement group pg:
// active before draining, and within each, in zone-spread weighted rendezvous
// order as described in the package documentation. The result is deterministic
// and owned by the caller. A pg outside [0, PGCount) still yields a
// deterministic list, but no object maps to it.
func Preference(l *Layout, pg int) []NodeID {
	if l == nil || len(l.Nodes) == 0 {
		return nil
	}
	cs := make([]candidate, len(l.Nodes))
	for i, n := range l.Nodes {
		tier := 0
		if n.State != Active {
			tier = 1
		}
		cs[i] = candidate{id: n.ID, zone: n.Zone, tier: tier, score: score(n.ID, pg, n.Weight)}
	}
	// Rank each node within its (tier, zone); the rank is its round number.
	slices.SortFunc(cs, func(a, b candidate) int {
		if c := cmp.Compare(a.tier, b.tier); c != 0 {
			return c
		}
		if c := cmp.Compare(a.zone, b.zone); c != 0 {
			return c
		}
		return byScore(a, b)
	})
	for i := range cs {
		if i > 0 && cs[i].tier == cs[i-1].tier && cs[i].zone == cs[i-1].zone {
			cs[i].rank = cs[i-1].rank + 1
		}
	}
	// Rounds in order; within a round, zones in order of their node's score.
	slices.SortFunc(cs, func(a, b candidate) int {
		if c := cmp.Compare(a.tier, b.tier); c != 0 {
			return c
		}
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		return byScore(a, b)
	})
	ids := make([]NodeID, len(cs))
	for i, c := range cs {
		ids[i] = c.id
	}
	return ids
}

// Plan is where one object's shards go.
type Plan struct {
	PG        int
	Homes     []NodeID // Homes[i] stores shard i of a new write
	Fallbacks []NodeID // in order of preference, for homes that are down
}

// Place returns the plan for an object with n shards: the first n nodes of its
// PG's preference list as homes and the rest as fallbacks. It returns an error
// wrapping [ErrTooFewNodes] if the layout has fewer than n nodes, or wrapping
// [ErrInvalidLayout] for a nil layout, PGCount < 1 or n < 1. Place assumes a
// layout that passed [Layout.Validate] (callers validate once, when they adopt a
// layout) and checks only what it needs.
func Place(l *Layout, bucket, key string, n int) (Plan, error) {
	switch {
	case l == nil:
		return Plan{}, fmt.Errorf("%w: nil layout", ErrInvalidLayout)
	case l.PGCount < 1:
		return Plan{}, fmt.Errorf("%w: PGCount %d", ErrInvalidLayout, l.PGCount)
	case n < 1:
		return Plan{}, fmt.Errorf("%w: %d homes asked", ErrInvalidLayout, n)
	case len(l.Nodes) < n:
		return Plan{}, fmt.Errorf("%w: %d homes asked, layout v%d has %d nodes", ErrTooFewNodes, n, l.Version, len(l.Nodes))
	}
	pg := PG(l, bucket, key)
	homes := l.Homes(pg, n)
	pref := Preference(l, pg)
	fallbacks := make([]NodeID, 0, len(pref)-len(homes))
	for _, id := range pref {
		if !slices.Contains(homes, id) {
			fallbacks = append(fallbacks, id)
		}
	}
	return Plan{PG: pg, Homes: homes, Fallbacks: fallbacks}, nil
}

// Homes returns the n homes of placement group pg, in shard order: the
// layout's Table row when it has one of that width, else the first n of the
// preference list. The result is owned by the caller.
func (l *Layout) Homes(pg, n int) []NodeID {
	if len(l.Table) == l.PGCount && pg >= 0 && pg < len(l.Table) && len(l.Table[pg]) == n {
		return slices.Clone(l.Table[pg])
	}
	p := Preference(l, pg)
	return p[:min(max(n, 0), len(p)):min(max(n, 0), len(p))]
}

// Next returns the layout that follows prev with the given nodes: version
// prev.Version+1, prev's PG count, and a Table in which every PG keeps each
// home that stays among its n best nodes at its old shard index, and the
// nodes that join take the indices of those that leave ([Align]). So a
// change moves the shards of exactly the (PG, index) pairs [Moves] lists.
func Next(prev *Layout, nodes []Node, n int) (*Layout, error) {
	if prev == nil {
		return nil, fmt.Errorf("%w: nil layout", ErrInvalidLayout)
	}
	next := &Layout{Version: prev.Version + 1, PGCount: prev.PGCount, Nodes: slices.Clone(nodes)}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if active := next.countActive(); active < n {
		return nil, fmt.Errorf("%w: %d homes per PG need %d active nodes, layout has %d", ErrTooFewNodes, n, n, active)
	}
	next.Table = make([][]NodeID, next.PGCount)
	for pg := range next.PGCount {
		best := Preference(next, pg)[:n]
		next.Table[pg] = Align(prev.Homes(pg, n), best)
	}
	return next, nil
}

func (l *Layout) countActive() int {
	active := 0
	for _, nd := range l.Nodes {
		if nd.State == Active {
			active++
		}
	}
	return active
}

// Move is one shard index of one PG that changes node between two layouts.
type Move struct {
	PG       int
	Index    int
	From, To NodeID
}

// Moves lists the (PG, shard index) pairs whose home differs between
// layouts a and b with n homes per PG, in PG order: the shards a
// rebalance from a to b copies. Layouts with different PG counts are not
// comparable and return nil.
func Moves(a, b *Layout, n int) []Move {
	if a == nil || b == nil || a.PGCount != b.PGCount {
		return nil
	}
	var out []Move
	for pg := range b.PGCount {
		from, to := a.Homes(pg, n), b.Homes(pg, n)
		for i := range min(len(from), len(to)) {
			if from[i] != to[i] {
				out = append(out, Move{PG: pg, Index: i, From: from[i], To: to[i]})
			}
		}
	}
	return out
}

// Moved returns how many placement groups have a different set of homes (the
// first n of the preference list, in any order) in layout b than in layout a:
// the PGs a change from a to b has to rebalance. If the layouts have different
// PG counts every object is remapped, and Moved returns b's PGCount. A nil
// layout counts as one without nodes.
func Moved(a, b *Layout, n int) int {
	var empty Layout
	if a == nil {
		a = &empty
	}
	if b == nil {
		b = &empty
	}
	if a.PGCount != b.PGCount {
		return max(b.PGCount, 0)
	}
	moved := 0
	for pg := range b.PGCount {
		if !sameSet(homes(a, pg, n), homes(b, pg, n)) {
			moved++
		}
	}
	return moved
}

func homes(l *Layout, pg, n int) []NodeID { return l.Homes(pg, n) }

func sameSet(a, b []NodeID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, id := range a {
		if !slices.Contains(b, id) {
			return false
		}
	}
	return true
}

// Align returns next rearranged so that every node that is also in prev keeps
// its index from prev; the other nodes of next fill the free indices in their
// order in next. Use it when a layout change alters a PG's homes: with
// prev = the old homes and next = the new ones, only the shards of nodes that
// left the home set have to move. Indices of prev beyond len(next) are ignored.
// The result is a new slice with the same nodes as next.
func Align(prev, next []NodeID) []NodeID {
	out := make([]NodeID, len(next))
	kept := make([]bool, len(next)) // kept[j]: next[j] already has its old index
	taken := make([]bool, len(next))
	for i, id := range prev[:min(len(prev), len(next))] {
		if j := slices.Index(next, id); j >= 0 && !kept[j] {
			out[i], kept[j], taken[i] = id, true, true
		}
	}
	free := 0
	for j, id := range next {
		if kept[j] {
			continue
		}
		for taken[free] {
			free++
		}
		out[free], taken[free] = id, true
	}
	return out
}

package node

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
)

// The census is the scanner pass's step before the scrub. It used to come
// after it, to see what this node's scrub had just repaired; but what a
// node counts mostly lives on other nodes, repaired in their own passes,
// and a scrub over a few gigabytes at the scrub rate held the histogram
// back by minutes after a restart whose shards the handoff had long
// returned. Now a census reflects the cluster as of the start of its pass
// (NodeStats.CensusStarted), and damage a scrub repairs shows in the next
// one, which objctl heal --wait starts at once. It walks every record this node keeps,
// current ("o/") and retained ("v/"), and counts:
//
//   - the shard files and bytes this node holds as the recorded home of a
//     version (Version.Shards), and those bytes per placement group,
//     inline fragments included, for NodeStats;
//   - the durability histogram: for each object version of a placement
//     group this node counts, how many of its shards can still be read,
//     as transport.RedundancyCounts per bucket.
//
// Each version is counted by one node of the cluster: the first home of
// its placement group, in the layout's shard order, that membership says
// is alive (without a layout, the first live node of Version.Shards).
// Delete markers, tombstones and purge tombstones hold no data and are not
// counted. A version is counted at the worst of its units (the parts of a
// multipart object): it is readable only while every part is.
//
// A shard counts as readable when one of its holders (its home, then the
// fallback holding it as a hint) is alive and has it; an inline object's
// fragment counts at the homes whose record holds it. This node's own
// shards are checked with a stat of the file; the other holders' with an
// empty read, which opens the shard without moving its bytes, as the
// scrub's countLost does. The homes are asked a page of records at a time,
// one exchange per node for all the page's shards it should hold
// (transport.ShardProber, probePage); a fallback holding a hint, or a
// home that cannot answer that way, is asked one shard at a time. Holders
// membership reports down cost nothing. Each batched probe is charged
// batchedProbeCost bytes against the scrub's pacer and each single one
// probeCost, so scrubbing and probing together stay within ScrubRate.
// Before the batches, a census of the 24,000 objects of a benchmark run
// was one request per remote shard, every minute: a load of its own.
//
// The census is published only once complete: a pass cut short leaves the
// previous one in place.

// probeCost is what one probe of a remote shard is charged against the
// scrub's byte rate: about a request's headers, and the page or so of
// metadata the holder reads to open the file.
const probeCost = 4 << 10

// census is what one scanner pass counted (see above).
type census struct {
	started            time.Time // what it counts is as of this time or later
	shards, shardBytes int64
	// pgBytes is keyed by placement group under pgCount groups; nil
	// without a layout.
	pgCount int
	pgBytes map[int]int64
	// redundancy is per bucket.
	redundancy map[string]transport.RedundancyCounts
}

// takeCensus is the census step of the scanner pass.
func (n *Node) takeCensus(ctx context.Context) error {
	layout := n.layout()
	// Wall clock in UTC (Round(0) drops the monotonic reading), as it
	// reads back from the wire: it is compared with other machines' times.
	c := &census{started: n.cfg.Now().UTC().Round(0), redundancy: map[string]transport.RedundancyCounts{}}
	if layout != nil {
		c.pgCount, c.pgBytes = layout.PGCount, map[int]int64{}
	}
	counter := map[int]bool{} // PG → whether this node counts it, for this pass
	var errs errList
	for _, prefix := range []string{objectKeyPrefix, "v/"} {
		var after []byte
		for {
			batch, next, err := n.recordPage(ctx, prefix, after, 256)
			if err != nil {
				return fmt.Errorf("census: %w", err)
			}
			known, err := n.probePage(ctx, layout, counter, batch)
			if err != nil {
				return fmt.Errorf("census: %w", err)
			}
			for _, v := range batch {
				if v.Deleted || v.IsPurged() {
					continue
				}
				if err := n.censusRecord(ctx, c, layout, counter, known, v); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					errs.add(err)
				}
			}
			if next == nil {
				break
			}
			after = next
		}
	}
	n.scan.report.setCensus(c)
	return errs.err("census")
}

// recordPage reads up to limit records under prefix after the store key
// after, and returns the store key to resume after; nil at the end. The
// iterator is closed between pages: the census probes other nodes between
// them, and an open iterator would pin the store's files all the while.
func (n *Node) recordPage(ctx context.Context, prefix string, after []byte, limit int) (batch []*metadata.Version, next []byte, err error) {
	lower := []byte(prefix)
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	valid := it.First()
	if after != nil {
		valid = it.SeekGE(append(bytes.Clone(after), 0))
	}
	var last []byte
	for ; valid; valid = it.Next() {
		if len(batch) == limit {
			return batch, last, it.Error()
		}
		last = append(last[:0], it.Key()...)
		v := new(metadata.Version)
		if err := v.UnmarshalBinary(it.Value()); err != nil {
			n.log.Error("undecodable record", "key", string(it.Key()), "err", err)
			continue
		}
		batch = append(batch, v)
	}
	return batch, nil, it.Error()
}

// probed is what batched probes found: whether a node holds a shard.
type probed map[probeKey]bool

type probeKey struct {
	node, bucket, key, version string
	index                      int
}

func keyOf(id string, ref transport.ShardRef) probeKey {
	return probeKey{id, ref.Bucket, ref.Key, ref.VersionID, ref.Index}
}

// batchedProbeCost is what one shard of a batched probe is charged
// against the scrub's byte rate: the holder's index lookup, without a
// request of its own.
const batchedProbeCost = 512

// probePage asks each live remote home, in one exchange per node
// (transport.ShardProber), whether it holds the shards of the page's
// versions that this node counts. Homes that cannot answer that way are
// left out and probed one shard at a time as before, as are fallbacks
// holding hints, asked only when a home lacks its shard.
func (n *Node) probePage(ctx context.Context, layout *placement.Layout, counter map[int]bool, page []*metadata.Version) (probed, error) {
	want := map[string][]transport.ShardRef{}
	for _, v := range page {
		if v.Deleted || v.IsPurged() {
			continue
		}
		if _, counts := n.counts(layout, counter, v); !counts {
			continue
		}
		for _, u := range units(v) {
			for i, id := range v.Shards {
				if id != n.cfg.ID && n.cfg.Alive(id) {
					want[id] = append(want[id], transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: u.name, Index: i})
				}
			}
		}
	}
	known := probed{}
	for id, refs := range want {
		c, err := n.peer(id)
		if err != nil {
			continue
		}
		sp, ok := c.(transport.ShardProber)
		if !ok {
			continue
		}
		if err := n.scan.pace.wait(ctx, int64(batchedProbeCost*len(refs)), n.cfg.ScrubRate); err != nil {
			return nil, err
		}
		has, err := sp.HasShards(ctx, refs)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		for j, ref := range refs {
			known[keyOf(id, ref)] = has[j]
		}
	}
	return known, nil
}

// counts returns a version's placement group and whether this node counts
// it, remembering the answer per group for the pass.
func (n *Node) counts(layout *placement.Layout, counter map[int]bool, v *metadata.Version) (pg int, counts bool) {
	pg = -1
	if layout != nil {
		pg = placement.PG(layout, v.Bucket, v.Key)
	}
	counts, ok := counter[pg]
	if !ok || layout == nil {
		counts = n.isCounter(layout, pg, v)
		counter[pg] = counts
	}
	k, m := v.EC.DataShards, v.EC.ParityShards
	return pg, counts && k >= 1 && m >= 0 && len(v.Shards) > 0
}

// censusRecord adds one version to c.
func (n *Node) censusRecord(ctx context.Context, c *census, layout *placement.Layout, counter map[int]bool, known probed, v *metadata.Version) error {
	pg, counts := n.counts(layout, counter, v)
	var held int64
	for i, id := range v.Shards {
		if id != n.cfg.ID {
			continue
		}
		if v.IsInline() {
			held += int64(len(v.Inline))
			continue
		}
		for _, u := range units(v) {
			size, ok, err := n.shards.stat(transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: u.name, Index: i})
			if err != nil {
				return err
			}
			if ok {
				c.shards++
				c.shardBytes += size
				held += size
			}
		}
	}
	if held > 0 && c.pgBytes != nil {
		c.pgBytes[pg] += held
	}

	if !counts {
		return nil
	}
	k, m := v.EC.DataShards, v.EC.ParityShards
	readable := len(v.Shards)
	for _, u := range units(v) {
		r, err := n.readableShards(ctx, v, u, known)
		if err != nil {
			return err
		}
		readable = min(readable, r)
	}
	h := c.redundancy[v.Bucket]
	for len(h.Objects) < m+1 {
		h.Objects = append(h.Objects, 0)
		h.Bytes = append(h.Bytes, 0)
	}
	if left := readable - k; left < 0 {
		h.Lost++
	} else {
		left = min(left, m)
		h.Objects[left]++
		h.Bytes[left] += v.Size
	}
	c.redundancy[v.Bucket] = h
	return nil
}

// isCounter reports whether this node counts the versions of placement
// group pg: it is the first of the group's homes that is alive. Without a
// layout the version's own homes stand in for the group's.
func (n *Node) isCounter(layout *placement.Layout, pg int, v *metadata.Version) bool {
	var homes []string
	if layout != nil {
		for _, id := range layout.Homes(pg, min(n.cfg.HomesPerPG, len(layout.Nodes))) {
			homes = append(homes, string(id))
		}
	} else {
		homes = v.Shards
	}
	for _, id := range homes {
		if id == n.cfg.ID {
			return true // this node is running its pass: alive, whatever membership says
		}
		if n.cfg.Alive(id) {
			return false
		}
	}
	return false
}

// readableShards counts the shards of unit u of v that a live holder has,
// taking what batched probes already found.
func (n *Node) readableShards(ctx context.Context, v *metadata.Version, u shardUnit, known probed) (int, error) {
	readable := 0
	for i := range v.Shards {
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: u.name, Index: i}
		hs := holders(v, i)
		if v.IsInline() {
			hs = hs[:1] // a fragment lives in its home's record; hints hand records on
		}
		for _, id := range hs {
			ok, probedAlready := known[keyOf(id, ref)]
			if !probedAlready {
				var err error
				if ok, err = n.holds(ctx, id, v, ref); err != nil {
					return 0, err
				}
			}
			if ok {
				readable++
				break
			}
		}
	}
	return readable, nil
}

// holds reports whether node id is alive and has shard ref of v. Only the
// end of ctx is an error: a holder that cannot say does not hold it, as far
// as a reader could tell.
func (n *Node) holds(ctx context.Context, id string, v *metadata.Version, ref transport.ShardRef) (bool, error) {
	if id == n.cfg.ID {
		if v.IsInline() {
			// v is this node's own record, so its fragment is this node's.
			return len(v.Inline) > 0, nil
		}
		_, ok, err := n.shards.stat(ref)
		return ok, err
	}
	if !n.cfg.Alive(id) {
		return false, nil
	}
	if err := n.scan.pace.wait(ctx, probeCost, n.cfg.ScrubRate); err != nil {
		return false, err
	}
	rc, err := n.readFrom(ctx, id, ref, 0, 0)
	if err == nil {
		rc.Close()
		return true, nil
	}
	return false, ctx.Err()
}

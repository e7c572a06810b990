package node

// The scanner keeps a node's data whole without a client having to read it.
// One pass (ScanNow; the loop runs one every Config.ScanInterval) does, in
// this order:
//
//  1. Metadata anti-entropy. For every placement group this node is a home
//     of (the first HomesPerPG nodes of the group's preference list in
//     Config.Layout), it compares its PGDigest with each other home's. On a
//     mismatch it pulls that home's records of the group (transport.
//     AntiEntropy.PGRecords) and stores each one through the normal
//     newest-wins PutVersion. Records carry no inline data on the wire:
//     each home keeps its own fragment, so for an inline object this node
//     rebuilds its fragment from the other homes' fragments
//     (erasure.Codec.ReconstructShards over ReadShard) before storing the
//     record. Bucket records, which every node keeps, are merged from every
//     live peer. Records come first so that the scrub below sees the
//     versions this node missed, and the orphan collector does not take
//     shards whose record was about to arrive.
//  2. Repair debts. Shards a hint could not cover (see hints.go) are rebuilt
//     here from k other shards and streamed to their home, which checks
//     every frame before it acknowledges; the home gets the record first if
//     it lacks it. A debt whose version is gone everywhere is dropped.
//  3. Scrub. Every shard this node is the recorded home of (Version.Shards,
//     not the layout: the record says where data was written) is opened and
//     its frames verified, at most ScrubRate bytes per second. Missing and
//     corrupt shards, and corrupt inline fragments, are queued; the queue is
//     ordered by how many shards each object has lost in all (probed with
//     empty reads of the other holders), most first, since those are
//     closest to being unreadable. Each is rebuilt from k others (or copied
//     from the fallback that holds it as a hint) and written through the
//     crash-safe shard store.
//  4. Orphans. Shards that no record, pending conditional write,
//     retired version still in its grace (retire.go), in-progress
//     multipart part or hint on this node names, and that were written
//     more than OrphanGrace ago, are deleted. The grace covers PUTs in
//     flight, whose shards land before their records.
//  5. Compaction. Sealed shard segments that are mostly deleted shards are
//     rewritten (segments.go).
//
// A node whose data dir was wiped comes back through 1 and 3: the other
// homes hand it every record of its groups, and the scrub finds all its
// shards missing and rebuilds them, worst-off objects first.
//
// Passes are serialised; the scanner goroutine belongs to the Node and ends
// with Close.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
)

// Defaults of the scanner.
const (
	DefaultScanInterval = time.Minute
	DefaultScrubRate    = 32 << 20
	DefaultOrphanGrace  = time.Hour
	DefaultHomesPerPG   = 6
)

// ScannerStats counts the scanner's work since the node started.
type ScannerStats struct {
	Passes         int64
	RecordsScanned int64 // own records walked by the scrub
	RecordsPulled  int64 // records taken from other homes by anti-entropy
	BucketsPulled  int64
	ShardsVerified int64
	BytesVerified  int64
	ShardsMissing  int64
	ShardsCorrupt  int64 // shard files and inline fragments that failed verification
	ShardsRebuilt  int64
	RepairFailures int64
	OrphansRemoved int64
	DebtsSettled   int64
	// AwaitingHandoff counts missing shards left to the fallback holding
	// them as a hint rather than rebuilt.
	AwaitingHandoff int64
	// ScrubsCut counts scrubs that stopped early for a pass asked for
	// meanwhile; the next pass scrubs on from there.
	ScrubsCut int64
	// Segment compaction: segments removed, live bytes they moved, bytes
	// they freed.
	SegmentsCompacted int64
	CompactedBytes    int64
	FreedBytes        int64
	// LastPass is when the last pass ended; LastPassDuration how long it took.
	LastPass         time.Time
	LastPassDuration time.Duration
}

type scanState struct {
	pass sync.Mutex // one pass at a time

	mu    sync.Mutex
	stats ScannerStats

	pace pacer // holds scrubbing to ScrubRate

	// scrubFrom is where the next scrub starts: nil at the beginning, the
	// store key it stopped after when a pass asked for meanwhile cut it
	// short. Guarded by pass.
	scrubFrom []byte

	// onRepair, set by tests, sees every queued repair in the order
	// the scanner works through them.
	onRepair func(bucket, key string, index, lost int)
	// asked, set by tests, stands in for a pending StartScan.
	asked func() bool

	report scanReport // for NodeStats and StartScan (stats.go)
}

// passAsked reports whether StartScan asked for a pass after this one.
func (s *scanState) passAsked() bool {
	if s.asked != nil {
		return s.asked()
	}
	return len(s.report.kicks()) > 0
}

func (s *scanState) add(f func(*ScannerStats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// ScannerStats returns the scanner's counters.
func (n *Node) ScannerStats() ScannerStats {
	n.scan.mu.Lock()
	defer n.scan.mu.Unlock()
	return n.scan.stats
}

// runScanner runs a pass every ScanInterval, when the node has Peers and
// a layout, and one whenever StartScan asks, until ctx ends.
func (n *Node) runScanner(ctx context.Context) {
	var tick <-chan time.Time
	if n.cfg.Peers != nil && n.layout() != nil {
		t := time.NewTicker(n.cfg.ScanInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-n.scan.report.kicks():
		}
		if err := n.ScanNow(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("scanner pass incomplete", "err", err)
		}
	}
}

// ScanNow runs one full scanner pass (see the top of scanner.go) and
// returns once it is done. It reports what it could not do; the pass goes
// on past each failure. Peers that membership says are down are skipped,
// not reported. Without Config.Peers only scrubbing and orphan collection
// run (damage is counted, not repaired); without Config.Layout there is no
// metadata anti-entropy.
func (n *Node) ScanNow(ctx context.Context) error {
	n.scan.pass.Lock()
	defer n.scan.pass.Unlock()
	start := time.Now()
	var errs []error
	if n.cfg.Peers != nil && n.layout() != nil {
		errs = append(errs, n.syncMetadata(ctx))
	}
	if n.cfg.Peers != nil {
		errs = append(errs, n.settleDebts(ctx))
	}
	errs = append(errs, n.takeCensus(ctx))
	errs = append(errs, n.scrub(ctx))
	errs = append(errs, n.rebalance(ctx))
	errs = append(errs, n.collectOrphans(ctx))
	errs = append(errs, n.compactShards(ctx))
	n.scan.add(func(s *ScannerStats) {
		s.Passes++
		s.LastPass = time.Now()
		s.LastPassDuration = time.Since(start)
	})
	return errors.Join(errs...)
}

// errList keeps the first few of many similar errors.
type errList struct {
	mu   sync.Mutex // add may be called from several goroutines
	n    int
	errs []error
}

func (l *errList) add(err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if len(l.errs) < 3 {
		l.errs = append(l.errs, err)
	}
}

func (l *errList) err(what string) error {
	if l.n == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d failed, first: %w", what, l.n, errors.Join(l.errs...))
}

// syncMetadata is step 1: buckets from every peer, object records from the
// other homes of each group whose digest differs.
func (n *Node) syncMetadata(ctx context.Context) error {
	layout := n.layout()
	var errs errList
	homes := min(n.cfg.HomesPerPG, len(layout.Nodes))
	shared := map[string][]int{} // peer → groups both are homes of
	for pg := range layout.PGCount {
		pref := layout.Homes(pg, homes)
		if !slices.Contains(pref, placement.NodeID(n.cfg.ID)) {
			continue
		}
		for _, id := range pref {
			if string(id) != n.cfg.ID {
				shared[string(id)] = append(shared[string(id)], pg)
			}
		}
	}
	var peers []string
	for _, nd := range layout.Nodes {
		if id := string(nd.ID); id != n.cfg.ID && n.cfg.Alive(id) {
			peers = append(peers, id)
		}
	}
	for _, id := range peers {
		errs.add(n.syncBuckets(ctx, id))
	}
	mine, err := n.PGDigests(ctx, layout.PGCount)
	if err != nil {
		return err
	}
	for _, id := range peers {
		if len(shared[id]) == 0 {
			continue
		}
		c, err := n.peer(id)
		if err != nil {
			errs.add(err)
			continue
		}
		ae, ok := c.(transport.AntiEntropy)
		if !ok {
			continue
		}
		theirs, err := ae.PGDigests(ctx, layout.PGCount)
		if err != nil {
			errs.add(err)
			continue
		}
		var pull []int
		for _, pg := range shared[id] {
			if d, ok := theirs[pg]; ok && d != mine[pg] {
				pull = append(pull, pg)
			}
		}
		if len(pull) == 0 {
			continue
		}
		applied, err := n.pullRecords(ctx, ae, layout.PGCount, pull)
		errs.add(err)
		if applied > 0 {
			// What this home gave may be what the next one would: compare
			// again rather than pull it twice.
			if mine, err = n.PGDigests(ctx, layout.PGCount); err != nil {
				return err
			}
		}
	}
	return errs.err("metadata anti-entropy")
}

func (n *Node) syncBuckets(ctx context.Context, id string) error {
	c, err := n.peer(id)
	if err != nil {
		return err
	}
	bs, err := c.Buckets(ctx)
	if err != nil {
		return err
	}
	mine, err := n.Buckets(ctx)
	if err != nil {
		return err
	}
	have := map[string]metadata.HLC{}
	for _, b := range mine {
		have[b.Name] = b.HLC
	}
	for i := range bs {
		if hlc, ok := have[bs[i].Name]; ok && hlc >= bs[i].HLC {
			continue
		}
		if err := n.PutBucket(ctx, &bs[i]); err != nil {
			return err
		}
		n.scan.add(func(s *ScannerStats) { s.BucketsPulled++ })
	}
	return nil
}

// pullPage is how many records one PGRecords call asks for.
const pullPage = 256

func (n *Node) pullRecords(ctx context.Context, ae transport.AntiEntropy, pgCount int, pgs []int) (int, error) {
	var errs errList
	applied := 0
	req := transport.PGRecordsRequest{PGCount: pgCount, PGs: pgs, Limit: pullPage}
	for {
		page, err := ae.PGRecords(ctx, req)
		if err != nil {
			errs.add(err)
			return applied, errs.err("pull records")
		}
		for _, v := range page.Records {
			ok, err := n.applyRecord(ctx, v)
			errs.add(err)
			if ok {
				applied++
				n.scan.add(func(s *ScannerStats) { s.RecordsPulled++ })
			}
		}
		if !page.Truncated || len(page.Records) == 0 {
			return applied, errs.err("pull records")
		}
		last := page.Records[len(page.Records)-1]
		req.After = metadata.ObjectKey{Bucket: last.Bucket, Key: last.Key}
	}
}

// settleDebts is step 2.
func (n *Node) settleDebts(ctx context.Context) error {
	var errs errList
	for home, st := range n.HintStats() {
		if st.RepairDebts == 0 || !n.cfg.Alive(home) {
			continue
		}
		batch, err := n.readHints(homePrefix(repairPrefix, home), 1<<20)
		if err != nil {
			errs.add(err)
			continue
		}
		for _, kh := range batch {
			done, err := n.settleDebt(ctx, &kh.h)
			errs.add(err)
			if !done {
				continue
			}
			if err := n.db.Delete(kh.key, pebble.Sync); err != nil {
				errs.add(err)
				continue
			}
			n.hints.mu.Lock()
			if s := n.hints.stat(home); s.RepairDebts > 0 {
				s.RepairDebts--
			}
			n.hints.mu.Unlock()
			n.scan.add(func(s *ScannerStats) { s.DebtsSettled++ })
		}
	}
	return errs.err("repair debts")
}

// repairJob is one damaged shard (or inline fragment) of this node.
type repairJob struct {
	v       *metadata.Version
	u       shardUnit
	i       int
	inline  bool
	missing bool // absent, not corrupt: it may arrive by handoff meanwhile
	lost    int  // shards of the unit missing on all their holders, this one included
}

// recordBatch reads up to limit object records after the store key after.
// next is nil at the end.
func (n *Node) recordBatch(ctx context.Context, after []byte, limit int) (batch []*metadata.Version, next []byte, err error) {
	return n.recordPage(ctx, objectKeyPrefix, after, limit)
}

// scrub is step 3.
//
// A scrub of a node holding much data takes minutes at ScrubRate. When a
// pass is asked for meanwhile (StartScan: objctl heal, a benchmark waiting
// for full redundancy), the scrub stops after the page it is on, works
// through what it found, and the next pass, which begins with the census
// that was asked for, scrubs on from there.
func (n *Node) scrub(ctx context.Context) error {
	var jobs []repairJob
	after := n.scan.scrubFrom
	for {
		batch, next, err := n.recordBatch(ctx, after, 256)
		if err != nil {
			return fmt.Errorf("scrub: %w", err)
		}
		for _, v := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			n.scan.add(func(s *ScannerStats) { s.RecordsScanned++ })
			jobs = append(jobs, n.scrubRecord(ctx, v)...)
		}
		n.scan.scrubFrom = next
		if next == nil {
			break
		}
		if n.scan.passAsked() {
			n.scan.add(func(s *ScannerStats) { s.ScrubsCut++ })
			break
		}
		after = next
	}
	n.scan.report.findings.Store(int64(len(jobs)))
	if len(jobs) == 0 {
		return nil
	}
	lost := map[string]int{}
	for j := range jobs {
		key := jobs[j].v.Bucket + "\x00" + jobs[j].v.Key + "\x00" + jobs[j].u.name
		l, ok := lost[key]
		if !ok {
			l = n.countLost(ctx, jobs[j].v, jobs[j].u, jobs[j].i)
			lost[key] = l
		}
		jobs[j].lost = l
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].lost > jobs[b].lost })
	var errs errList
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f := n.scan.onRepair; f != nil {
			f(j.v.Bucket, j.v.Key, j.i, j.lost)
		}
		if n.cfg.Peers == nil {
			continue
		}
		if j.missing && n.arrived(j) {
			// Handed back by the fallback that held it while the queue
			// was being worked through.
			n.scan.add(func(s *ScannerStats) { s.AwaitingHandoff++ })
			n.scan.report.findings.Add(-1)
			continue
		}
		var err error
		if j.inline {
			err = n.repairInline(ctx, j.v, j.i)
		} else {
			err = n.rebuildShard(ctx, j.v, j.u, j.i)
		}
		if err != nil {
			errs.add(err)
			n.scan.add(func(s *ScannerStats) { s.RepairFailures++ })
			continue
		}
		n.scan.add(func(s *ScannerStats) { s.ShardsRebuilt++ })
		n.scan.report.findings.Add(-1)
		n.log.Info("shard repaired", "bucket", j.v.Bucket, "key", j.v.Key, "version", j.u.name, "shard", j.i, "lost", j.lost)
	}
	return errs.err("repair")
}

// hintPending reports whether ref, missing here, is held as a hint by a
// live fallback, which hands it back within a handoff interval: rebuilding
// it as well would move its bytes twice, and after a node's restart that
// was most of what its first pass did. The fallback is asked whether it
// still holds the shard (an empty read), so a hint lost with the
// fallback's disk is rebuilt at once; one whose replay keeps failing
// becomes a repair debt when the hint window ends (hints.go).
func (n *Node) hintPending(ctx context.Context, v *metadata.Version, ref transport.ShardRef) bool {
	if n.cfg.Peers == nil || ref.Index >= len(v.Hints) {
		return false
	}
	holder := v.Hints[ref.Index]
	if holder == "" || holder == n.cfg.ID {
		return false
	}
	ok, _ := n.holds(ctx, holder, v, ref)
	return ok
}

// arrived reports whether the missing shard of j is here now.
func (n *Node) arrived(j repairJob) bool {
	_, ok, err := n.shards.stat(transport.ShardRef{Bucket: j.v.Bucket, Key: j.v.Key, VersionID: j.u.name, Index: j.i})
	return err == nil && ok
}

// scrubRecord verifies this node's shards of one record and returns the
// damaged ones.
func (n *Node) scrubRecord(ctx context.Context, v *metadata.Version) []repairJob {
	if v.Deleted {
		return nil
	}
	var mine []int
	for i, id := range v.Shards {
		if id == n.cfg.ID {
			mine = append(mine, i)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	codec, err := n.codecFor(v.EC)
	if err != nil {
		n.log.Error("scrub: bad erasure parameters", "bucket", v.Bucket, "key", v.Key, "err", err)
		return nil
	}
	var jobs []repairJob
	if v.IsInline() {
		if err := n.scan.pace.wait(ctx, int64(len(v.Inline)), n.cfg.ScrubRate); err != nil {
			return nil
		}
		err := codec.VerifyShard(bytes.NewReader(v.Inline), v.Size)
		n.scan.add(func(s *ScannerStats) { s.ShardsVerified++; s.BytesVerified += int64(len(v.Inline)) })
		if err != nil {
			n.scan.add(func(s *ScannerStats) { s.ShardsCorrupt++ })
			n.log.Warn("scrub: corrupt inline fragment", "bucket", v.Bucket, "key", v.Key, "shard", mine[0], "err", err)
			jobs = append(jobs, repairJob{v: v, u: shardUnit{v.VersionID, v.Size}, i: mine[0], inline: true})
		}
		return jobs
	}
	for _, u := range units(v) {
		for _, i := range mine {
			ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: u.name, Index: i}
			sh, err := n.shards.open(ref)
			if errors.Is(err, transport.ErrNotFound) {
				n.scan.add(func(s *ScannerStats) { s.ShardsMissing++ })
				if n.hintPending(ctx, v, ref) {
					n.scan.add(func(s *ScannerStats) { s.AwaitingHandoff++ })
					continue
				}
				jobs = append(jobs, repairJob{v: v, u: u, i: i, missing: true})
				continue
			}
			if err != nil {
				n.log.Warn("scrub: open shard", "shard", ref.String(), "err", err)
				continue
			}
			size := sh.size
			if err := n.scan.pace.wait(ctx, size, n.cfg.ScrubRate); err != nil {
				sh.Close()
				return jobs
			}
			if want := codec.ShardFileSize(u.size); size != want {
				err = fmt.Errorf("size %d, want %d", size, want)
			} else {
				err = codec.VerifyShard(sh.section(0, size), u.size)
			}
			sh.Close()
			n.scan.add(func(s *ScannerStats) { s.ShardsVerified++; s.BytesVerified += size })
			if err != nil {
				n.scan.add(func(s *ScannerStats) { s.ShardsCorrupt++ })
				n.log.Warn("scrub: corrupt shard", "shard", ref.String(), "err", err)
				jobs = append(jobs, repairJob{v: v, u: u, i: i})
			}
		}
	}
	return jobs
}

// countLost counts the shards of unit u of v that none of their holders
// has, damaged (this node's, known bad) included. An empty read is enough
// to tell for the others: it opens the shard without moving its bytes.
func (n *Node) countLost(ctx context.Context, v *metadata.Version, u shardUnit, damaged int) int {
	lost := 0
	for i := range v.Shards {
		if i == damaged {
			lost++
			continue
		}
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: u.name, Index: i}
		found := false
		for _, id := range holders(v, i) {
			if rc, err := n.readFrom(ctx, id, ref, 0, 0); err == nil {
				rc.Close()
				found = true
				break
			}
		}
		if !found {
			lost++
		}
	}
	return lost
}

// repairInline rebuilds this node's inline fragment of v and stores it if v
// is still the key's record.
func (n *Node) repairInline(ctx context.Context, v *metadata.Version, i int) error {
	frag, err := n.inlineFragment(ctx, v, i)
	if err != nil {
		return err
	}
	unlock := n.lockKey(v.Bucket, v.Key)
	defer unlock()
	cur, err := n.getVersion(v.Bucket, v.Key)
	if err != nil || cur.VersionID != v.VersionID {
		return err // superseded meanwhile: nothing to repair
	}
	cur.Inline = frag
	rec, err := cur.MarshalBinary()
	if err != nil {
		return err
	}
	return n.db.Set(metadata.ObjectRecordKey(v.Bucket, v.Key), rec, pebble.Sync)
}

// collectOrphans is step 4. Candidates are gathered against one snapshot
// of the references and removed only if a second one, taken after the
// listing, does not name them either (a record that arrived meanwhile
// keeps its shards), and only if their index entry is still the one seen.
func (n *Node) collectOrphans(ctx context.Context) error {
	refs, err := n.referencedHashes(ctx)
	if err != nil {
		return fmt.Errorf("orphans: %w", err)
	}
	now := n.cfg.Now()
	var cands []indexEntry
	err = n.shards.segs.entries(ctx, func(key []byte, loc location) error {
		hash, _, ok := parseShardLocKey(key)
		if ok && !refs[hash] && now.Sub(time.Unix(0, loc.written)) >= n.cfg.OrphanGrace {
			cands = append(cands, indexEntry{slices.Clone(key), loc})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("orphans: %w", err)
	}
	if len(cands) == 0 {
		return nil
	}
	if refs, err = n.referencedHashes(ctx); err != nil {
		return fmt.Errorf("orphans: %w", err)
	}
	var errs errList
	for _, c := range cands {
		hash, index, _ := parseShardLocKey(c.key)
		if refs[hash] {
			continue
		}
		removed, err := n.shards.segs.removeIf(c.key, c.loc)
		if err != nil {
			errs.add(err)
			continue
		}
		if removed {
			n.scan.add(func(s *ScannerStats) { s.OrphansRemoved++ })
			n.log.Info("orphan shard removed", "version_hash", hash, "index", index)
		}
	}
	return errs.err("orphans")
}

// compactShards is step 5: segments mostly holding deleted shards are
// rewritten (segments.go), at most ScrubRate bytes per second.
func (n *Node) compactShards(ctx context.Context) error {
	st, err := n.shards.segs.compact(ctx, func(size int64) error {
		return n.scan.pace.wait(ctx, size, n.cfg.ScrubRate)
	})
	n.scan.add(func(s *ScannerStats) {
		s.SegmentsCompacted += int64(st.Segments)
		s.CompactedBytes += st.MovedBytes
		s.FreedBytes += st.FreedBytes
	})
	if st.Segments > 0 {
		n.log.Info("shard segments compacted", "segments", st.Segments, "moved_bytes", st.MovedBytes, "freed_bytes", st.FreedBytes)
	}
	return err
}

// referencedHashes returns the version hashes (see versionHash) of every
// shard file something on this node still needs.
func (n *Node) referencedHashes(ctx context.Context) (map[string]bool, error) {
	refs := map[string]bool{}
	addVersion := func(v *metadata.Version) {
		for _, u := range units(v) {
			refs[versionHash(v.Bucket, v.Key, u.name)] = true
		}
	}
	scan := func(prefix string, f func(k, val []byte) error) error {
		lower := []byte(prefix)
		it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
		if err != nil {
			return err
		}
		defer it.Close()
		for valid := it.First(); valid; valid = it.Next() {
			if err := f(it.Key(), it.Value()); err != nil {
				return err
			}
		}
		return it.Error()
	}
	// A record that cannot be decoded stops collection: we cannot tell
	// what it references.
	err := scan(objectKeyPrefix, func(k, val []byte) error {
		var v metadata.Version
		if err := v.UnmarshalBinary(val); err != nil {
			return fmt.Errorf("record %q: %w", k, err)
		}
		addVersion(&v)
		return nil
	})
	if err == nil {
		// Older versions a versioned key keeps (versions.go); purge
		// tombstones reference nothing.
		err = scan("v/", func(k, val []byte) error {
			var v metadata.Version
			if err := v.UnmarshalBinary(val); err != nil {
				return fmt.Errorf("version record %q: %w", k, err)
			}
			if !v.IsPurged() {
				addVersion(&v)
			}
			return nil
		})
	}
	if err == nil {
		err = scan("d/", func(k, val []byte) error {
			l, w := binary.Uvarint(val)
			if w <= 0 || l > uint64(len(val)-w) {
				return fmt.Errorf("displaced record %q: %w", k, transport.ErrCorrupt)
			}
			if rest := val[w+int(l):]; len(rest) > 0 {
				var v metadata.Version
				if err := v.UnmarshalBinary(rest); err != nil {
					return fmt.Errorf("displaced record %q: %w", k, err)
				}
				addVersion(&v)
			}
			return nil
		})
	}
	if err == nil {
		// Retired versions keep their shards until their grace ends
		// (retire.go): readers may still be on them.
		err = scan(retirePrefix, func(k, val []byte) error {
			var v metadata.Version
			if err := v.UnmarshalBinary(val); err != nil {
				return fmt.Errorf("retirement %q: %w", k, err)
			}
			addVersion(&v)
			return nil
		})
	}
	if err == nil {
		err = scan("q/", func(k, val []byte) error {
			bucket, key, ok := splitPartKey(k)
			var p metadata.UploadPart
			if !ok || p.UnmarshalBinary(val) != nil {
				return fmt.Errorf("part record %q: %w", k, transport.ErrCorrupt)
			}
			refs[versionHash(bucket, key, p.StorageID)] = true
			return nil
		})
	}
	if err == nil {
		err = scan(hintPrefix, func(k, val []byte) error {
			var h hint
			if err := json.Unmarshal(val, &h); err != nil {
				return fmt.Errorf("hint %q: %w", k, err)
			}
			if h.Kind == hintKindShard {
				refs[versionHash(h.Bucket, h.Key, h.VersionID)] = true
			}
			return nil
		})
	}
	return refs, err
}

// splitPartKey returns the bucket and key of a part record's pebble key,
// "q/" bucket "/" key 0 uploadID 0 number. Keys may hold NUL; upload IDs
// and numbers never do, so the key ends at the second NUL from the end.
func splitPartKey(k []byte) (bucket, key string, ok bool) {
	s, found := strings.CutPrefix(string(k), "q/")
	if !found {
		return "", "", false
	}
	bucket, rest, found := strings.Cut(s, "/")
	if !found {
		return "", "", false
	}
	end := strings.LastIndexByte(rest, 0)
	if end < 0 {
		return "", "", false
	}
	end = strings.LastIndexByte(rest[:end], 0)
	if end < 0 {
		return "", "", false
	}
	return bucket, rest[:end], true
}

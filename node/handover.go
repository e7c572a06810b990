package node

// Rebalance: after a layout change, each node hands the shards whose home
// moved to their new home, and gives up the records of groups it is no
// longer a home of. It runs in the scanner pass, after the scrub.
//
// For every version this node is the recorded holder of shard i of
// (Version.Shards[i]), while the layout's home of index i of its group is
// another node T:
//
//  1. T gets the record (as home index i would store it) and the shard's
//     bytes, for every erasure-coded unit (the object or each part); T
//     verifies every frame before it acknowledges.
//  2. Every home of the group, T included, and then this node, repoint
//     Shards[i] from this node to T (transport.Relocator), a compare-and-
//     set that commutes with tag changes and is idempotent. A home that
//     keeps no such version answers not-found: nothing to repoint there.
//     Any other failure stops the move here; the next pass starts it
//     again from step 1.
//  3. Once no index of the version names this node, its files here are
//     retired: they stay for RetireGrace, so that reads which found the
//     old record a moment ago still find them.
//
// Until step 2 ends reads find shard i here, as the record says; from then
// on at T. During the move an object of a moving group has every shard
// but the moving one on its homes' records, so it can lose m-1 more.
//
// A record of a group this node is no longer a home of is dropped once no
// version of its key names this node as a holder: every version is first
// offered to every home (PutVersion keeps the newest and refuses late
// copies of purged versions), and only when every home accepted are the
// key's records deleted here. Until then listings that merge every node's
// records keep seeing it here too, as before the change.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
)

// DefaultRebalanceRate bounds the bytes a node hands over per second.
const DefaultRebalanceRate = 64 << 20

// handoverWorkers is how many keys a node hands over at once. A key's move
// is a chain of synced writes on other nodes (the record and shard to the
// new home, a repoint on every home, the records to every home before a
// drained node drops its own), so one key at a time leaves the disks and
// the network idle between round trips; the rate limit still bounds the
// bytes.
const handoverWorkers = 4

type handoverState struct {
	pace pacer

	mu sync.Mutex
	// As of the last pass: shards here whose home is another node.
	misplaced, misplacedBytes int64
	// Since start.
	moved, movedBytes int64
	// Wall time with a move under way, not the sum of the moves'
	// durations: several run at once (handoverWorkers).
	moveTime    time.Duration
	moving      int       // moves under way
	movingSince time.Time // when moving last rose from 0
}

// moveStarted and moveEnded bracket one shard move.
func (h *handoverState) moveStarted() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.moving == 0 {
		h.movingSince = time.Now()
	}
	h.moving++
}

func (h *handoverState) moveEnded(moved bool, size int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.moving--
	if h.moving == 0 {
		h.moveTime += time.Since(h.movingSince)
	}
	if moved {
		h.moved++
		h.movedBytes += size
		h.misplaced--
		h.misplacedBytes -= size
	}
}

// RebalanceStats is the rebalance's progress on this node.
type RebalanceStats struct {
	Misplaced, MisplacedBytes int64 // left after the last pass
	Moved, MovedBytes         int64 // since start
	// MoveRate is the bytes per second of the moves so far, over the time
	// moves were under way (pauses for the rate limit and moves that
	// failed included); 0 until enough has moved to tell.
	MoveRate float64
}

// RebalanceStats returns the rebalance's progress on this node.
func (n *Node) RebalanceStats() RebalanceStats {
	h := &n.handover
	h.mu.Lock()
	defer h.mu.Unlock()
	st := RebalanceStats{Misplaced: h.misplaced, MisplacedBytes: h.misplacedBytes,
		Moved: h.moved, MovedBytes: h.movedBytes}
	busy := h.moveTime
	if h.moving > 0 {
		busy += time.Since(h.movingSince)
	}
	// Below a few MiB the time is mostly round trips, not a rate.
	if h.movedBytes >= 4<<20 && busy > 0 {
		st.MoveRate = float64(h.movedBytes) / busy.Seconds()
	}
	return st
}

var _ transport.Relocator = (*Node)(nil)

// RelocateShard implements transport.Relocator.
func (n *Node) RelocateShard(ctx context.Context, r transport.Relocation) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if r.Index < 0 || r.From == "" || r.To == "" {
		return fmt.Errorf("relocate %s@%s: %w", r.Key, r.VersionID, transport.ErrInvalid)
	}
	unlock := n.lockKey(r.Key.Bucket, r.Key.Key)
	defer unlock()
	v, recKey, err := n.recordOf(r.Key.Bucket, r.Key.Key, r.VersionID)
	if err != nil {
		return err
	}
	if r.Index >= len(v.Shards) {
		return fmt.Errorf("relocate %s@%s: shard %d of %d: %w", r.Key, r.VersionID, r.Index, len(v.Shards), transport.ErrInvalid)
	}
	switch v.Shards[r.Index] {
	case r.To:
		return nil
	case r.From:
	default:
		return fmt.Errorf("relocate %s@%s shard %d: held by %s, not %s: %w", r.Key, r.VersionID, r.Index, v.Shards[r.Index], r.From, transport.ErrInvalid)
	}
	v.Shards = slices.Clone(v.Shards)
	v.Shards[r.Index] = r.To
	if r.Index < len(v.Hints) && v.Hints[r.Index] == r.To {
		v.Hints = slices.Clone(v.Hints)
		v.Hints[r.Index] = ""
	}
	rec, err := v.MarshalBinary()
	if err != nil {
		return fmt.Errorf("relocate %s: %w: %v", r.Key, transport.ErrInvalid, err)
	}
	return n.db.Set(recKey, rec, pebble.Sync)
}

// recordOf finds version versionID of a key, current or kept, and the
// store key it lives under. Purged versions and unknown ones are
// ErrNotFound.
func (n *Node) recordOf(bucket, key, versionID string) (*metadata.Version, []byte, error) {
	cur, err := n.getVersion(bucket, key)
	if err != nil {
		return nil, nil, err
	}
	if cur.VersionID == versionID && !cur.IsPurged() {
		return cur, metadata.ObjectRecordKey(bucket, key), nil
	}
	if old, err := n.versionByID(bucket, key, versionID); err == nil && old != nil && !old.IsPurged() {
		return old, slotKey(old), nil
	}
	return nil, nil, fmt.Errorf("version %s/%s@%s: %w", bucket, key, versionID, transport.ErrNotFound)
}

// rebalance is the scanner's rebalance step (see the top of this file).
// It first finds every misplaced shard, so that the progress it reports
// counts down from the whole, then moves them.
func (n *Node) rebalance(ctx context.Context) error {
	layout := n.layout()
	if layout == nil || n.cfg.Peers == nil {
		return nil
	}
	if layout.Table == nil {
		// The cluster's first layout: never changed, so every shard was
		// written to the home it still has, and the per-key walk below
		// (an iterator per key for its kept versions) would find nothing.
		return nil
	}
	homesPer := min(n.cfg.HomesPerPG, len(layout.Nodes))
	self := placement.NodeID(n.cfg.ID)
	var todo []handoverWork
	var misplaced, misplacedBytes int64
	var after []byte
	for {
		batch, next, err := n.recordBatch(ctx, after, 256)
		if err != nil {
			return fmt.Errorf("rebalance: %w", err)
		}
		for _, cur := range batch {
			homes := layout.Homes(placement.PG(layout, cur.Bucket, cur.Key), homesPer)
			versions, err := n.keyVersions(cur)
			if err != nil {
				return fmt.Errorf("rebalance: %w", err)
			}
			w := handoverWork{cur: cur, homes: homes}
			for _, v := range versions {
				for range n.misplacedShards(v, homes) {
					w.misplaced = true
					misplaced++
					misplacedBytes += n.unitBytes(v)
				}
			}
			if w.misplaced || !slices.Contains(homes, self) {
				todo = append(todo, w)
			}
		}
		if next == nil {
			break
		}
		after = next
	}
	h := &n.handover
	h.mu.Lock()
	h.misplaced, h.misplacedBytes = misplaced, misplacedBytes
	h.mu.Unlock()
	var errs errList
	queue := make(chan handoverWork)
	var wg sync.WaitGroup
	for range handoverWorkers {
		wg.Go(func() {
			for w := range queue {
				n.handOver(ctx, w, errs.add)
			}
		})
	}
feed:
	for _, w := range todo {
		select {
		case queue <- w:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errs.err("rebalance")
}

// handoverWork is a key with something to hand over: a misplaced shard of
// one of its versions, or records this node no longer homes.
type handoverWork struct {
	cur       *metadata.Version
	homes     []placement.NodeID
	misplaced bool // some version has a shard to move
}

// handOver moves w's misplaced shards to their homes and, if this node is
// no longer a home of the key, drops its records once nothing here is
// named by them. Failures go to failed; the next pass tries again.
func (n *Node) handOver(ctx context.Context, w handoverWork, failed func(error)) {
	if ctx.Err() != nil {
		return
	}
	versions, err := n.keyVersions(w.cur)
	if err != nil {
		failed(err)
		return
	}
	for _, v := range versions {
		for _, i := range n.misplacedShards(v, w.homes) {
			n.handover.moveStarted()
			err := n.moveShard(ctx, v, i, string(w.homes[i]), w.homes)
			n.handover.moveEnded(err == nil, n.unitBytes(v))
			failed(err)
		}
	}
	if slices.Contains(w.homes, placement.NodeID(n.cfg.ID)) {
		return
	}
	// The records as the moves left them: dropped once no version names
	// this node any more.
	cur, err := n.getVersion(w.cur.Bucket, w.cur.Key)
	if err != nil {
		failed(err)
		return
	}
	if versions, err = n.keyVersions(cur); err != nil {
		failed(err)
		return
	}
	if !slices.ContainsFunc(versions, func(v *metadata.Version) bool {
		return !v.Deleted && slices.Contains(v.Shards, n.cfg.ID)
	}) {
		failed(n.dropRecords(ctx, cur, w.homes))
	}
}

// onHomes calls f for every home but this node, all at once, and returns
// the first failure once every call has returned.
func (n *Node) onHomes(homes []placement.NodeID, f func(i int, h placement.NodeID) error) error {
	errs := make([]error, len(homes))
	var wg sync.WaitGroup
	for i, h := range homes {
		if string(h) == n.cfg.ID {
			continue
		}
		wg.Go(func() { errs[i] = f(i, h) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// misplacedShards lists the indices of v whose recorded holder is this
// node while the layout homes them elsewhere.
func (n *Node) misplacedShards(v *metadata.Version, homes []placement.NodeID) []int {
	if v.Deleted || v.IsPurged() {
		return nil
	}
	var out []int
	for i, holder := range v.Shards {
		if holder == n.cfg.ID && i < len(homes) && string(homes[i]) != n.cfg.ID {
			out = append(out, i)
		}
	}
	return out
}

// keyVersions returns the current record of a key and every version the
// key keeps besides it.
func (n *Node) keyVersions(cur *metadata.Version) ([]*metadata.Version, error) {
	out := []*metadata.Version{cur}
	err := n.scanVersions(cur.Bucket, cur.Key, func(_ []byte, v *metadata.Version) bool {
		out = append(out, v)
		return true
	})
	return out, err
}

// unitBytes is what one shard index of v weighs on disk, over all its
// units.
func (n *Node) unitBytes(v *metadata.Version) int64 {
	if v.IsInline() {
		return int64(len(v.Inline))
	}
	codec, err := n.codecFor(v.EC)
	if err != nil {
		return 0
	}
	var total int64
	for _, u := range units(v) {
		total += codec.ShardFileSize(u.size)
	}
	return total
}

// moveShard hands shard i of v to target and repoints every copy of the
// record (steps 1-3 at the top of this file).
func (n *Node) moveShard(ctx context.Context, v *metadata.Version, i int, target string, homes []placement.NodeID) error {
	if !n.cfg.Alive(target) {
		return fmt.Errorf("move %s/%s shard %d to %s: %w: down", v.Bucket, v.Key, i, target, transport.ErrUnavailable)
	}
	tc, err := n.peer(target)
	if err != nil {
		return err
	}
	if err := n.handover.pace.wait(ctx, n.unitBytes(v), n.cfg.RebalanceRate); err != nil {
		return err
	}
	if err := tc.PutVersion(ctx, v); err != nil {
		return fmt.Errorf("move %s/%s: record to %s: %w", v.Bucket, v.Key, target, err)
	}
	if !v.IsInline() {
		codec, err := n.codecFor(v.EC)
		if err != nil {
			return err
		}
		for _, u := range units(v) {
			ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: u.name, Index: i}
			rc, err := n.ReadShard(ctx, ref, 0, -1)
			if errors.Is(err, transport.ErrNotFound) {
				// Lost here: the scrub rebuilds it where the record says;
				// it moves on a later pass.
				return fmt.Errorf("move %s: %w", ref, err)
			}
			if err != nil {
				return err
			}
			ref.Check = &transport.ShardCheck{ObjectSize: u.size, EC: v.EC}
			err = tc.PutShard(ctx, ref, rc, codec.ShardFileSize(u.size))
			rc.Close()
			if err != nil {
				return fmt.Errorf("move %s to %s: %w", ref, target, err)
			}
		}
	}
	reloc := transport.Relocation{Key: metadata.ObjectKey{Bucket: v.Bucket, Key: v.Key}, VersionID: v.VersionID,
		Index: i, From: n.cfg.ID, To: target}
	err = n.onHomes(homes, func(_ int, h placement.NodeID) error {
		c, err := n.peer(string(h))
		if err != nil {
			return fmt.Errorf("move %s/%s shard %d: repoint on %s: %w", v.Bucket, v.Key, i, h, err)
		}
		rl, ok := c.(transport.Relocator)
		if !ok {
			return fmt.Errorf("move %s/%s: node %s cannot repoint shards: %w", v.Bucket, v.Key, h, transport.ErrUnavailable)
		}
		if err := rl.RelocateShard(ctx, reloc); err != nil && !errors.Is(err, transport.ErrNotFound) {
			return fmt.Errorf("move %s/%s shard %d: repoint on %s: %w", v.Bucket, v.Key, i, h, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := n.RelocateShard(ctx, reloc); err != nil && !errors.Is(err, transport.ErrNotFound) {
		return err
	}
	if !slices.Contains(v.Shards[:i], n.cfg.ID) && !slices.Contains(v.Shards[i+1:], n.cfg.ID) {
		n.retire(v)
	}
	return nil
}

// dropRecords deletes the records of cur's key here, once every home has
// accepted each of them.
func (n *Node) dropRecords(ctx context.Context, cur *metadata.Version, homes []placement.NodeID) error {
	versions, err := n.keyVersions(cur)
	if err != nil {
		return err
	}
	for _, v := range versions {
		err := n.onHomes(homes, func(j int, h placement.NodeID) error {
			c, err := n.peer(string(h))
			if err != nil {
				return fmt.Errorf("drop %s/%s: %w", v.Bucket, v.Key, err)
			}
			rec, err := n.recordFor(ctx, v, j)
			if err != nil {
				return fmt.Errorf("drop %s/%s: record for %s: %w", v.Bucket, v.Key, h, err)
			}
			if err := c.PutVersion(ctx, rec); err != nil {
				return fmt.Errorf("drop %s/%s: hand record to %s: %w", v.Bucket, v.Key, h, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	unlock := n.lockKey(cur.Bucket, cur.Key)
	defer unlock()
	now, err := n.getVersion(cur.Bucket, cur.Key)
	if err != nil || now.VersionID != cur.VersionID || now.MetaHLC != cur.MetaHLC {
		return err // changed meanwhile (a stale gateway wrote here): next pass
	}
	b := n.db.NewBatch()
	defer b.Close()
	b.Delete(metadata.ObjectRecordKey(cur.Bucket, cur.Key), nil)
	for _, v := range versions[1:] {
		b.Delete(slotKey(v), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	return nil
}

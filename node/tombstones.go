package node

// Tombstones, their garbage collection, and the clock bound on records.
//
// A delete leaves a tombstone: a plain tombstone as the key's current
// record ("o/") in a bucket never versioned, or a purge tombstone in the
// version's slot ("v/") when a version is deleted for good. The tombstone
// is what stops an older copy — a hint replayed late, a home that was down
// during the delete, anti-entropy from a stale home — from bringing the
// data back, so it may only go once no such copy can arrive. GC runs in two
// phases on every home, each on its own copy (CollectTombstones):
//
//  1. Confirm. A tombstone at least TombstoneGrace old is confirmed once
//     every other home of the key (Version.Shards) answers with the same
//     tombstone or something newer (or with nothing: that home has already
//     collected it, which it only did after confirming every home, or it
//     never had the key). A home that is down or still holds the old
//     version blocks confirmation; the time of confirmation is stored under
//     "t/" + the tombstone's pebble key.
//  2. Collect. On a pass at least TombstoneGrace after confirmation, the
//     tombstone is deleted, and a per-key watermark "w/<bucket>/<key>" →
//     HLC:8 expiry:8 takes its place: a record for the key whose HLC (slot
//     HLC for versions, Purged for purge records) is at or below the
//     watermark is refused and its shards retired, exactly as the
//     tombstone would have refused it. The second grace lets writes and
//     hints that were in flight at confirmation land on the tombstone.
//
// The watermark is 16 bytes instead of a full record and expires after
// HintWindow + TombstoneGrace: every home had the tombstone when it was
// confirmed, so the only copies that can still arrive are hints (kept at
// most HintWindow, then turned into repair debts, which are dropped when
// the version is gone everywhere) and writes in flight (bounded by request
// timeouts, far below the grace). Caveat: a watermark refuses every record
// of the key at or below it, so a home that lacked a retained noncurrent
// version older than a collected purge cannot get it back from
// anti-entropy; the other homes still hold it.
//
// Clock bound: a record stamped more than MaxClockSkew ahead of this
// node's clock is refused with transport.ErrClockSkew (PutVersion,
// PutVersionIf, PutVersionHint, PutBucket). HLCs order writes; without the
// bound, a gateway whose clock runs an hour fast would make each of its
// writes win over every correct write for that hour.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

// Defaults of tombstone GC and the clock bound.
const (
	DefaultMaxClockSkew   = 15 * time.Minute
	DefaultTombstoneGrace = 24 * time.Hour
)

const (
	gcMarkPrefix    = "t/"
	watermarkPrefix = "w/"
)

// TombstoneStats counts tombstone GC since the node started.
type TombstoneStats struct {
	Passes    int64
	Examined  int64 // tombstones old enough to consider
	Confirmed int64 // phase 1: every home had them
	Collected int64 // phase 2: deleted, watermark set
	Blocked   int64 // a home was down or still held an older record
	// Refused counts records refused by a watermark: late copies that the
	// collected tombstone would have refused.
	Refused           int64
	WatermarksExpired int64
	LastPass          time.Time
}

type tombState struct {
	pass  sync.Mutex
	mu    sync.Mutex
	stats TombstoneStats
}

func (s *tombState) add(f func(*TombstoneStats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// TombstoneStats returns the tombstone GC counters.
func (n *Node) TombstoneStats() TombstoneStats {
	n.lc.tomb.mu.Lock()
	defer n.lc.tomb.mu.Unlock()
	return n.lc.tomb.stats
}

// checkSkew refuses a timestamp too far ahead of this node's clock.
func (n *Node) checkSkew(what string, hs ...metadata.HLC) error {
	limit := n.cfg.Now().Add(n.cfg.MaxClockSkew).UnixMilli()
	for _, h := range hs {
		if ahead := h.Millis() - limit; ahead > 0 {
			return fmt.Errorf("%s: %w: stamped %s, %v past this node's limit (max skew %v)",
				what, transport.ErrClockSkew, h.Time().Format(time.RFC3339Nano), time.Duration(ahead)*time.Millisecond, n.cfg.MaxClockSkew)
		}
	}
	return nil
}

// checkRecordSkew is checkSkew for every timestamp a version record carries.
func (n *Node) checkRecordSkew(v *metadata.Version) error {
	return n.checkSkew(fmt.Sprintf("version %s/%s", v.Bucket, v.Key), v.HLC, v.Purged, v.MetaHLC)
}

func watermarkKey(bucket, key string) []byte {
	k := make([]byte, 0, len(watermarkPrefix)+len(bucket)+1+len(key))
	k = append(k, watermarkPrefix...)
	k = append(k, bucket...)
	k = append(k, '/')
	return append(k, key...)
}

// watermark returns the key's deleted-before HLC, or 0.
func (n *Node) watermark(bucket, key string) (metadata.HLC, error) {
	if n.watermarks.Load() == 0 {
		// Most nodes collected no tombstone within the last hint window:
		// skip a lookup that every record write would make, and miss.
		return 0, nil
	}
	val, closer, err := n.db.Get(watermarkKey(bucket, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(val) != 16 {
		return 0, fmt.Errorf("watermark %s/%s: %w", bucket, key, transport.ErrCorrupt)
	}
	return metadata.HLC(binary.BigEndian.Uint64(val)), nil
}

// belowWatermark reports whether v is older than a collected tombstone of
// its key, and so must be refused. Called under the key lock.
func (n *Node) belowWatermark(v *metadata.Version) (bool, error) {
	wm, err := n.watermark(v.Bucket, v.Key)
	if err != nil || wm == 0 {
		return false, err
	}
	at := v.SlotHLC()
	if v.IsPurged() {
		at = v.Purged
	}
	if at > wm {
		return false, nil
	}
	n.lc.tomb.add(func(s *TombstoneStats) { s.Refused++ })
	n.log.Info("refused a record older than a collected tombstone", "bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "hlc", at, "watermark", wm)
	return true, nil
}

// tombstone is a GC candidate: its pebble key and record.
type tombstone struct {
	key []byte
	v   *metadata.Version
}

// at is the instant that orders the tombstone: Purged for a purge record.
func (t *tombstone) at() metadata.HLC {
	if t.v.IsPurged() {
		return t.v.Purged
	}
	return t.v.HLC
}

// CollectTombstones runs one tombstone GC pass as of now (see the top of
// this file) and reports what it could not do.
func (n *Node) CollectTombstones(ctx context.Context, now time.Time) error {
	st := &n.lc.tomb
	st.pass.Lock()
	defer st.pass.Unlock()
	var errs errList
	old := metadata.NewHLC(now.Add(-n.cfg.TombstoneGrace).UnixMilli(), 0)
	var cands []tombstone
	collect := func(prefix string, want func(*metadata.Version) bool) error {
		lower := []byte(prefix)
		it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
		if err != nil {
			return err
		}
		defer it.Close()
		for valid := it.First(); valid; valid = it.Next() {
			v := new(metadata.Version)
			if err := v.UnmarshalBinary(it.Value()); err != nil {
				errs.add(fmt.Errorf("record %q: %w", it.Key(), err))
				continue
			}
			if want(v) {
				t := tombstone{key: bytes.Clone(it.Key()), v: v}
				if t.at() <= old {
					cands = append(cands, t)
				}
			}
		}
		return it.Error()
	}
	if err := collect(objectKeyPrefix, func(v *metadata.Version) bool { return v.Deleted && !v.IsDeleteMarker() }); err != nil {
		return err
	}
	if err := collect("v/", (*metadata.Version).IsPurged); err != nil {
		return err
	}
	for i := range cands {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.add(func(s *TombstoneStats) { s.Examined++ })
		errs.add(n.collectOne(ctx, &cands[i], now))
	}
	errs.add(n.expireWatermarks(now))
	st.add(func(s *TombstoneStats) { s.Passes++; s.LastPass = now })
	return errs.err("tombstone gc")
}

func gcMarkKey(k []byte) []byte { return append([]byte(gcMarkPrefix), k...) }

func (n *Node) collectOne(ctx context.Context, t *tombstone, now time.Time) error {
	markK := gcMarkKey(t.key)
	val, closer, err := n.db.Get(markK)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		ok, err := n.everyHomeHas(ctx, t)
		if !ok || err != nil {
			n.lc.tomb.add(func(s *TombstoneStats) { s.Blocked++ })
			return err
		}
		mark := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
		if err := n.db.Set(markK, mark, pebble.Sync); err != nil {
			return err
		}
		n.lc.tomb.add(func(s *TombstoneStats) { s.Confirmed++ })
		return nil
	case err != nil:
		return err
	}
	var confirmed time.Time
	if len(val) == 8 {
		confirmed = time.Unix(0, int64(binary.BigEndian.Uint64(val)))
	}
	closer.Close()
	if now.Sub(confirmed) < n.cfg.TombstoneGrace {
		return nil
	}
	unlock := n.lockKey(t.v.Bucket, t.v.Key)
	defer unlock()
	// The key may have moved on since the scan: only the very record
	// confirmed goes.
	cur := new(metadata.Version)
	switch err := n.getRecord(t.key, cur); {
	case errors.Is(err, transport.ErrNotFound):
		return n.db.Delete(markK, pebble.Sync)
	case err != nil:
		return err
	}
	b := n.db.NewBatch()
	defer b.Close()
	b.Delete(markK, nil)
	if cur.VersionID != t.v.VersionID || cur.HLC != t.v.HLC || cur.Purged != t.v.Purged {
		return b.Commit(pebble.Sync) // replaced: the new record starts over
	}
	if !t.v.IsPurged() {
		// A plain tombstone goes only when the key keeps no version
		// beside it; purge tombstones of the key go on their own.
		kept := false
		if err := n.scanVersions(t.v.Bucket, t.v.Key, func(_ []byte, w *metadata.Version) bool {
			kept = !w.IsPurged()
			return !kept
		}); err != nil {
			return err
		}
		if kept {
			return b.Commit(pebble.Sync)
		}
	}
	wm, err := n.watermark(t.v.Bucket, t.v.Key)
	if err != nil {
		return err
	}
	if wm == 0 {
		// Counted before it is written: under the key lock no write of
		// this key can look in between, and others may look needlessly.
		n.watermarks.Add(1)
	}
	wmVal := binary.BigEndian.AppendUint64(nil, uint64(max(wm, t.at())))
	wmVal = binary.BigEndian.AppendUint64(wmVal, uint64(now.Add(n.cfg.HintWindow+n.cfg.TombstoneGrace).UnixNano()))
	b.Set(watermarkKey(t.v.Bucket, t.v.Key), wmVal, nil)
	b.Delete(t.key, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	n.lc.tomb.add(func(s *TombstoneStats) { s.Collected++ })
	return nil
}

// everyHomeHas asks every other home of the tombstone's key whether it has
// the tombstone or something newer.
func (n *Node) everyHomeHas(ctx context.Context, t *tombstone) (bool, error) {
	if n.cfg.Peers == nil {
		return false, nil
	}
	seen := map[string]bool{n.cfg.ID: true}
	okey := metadata.ObjectKey{Bucket: t.v.Bucket, Key: t.v.Key}
	for _, home := range t.v.Shards {
		if seen[home] {
			continue
		}
		seen[home] = true
		if !n.cfg.Alive(home) {
			return false, nil
		}
		c, err := n.peer(home)
		if err != nil {
			return false, nil
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var got *metadata.Version
		if t.v.IsPurged() {
			vs, ok := c.(transport.VersionStore)
			if !ok {
				cancel()
				return false, nil
			}
			got, err = vs.GetVersionByID(cctx, okey, t.v.VersionID)
		} else {
			got, err = c.GetVersion(cctx, okey)
		}
		cancel()
		switch {
		case errors.Is(err, transport.ErrNotFound):
			continue // collected there already, or never had the key
		case err != nil:
			return false, nil // down or failing: ask again next pass
		case t.v.IsPurged() && !got.IsPurged():
			return false, nil
		case !t.v.IsPurged() && t.v.Newer(got):
			return false, nil
		}
	}
	return true, nil
}

// expireWatermarks drops watermarks past their expiry.
func (n *Node) expireWatermarks(now time.Time) error {
	lower := []byte(watermarkPrefix)
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return err
	}
	defer it.Close()
	b := n.db.NewBatch()
	defer b.Close()
	dropped := int64(0)
	for valid := it.First(); valid; valid = it.Next() {
		v := it.Value()
		if len(v) == 16 && time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))).After(now) {
			continue
		}
		b.Delete(bytes.Clone(it.Key()), nil)
		dropped++
	}
	if err := it.Error(); err != nil {
		return err
	}
	if dropped == 0 {
		return nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	n.watermarks.Add(-dropped)
	n.lc.tomb.add(func(s *TombstoneStats) { s.WatermarksExpired += dropped })
	return nil
}

// countWatermarks sets the watermark count from the store, at Open.
func (n *Node) countWatermarks() error {
	lower := []byte(watermarkPrefix)
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return fmt.Errorf("node: count watermarks: %w", err)
	}
	defer it.Close()
	count := int64(0)
	for valid := it.First(); valid; valid = it.Next() {
		count++
	}
	n.watermarks.Store(count)
	return it.Error()
}

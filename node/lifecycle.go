package node

// Lifecycle rules (metadata.Lifecycle, a field of the bucket record that
// every node holds) run here, as a range scan over this node's metadata
// index, never as a walk of the disks. A pass (RunLifecycle; the loop runs
// one every LifecycleInterval, then a tombstone GC pass) takes each bucket
// with rules and reads its current records "o/<bucket>/…" in key order, in
// batches; after each batch it stores a checkpoint "l/<bucket>" (JSON
// LifecycleStat: the last key examined and the counters), so a pass cut
// short by a restart resumes where it stopped instead of starting over.
// The counters are the progress an operator sees (LifecycleStats, GET
// /admin/lifecycle).
//
// Who acts. Every home of a key holds its records, so each would find the
// same expirations. Only the key's first live home — the first node of the
// record's Shards that membership (Config.Alive) says is up — acts on it,
// so each object is expired once; the others only count it. If two nodes
// disagree about liveness for a moment both may act: the worst outcome is
// a second delete marker, or a purge sent twice, which the homes accept as
// a retry.
//
// How it acts. An expiration is an ordinary record written the way a
// gateway writes it, stamped with this node's HLC clock after merging the
// key's newest HLC so that it orders after the record it expires:
//
//   - Expiration (Days/Date) of a current version: a plain tombstone in a
//     bucket never versioned, a delete marker (stamped with the bucket's
//     state) in a versioned or suspended one.
//   - NoncurrentVersionExpiration: a purge record for the version (as a
//     DELETE ?versionId does). A version is noncurrent since its successor
//     was written (the successor's slot HLC); the NewerNoncurrent newest
//     noncurrent versions are kept.
//   - ExpiredObjectDeleteMarker: a purge record for a current delete
//     marker that has no version left behind it.
//
// The write rule: the record goes to every home of the key (PutVersion; to
// itself directly); for each home that fails, this node keeps the record
// as a hint for that home, replayed by handoff. The action counts as done
// when W = homes − m homes took it, m being the parity count of the
// version's erasure parameters (for a delete marker, which has none, every
// home): the same metadata write quorum as a gateway's. Otherwise it is
// counted as failed and, since the key still qualifies, tried again on the
// next pass.
//
// AbortIncompleteMultipartUpload is decided by every node for its own
// upload records, as the upload cleaner does: the parts go, the upload is
// marked done, and parts the key's current version uses are kept.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

// DefaultLifecycleInterval is the time between lifecycle passes.
const DefaultLifecycleInterval = time.Hour

const (
	lifecyclePrefix = "l/"
	lifecycleBatch  = 256
)

// LifecycleStat is the progress of lifecycle rules on one bucket, as this
// node saw it.
type LifecycleStat struct {
	// LastKey is the last key examined by the pass in progress; empty
	// between passes. A pass resumes after it.
	LastKey    string `json:"last_key"`
	InProgress bool   `json:"in_progress"`
	// Counters since the checkpoint was first written.
	Examined          int64 `json:"examined"`
	Expired           int64 `json:"expired"`            // current versions expired
	NoncurrentExpired int64 `json:"noncurrent_expired"` // versions purged
	MarkersRemoved    int64 `json:"markers_removed"`    // lone delete markers purged
	UploadsAborted    int64 `json:"uploads_aborted"`
	Failed            int64 `json:"failed"` // actions short of their write quorum
	Passes            int64 `json:"passes"` // passes completed
	// LastPass is when the last complete pass over the bucket ended (the
	// pass's now).
	LastPass time.Time `json:"last_pass"`
}

type lifecycleState struct {
	pass sync.Mutex // one pass at a time
	mu   sync.Mutex // guards the checkpoints in pebble against LifecycleStats readers
	tomb tombState
}

func lifecycleKey(bucket string) []byte { return append([]byte(lifecyclePrefix), bucket...) }

func (n *Node) lifecycleStat(bucket string) (LifecycleStat, error) {
	var st LifecycleStat
	val, closer, err := n.db.Get(lifecycleKey(bucket))
	if errors.Is(err, pebble.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	defer closer.Close()
	if err := json.Unmarshal(val, &st); err != nil {
		return LifecycleStat{}, fmt.Errorf("lifecycle checkpoint %s: %w: %v", bucket, transport.ErrCorrupt, err)
	}
	return st, nil
}

func (n *Node) saveLifecycleStat(bucket string, st *LifecycleStat) error {
	val, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return n.db.Set(lifecycleKey(bucket), val, pebble.Sync)
}

// LifecycleStats returns the lifecycle progress per bucket.
func (n *Node) LifecycleStats() (map[string]LifecycleStat, error) {
	lower := []byte(lifecyclePrefix)
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[string]LifecycleStat{}
	for valid := it.First(); valid; valid = it.Next() {
		var st LifecycleStat
		if err := json.Unmarshal(it.Value(), &st); err != nil {
			return nil, fmt.Errorf("lifecycle checkpoint %q: %w: %v", it.Key(), transport.ErrCorrupt, err)
		}
		out[string(it.Key()[len(lifecyclePrefix):])] = st
	}
	return out, it.Error()
}

// runLifecycle runs a lifecycle pass and a tombstone GC pass every
// LifecycleInterval until ctx ends.
func (n *Node) runLifecycle(ctx context.Context) {
	t := time.NewTicker(n.cfg.LifecycleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := n.RunLifecycle(ctx, n.cfg.Now()); err != nil && ctx.Err() == nil {
			n.log.Warn("lifecycle pass incomplete", "err", err)
		}
		if err := n.CollectTombstones(ctx, n.cfg.Now()); err != nil && ctx.Err() == nil {
			n.log.Warn("tombstone gc pass incomplete", "err", err)
		}
	}
}

// RunLifecycle runs the lifecycle rules of every bucket as of now,
// resuming each bucket from its checkpoint, and reports what failed.
func (n *Node) RunLifecycle(ctx context.Context, now time.Time) error {
	n.lc.pass.Lock()
	defer n.lc.pass.Unlock()
	buckets, err := n.Buckets(ctx)
	if err != nil {
		return err
	}
	var errs errList
	for i := range buckets {
		b := &buckets[i]
		if b.Deleted || b.Lifecycle == nil {
			continue
		}
		_, err := n.lifecycleBucket(ctx, b, now, -1)
		errs.add(err)
		errs.add(n.abortUploads(ctx, b, now))
	}
	return errs.err("lifecycle")
}

// lifecycleBucket examines at most limit keys of b (all when limit < 0)
// from its checkpoint on, and reports whether the pass over b completed.
func (n *Node) lifecycleBucket(ctx context.Context, b *metadata.Bucket, now time.Time, limit int) (bool, error) {
	st, err := n.lifecycleStat(b.Name)
	if err != nil {
		return false, err
	}
	var errs errList
	lower := metadata.ObjectPrefix(b.Name, "")
	for limit != 0 {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		size := lifecycleBatch
		if limit > 0 {
			size = min(size, limit)
		}
		var after []byte
		if st.InProgress {
			after = metadata.ObjectRecordKey(b.Name, st.LastKey)
		}
		batch, err := n.bucketBatch(ctx, lower, after, size)
		if err != nil {
			return false, err
		}
		for _, v := range batch {
			errs.add(n.applyLifecycle(ctx, b, v, now, &st))
			st.Examined++
			st.LastKey, st.InProgress = v.Key, true
		}
		if limit > 0 {
			limit -= len(batch)
		}
		if len(batch) < size {
			st.LastKey, st.InProgress = "", false
			st.Passes++
			st.LastPass = now
		}
		n.lc.mu.Lock()
		err = n.saveLifecycleStat(b.Name, &st)
		n.lc.mu.Unlock()
		if err != nil {
			return false, err
		}
		if !st.InProgress {
			return true, errs.err("lifecycle " + b.Name)
		}
	}
	return false, errs.err("lifecycle " + b.Name)
}

// bucketBatch reads up to limit current records of a bucket after the
// store key after (from the start when nil). Inline data is dropped: the
// rules never need it.
func (n *Node) bucketBatch(ctx context.Context, lower, after []byte, limit int) ([]*metadata.Version, error) {
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	valid := it.First()
	if after != nil {
		valid = it.SeekGE(append(bytes.Clone(after), 0))
	}
	var out []*metadata.Version
	for ; valid && len(out) < limit; valid = it.Next() {
		v := new(metadata.Version)
		if err := v.UnmarshalBinary(it.Value()); err != nil {
			n.log.Error("lifecycle: undecodable record", "key", string(it.Key()), "err", err)
			continue
		}
		v.Inline = nil
		out = append(out, v)
	}
	return out, it.Error()
}

// actsFor reports whether this node is the first live home of v.
func (n *Node) actsFor(v *metadata.Version) bool {
	for _, h := range v.Shards {
		if n.cfg.Alive(h) {
			return h == n.cfg.ID
		}
	}
	return false
}

// applyLifecycle decides what b's rules do to one key and does it.
func (n *Node) applyLifecycle(ctx context.Context, b *metadata.Bucket, cur *metadata.Version, now time.Time, st *LifecycleStat) error {
	if !n.actsFor(cur) {
		return nil
	}
	lc := b.Lifecycle
	var noncurrent []*metadata.Version
	if err := n.scanVersions(cur.Bucket, cur.Key, func(_ []byte, w *metadata.Version) bool {
		if !w.IsPurged() {
			w.Inline = nil
			noncurrent = append(noncurrent, w)
		}
		return true
	}); err != nil {
		return err
	}
	var errs errList
	if _, ok := lc.ExpireCurrent(cur, now); ok {
		hlc, err := n.stampAfter(cur.HLC)
		if err != nil {
			return err
		}
		tomb := &metadata.Version{Bucket: cur.Bucket, Key: cur.Key, VersionID: metadata.NewVersionID(hlc, "lc"+n.cfg.ID),
			HLC: hlc, Deleted: true, ModTime: hlc.Time(), Shards: cur.Shards, Versioning: b.Versioning}
		if err := n.lifecycleWrite(ctx, tomb, cur.EC.ParityShards); err != nil {
			st.Failed++
			errs.add(err)
		} else {
			st.Expired++
		}
	} else if cur.IsDeleteMarker() && len(noncurrent) == 0 {
		if _, ok := lc.ExpireDeleteMarker(cur.Key); ok {
			if err := n.lifecyclePurge(ctx, cur, cur, 0); err != nil {
				st.Failed++
				errs.add(err)
			} else {
				st.MarkersRemoved++
			}
		}
	}
	successor := cur
	for i, w := range noncurrent {
		since := successor.SlotHLC().Time()
		successor = w
		if _, ok := lc.ExpireNoncurrent(w, since, i, now); !ok {
			continue
		}
		if err := n.lifecyclePurge(ctx, cur, w, w.EC.ParityShards); err != nil {
			st.Failed++
			errs.add(err)
			continue
		}
		st.NoncurrentExpired++
	}
	return errs.err("lifecycle " + cur.Bucket + "/" + cur.Key)
}

// stampAfter returns an HLC from this node's clock later than h.
func (n *Node) stampAfter(h metadata.HLC) (metadata.HLC, error) {
	if err := n.clock.Update(h); err != nil {
		return 0, err
	}
	return n.clock.Now(), nil
}

// lifecyclePurge deletes version w of cur's key for good, as DELETE
// ?versionId does.
func (n *Node) lifecyclePurge(ctx context.Context, cur, w *metadata.Version, parity int) error {
	hlc, err := n.stampAfter(max(cur.HLC, w.HLC))
	if err != nil {
		return err
	}
	p := &metadata.Version{Bucket: w.Bucket, Key: w.Key, VersionID: w.VersionID, HLC: w.SlotHLC(),
		Versioning: w.Versioning, Deleted: w.Deleted, ModTime: w.ModTime, Shards: cur.Shards, Purged: hlc}
	return n.lifecycleWrite(ctx, p, parity)
}

// lifecycleWrite sends rec to every home of its key, keeping hints for the
// homes that fail, and succeeds once homes − parity of them took it.
func (n *Node) lifecycleWrite(ctx context.Context, rec *metadata.Version, parity int) error {
	var homes []string
	seen := map[string]bool{}
	for _, h := range rec.Shards {
		if !seen[h] {
			seen[h] = true
			homes = append(homes, h)
		}
	}
	need := max(1, len(homes)-max(parity, 0))
	acks := 0
	var errs errList
	for _, home := range homes {
		var err error
		if home == n.cfg.ID {
			err = n.PutVersion(ctx, rec)
		} else if c, derr := n.peer(home); derr != nil {
			err = derr
		} else {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = c.PutVersion(wctx, rec)
			cancel()
		}
		if err == nil {
			acks++
			continue
		}
		errs.add(fmt.Errorf("home %s: %w", home, err))
		if home != n.cfg.ID {
			if herr := n.PutVersionHint(ctx, home, rec); herr != nil {
				errs.add(fmt.Errorf("hint for %s: %w", home, herr))
			}
		}
	}
	if acks < need {
		return fmt.Errorf("lifecycle write %s/%s@%s: %d of %d homes, need %d: %w",
			rec.Bucket, rec.Key, rec.VersionID, acks, len(homes), need, errs.err("homes"))
	}
	return nil
}

// abortUploads aborts this node's incomplete uploads of b that a rule
// says are too old.
func (n *Node) abortUploads(ctx context.Context, b *metadata.Bucket, now time.Time) error {
	lower := metadata.UploadPrefix(b.Name, "")
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return err
	}
	var due []metadata.Upload
	for valid := it.First(); valid; valid = it.Next() {
		var u metadata.Upload
		if err := u.UnmarshalBinary(it.Value()); err != nil {
			continue
		}
		if _, ok := b.Lifecycle.AbortUpload(u.Key, u.Created, now); ok && !u.Done {
			due = append(due, u)
		}
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return err
	}
	var errs errList
	aborted := int64(0)
	for _, u := range due {
		unlock := n.lockKey(u.Bucket, u.Key)
		var keep []string
		if v, err := n.getVersion(u.Bucket, u.Key); err == nil {
			for _, p := range v.Parts {
				keep = append(keep, p.StorageID)
			}
		}
		err := n.finishUpload(u.Bucket, u.Key, u.UploadID, keep, false)
		unlock()
		if err != nil {
			errs.add(err)
			continue
		}
		aborted++
	}
	if aborted > 0 {
		n.lc.mu.Lock()
		st, err := n.lifecycleStat(b.Name)
		if err == nil {
			st.UploadsAborted += aborted
			err = n.saveLifecycleStat(b.Name, &st)
		}
		n.lc.mu.Unlock()
		errs.add(err)
	}
	return errs.err("abort uploads " + b.Name)
}

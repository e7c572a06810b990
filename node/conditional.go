package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

// A conditional write keeps the record it displaced under
//
//	"d/" + bucket + "/" + key  →  uvarint len + pending version ID, then the
//	                              displaced record (empty: there was none)
//
// until the gateway resolves it: a commit retires the displaced record's
// shards, a rollback puts the record back. At most one is pending per key;
// a later conditional write first settles a stale one.
func displacedKey(bucket, key string) []byte { return []byte("d/" + bucket + "/" + key) }

type displaced struct {
	bucket  string
	key     string
	pending string
	prev    *metadata.Version // nil: the key had no record
	raw     []byte            // prev as stored, Inline included
}

func (n *Node) getDisplaced(bucket, key string) (*displaced, error) {
	rec, closer, err := n.db.Get(displacedKey(bucket, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	l, w := binary.Uvarint(rec)
	if w <= 0 || l > uint64(len(rec)-w) {
		return nil, fmt.Errorf("displaced record of %s/%s: %w", bucket, key, transport.ErrCorrupt)
	}
	d := &displaced{bucket: bucket, key: key, pending: string(rec[w : w+int(l)])}
	if rest := rec[w+int(l):]; len(rest) > 0 {
		d.raw = append([]byte(nil), rest...)
		d.prev = new(metadata.Version)
		if err := d.prev.UnmarshalBinary(d.raw); err != nil {
			return nil, fmt.Errorf("displaced record of %s/%s: %w: %v", bucket, key, transport.ErrCorrupt, err)
		}
	}
	return d, nil
}

func (d *displaced) prevKey() (string, string) { return d.bucket, d.key }

// retireParts deletes the part shards of a multipart version on this node.
func (n *Node) retireParts(v *metadata.Version) {
	for _, p := range v.Parts {
		for i := range v.Shards {
			ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: p.StorageID, Index: i}
			if err := n.shards.remove(ref); err != nil {
				n.log.Warn("retire part shard", "bucket", v.Bucket, "key", v.Key, "part", p.StorageID, "shard", i, "err", err)
			}
		}
	}
}

// PutVersionIf implements transport.ConditionalWriter.
func (n *Node) PutVersionIf(ctx context.Context, v *metadata.Version, cond transport.Condition) (bool, error) {
	if err := n.admitRecord(ctx, v); err != nil {
		return false, err
	}
	unlock := n.lockKey(v.Bucket, v.Key)
	defer unlock()
	cur, err := n.getVersion(v.Bucket, v.Key)
	switch {
	case errors.Is(err, transport.ErrNotFound):
		cur = nil
	case err != nil:
		return false, err
	}
	if cur != nil && cur.VersionID == v.VersionID {
		return true, nil // a retry of a write this node accepted
	}
	d, err := n.getDisplaced(v.Bucket, v.Key)
	if err != nil {
		return false, err
	}
	if d != nil && (cur == nil || cur.VersionID != d.pending) {
		// The pending write was overtaken without being resolved here.
		if err := n.dropDisplaced(d, cur); err != nil {
			return false, err
		}
		d = nil
	}
	if !conditionHolds(cur, cond) || (cur != nil && !v.Newer(cur)) {
		return false, nil
	}
	rec, err := v.MarshalBinary()
	if err != nil {
		return false, fmt.Errorf("put version if %s/%s: %w: %v", v.Bucket, v.Key, transport.ErrInvalid, err)
	}
	var prev []byte
	if cur != nil {
		if prev, err = cur.MarshalBinary(); err != nil {
			return false, err
		}
	}
	slot := binary.AppendUvarint(nil, uint64(len(v.VersionID)))
	slot = append(append(slot, v.VersionID...), prev...)
	b := n.db.NewBatch()
	defer b.Close()
	b.Set(metadata.ObjectRecordKey(v.Bucket, v.Key), rec, nil)
	b.Set(displacedKey(v.Bucket, v.Key), slot, nil)
	if cur != nil && keptBeside(cur, v) {
		// A versioned bucket keeps the displaced version (versions.go);
		// a rollback takes it back out.
		old := asNoncurrent(cur)
		oldRec, err := old.MarshalBinary()
		if err != nil {
			return false, err
		}
		b.Set(slotKey(old), oldRec, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return false, fmt.Errorf("put version if %s/%s: %w", v.Bucket, v.Key, err)
	}
	if d != nil && d.prev != nil {
		// v displaces a still-pending write, which keeps the slot; the
		// record that one displaced is now two writes behind.
		n.retireIfGone(d.prev)
	}
	return true, nil
}

// conditionHolds decides a condition against the node's current record.
func conditionHolds(cur *metadata.Version, cond transport.Condition) bool {
	if cond.MustNotExist && cur != nil && !cur.Deleted {
		return false
	}
	if cond.MatchVersionID != "" {
		if cur == nil {
			return false // the expected version is live somewhere; this node never saw the key
		}
		if cur.VersionID == cond.MatchVersionID {
			return !cur.Deleted
		}
		// A node that missed the expected version holds something older:
		// it would have that version now had it been reachable.
		return cur.HLC < cond.MatchHLC
	}
	return true
}

// dropDisplaced forgets a pending conditional write that something else
// has replaced: the record it displaced lost for good and its shards go.
func (n *Node) dropDisplaced(d *displaced, cur *metadata.Version) error {
	if err := n.db.Delete(displacedKey(d.prevKey()), pebble.Sync); err != nil {
		return err
	}
	if d.prev != nil && (cur == nil || cur.VersionID != d.prev.VersionID) {
		n.retireIfGone(d.prev)
	}
	return nil
}

// ResolveVersion implements transport.ConditionalWriter.
func (n *Node) ResolveVersion(ctx context.Context, key metadata.ObjectKey, versionID string, commit bool) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	unlock := n.lockKey(key.Bucket, key.Key)
	defer unlock()
	d, err := n.getDisplaced(key.Bucket, key.Key)
	if err != nil || d == nil || d.pending != versionID {
		return err
	}
	cur, err := n.getVersion(key.Bucket, key.Key)
	if err != nil && !errors.Is(err, transport.ErrNotFound) {
		return err
	}
	b := n.db.NewBatch()
	defer b.Close()
	b.Delete(displacedKey(key.Bucket, key.Key), nil)
	restore := !commit && cur != nil && cur.VersionID == versionID
	if restore {
		if d.prev != nil {
			b.Set(metadata.ObjectRecordKey(key.Bucket, key.Key), d.raw, nil)
			b.Delete(slotKey(asNoncurrent(d.prev)), nil)
		} else {
			b.Delete(metadata.ObjectRecordKey(key.Bucket, key.Key), nil)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("resolve %s@%s: %w", key, versionID, err)
	}
	switch {
	case restore:
		n.retire(cur)
	case d.prev != nil:
		// Committed, or overtaken by a newer write: either way the
		// displaced record lost, unless the key keeps it as a version.
		n.retireIfGone(d.prev)
	}
	return nil
}

// SetTags implements transport.TagWriter.
func (n *Node) SetTags(ctx context.Context, key metadata.ObjectKey, versionID string, tags map[string]string, at metadata.HLC) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	unlock := n.lockKey(key.Bucket, key.Key)
	defer unlock()
	cur, err := n.getVersion(key.Bucket, key.Key)
	if err != nil {
		return err
	}
	recKey := metadata.ObjectRecordKey(key.Bucket, key.Key)
	if cur.VersionID != versionID {
		// An older version the key keeps (versions.go).
		if old, ferr := n.versionByID(key.Bucket, key.Key, versionID); ferr == nil && old != nil && !old.IsPurged() {
			cur, recKey = old, slotKey(old)
		}
	}
	if cur.VersionID != versionID || cur.Deleted {
		return fmt.Errorf("set tags %s@%s: current is %s: %w", key, versionID, cur.VersionID, transport.ErrNotFound)
	}
	if at <= cur.MetaHLC {
		return nil // a newer change is already here
	}
	cur.Tags, cur.MetaHLC = tags, at
	rec, err := cur.MarshalBinary()
	if err != nil {
		return fmt.Errorf("set tags %s: %w: %v", key, transport.ErrInvalid, err)
	}
	if err := n.db.Set(recKey, rec, pebble.Sync); err != nil {
		return fmt.Errorf("set tags %s: %w", key, err)
	}
	return nil
}

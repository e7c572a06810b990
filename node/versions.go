package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

// S3 versioning on a node.
//
// "o/<bucket>/<key>" keeps the key's current record, newest by HLC, so GET
// of the latest version and listing of current objects stay one lookup per
// key. The key's other retained versions live under
// metadata.VersionRecordKey ("v/…"), sorted newest first. A record that
// loses "current" to a newer one moves there when it is retained: every
// record of a versioned bucket, and a null version displaced by a real
// one. A null version replaced by a newer null version, and a plain
// tombstone, are dropped, and their shards retired after RetireGrace, as
// before versioning existed. So in a bucket never versioned nothing is
// ever written under "v/".
//
// A version deleted for good (a purge) leaves a purge tombstone in its
// slot, so a copy of the version that arrives late — a hint, a write-back,
// anti-entropy — is refused and its shards retired. When the purged
// version was current, the newest retained version becomes current again,
// with its HLC moved to the purge's (BaseHLC keeps its place), so that on
// every read quorum it wins over stale copies of the purged one; with no
// version left the current record becomes a plain tombstone just older
// than the purge, so that a fallback on another home wins over it.

// versionSlot returns the record in v's slot under "v/", or nil.
func (n *Node) versionSlot(bucket, key string, h metadata.HLC, versionID string) (*metadata.Version, error) {
	v := new(metadata.Version)
	err := n.getRecord(metadata.VersionRecordKey(bucket, key, h, versionID), v)
	if errors.Is(err, transport.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

func slotKey(v *metadata.Version) []byte {
	return metadata.VersionRecordKey(v.Bucket, v.Key, v.SlotHLC(), v.VersionID)
}

// asNoncurrent is the record of a current version as it is kept under
// "v/": at its own HLC again if it had become current by a purge.
func asNoncurrent(v *metadata.Version) *metadata.Version {
	w := *v
	if w.BaseHLC != 0 {
		w.HLC, w.BaseHLC = w.BaseHLC, 0
	}
	return &w
}

// keptBeside reports whether cur, displaced as current by v, stays among
// the key's versions.
func keptBeside(cur, v *metadata.Version) bool {
	return cur.Retained() && !(cur.IsNull() && v.IsNull())
}

// scanVersions calls f with every record under "v/" of one key, newest
// first, until f returns false.
func (n *Node) scanVersions(bucket, key string, f func(k []byte, v *metadata.Version) bool) error {
	lower := metadata.KeyVersionsPrefix(bucket, key)
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		v := new(metadata.Version)
		if err := v.UnmarshalBinary(it.Value()); err != nil {
			return fmt.Errorf("version record %q: %w: %v", it.Key(), transport.ErrCorrupt, err)
		}
		if !f(bytes.Clone(it.Key()), v) {
			break
		}
	}
	return it.Error()
}

// storeVersion is PutVersion under the key lock. It commits without a
// sync: every caller syncs the log itself before it answers (PutVersions).
func (n *Node) storeVersion(v *metadata.Version) error {
	// tombstones.go: a record older than a collected tombstone of its
	// key is a late copy, refused as the tombstone would have.
	if below, err := n.belowWatermark(v); err != nil || below {
		if below {
			n.retire(v)
		}
		return err
	}
	if v.IsPurged() {
		return n.purgeVersion(v)
	}
	cur, err := n.currentVersion(v.Bucket, v.Key)
	if err != nil {
		return err
	}
	return n.storeVersionOver(v, cur)
}

// currentVersion is the key's current record, nil when the node has none.
func (n *Node) currentVersion(bucket, key string) (*metadata.Version, error) {
	cur, err := n.getVersion(bucket, key)
	if errors.Is(err, transport.ErrNotFound) {
		return nil, nil
	}
	return cur, err
}

// storeVersionOver is storeVersion once the watermark is passed and the
// key's current record, cur, is read.
func (n *Node) storeVersionOver(v, cur *metadata.Version) error {
	if cur != nil && cur.VersionID == v.VersionID {
		return nil // a retry of a write this node already has
	}
	slot, err := n.versionSlot(v.Bucket, v.Key, v.SlotHLC(), v.VersionID)
	if err != nil {
		return err
	}
	if slot != nil {
		if slot.IsPurged() {
			n.retire(v) // deleted for good: a late copy
		}
		return nil
	}
	rec, err := v.MarshalBinary()
	if err != nil {
		return fmt.Errorf("put version %s/%s: %w: %v", v.Bucket, v.Key, transport.ErrInvalid, err)
	}
	b := n.db.NewBatch()
	defer b.Close()
	var retired []*metadata.Version
	if cur == nil || v.Newer(cur) {
		b.Set(metadata.ObjectRecordKey(v.Bucket, v.Key), rec, nil)
		if cur != nil {
			if keptBeside(cur, v) {
				old := asNoncurrent(cur)
				oldRec, err := old.MarshalBinary()
				if err != nil {
					return err
				}
				b.Set(slotKey(old), oldRec, nil)
			} else {
				retired = append(retired, cur)
				if cur.IsInline() {
					// Keep the replaced fragment: until the new version is
					// on k homes, the old one may be the only decodable one.
					b.Set(previousInlineKey(cur.Bucket, cur.Key), mustRecord(cur), nil)
				}
			}
		}
		if v.IsNull() && cur != nil && !cur.IsNull() {
			// The key has real versions: its null version, if any, is
			// among them, and v replaces it.
			err := n.scanVersions(v.Bucket, v.Key, func(k []byte, w *metadata.Version) bool {
				if w.IsNull() && !w.IsPurged() {
					b.Delete(k, nil)
					retired = append(retired, w)
				}
				return true
			})
			if err != nil {
				return err
			}
		}
	} else {
		// Older than the current record: v goes among the versions, if
		// it is kept at all.
		if !v.Retained() || (v.IsNull() && cur.IsNull()) {
			n.retire(v)
			return nil
		}
		if v.IsNull() {
			lost := false
			err := n.scanVersions(v.Bucket, v.Key, func(k []byte, w *metadata.Version) bool {
				if !w.IsNull() || w.IsPurged() {
					return true
				}
				if w.Newer(v) {
					lost = true
					return false
				}
				b.Delete(k, nil)
				retired = append(retired, w)
				return true
			})
			if err != nil {
				return err
			}
			if lost {
				n.retire(v)
				return nil
			}
		}
		b.Set(slotKey(v), rec, nil)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("put version %s/%s: %w", v.Bucket, v.Key, err)
	}
	for _, w := range retired {
		n.retire(w)
	}
	return nil
}

// purgeVersion deletes version p.VersionID of p's key for good, leaving a
// purge tombstone in its slot (p.HLC is the version's SlotHLC, p.Purged
// the time of the purge).
func (n *Node) purgeVersion(p *metadata.Version) error {
	if p.Purged <= p.HLC {
		return fmt.Errorf("purge %s/%s@%s: %w: purge not after the version", p.Bucket, p.Key, p.VersionID, transport.ErrInvalid)
	}
	cur, err := n.getVersion(p.Bucket, p.Key)
	switch {
	case errors.Is(err, transport.ErrNotFound):
		cur = nil
	case err != nil:
		return err
	}
	slotK := metadata.VersionRecordKey(p.Bucket, p.Key, p.HLC, p.VersionID)
	existing, err := n.versionSlot(p.Bucket, p.Key, p.HLC, p.VersionID)
	if err != nil {
		return err
	}
	if existing != nil && existing.IsPurged() {
		return nil // already purged here
	}
	tomb := *p
	tomb.Inline, tomb.BaseHLC = nil, 0
	rec, err := tomb.MarshalBinary()
	if err != nil {
		return fmt.Errorf("purge %s/%s: %w: %v", p.Bucket, p.Key, transport.ErrInvalid, err)
	}
	b := n.db.NewBatch()
	defer b.Close()
	b.Set(slotK, rec, nil)
	gone := existing
	if cur != nil && cur.VersionID == p.VersionID {
		gone = cur
		var next *metadata.Version
		var nextKey []byte
		err := n.scanVersions(p.Bucket, p.Key, func(k []byte, w *metadata.Version) bool {
			if w.IsPurged() || w.VersionID == p.VersionID {
				return true
			}
			next, nextKey = w, k
			return false
		})
		if err != nil {
			return err
		}
		var head *metadata.Version
		if next != nil {
			b.Delete(nextKey, nil)
			head = next
			head.BaseHLC, head.HLC = next.HLC, max(p.Purged, next.HLC)
		} else {
			at := p.Purged - 1
			head = &metadata.Version{Bucket: p.Bucket, Key: p.Key, VersionID: metadata.NewVersionID(at, ""),
				HLC: at, Deleted: true, ModTime: at.Time(), Shards: cur.Shards}
		}
		headRec, err := head.MarshalBinary()
		if err != nil {
			return err
		}
		b.Set(metadata.ObjectRecordKey(p.Bucket, p.Key), headRec, nil)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("purge %s/%s@%s: %w", p.Bucket, p.Key, p.VersionID, err)
	}
	if gone != nil {
		n.retire(gone)
	}
	return nil
}

// findVersion returns the node's record of version versionID of a key:
// the current record, a retained version or a purge tombstone. The
// version ID "null" finds the key's newest null version. ErrNotFound when
// the node has none.
func (n *Node) findVersion(bucket, key, versionID string) (*metadata.Version, error) {
	cur, err := n.getVersion(bucket, key)
	switch {
	case errors.Is(err, transport.ErrNotFound):
		cur = nil
	case err != nil:
		return nil, err
	}
	var found *metadata.Version
	if versionID == metadata.NullVersionID {
		if cur != nil && cur.IsNull() {
			if !cur.Retained() {
				return nil, fmt.Errorf("version %s/%s@null: %w", bucket, key, transport.ErrNotFound)
			}
			return cur, nil
		}
		err := n.scanVersions(bucket, key, func(_ []byte, w *metadata.Version) bool {
			if w.IsNull() {
				found = w
				return false
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	} else {
		if cur != nil && cur.VersionID == versionID {
			return cur, nil
		}
		if found, err = n.versionByID(bucket, key, versionID); err != nil {
			return nil, err
		}
	}
	if found == nil {
		return nil, fmt.Errorf("version %s/%s@%s: %w", bucket, key, versionID, transport.ErrNotFound)
	}
	return found, nil
}

// versionByID looks for a version under "v/". A version's slot HLC is at
// or after the HLC its ID was minted with (the gateway stamps a version
// after it streams the body), so the search starts at the minted HLC and
// walks towards newer slots, reading keys only.
func (n *Node) versionByID(bucket, key, versionID string) (*metadata.Version, error) {
	lower := metadata.KeyVersionsPrefix(bucket, key)
	upper := successor(lower)
	if minted, err := metadata.ParseVersionID(versionID); err == nil {
		upper = append(metadata.VersionRecordKey(bucket, key, minted, versionID), 0)
	}
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for valid := it.Last(); valid; valid = it.Prev() {
		k := it.Key()
		if !bytes.HasSuffix(k, []byte(versionID)) || len(k) != len(lower)+8+len(versionID) {
			continue
		}
		v := new(metadata.Version)
		if err := v.UnmarshalBinary(it.Value()); err != nil {
			return nil, fmt.Errorf("version record %q: %w: %v", k, transport.ErrCorrupt, err)
		}
		return v, nil
	}
	return nil, it.Error()
}

// GetVersionByID implements transport.VersionStore.
func (n *Node) GetVersionByID(ctx context.Context, key metadata.ObjectKey, versionID string) (*metadata.Version, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if key.Bucket == "" || versionID == "" {
		return nil, fmt.Errorf("get version %s@%s: %w", key, versionID, transport.ErrInvalid)
	}
	return n.findVersion(key.Bucket, key.Key, versionID)
}

// ListVersions implements transport.VersionStore.
func (n *Node) ListVersions(ctx context.Context, req transport.VersionListRequest) (*transport.VersionPage, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if req.Bucket == "" || req.Limit <= 0 {
		return nil, fmt.Errorf("list versions %s: %w", req.Bucket, transport.ErrInvalid)
	}
	start := max(req.Prefix, req.From, req.KeyMarker)
	oLower := metadata.ObjectPrefix(req.Bucket, start)
	oIt, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: oLower, UpperBound: successor(metadata.ObjectPrefix(req.Bucket, req.Prefix))})
	if err != nil {
		return nil, fmt.Errorf("list versions %s: %w", req.Bucket, err)
	}
	defer oIt.Close()
	vLower := metadata.VersionsPrefix(req.Bucket, start)
	vIt, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: vLower, UpperBound: successor(metadata.VersionsPrefix(req.Bucket, req.Prefix))})
	if err != nil {
		return nil, fmt.Errorf("list versions %s: %w", req.Bucket, err)
	}
	defer vIt.Close()
	decode := func(it *pebble.Iterator) (*metadata.Version, error) {
		v := new(metadata.Version)
		if err := v.UnmarshalBinary(it.Value()); err != nil {
			return nil, fmt.Errorf("list versions %s: record %q: %w: %v", req.Bucket, it.Key(), transport.ErrCorrupt, err)
		}
		v.Inline = nil
		return v, nil
	}
	// after reports whether v is in the request's range and comes after
	// its resume position.
	marker := metadata.Version{VersionID: req.VersionIDMarker, HLC: req.MarkerHLC}
	after := func(v *metadata.Version) bool {
		switch {
		case !strings.HasPrefix(v.Key, req.Prefix) || v.Key < req.From:
			return false
		case req.KeyMarker == "" || v.Key > req.KeyMarker:
			return true
		case v.Key < req.KeyMarker || req.VersionIDMarker == "":
			return false
		default:
			return metadata.CompareVersions(v, &marker) > 0
		}
	}
	var o, w *metadata.Version
	oValid, vValid := oIt.First(), vIt.First()
	page := &transport.VersionPage{}
	for {
		for o == nil && oValid {
			if o, err = decode(oIt); err != nil {
				return nil, err
			}
			oValid = oIt.Next()
			// Plain tombstones come too: they hide older null versions
			// that nodes which missed the delete still list.
			if !after(o) {
				o = nil
			}
		}
		for w == nil && vValid {
			if w, err = decode(vIt); err != nil {
				return nil, err
			}
			vValid = vIt.Next()
			if !after(w) {
				w = nil
			}
		}
		var next *metadata.Version
		switch {
		case o == nil && w == nil:
			if err := cmpErr(oIt, vIt); err != nil {
				return nil, fmt.Errorf("list versions %s: %w", req.Bucket, err)
			}
			return page, nil
		case w == nil || o != nil && (o.Key < w.Key || o.Key == w.Key && metadata.CompareVersions(o, w) < 0):
			next, o = o, nil
		default:
			next, w = w, nil
		}
		if len(page.Versions) == req.Limit {
			page.Truncated = true
			return page, nil
		}
		page.Versions = append(page.Versions, next)
	}
}

func cmpErr(its ...*pebble.Iterator) error {
	for _, it := range its {
		if err := it.Error(); err != nil {
			return err
		}
	}
	return nil
}

// retireIfGone retires a record displaced by a conditional write unless it
// is kept among the key's versions.
func (n *Node) retireIfGone(v *metadata.Version) {
	if v.Retained() {
		if kept, err := n.versionSlot(v.Bucket, v.Key, v.SlotHLC(), v.VersionID); err == nil && kept != nil && !kept.IsPurged() {
			return
		}
	}
	n.retire(v)
}

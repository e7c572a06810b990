package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

var (
	_ transport.UploadStore       = (*Node)(nil)
	_ transport.ConditionalWriter = (*Node)(nil)
	_ transport.OrderedWriter     = (*Node)(nil)
	_ transport.TagWriter         = (*Node)(nil)
)

// Defaults of the upload cleaner.
const (
	DefaultUploadMaxAge        = 7 * 24 * time.Hour
	DefaultUploadCleanInterval = time.Hour
)

// uploadGrace is how long before the cleaner may delete an upload the node
// already reports it Done, so that no gateway is completing an upload while
// its parts are deleted.
func (n *Node) uploadGrace() time.Duration { return min(time.Hour, n.cfg.UploadMaxAge/10) }

func (n *Node) getRecord(key []byte, into interface{ UnmarshalBinary([]byte) error }) error {
	rec, closer, err := n.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return transport.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := into.UnmarshalBinary(rec); err != nil {
		return fmt.Errorf("%w: %v", transport.ErrCorrupt, err)
	}
	return nil
}

func validUploadArgs(bucket, uploadID string) error {
	if bucket == "" || uploadID == "" || strings.ContainsRune(uploadID, 0) {
		return fmt.Errorf("upload %q: %w", uploadID, transport.ErrInvalid)
	}
	return nil
}

// PutUpload implements transport.UploadStore.
func (n *Node) PutUpload(ctx context.Context, u *metadata.Upload) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if err := validUploadArgs(u.Bucket, u.UploadID); err != nil {
		return err
	}
	unlock := n.lockKey(u.Bucket, u.Key)
	defer unlock()
	k := metadata.UploadRecordKey(u.Bucket, u.Key, u.UploadID)
	var cur metadata.Upload
	switch err := n.getRecord(k, &cur); {
	case err == nil:
		if cur.Done || !u.Done {
			return nil // created already, or finished: neither goes back
		}
	case !errors.Is(err, transport.ErrNotFound):
		return fmt.Errorf("put upload %s: %w", u.UploadID, err)
	}
	rec, err := u.MarshalBinary()
	if err != nil {
		return fmt.Errorf("put upload %s: %w: %v", u.UploadID, transport.ErrInvalid, err)
	}
	if err := n.db.Set(k, rec, pebble.Sync); err != nil {
		return fmt.Errorf("put upload %s: %w", u.UploadID, err)
	}
	return nil
}

// GetUpload implements transport.UploadStore.
func (n *Node) GetUpload(ctx context.Context, bucket, key, uploadID string) (*metadata.Upload, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if err := validUploadArgs(bucket, uploadID); err != nil {
		return nil, err
	}
	u := new(metadata.Upload)
	if err := n.getRecord(metadata.UploadRecordKey(bucket, key, uploadID), u); err != nil {
		return nil, fmt.Errorf("get upload %s: %w", uploadID, err)
	}
	n.markExpired(u)
	return u, nil
}

func (n *Node) markExpired(u *metadata.Upload) {
	if !u.Done && n.cfg.Now().Sub(u.Created) > n.cfg.UploadMaxAge-n.uploadGrace() {
		u.Done = true
	}
}

// PutPart implements transport.UploadStore.
func (n *Node) PutPart(ctx context.Context, bucket, key, uploadID string, p *metadata.UploadPart) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if err := validUploadArgs(bucket, uploadID); err != nil {
		return err
	}
	if p.Number < 1 || p.StorageID == "" || p.HLC == 0 {
		return fmt.Errorf("put part %d of %s: %w", p.Number, uploadID, transport.ErrInvalid)
	}
	unlock := n.lockKey(bucket, key)
	defer unlock()
	var u metadata.Upload
	if err := n.getRecord(metadata.UploadRecordKey(bucket, key, uploadID), &u); err != nil {
		return fmt.Errorf("put part %d of %s: %w", p.Number, uploadID, err)
	}
	if n.markExpired(&u); u.Done {
		return fmt.Errorf("put part %d of %s: upload is done: %w", p.Number, uploadID, transport.ErrNotFound)
	}
	k := metadata.PartRecordKey(bucket, key, uploadID, p.Number)
	var cur metadata.UploadPart
	switch err := n.getRecord(k, &cur); {
	case err == nil:
		if cur.StorageID == p.StorageID {
			return nil
		}
		if cur.HLC > p.HLC {
			n.removePartShards(bucket, key, &u, p.StorageID)
			return nil
		}
	case errors.Is(err, transport.ErrNotFound):
		cur = metadata.UploadPart{}
	default:
		return fmt.Errorf("put part %d of %s: %w", p.Number, uploadID, err)
	}
	rec, err := p.MarshalBinary()
	if err != nil {
		return fmt.Errorf("put part %d of %s: %w: %v", p.Number, uploadID, transport.ErrInvalid, err)
	}
	if err := n.db.Set(k, rec, pebble.Sync); err != nil {
		return fmt.Errorf("put part %d of %s: %w", p.Number, uploadID, err)
	}
	if cur.StorageID != "" {
		n.removePartShards(bucket, key, &u, cur.StorageID)
	}
	return nil
}

// removePartShards deletes this node's shards of one stored part. A
// failure leaves an orphan file, never a visible object: it is logged.
func (n *Node) removePartShards(bucket, key string, u *metadata.Upload, storageID string) {
	for i := range max(len(u.Shards), 1) {
		ref := transport.ShardRef{Bucket: bucket, Key: key, VersionID: storageID, Index: i}
		if err := n.shards.remove(ref); err != nil {
			n.log.Warn("remove part shard", "bucket", bucket, "key", key, "part", storageID, "shard", i, "err", err)
		}
	}
}

// Parts implements transport.UploadStore.
func (n *Node) Parts(ctx context.Context, bucket, key, uploadID string) ([]metadata.UploadPart, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if err := validUploadArgs(bucket, uploadID); err != nil {
		return nil, err
	}
	return n.parts(ctx, bucket, key, uploadID)
}

func (n *Node) parts(ctx context.Context, bucket, key, uploadID string) ([]metadata.UploadPart, error) {
	lower := metadata.PartsPrefix(bucket, key, uploadID)
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, fmt.Errorf("parts of %s: %w", uploadID, err)
	}
	defer it.Close()
	var out []metadata.UploadPart
	for valid := it.First(); valid; valid = it.Next() {
		var p metadata.UploadPart
		if err := p.UnmarshalBinary(it.Value()); err != nil {
			return nil, fmt.Errorf("parts of %s: %w: %v", uploadID, transport.ErrCorrupt, err)
		}
		out = append(out, p)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("parts of %s: %w", uploadID, err)
	}
	return out, nil
}

// FinishUpload implements transport.UploadStore.
func (n *Node) FinishUpload(ctx context.Context, bucket, key, uploadID string, keep []string) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if err := validUploadArgs(bucket, uploadID); err != nil {
		return err
	}
	unlock := n.lockKey(bucket, key)
	defer unlock()
	return n.finishUpload(bucket, key, uploadID, keep, false)
}

// finishUpload runs under the key lock. drop removes the upload record
// instead of marking it Done (the cleaner, for long-finished uploads).
func (n *Node) finishUpload(bucket, key, uploadID string, keep []string, drop bool) error {
	uk := metadata.UploadRecordKey(bucket, key, uploadID)
	var u metadata.Upload
	switch err := n.getRecord(uk, &u); {
	case errors.Is(err, transport.ErrNotFound), errors.Is(err, transport.ErrCorrupt):
		// A home that missed the creation still learns the end, so that it
		// can never list the upload.
		u = metadata.Upload{Bucket: bucket, Key: key, UploadID: uploadID, Created: n.cfg.Now().UTC()}
	case err != nil:
		return fmt.Errorf("finish upload %s: %w", uploadID, err)
	}
	parts, err := n.parts(context.Background(), bucket, key, uploadID)
	if err != nil {
		return err
	}
	b := n.db.NewBatch()
	defer b.Close()
	for _, p := range parts {
		b.Delete(metadata.PartRecordKey(bucket, key, uploadID, p.Number), nil)
	}
	if drop {
		b.Delete(uk, nil)
	} else {
		u.Done = true
		rec, err := u.MarshalBinary()
		if err != nil {
			return fmt.Errorf("finish upload %s: %w", uploadID, err)
		}
		b.Set(uk, rec, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("finish upload %s: %w", uploadID, err)
	}
	// Records first, shards after: a crash in between leaves orphan shard
	// files, never a record naming a deleted shard.
	for _, p := range parts {
		if !slices.Contains(keep, p.StorageID) {
			n.removePartShards(bucket, key, &u, p.StorageID)
		}
	}
	return nil
}

// ListUploads implements transport.UploadStore.
func (n *Node) ListUploads(ctx context.Context, req transport.UploadListRequest) (*transport.UploadPage, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if req.Bucket == "" || req.Limit <= 0 {
		return nil, fmt.Errorf("list uploads %s: %w", req.Bucket, transport.ErrInvalid)
	}
	lower := metadata.UploadPrefix(req.Bucket, req.Prefix)
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, fmt.Errorf("list uploads %s: %w", req.Bucket, err)
	}
	defer it.Close()
	valid := it.First()
	if req.KeyMarker != "" || req.UploadIDMarker != "" {
		after := metadata.UploadRecordKey(req.Bucket, req.KeyMarker, req.UploadIDMarker)
		if req.UploadIDMarker == "" {
			// Everything of KeyMarker is skipped: NUL sorts below every
			// upload ID byte, so seek past "key\x00\xff".
			after = append(after, 0xff)
		}
		if bytes.Compare(after, lower) >= 0 {
			valid = it.SeekGE(append(after, 0))
		}
	}
	page := &transport.UploadPage{}
	for ; valid; valid = it.Next() {
		if len(page.Uploads) == req.Limit {
			page.Truncated = true
			break
		}
		var u metadata.Upload
		if err := u.UnmarshalBinary(it.Value()); err != nil {
			return nil, fmt.Errorf("list uploads %s: %w: %v", req.Bucket, transport.ErrCorrupt, err)
		}
		n.markExpired(&u)
		page.Uploads = append(page.Uploads, u)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list uploads %s: %w", req.Bucket, err)
	}
	return page, nil
}

// cleanUploads deletes uploads older than UploadMaxAge with their parts'
// shards, and forgets finished ones after twice that. It keeps the shards
// of parts the key's current version references, in case the upload was
// completed on other homes while this one missed the end.
func (n *Node) cleanUploads(ctx context.Context) (cleaned int, err error) {
	now := n.cfg.Now()
	lower := metadata.UploadsPrefix()
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return 0, err
	}
	var stale []metadata.Upload
	for valid := it.First(); valid; valid = it.Next() {
		var u metadata.Upload
		if err := u.UnmarshalBinary(it.Value()); err != nil {
			n.log.Warn("clean uploads: corrupt record", "key", string(it.Key()), "err", err)
			continue
		}
		age := now.Sub(u.Created)
		if (!u.Done && age > n.cfg.UploadMaxAge) || age > 2*n.cfg.UploadMaxAge {
			stale = append(stale, u)
		}
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return 0, err
	}
	for _, u := range stale {
		if ctx.Err() != nil {
			return cleaned, ctx.Err()
		}
		unlock := n.lockKey(u.Bucket, u.Key)
		var keep []string
		if v, err := n.getVersion(u.Bucket, u.Key); err == nil {
			for _, p := range v.Parts {
				keep = append(keep, p.StorageID)
			}
		}
		err := n.finishUpload(u.Bucket, u.Key, u.UploadID, keep, true)
		unlock()
		if err != nil {
			return cleaned, err
		}
		cleaned++
	}
	return cleaned, nil
}

// runCleaner cleans uploads every UploadCleanInterval until ctx ends.
func (n *Node) runCleaner(ctx context.Context) {
	t := time.NewTicker(n.cfg.UploadCleanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c, err := n.cleanUploads(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("clean uploads", "err", err)
			} else if c > 0 {
				n.log.Info("cleaned stale uploads", "count", c)
			}
		}
	}
}

package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble/v2"

	"cairn/erasure"
	"cairn/metadata"
	"cairn/transport"
	"cairn/vfs"
)

func randomSuffix() string { return strconv.FormatUint(rand.Uint64(), 36) }

// PutShard implements transport.NodeClient.
func (n *Node) PutShard(ctx context.Context, ref transport.ShardRef, r io.Reader, size int64) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if err := validRef(ref); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put shard %s: %w: negative size", ref, transport.ErrInvalid)
	}
	var verify func(io.ReaderAt) error
	if ref.Check != nil {
		codec, err := n.codecFor(ref.Check.EC)
		if err != nil {
			return fmt.Errorf("put shard %s: %w: %v", ref, transport.ErrInvalid, err)
		}
		if want := codec.ShardFileSize(ref.Check.ObjectSize); want != size {
			return fmt.Errorf("put shard %s: %w: size %d, want %d", ref, transport.ErrInvalid, size, want)
		}
		verify = func(r io.ReaderAt) error {
			return codec.VerifyShard(io.NewSectionReader(r, 0, size), ref.Check.ObjectSize)
		}
	}
	return n.shards.put(ctx, ref, r, size, verify)
}

func (n *Node) codecFor(ec metadata.ErasureInfo) (*erasure.Codec, error) {
	if c, ok := n.codecs.Load(ec); ok {
		return c.(*erasure.Codec), nil
	}
	c, err := erasure.New(ec.DataShards, ec.ParityShards, erasure.WithBlockSize(ec.BlockSize))
	if err != nil {
		return nil, err
	}
	n.codecs.Store(ec, c)
	return c, nil
}

// ReadShard implements transport.NodeClient. Shards of inline objects are
// served from the version record.
func (n *Node) ReadShard(ctx context.Context, ref transport.ShardRef, off, length int64) (io.ReadCloser, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if err := validRef(ref); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("read shard %s: %w: negative offset", ref, transport.ErrInvalid)
	}
	sh, err := n.shards.open(ref)
	if errors.Is(err, transport.ErrNotFound) {
		return n.readInline(ref, off, length)
	}
	if err != nil {
		return nil, err
	}
	off, length, err = clampRange(ref, off, length, sh.size)
	if err != nil {
		sh.Close()
		return nil, err
	}
	return shardRange{sh.section(off, length), sh.f}, nil
}

// shardRange is a byte range of an open shard file. Its Size lets a
// transport announce the length before the body.
type shardRange struct {
	*io.SectionReader
	f vfs.File
}

func (s shardRange) Close() error { return s.f.Close() }

// WriteTo hands the rest of the range to w's ReadFrom as a file, so that a
// socket takes it straight from the page cache (sendfile) instead of
// through a buffer; io.Copy and net/http's response writer call it.
func (s shardRange) WriteTo(w io.Writer) (int64, error) {
	osf, isFile := s.f.(*os.File)
	rf, isReaderFrom := w.(io.ReaderFrom)
	if !isFile || !isReaderFrom {
		return io.Copy(w, struct{ io.Reader }{s.SectionReader})
	}
	cur, err := s.SectionReader.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	_, base, size := s.SectionReader.Outer()
	if _, err := osf.Seek(base+cur, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := rf.ReadFrom(io.LimitReader(osf, size-cur))
	s.SectionReader.Seek(n, io.SeekCurrent)
	return n, err
}

func (n *Node) readInline(ref transport.ShardRef, off, length int64) (io.ReadCloser, error) {
	v, err := n.getVersion(ref.Bucket, ref.Key)
	if err == nil && v.VersionID != ref.VersionID {
		if prev, perr := n.previousInline(ref.Bucket, ref.Key); perr == nil && prev.VersionID == ref.VersionID {
			v = prev
		}
	}
	if err == nil && v.VersionID != ref.VersionID {
		// Maybe an older version the key keeps (versions.go).
		v, err = n.findVersion(ref.Bucket, ref.Key, ref.VersionID)
		if err == nil && v.IsPurged() {
			err = fmt.Errorf("shard %s: %w", ref, transport.ErrNotFound)
		}
	}
	if err != nil {
		return nil, err
	}
	if v.VersionID != ref.VersionID || !v.IsInline() || ref.Index >= len(v.Shards) || v.Shards[ref.Index] != n.cfg.ID {
		return nil, fmt.Errorf("shard %s: %w", ref, transport.ErrNotFound)
	}
	off, length, err = clampRange(ref, off, length, int64(len(v.Inline)))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(v.Inline[off : off+length])), nil
}

func clampRange(ref transport.ShardRef, off, length, size int64) (int64, int64, error) {
	if off > size {
		return 0, 0, fmt.Errorf("read shard %s: %w: offset %d past size %d", ref, transport.ErrInvalid, off, size)
	}
	if length < 0 || off+length > size {
		length = size - off
	}
	return off, length, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// DeleteShard implements transport.NodeClient.
func (n *Node) DeleteShard(ctx context.Context, ref transport.ShardRef) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if err := validRef(ref); err != nil {
		return err
	}
	return n.shards.remove(ref)
}

func validRef(ref transport.ShardRef) error {
	if ref.Bucket == "" || ref.VersionID == "" || ref.Index < 0 || ref.Index > 255 {
		return fmt.Errorf("shard %s: %w", ref, transport.ErrInvalid)
	}
	return nil
}

// PutVersion implements transport.NodeClient. The newest record by HLC is
// the key's current one; a loser is kept among the key's versions when its
// bucket is versioned (versions.go), else its shard files on this node are
// retired once the winner is durable. A record with Purged set deletes a
// version for good.
//
// It is a batch of one (PutVersions): a retry that finds its record already
// here answers for a record that may be another batch's, committed and not
// yet synced, so the log is synced whether or not this write committed
// anything.
func (n *Node) PutVersion(ctx context.Context, v *metadata.Version) error {
	res, err := n.PutVersions(ctx, []transport.VersionWrite{{V: v}})
	if err != nil {
		return err
	}
	return res[0].Err
}

// putVersion is PutVersion without the log sync (see storeVersion).
func (n *Node) putVersion(ctx context.Context, v *metadata.Version) error {
	if err := n.admitRecord(ctx, v); err != nil {
		return err
	}
	unlock := n.lockKey(v.Bucket, v.Key)
	defer unlock()
	// versions.go: older versions are kept or retired by what the
	// records say of their bucket's versioning.
	return n.storeVersion(v)
}

// GetVersionWithShard implements transport.ShardPrefetcher.
func (n *Node) GetVersionWithShard(ctx context.Context, key metadata.ObjectKey, maxSize int64) (*metadata.Version, int, io.ReadCloser, error) {
	v, err := n.GetVersion(ctx, key)
	if err != nil || !v.SmallStreamed(maxSize) {
		return v, -1, nil, err
	}
	i := slices.Index(v.Shards, n.cfg.ID)
	if i < 0 {
		return v, -1, nil, nil
	}
	rc, err := n.ReadShard(ctx, transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: i}, 0, -1)
	if err != nil {
		return v, -1, nil, nil
	}
	if sized, ok := rc.(interface{ Size() int64 }); !ok || sized.Size() != erasure.ShardSize(v.Size, v.EC.DataShards, v.EC.BlockSize) {
		rc.Close() // not what the record describes: the reader finds out the usual way
		return v, -1, nil, nil
	}
	return v, i, rc, nil
}

// PutVersionUnlessNewer implements transport.OrderedWriter.
// Like PutVersion, a batch of one: a refusal rests on a newer record that
// must be durable too.
func (n *Node) PutVersionUnlessNewer(ctx context.Context, v *metadata.Version) (metadata.HLC, error) {
	res, err := n.PutVersions(ctx, []transport.VersionWrite{{V: v, UnlessNewer: true}})
	if err != nil {
		return 0, err
	}
	return res[0].Newer, res[0].Err
}

// putVersionUnlessNewer is PutVersionUnlessNewer without the log sync (see
// storeVersion).
func (n *Node) putVersionUnlessNewer(ctx context.Context, v *metadata.Version) (metadata.HLC, error) {
	if err := n.admitRecord(ctx, v); err != nil {
		return 0, err
	}
	if v.IsPurged() {
		return 0, fmt.Errorf("put version %s/%s: %w: a purge is not a fresh write", v.Bucket, v.Key, transport.ErrInvalid)
	}
	unlock := n.lockKey(v.Bucket, v.Key)
	defer unlock()
	// A collected tombstone orders after v as much as a record would.
	wm, err := n.watermark(v.Bucket, v.Key)
	if err != nil {
		return 0, err
	}
	if wm >= v.SlotHLC() {
		return wm, nil
	}
	cur, err := n.currentVersion(v.Bucket, v.Key)
	if err != nil {
		return 0, err
	}
	if cur != nil && cur.VersionID != v.VersionID && cur.Newer(v) {
		return cur.HLC, nil
	}
	return 0, n.storeVersionOver(v, cur)
}

// admitRecord checks what every record write checks before it takes the
// key's lock: the request is live, the record names a version and an HLC,
// and the HLC is not too far ahead of this node's clock.
func (n *Node) admitRecord(ctx context.Context, v *metadata.Version) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if v.Bucket == "" || v.VersionID == "" || v.HLC == 0 {
		return fmt.Errorf("put version %s/%s: %w", v.Bucket, v.Key, transport.ErrInvalid)
	}
	if err := n.roomForInline(v); err != nil {
		return err
	}
	return n.checkRecordSkew(v)
}

// roomForInline refuses a record that carries object data (an inline
// object's fragment) when the disk is down to its reserve, as a shard
// would be: small objects must not fill what the reserve keeps for
// records without data, deletes among them.
func (n *Node) roomForInline(v *metadata.Version) error {
	if len(v.Inline) == 0 {
		return nil
	}
	if err := n.shards.roomFor(int64(len(v.Inline))); err != nil {
		return fmt.Errorf("put version %s/%s: %w", v.Bucket, v.Key, err)
	}
	return nil
}

// retire schedules the removal of the shard files of a version that lost
// to a newer one. They stay for RetireGrace, so that a read which chose the
// old version a moment ago can finish; a failure to remove them leaves an
// orphan for the scanner, never a visible object, so it is logged.
func (n *Node) retire(v *metadata.Version) {
	if v.Deleted || v.IsInline() {
		return
	}
	if n.cfg.RetireGrace < 0 {
		n.removeShards(v)
		return
	}
	if err := n.scheduleRetire(v); err != nil {
		n.log.Warn("schedule retirement; removing now", "bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "err", err)
		n.removeShards(v)
	}
}

// removeShards deletes a version's shard files on this node.
func (n *Node) removeShards(v *metadata.Version) {
	if len(v.Parts) > 0 {
		n.retireParts(v) // a multipart version's shards are named by its parts
		return
	}
	for i := range v.Shards {
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: i}
		if err := n.shards.remove(ref); err != nil {
			n.log.Warn("retire shard", "bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "shard", i, "err", err)
		}
	}
}

// GetVersion implements transport.NodeClient.
func (n *Node) GetVersion(ctx context.Context, key metadata.ObjectKey) (*metadata.Version, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	return n.getVersion(key.Bucket, key.Key)
}

func (n *Node) getVersion(bucket, key string) (*metadata.Version, error) {
	rec, closer, err := n.db.Get(metadata.ObjectRecordKey(bucket, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("version %s/%s: %w", bucket, key, transport.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get version %s/%s: %w", bucket, key, err)
	}
	defer closer.Close()
	v := new(metadata.Version)
	if err := v.UnmarshalBinary(rec); err != nil {
		return nil, fmt.Errorf("get version %s/%s: %w: %v", bucket, key, transport.ErrCorrupt, err)
	}
	return v, nil
}

// List implements transport.NodeClient.
func (n *Node) List(ctx context.Context, req transport.ListRequest) (*transport.ListPage, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if req.Bucket == "" || req.Limit <= 0 {
		return nil, fmt.Errorf("list %s: %w", req.Bucket, transport.ErrInvalid)
	}
	lower := metadata.ObjectPrefix(req.Bucket, req.Prefix)
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", req.Bucket, err)
	}
	defer it.Close()
	valid := it.First()
	if after := metadata.ObjectRecordKey(req.Bucket, req.After); req.After != "" && bytes.Compare(after, lower) >= 0 {
		valid = it.SeekGE(append(after, 0))
	}
	page := &transport.ListPage{}
	for ; valid; valid = it.Next() {
		if len(page.Entries) == req.Limit {
			page.Truncated = true
			break
		}
		e, err := metadata.DecodeListEntry(it.Value())
		if err != nil {
			return nil, fmt.Errorf("list %s: record %q: %w: %v", req.Bucket, it.Key(), transport.ErrCorrupt, err)
		}
		page.Entries = append(page.Entries, e)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list %s: %w", req.Bucket, err)
	}
	return page, nil
}

// successor returns the smallest key greater than every key with prefix p.
func successor(p []byte) []byte {
	s := bytes.Clone(p)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < 0xff {
			s[i]++
			return s[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// PutBucket implements transport.NodeClient.
func (n *Node) PutBucket(ctx context.Context, b *metadata.Bucket) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if b.Name == "" || b.HLC == 0 {
		return fmt.Errorf("put bucket %q: %w", b.Name, transport.ErrInvalid)
	}
	if err := n.checkSkew("put bucket "+b.Name, b.HLC); err != nil {
		return err
	}
	unlock := n.lockKey(b.Name, "")
	defer unlock()
	key := metadata.BucketKey(b.Name)
	if rec, closer, err := n.db.Get(key); err == nil {
		var cur metadata.Bucket
		decodeErr := cur.UnmarshalBinary(rec)
		closer.Close()
		if decodeErr == nil && cur.HLC >= b.HLC {
			return nil
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("put bucket %q: %w", b.Name, err)
	}
	rec, err := b.MarshalBinary()
	if err != nil {
		return fmt.Errorf("put bucket %q: %w: %v", b.Name, transport.ErrInvalid, err)
	}
	if err := n.db.Set(key, rec, pebble.Sync); err != nil {
		return fmt.Errorf("put bucket %q: %w", b.Name, err)
	}
	return nil
}

// Buckets implements transport.NodeClient.
func (n *Node) Buckets(ctx context.Context) ([]metadata.Bucket, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	lower := metadata.BucketKey("")
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	defer it.Close()
	var out []metadata.Bucket
	for valid := it.First(); valid; valid = it.Next() {
		var b metadata.Bucket
		if err := b.UnmarshalBinary(it.Value()); err != nil {
			return nil, fmt.Errorf("list buckets: record %q: %w: %v", it.Key(), transport.ErrCorrupt, err)
		}
		out = append(out, b)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	return out, nil
}

// The inline record a newer version replaced is kept under
//
//	"p/" bucket "/" key → the replaced record, inline fragment and all
//
// until the next replacement: while a newer inline write is still reaching
// its homes, or if its writer died before it reached k of them, the older
// version must stay decodable from the fragments the homes hold.
func previousInlineKey(bucket, key string) []byte {
	k := metadata.ObjectRecordKey(bucket, key)
	k[0] = 'p'
	return k
}

func (n *Node) previousInline(bucket, key string) (*metadata.Version, error) {
	rec, closer, err := n.db.Get(previousInlineKey(bucket, key))
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	v := new(metadata.Version)
	if err := v.UnmarshalBinary(rec); err != nil {
		return nil, err
	}
	return v, nil
}

// mustRecord encodes a record that was decoded from the store, which
// cannot fail to encode again.
func mustRecord(v *metadata.Version) []byte {
	rec, err := v.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("node: re-encoding a stored record: %v", err))
	}
	return rec
}

package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"cairn/erasure"
	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
)

// This file holds what repair does to one record or one shard, and the node
// side of transport.AntiEntropy; scanner.go decides when and in what order.

var _ transport.AntiEntropy = (*Node)(nil)

const objectKeyPrefix = "o/"

// pendingWrites returns, per "bucket/key", the version ID of every
// conditional write still waiting for its resolution: such a record may yet
// be rolled back, so anti-entropy neither counts nor spreads it.
func (n *Node) pendingWrites() (map[string]string, error) {
	lower := []byte("d/")
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[string]string{}
	for valid := it.First(); valid; valid = it.Next() {
		rec := it.Value()
		l, w := binary.Uvarint(rec)
		if w <= 0 || l > uint64(len(rec)-w) {
			continue // corrupt slot: not pending as far as we can tell
		}
		out[string(it.Key()[len(lower):])] = string(rec[w : w+int(l)])
	}
	return out, it.Error()
}

func validPGCount(pgCount int) error {
	if pgCount < 1 || pgCount > placement.MaxPGCount {
		return fmt.Errorf("pg count %d: %w", pgCount, transport.ErrInvalid)
	}
	return nil
}

// recordDigest is one record's share of a PGDigest.
func recordDigest(bucket, key, versionID string, deleted bool) [32]byte {
	h := sha256.New()
	h.Write([]byte(bucket))
	h.Write([]byte{0})
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(versionID))
	if deleted {
		h.Write([]byte{0, 1})
	} else {
		h.Write([]byte{0, 0})
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// PGDigests implements transport.AntiEntropy. It reads every record once.
func (n *Node) PGDigests(ctx context.Context, pgCount int) (map[int]transport.PGDigest, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if err := validPGCount(pgCount); err != nil {
		return nil, err
	}
	pending, err := n.pendingWrites()
	if err != nil {
		return nil, fmt.Errorf("pg digests: %w", err)
	}
	layout := &placement.Layout{PGCount: pgCount}
	lower := []byte(objectKeyPrefix)
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, fmt.Errorf("pg digests: %w", err)
	}
	defer it.Close()
	out := map[int]transport.PGDigest{}
	for valid := it.First(); valid; valid = it.Next() {
		bucket, key, ok := metadata.SplitObjectRecordKey(it.Key())
		if !ok {
			continue
		}
		e, err := metadata.DecodeListEntry(it.Value())
		if err != nil {
			return nil, fmt.Errorf("pg digests: record %q: %w: %v", it.Key(), transport.ErrCorrupt, err)
		}
		if pending[bucket+"/"+key] == e.VersionID {
			continue
		}
		pg := placement.PG(layout, bucket, key)
		d := out[pg]
		d.Records++
		sum := recordDigest(bucket, key, e.VersionID, e.Deleted)
		for i := range d.Sum {
			d.Sum[i] ^= sum[i]
		}
		out[pg] = d
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pg digests: %w", err)
	}
	return out, nil
}

// maxPGRecordsPage bounds a PGRecords page whatever the caller asks.
const maxPGRecordsPage = 1000

// PGRecords implements transport.AntiEntropy.
func (n *Node) PGRecords(ctx context.Context, req transport.PGRecordsRequest) (*transport.PGRecordsPage, error) {
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if err := validPGCount(req.PGCount); err != nil {
		return nil, err
	}
	if req.Limit <= 0 {
		return nil, fmt.Errorf("pg records: limit %d: %w", req.Limit, transport.ErrInvalid)
	}
	limit := min(req.Limit, maxPGRecordsPage)
	want := make(map[int]bool, len(req.PGs))
	for _, pg := range req.PGs {
		want[pg] = true
	}
	pending, err := n.pendingWrites()
	if err != nil {
		return nil, fmt.Errorf("pg records: %w", err)
	}
	layout := &placement.Layout{PGCount: req.PGCount}
	lower := []byte(objectKeyPrefix)
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, fmt.Errorf("pg records: %w", err)
	}
	defer it.Close()
	valid := it.First()
	if req.After.Bucket != "" {
		valid = it.SeekGE(append(metadata.ObjectRecordKey(req.After.Bucket, req.After.Key), 0))
	}
	page := &transport.PGRecordsPage{}
	for ; valid; valid = it.Next() {
		bucket, key, ok := metadata.SplitObjectRecordKey(it.Key())
		if !ok || !want[placement.PG(layout, bucket, key)] {
			continue
		}
		if len(page.Records) == limit {
			page.Truncated = true
			break
		}
		v := new(metadata.Version)
		if err := v.UnmarshalBinary(it.Value()); err != nil {
			return nil, fmt.Errorf("pg records: record %q: %w: %v", it.Key(), transport.ErrCorrupt, err)
		}
		if pending[bucket+"/"+key] == v.VersionID {
			continue
		}
		if v.IsInline() {
			v.Inline = []byte{}
		}
		page.Records = append(page.Records, v)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pg records: %w", err)
	}
	return page, nil
}

// shardUnit is one erasure-coded stream of a version: the whole object, or
// one part of a multipart object. Its shards are named by name.
type shardUnit struct {
	name string
	size int64
}

func units(v *metadata.Version) []shardUnit {
	if len(v.Parts) == 0 {
		return []shardUnit{{v.VersionID, v.Size}}
	}
	out := make([]shardUnit, len(v.Parts))
	for i, p := range v.Parts {
		out[i] = shardUnit{p.StorageID, p.Size}
	}
	return out
}

// unitNamed returns the unit of v whose shards are called name.
func unitNamed(v *metadata.Version, name string) (shardUnit, bool) {
	for _, u := range units(v) {
		if u.name == name {
			return u, true
		}
	}
	return shardUnit{}, false
}

// holders lists the nodes that may hold shard i of v: its home, then the
// fallback that took it as a hint.
func holders(v *metadata.Version, i int) []string {
	if i >= len(v.Shards) {
		return nil
	}
	out := []string{v.Shards[i]}
	if i < len(v.Hints) && v.Hints[i] != "" && v.Hints[i] != v.Shards[i] {
		out = append(out, v.Hints[i])
	}
	return out
}

// peer returns the client of another node, or an error when it is down.
func (n *Node) peer(id string) (transport.NodeClient, error) {
	if n.cfg.Peers == nil {
		return nil, fmt.Errorf("node %s: %w: no peers configured", id, transport.ErrUnavailable)
	}
	if !n.cfg.Alive(id) {
		return nil, fmt.Errorf("node %s: %w: down", id, transport.ErrUnavailable)
	}
	return n.cfg.Peers.Node(id)
}

// readFrom reads a shard from a node, this one included.
func (n *Node) readFrom(ctx context.Context, id string, ref transport.ShardRef, off, length int64) (io.ReadCloser, error) {
	if id == n.cfg.ID {
		return n.ReadShard(ctx, ref, off, length)
	}
	c, err := n.peer(id)
	if err != nil {
		return nil, err
	}
	return c.ReadShard(ctx, ref, off, length)
}

// opener reads the shards of unit u of v from their holders, home first.
func (n *Node) opener(ctx context.Context, v *metadata.Version, u shardUnit) erasure.ShardOpener {
	return func(i int, off, length int64) (io.ReadCloser, error) {
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: u.name, Index: i}
		var errs []error
		for _, id := range holders(v, i) {
			rc, err := n.readFrom(ctx, id, ref, off, length)
			if err == nil {
				return rc, nil
			}
			errs = append(errs, err)
		}
		return nil, fmt.Errorf("shard %s: %w", ref, errors.Join(errs...))
	}
}

// reconstruct rebuilds shard i of unit u of v from the other shards and
// writes it to w.
func (n *Node) reconstruct(ctx context.Context, v *metadata.Version, u shardUnit, i int, w io.Writer) error {
	codec, err := n.codecFor(v.EC)
	if err != nil {
		return fmt.Errorf("rebuild %s/%s#%d: %w", v.Bucket, v.Key, i, err)
	}
	failed := func(shard int, err error) {
		n.log.Debug("repair source failed", "bucket", v.Bucket, "key", v.Key, "version", u.name, "shard", shard, "err", err)
	}
	return codec.ReconstructShards(u.size, []int{i}, n.opener(ctx, v, u), []io.Writer{w}, erasure.WithShardFailure(failed))
}

// inlineFragment rebuilds home index i's inline fragment of v from the
// fragments the other homes keep in their records.
func (n *Node) inlineFragment(ctx context.Context, v *metadata.Version, i int) ([]byte, error) {
	var buf bytes.Buffer
	if err := n.reconstruct(ctx, v, shardUnit{v.VersionID, v.Size}, i, &buf); err != nil {
		return nil, err
	}
	return append([]byte{}, buf.Bytes()...), nil
}

// recordFor returns v as home index i should store it: for an inline
// object, with i's own fragment rebuilt from the other homes.
func (n *Node) recordFor(ctx context.Context, v *metadata.Version, i int) (*metadata.Version, error) {
	out := *v
	if !v.IsInline() || v.Deleted {
		return &out, nil
	}
	frag, err := n.inlineFragment(ctx, v, i)
	if err != nil {
		return nil, err
	}
	out.Inline = frag
	return &out, nil
}

// applyRecord stores a record another home sent, unless this node already
// has it or something newer. It reports whether the record was stored.
func (n *Node) applyRecord(ctx context.Context, v *metadata.Version) (bool, error) {
	i := slices.Index(v.Shards, n.cfg.ID)
	if i < 0 {
		return false, nil // not a home of this version
	}
	cur, err := n.getVersion(v.Bucket, v.Key)
	switch {
	case errors.Is(err, transport.ErrNotFound):
		cur = nil
	case err != nil:
		return false, err
	}
	if cur != nil && (cur.VersionID == v.VersionID || !v.Newer(cur)) {
		return false, nil
	}
	rec, err := n.recordFor(ctx, v, i)
	if err != nil {
		return false, fmt.Errorf("pull %s/%s@%s: %w", v.Bucket, v.Key, v.VersionID, err)
	}
	if err := n.PutVersion(ctx, rec); err != nil {
		return false, err
	}
	return true, nil
}

// rebuildShard restores this node's shard i of unit u of v: copied from the
// fallback that holds it as a hint when there is one, else rebuilt from k
// other shards. Either way the bytes are verified before the shard is
// renamed into place.
func (n *Node) rebuildShard(ctx context.Context, v *metadata.Version, u shardUnit, i int) error {
	ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: u.name, Index: i}
	codec, err := n.codecFor(v.EC)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", ref, err)
	}
	size := codec.ShardFileSize(u.size)
	verify := func(r io.ReaderAt) error { return codec.VerifyShard(io.NewSectionReader(r, 0, size), u.size) }
	if i < len(v.Hints) && v.Hints[i] != "" && v.Hints[i] != n.cfg.ID {
		if rc, err := n.readFrom(ctx, v.Hints[i], ref, 0, -1); err == nil {
			err = n.shards.put(ctx, ref, rc, size, verify)
			rc.Close()
			if err == nil {
				return n.keepIfCurrent(v)
			}
		}
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := n.reconstruct(ctx, v, u, i, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	err = n.shards.put(ctx, ref, pr, size, verify)
	pr.CloseWithError(errRebuildAbandoned) // unblocks the writer if put gave up early
	if rerr := <-done; rerr != nil && !errors.Is(rerr, errRebuildAbandoned) {
		return fmt.Errorf("rebuild %s: %w", ref, rerr)
	}
	if err != nil {
		return err
	}
	return n.keepIfCurrent(v)
}

var errRebuildAbandoned = errors.New("node: rebuild abandoned")

// keepIfCurrent retires v again if it lost to a newer version while its
// shard was being rebuilt: the first retirement may have run before the
// file existed.
func (n *Node) keepIfCurrent(v *metadata.Version) error {
	unlock := n.lockKey(v.Bucket, v.Key)
	defer unlock()
	cur, err := n.getVersion(v.Bucket, v.Key)
	if err == nil && cur.VersionID == v.VersionID {
		return nil
	}
	if err == nil {
		if kept, ferr := n.findVersion(v.Bucket, v.Key, v.VersionID); ferr == nil && !kept.IsPurged() {
			return nil // an older version the key keeps
		}
	}
	if err != nil && !errors.Is(err, transport.ErrNotFound) {
		return nil // cannot tell; the orphan collector decides later
	}
	return n.scheduleRetire(v)
}

// sendShard rebuilds shard i of unit u of v here and streams it to node
// home, which verifies it before it acknowledges.
func (n *Node) sendShard(ctx context.Context, home transport.NodeClient, v *metadata.Version, u shardUnit, i int) error {
	codec, err := n.codecFor(v.EC)
	if err != nil {
		return err
	}
	ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: u.name, Index: i,
		Check: &transport.ShardCheck{ObjectSize: u.size, EC: v.EC}}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := n.reconstruct(ctx, v, u, i, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	err = home.PutShard(ctx, ref, pr, codec.ShardFileSize(u.size))
	pr.CloseWithError(errRebuildAbandoned)
	if rerr := <-done; rerr != nil && !errors.Is(rerr, errRebuildAbandoned) {
		return fmt.Errorf("rebuild %s for its home: %w", ref, rerr)
	}
	return err
}

// shardGood reports whether node c holds shard ref, whole and verified.
func shardGood(ctx context.Context, c transport.NodeClient, codec *erasure.Codec, ref transport.ShardRef, objSize int64) bool {
	rc, err := c.ReadShard(ctx, ref, 0, -1)
	if err != nil {
		return false
	}
	defer rc.Close()
	return codec.VerifyShard(rc, objSize) == nil
}

// settleDebt settles one repair debt: shard h.Index (or the record) of a
// version that home h.Home missed. It finds the version's record on the
// home or the other homes, gives the home the record if it lacks it, and
// rebuilds the shard at the home if the home's copy is missing or bad.
// It reports whether the debt is settled (or moot: the version is gone or
// superseded) and may be dropped.
//
// Debts only speed repair up: a home that has the record finds a missing
// shard of its own in its next scrub anyway.
func (n *Node) settleDebt(ctx context.Context, h *hint) (bool, error) {
	home, err := n.peer(h.Home)
	if err != nil {
		return false, err
	}
	key := metadata.ObjectKey{Bucket: h.Bucket, Key: h.Key}
	var homeRec, rec *metadata.Version
	var unanswered int
	hv, err := home.GetVersion(ctx, key)
	switch {
	case err == nil:
		homeRec = hv
	case !errors.Is(err, transport.ErrNotFound):
		return false, err
	}
	if homeRec != nil {
		if _, ok := unitNamed(homeRec, h.VersionID); ok {
			rec = homeRec
		}
	}
	if rec == nil {
		for _, id := range n.likelyHomes(h.Bucket, h.Key, h.Home) {
			var v *metadata.Version
			var err error
			if id == n.cfg.ID {
				v, err = n.getVersion(h.Bucket, h.Key)
			} else if c, cerr := n.peer(id); cerr != nil {
				err = cerr
			} else {
				v, err = c.GetVersion(ctx, key)
			}
			if err != nil {
				if !errors.Is(err, transport.ErrNotFound) {
					unanswered++
				}
				continue
			}
			if _, ok := unitNamed(v, h.VersionID); ok {
				rec = v
				break
			}
		}
	}
	if rec == nil {
		// Nobody that answered references the shard: the version was
		// superseded and retired, or never committed. Keep the debt while
		// some home could not say.
		return unanswered == 0, nil
	}
	if homeRec != nil && homeRec.VersionID != rec.VersionID && homeRec.Newer(rec) {
		return true, nil // superseded at the home already
	}
	i := slices.Index(rec.Shards, h.Home)
	if i < 0 {
		return true, nil // the home is not a home of this version (layout changed)
	}
	if homeRec == nil || homeRec.VersionID != rec.VersionID {
		full, err := n.recordFor(ctx, rec, i)
		if err != nil {
			return false, err
		}
		if err := home.PutVersion(ctx, full); err != nil {
			return false, err
		}
	}
	if h.Kind == hintKindVersion || rec.Deleted || rec.IsInline() {
		return true, nil
	}
	u, _ := unitNamed(rec, h.VersionID)
	codec, err := n.codecFor(rec.EC)
	if err != nil {
		return false, err
	}
	ref := transport.ShardRef{Bucket: rec.Bucket, Key: rec.Key, VersionID: u.name, Index: h.Index}
	if shardGood(ctx, home, codec, ref, u.size) {
		return true, nil
	}
	if err := n.sendShard(ctx, home, rec, u, h.Index); err != nil {
		return false, err
	}
	return true, nil
}

// likelyHomes lists the nodes to ask for the record of bucket/key: the
// layout's homes of its PG (this node included), except skip.
func (n *Node) likelyHomes(bucket, key, skip string) []string {
	if n.layout() == nil {
		return []string{n.cfg.ID}
	}
	plan, err := placement.Place(n.layout(), bucket, key, min(n.cfg.HomesPerPG, len(n.layout().Nodes)))
	if err != nil {
		return []string{n.cfg.ID}
	}
	var out []string
	for _, id := range plan.Homes {
		if string(id) != skip {
			out = append(out, string(id))
		}
	}
	return out
}

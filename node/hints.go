package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

// Hints are data this node holds for another node (the home) while the home
// is away. Each hint is one pebble record under
//
//	"h/" home 0x00 kind seq:8
//
// where kind 'a' is a version record and 'b' a shard (version records sort
// first, so a home learns of a version before it receives its shards), and
// seq orders hints by arrival. A shard hint's bytes live in the ordinary
// shard file; the record says which. Replay sends the data home, with a
// checksum check at the home for shards, then deletes the hint.
const hintPrefix = "h/"

// Repair debts are shards a hint could not cover: refused for lack of budget,
// or aged out of the hint window. They are recorded, never dropped, under
//
//	"r/" home 0x00 seq:8
//
// and settled by rebuilding the shard at its home from the other shards.
const repairPrefix = "r/"

const (
	hintKindVersion = 'a'
	hintKindShard   = 'b'
)

// hint is the value of a hint or repair-debt record.
type hint struct {
	Kind      byte                  `json:"kind"`
	Home      string                `json:"home"`
	Bucket    string                `json:"bucket"`
	Key       string                `json:"key"`
	VersionID string                `json:"version"`
	Index     int                   `json:"index"`
	Size      int64                 `json:"size"`
	Check     *transport.ShardCheck `json:"check,omitempty"`
	Record    []byte                `json:"record,omitempty"`
	Created   time.Time             `json:"created"`
}

func (h *hint) ref() transport.ShardRef {
	return transport.ShardRef{Bucket: h.Bucket, Key: h.Key, VersionID: h.VersionID, Index: h.Index, Check: h.Check}
}

// HintStat is the hint debt this node holds for one home.
type HintStat struct {
	Count  int
	Bytes  int64
	Oldest time.Time
	// ReplayedBytes counts bytes sent home since the node started.
	ReplayedBytes int64
	// ReplayRate is the bytes per second of the last replay to the home,
	// throttling included.
	ReplayRate float64
	// RepairDebts counts shards recorded for repair instead of hinted.
	RepairDebts int
}

type hintBook struct {
	mu    sync.Mutex
	seq   uint64
	homes map[string]*HintStat
}

func (b *hintBook) stat(home string) *HintStat {
	if b.homes == nil {
		b.homes = make(map[string]*HintStat)
	}
	s := b.homes[home]
	if s == nil {
		s = &HintStat{}
		b.homes[home] = s
	}
	return s
}

func hintKey(prefix, home string, kind byte, seq uint64) []byte {
	k := make([]byte, 0, len(prefix)+len(home)+10)
	k = append(k, prefix...)
	k = append(k, home...)
	k = append(k, 0)
	if kind != 0 {
		k = append(k, kind)
	}
	return binary.BigEndian.AppendUint64(k, seq)
}

func homePrefix(prefix, home string) []byte {
	return append(append([]byte(prefix), home...), 0)
}

// loadHints rebuilds the in-memory hint accounting from pebble at start.
func (n *Node) loadHints() error {
	for _, prefix := range []string{hintPrefix, repairPrefix} {
		it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: successor([]byte(prefix))})
		if err != nil {
			return err
		}
		for valid := it.First(); valid; valid = it.Next() {
			var h hint
			if err := json.Unmarshal(it.Value(), &h); err != nil {
				it.Close()
				return fmt.Errorf("node: hint %q: %w", it.Key(), err)
			}
			k := it.Key()
			if seq := binary.BigEndian.Uint64(k[len(k)-8:]); seq > n.hints.seq {
				n.hints.seq = seq
			}
			s := n.hints.stat(h.Home)
			if prefix == repairPrefix {
				s.RepairDebts++
				continue
			}
			s.Count++
			s.Bytes += h.Size
			if s.Oldest.IsZero() || h.Created.Before(s.Oldest) {
				s.Oldest = h.Created
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	return nil
}

// HintStats returns the hint debt per home.
func (n *Node) HintStats() map[string]HintStat {
	n.hints.mu.Lock()
	defer n.hints.mu.Unlock()
	out := make(map[string]HintStat, len(n.hints.homes))
	for home, s := range n.hints.homes {
		out[home] = *s
	}
	return out
}

// reserveHint admits a hint of size bytes for home, or refuses it when the
// home's budget is spent.
func (n *Node) reserveHint(home string, size int64) (uint64, error) {
	n.hints.mu.Lock()
	defer n.hints.mu.Unlock()
	s := n.hints.stat(home)
	if s.Bytes+size > n.cfg.MaxHintBytes {
		return 0, fmt.Errorf("hint for %s: %w: %d bytes held, budget %d", home, transport.ErrHintRefused, s.Bytes, n.cfg.MaxHintBytes)
	}
	s.Count++
	s.Bytes += size
	if s.Oldest.IsZero() {
		s.Oldest = n.cfg.Now()
	}
	n.hints.seq++
	return n.hints.seq, nil
}

func (n *Node) releaseHint(home string, size int64) {
	n.hints.mu.Lock()
	defer n.hints.mu.Unlock()
	s := n.hints.stat(home)
	s.Count--
	s.Bytes -= size
	if s.Count <= 0 {
		s.Count, s.Bytes, s.Oldest = 0, 0, time.Time{}
	}
}

func (n *Node) writeHint(prefix string, seq uint64, h *hint) error {
	val, err := json.Marshal(h)
	if err != nil {
		return err
	}
	kind := h.Kind
	if prefix == repairPrefix {
		kind = 0
	}
	return n.db.Set(hintKey(prefix, h.Home, kind, seq), val, pebble.Sync)
}

// PutShardHint implements transport.Hinter.
func (n *Node) PutShardHint(ctx context.Context, home string, ref transport.ShardRef, r io.Reader, size int64) error {
	if home == "" || home == n.cfg.ID {
		return fmt.Errorf("shard hint %s for %q: %w", ref, home, transport.ErrInvalid)
	}
	seq, err := n.reserveHint(home, size)
	if err != nil {
		return err
	}
	if err := n.PutShard(ctx, ref, r, size); err != nil {
		n.releaseHint(home, size)
		return err
	}
	h := &hint{Kind: hintKindShard, Home: home, Bucket: ref.Bucket, Key: ref.Key, VersionID: ref.VersionID,
		Index: ref.Index, Size: size, Check: ref.Check, Created: n.cfg.Now()}
	if err := n.writeHint(hintPrefix, seq, h); err != nil {
		n.releaseHint(home, size)
		return fmt.Errorf("shard hint %s: %w", ref, err)
	}
	return nil
}

// PutVersionHint implements transport.Hinter.
func (n *Node) PutVersionHint(ctx context.Context, home string, v *metadata.Version) error {
	if err := withCtx(ctx); err != nil {
		return err
	}
	if home == "" || home == n.cfg.ID || v.Bucket == "" || v.VersionID == "" {
		return fmt.Errorf("version hint %s/%s for %q: %w", v.Bucket, v.Key, home, transport.ErrInvalid)
	}
	if err := n.roomForInline(v); err != nil {
		return err
	}
	if err := n.checkRecordSkew(v); err != nil {
		return err
	}
	rec, err := v.MarshalBinary()
	if err != nil {
		return fmt.Errorf("version hint: %w: %v", transport.ErrInvalid, err)
	}
	seq, err := n.reserveHint(home, int64(len(rec)))
	if err != nil {
		return err
	}
	h := &hint{Kind: hintKindVersion, Home: home, Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID,
		Size: int64(len(rec)), Record: rec, Created: n.cfg.Now()}
	if err := n.writeHint(hintPrefix, seq, h); err != nil {
		n.releaseHint(home, int64(len(rec)))
		return fmt.Errorf("version hint %s/%s: %w", v.Bucket, v.Key, err)
	}
	return nil
}

// handoff replays hints to homes that are alive again, until ctx ends.
func (n *Node) handoff(ctx context.Context) {
	t := time.NewTicker(n.cfg.HandoffInterval)
	defer t.Stop()
	// Homes whose disks are full, until when they are left alone: each
	// tick would otherwise send one a shard only to have it refused.
	noRoom := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, home := range n.hintHomes() {
			if !n.cfg.Alive(home) || n.cfg.Now().Before(noRoom[home]) {
				continue
			}
			err := n.replayHome(ctx, home)
			switch {
			case err == nil || ctx.Err() != nil:
				delete(noRoom, home)
			case errors.Is(err, transport.ErrNoSpace):
				noRoom[home] = n.cfg.Now().Add(noRoomReplayPause)
				n.log.Info("hint replay paused: the home's disk is full", "home", home, "retry_in", noRoomReplayPause)
			default:
				n.log.Info("hint replay paused", "home", home, "err", err)
			}
		}
	}
}

// noRoomReplayPause is how long hints wait for a home that refused one for
// want of disk space.
const noRoomReplayPause = 30 * time.Second

func (n *Node) hintHomes() []string {
	n.hints.mu.Lock()
	defer n.hints.mu.Unlock()
	var homes []string
	for home, s := range n.hints.homes {
		if s.Count > 0 {
			homes = append(homes, home)
		}
	}
	sort.Strings(homes)
	return homes
}

// ReplayHints replays every hint held for home now, whatever membership
// says, and returns the first failure. Tests and admin calls use it.
func (n *Node) ReplayHints(ctx context.Context, home string) error { return n.replayHome(ctx, home) }

func (n *Node) replayHome(ctx context.Context, home string) error {
	start := time.Now()
	n.hints.mu.Lock()
	before := n.hints.stat(home).ReplayedBytes
	n.hints.mu.Unlock()
	defer func() {
		n.hints.mu.Lock()
		defer n.hints.mu.Unlock()
		st := n.hints.stat(home)
		if sent := st.ReplayedBytes - before; sent > 0 {
			st.ReplayRate = float64(sent) / time.Since(start).Seconds()
		}
	}()
	prefix := homePrefix(hintPrefix, home)
	for {
		// Re-open the iterator per batch: replay deletes what it read.
		batch, err := n.readHints(prefix, 64)
		if err != nil || len(batch) == 0 {
			return err
		}
		for _, kh := range batch {
			if err := n.replayOne(ctx, kh.key, &kh.h); err != nil {
				return err
			}
		}
	}
}

type keyedHint struct {
	key []byte
	h   hint
}

func (n *Node) readHints(prefix []byte, limit int) ([]keyedHint, error) {
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: successor(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []keyedHint
	for valid := it.First(); valid && len(out) < limit; valid = it.Next() {
		var h hint
		if err := json.Unmarshal(it.Value(), &h); err != nil {
			return nil, fmt.Errorf("hint %q: %w", it.Key(), err)
		}
		out = append(out, keyedHint{key: bytes.Clone(it.Key()), h: h})
	}
	return out, it.Error()
}

func (n *Node) replayOne(ctx context.Context, key []byte, h *hint) error {
	if n.cfg.Now().Sub(h.Created) > n.cfg.HintWindow {
		return n.expireHint(key, h)
	}
	peer, err := n.cfg.Peers.Node(h.Home)
	if err != nil {
		return err
	}
	switch h.Kind {
	case hintKindVersion:
		var v metadata.Version
		if err := v.UnmarshalBinary(h.Record); err != nil {
			n.log.Error("dropping undecodable version hint", "home", h.Home, "bucket", h.Bucket, "key", h.Key, "err", err)
			return n.finishHint(key, h, false)
		}
		if err := peer.PutVersion(ctx, &v); err != nil {
			return err
		}
	case hintKindShard:
		ref := h.ref()
		sh, err := n.shards.open(ref)
		if errors.Is(err, transport.ErrNotFound) {
			// Retired here by a newer version: the home gets that one.
			return n.finishHint(key, h, false)
		}
		if err != nil {
			return err
		}
		if err := n.replayPace.wait(ctx, sh.size, n.cfg.ReplayRate); err != nil {
			sh.Close()
			return err
		}
		err = peer.PutShard(ctx, ref, sh.section(0, sh.size), sh.size)
		sh.Close()
		if err != nil {
			return err
		}
	}
	n.hints.mu.Lock()
	n.hints.stat(h.Home).ReplayedBytes += h.Size
	n.hints.mu.Unlock()
	return n.finishHint(key, h, true)
}

// finishHint deletes a hint record and, for a shard, this node's copy.
func (n *Node) finishHint(key []byte, h *hint, delivered bool) error {
	if err := n.db.Delete(key, pebble.Sync); err != nil {
		return err
	}
	n.releaseHint(h.Home, h.Size)
	if h.Kind == hintKindShard {
		if err := n.shards.remove(h.ref()); err != nil {
			n.log.Warn("remove handed-off shard", "home", h.Home, "bucket", h.Bucket, "key", h.Key, "err", err)
		}
	}
	if delivered {
		n.log.Debug("hint delivered", "home", h.Home, "bucket", h.Bucket, "key", h.Key, "version", h.VersionID, "index", h.Index)
	}
	return nil
}

// expireHint turns a hint that outlived the hint window into a repair debt:
// the data goes, the record of what the home misses stays.
func (n *Node) expireHint(key []byte, h *hint) error {
	n.hints.mu.Lock()
	n.hints.seq++
	seq := n.hints.seq
	n.hints.stat(h.Home).RepairDebts++
	n.hints.mu.Unlock()
	debt := *h
	debt.Record = nil
	if err := n.writeHint(repairPrefix, seq, &debt); err != nil {
		return err
	}
	n.log.Warn("hint expired; recorded for repair", "home", h.Home, "bucket", h.Bucket, "key", h.Key, "version", h.VersionID, "index", h.Index)
	return n.finishHint(key, h, false)
}

// RepairDebts returns the shards recorded for repair at home.
func (n *Node) RepairDebts(home string) ([]transport.ShardRef, error) {
	batch, err := n.readHints(homePrefix(repairPrefix, home), 1<<20)
	if err != nil {
		return nil, err
	}
	refs := make([]transport.ShardRef, 0, len(batch))
	for _, kh := range batch {
		refs = append(refs, kh.h.ref())
	}
	return refs, nil
}

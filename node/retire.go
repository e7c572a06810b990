package node

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
)

// Retired versions wait for their shard files to be removed under
//
//	"x/" due:8 seq:8 → the version record (without inline data)
//
// where due is Unix nanoseconds. The records are written without sync: if a
// crash loses one, its files become orphans, which the scanner collects.
const retirePrefix = "x/"

var retireSeq atomic.Uint64

func (n *Node) scheduleRetire(v *metadata.Version) error {
	rec := *v
	rec.Inline = nil
	val, err := rec.MarshalBinary()
	if err != nil {
		return err
	}
	key := make([]byte, 0, len(retirePrefix)+16)
	key = append(key, retirePrefix...)
	key = binary.BigEndian.AppendUint64(key, uint64(n.cfg.Now().Add(n.cfg.RetireGrace).UnixNano()))
	key = binary.BigEndian.AppendUint64(key, retireSeq.Add(1))
	return n.db.Set(key, val, pebble.NoSync)
}

// SweepRetired removes the shard files of versions whose grace ended by
// now, and returns how many versions it swept.
func (n *Node) SweepRetired(now time.Time) (int, error) {
	lower := []byte(retirePrefix)
	upper := binary.BigEndian.AppendUint64([]byte(retirePrefix), uint64(now.UnixNano())+1)
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	b := n.db.NewBatch()
	defer b.Close()
	swept := 0
	for valid := it.First(); valid; valid = it.Next() {
		var v metadata.Version
		if err := v.UnmarshalBinary(it.Value()); err != nil {
			n.log.Error("dropping undecodable retirement", "key", it.Key(), "err", err)
		} else {
			n.removeShards(&v)
			swept++
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return swept, err
		}
	}
	if err := it.Error(); err != nil {
		return swept, err
	}
	return swept, b.Commit(pebble.NoSync)
}

// sweeper removes retired shards as their grace ends, until ctx ends.
func (n *Node) sweeper(ctx context.Context) {
	t := time.NewTicker(min(max(n.cfg.RetireGrace/4, 10*time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := n.SweepRetired(n.cfg.Now()); err != nil && ctx.Err() == nil {
				n.log.Warn("sweep retired shards", "err", err)
			}
		}
	}
}

package gateway

import (
	"context"
	"errors"

	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/transport"
)

// Ordering writes across gateways whose clocks disagree.
//
// Versions of a key are ordered by HLC. A client that writes through
// gateway A and then, after A's 200, through gateway B whose clock runs
// minutes behind, must see B's write win. So before B commits, it reads the
// key's newest HLC from a read quorum of homes — which meets A's write
// quorum — and moves its clock past it; the version's HLC is taken only
// then. The read runs while the body streams, so it adds no latency to
// large PUTs. A remote HLC further ahead than MaxClockSkew is refused: a
// gateway with a broken clock cannot drag every other one along.
//
// A small write to a bucket that never had versioning skips that read,
// which would cost as many requests again as the write itself: its homes
// refuse the record if they hold a newer one (commitFresh). Larger writes
// keep the read, which overlaps their body, because their shards are
// already stored under the version ID by the time the records go out;
// versioned buckets keep it because a refused record would linger on the
// homes that took it as a version nobody wrote.

// latestHLC starts reading the key's newest HLC, tombstones included, and
// moves the clock past it; the outcome arrives once.
func (g *Gateway) latestHLC(ctx context.Context, bucket, key string) <-chan error {
	done := make(chan error, 1)
	go func() {
		v, _, err := g.readNewest(ctx, bucket, key)
		if err == nil && v != nil {
			err = g.clock.Update(v.HLC)
		}
		done <- err
	}()
	return done
}

// errClockBehind: this gateway's clock lags a record it must order after by
// more than MaxClockSkew, so a write it stamped would lose silently.
var errClockBehind = s3api.Errorf(s3api.ServiceUnavailable, "This gateway's clock is too far behind the cluster's to order the write.")

// stampVersion gives v its HLC once the key's newest HLC is known. Failing
// to learn it is not fatal — the commit's own quorum decides — but a clock
// too far behind another gateway's is: that write would lose silently.
// A nil latest means the clock was already moved past the key's newest HLC.
func (g *Gateway) stampVersion(v *metadata.Version, latest <-chan error) error {
	if latest != nil {
		if err := <-latest; errors.Is(err, metadata.ErrClockSkew) {
			return errClockBehind
		}
	}
	v.HLC = g.clock.Now()
	return nil
}

// freshAttempts is how often commitFresh stamps and writes again after a
// refusal before it falls back to reading the key first.
const freshAttempts = 2

// ordersWrites reports whether every one of a key's homes can refuse a
// record older than its own (transport.OrderedWriter).
func (g *Gateway) ordersWrites(homes []string) bool {
	for _, id := range homes {
		c, err := g.node(id)
		if err != nil {
			return false
		}
		if _, ok := c.(transport.OrderedWriter); !ok {
			return false
		}
	}
	return true
}

// commitFresh commits a new inline version of a key in an unversioned
// bucket without reading the key first. When a home counted toward the
// quorum refuses the record for a newer one, the clock moves past that,
// the version is stamped again under a new ID and written again; the
// refused copy is older than what replaces it wherever it landed, and an
// unversioned bucket keeps no older records. After freshAttempts refusals
// (writers racing on one key), it reads the key first as other writes do.
func (g *Gateway) commitFresh(ctx context.Context, v *metadata.Version, inline [][]byte) (int, error) {
	for range freshAttempts {
		hinted, newer, err := g.commitRecords(ctx, v, inline, true)
		if err != nil || newer == 0 {
			return hinted, err
		}
		if err := g.clock.Update(newer); err != nil {
			return 0, errClockBehind
		}
		g.stats.RestampedWrites.Add(1)
		g.restamp(v)
	}
	if err := g.stampVersion(v, g.latestHLC(ctx, v.Bucket, v.Key)); err != nil {
		return 0, err
	}
	g.restamp(v)
	return g.commitVersion(ctx, v, inline)
}

// restamp gives v a new HLC and version ID from the clock.
func (g *Gateway) restamp(v *metadata.Version) {
	hlc := g.clock.Now()
	v.HLC, v.VersionID, v.ModTime = hlc, metadata.NewVersionID(hlc, g.origin), hlc.Time().UTC()
}

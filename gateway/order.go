package gateway

import (
	"context"
	"errors"

	"cairn/internal/s3api"
	"cairn/metadata"
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

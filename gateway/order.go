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

// stampVersion gives v its HLC once the key's newest HLC is known. Failing
// to learn it is not fatal — the commit's own quorum decides — but a clock
// too far behind another gateway's is: that write would lose silently.
func (g *Gateway) stampVersion(v *metadata.Version, latest <-chan error) error {
	if err := <-latest; errors.Is(err, metadata.ErrClockSkew) {
		return s3api.Errorf(s3api.ServiceUnavailable, "This gateway's clock is too far behind the cluster's to order the write.")
	}
	v.HLC = g.clock.Now()
	return nil
}

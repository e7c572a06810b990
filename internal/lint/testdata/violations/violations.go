// Package violations breaks every rule of the lint test on purpose, so that
// TestLintCatchesViolations can check the checks. The go command ignores
// testdata directories in ./... patterns, so nothing builds or imports it.
package violations

import (
	"math/rand/v2"
	"net/http"
	"os"
	clock "time"

	"cairn/metadata"
)

// Bad reads the clock, sleeps, and draws from the global generator.
func Bad() (metadata.HLC, *http.Client, int) {
	clock.Sleep(clock.Millisecond)
	now := clock.Now
	_ = os.Getpid()
	return metadata.NewHLC(now().UnixMilli(), 0), nil, rand.IntN(10)
}

// Fine uses time and randomness only as values: none of this is reported.
func Fine(r *rand.Rand, t clock.Time) clock.Duration {
	rand := rand.New(rand.NewPCG(1, 2))
	_ = rand.IntN(3) // a local variable, not the package
	_ = r.IntN(3)
	return t.Sub(clock.Unix(0, 0))
}

package e2e

import (
	"testing"

	"cairn/internal/clustertest"
)

func TestSmokeRoundTrip(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "smoke")
	for _, n := range []int{0, 1, 128 << 10, 3<<20 + 7} {
		data := randomBytes(uint64(n), n)
		put(t, cl, "smoke", "obj", data)
		got, _ := get(t, cl, "smoke", "obj", nil)
		sameBytes(t, "round trip", got, data)
	}
}

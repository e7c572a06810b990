package e2e

import (
	"fmt"
	"testing"
	"time"

	"cairn/internal/clustertest"
	"cairn/transport/faulttransport"
)

// A node cut off from the gateway, but not from the other nodes: PUTs go
// on (its shards go to fallbacks as hints), reads decode around it, and the
// fallbacks hand its shards to it directly, node to node.
func TestNodeCutOffFromGateway(t *testing.T) {
	t.Parallel()
	faults := faulttransport.New()
	c := clustertest.Start(t, clustertest.Options{GatewayFaults: faults})
	cl := sdkClient(t, c)
	ctx := t.Context()
	mustCreateBucket(t, cl, "cutoff")
	faults.Cut("n4")
	objects := map[string][]byte{}
	for i, size := range []int{5, 200 << 10, 2<<20 + 9} {
		key := fmt.Sprintf("k%d", i)
		objects[key] = randomBytes(uint64(i+7), size)
		put(t, cl, "cutoff", key, objects[key])
	}
	for key, data := range objects {
		got, _ := get(t, cl, "cutoff", key, nil)
		sameBytes(t, "read with n4 cut off: "+key, got, data)
	}
	// The nodes see n4 alive and hand their hints to it.
	waitHintsDrained(t, c)
	for key, data := range objects {
		if err := homeComplete(ctx, c, "cutoff", key, int64(len(data))); err != nil {
			t.Error(err)
		}
	}
}

// A node answering much slower than the others: reads hedge around it and
// return the right bytes.
func TestSlowNodeIsHedged(t *testing.T) {
	t.Parallel()
	faults := faulttransport.New()
	c := clustertest.Start(t, clustertest.Options{GatewayFaults: faults})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "slow")
	data := randomBytes(3, 4<<20+1)
	put(t, cl, "slow", "obj", data)
	for range 3 {
		get(t, cl, "slow", "obj", nil) // learn every node's usual latency
	}
	// Shard 0's home answers every call and every read of a body 200 ms
	// late: well over ten times its usual latency on loopback, even under
	// the race detector.
	v := latestVersion(t, c, "slow", "obj")
	faults.Slow(v.Shards[0], 200*time.Millisecond)
	for range 6 {
		got, _ := get(t, cl, "slow", "obj", nil)
		sameBytes(t, "read with a slow node", got, data)
	}
	if c.Gateway.Stats().HedgedReads.Load() == 0 {
		t.Errorf("no read was hedged around the slow node %s", v.Shards[0])
	}
}

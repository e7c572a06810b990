package e2e

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"cairn/internal/clustertest"
)

// A whole GET of a small streamed object takes the shards that came with
// the records it read instead of asking for each; a ranged GET asks.
func TestSmallGetTakesShardsWithRecords(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "prefetch")
	data := randomBytes(7, 1<<20+17)
	put(t, cl, "prefetch", "obj", data)
	waitReplicated(t, c, "prefetch", "obj", md5Hex(data), true)

	const gets, k = 5, 4
	stats := c.Gateway.Stats()
	zero := 0
	before := stats.ShardReads.Load()
	for i := range gets {
		last := stats.ShardReads.Load()
		got, _ := get(t, cl, "prefetch", "obj", nil)
		sameBytes(t, fmt.Sprintf("GET %d", i), got, data)
		if stats.ShardReads.Load() == last {
			zero++
		}
	}
	// Without the records' shards every GET reads k of them. A node that
	// looks slow on a loaded machine is asked later, so its shard may
	// still be read the usual way now and then.
	if n := stats.ShardReads.Load() - before; n >= gets*k || zero == 0 {
		t.Errorf("%d whole GETs read %d shards (%d GETs read none); want most to read none", gets, n, zero)
	}
	if n := stats.PrefetchedShards.Load(); n < gets {
		t.Errorf("%d whole GETs decoded %d shards that came with records; want at least %d", gets, n, gets)
	}

	before = stats.ShardReads.Load()
	got, _ := get(t, cl, "prefetch", "obj", aws.String("bytes=100-199"))
	sameBytes(t, "ranged GET", got, data[100:200])
	if stats.ShardReads.Load() == before {
		t.Error("a ranged GET read no shard; it should ask the nodes for the frames it needs")
	}
}

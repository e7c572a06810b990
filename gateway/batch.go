package gateway

import (
	"context"
	"sync"

	"cairn/metadata"
	"cairn/transport"
)

// Record writes are batched per node, the way a disk's group commit
// batches syncs: a record goes out at once while fewer than
// batchesInFlight batches are on their way to its node, and otherwise
// waits for one of them to come back and leaves with every record that
// queued meanwhile. One PUT alone pays no wait; sixteen at once send each
// node a few requests instead of sixteen, and a request costs a node about
// as much CPU as the record it carries (perf, 4 KiB PUTs).
const (
	batchesInFlight = 2
	maxBatchRecords = 64
	// maxBatchBytes stops a batch from growing further once its inline
	// data passes it; records without inline data are small.
	maxBatchBytes = 4 << 20
)

// recordBatches queues record writes per node.
type recordBatches struct {
	mu    sync.Mutex
	nodes map[string]*nodeQueue
}

type nodeQueue struct {
	inFlight int
	pending  []*queuedWrite
}

type queuedWrite struct {
	to   transport.BatchWriter
	w    transport.VersionWrite
	done chan transport.VersionWriteResult // buffered: the sender never waits
}

// write stores w on node and returns the node's answer, or ctx's error if
// that comes first (the record may still be stored: as with any write
// whose answer was lost).
func (b *recordBatches) write(ctx context.Context, node string, to transport.BatchWriter, w transport.VersionWrite) (metadata.HLC, error) {
	q := &queuedWrite{to: to, w: w, done: make(chan transport.VersionWriteResult, 1)}
	b.mu.Lock()
	if b.nodes == nil {
		b.nodes = make(map[string]*nodeQueue)
	}
	nq := b.nodes[node]
	if nq == nil {
		nq = &nodeQueue{}
		b.nodes[node] = nq
	}
	nq.pending = append(nq.pending, q)
	start := nq.inFlight < batchesInFlight
	if start {
		nq.inFlight++
	}
	b.mu.Unlock()
	if start {
		go b.send(nq)
	}
	select {
	case r := <-q.done:
		return r.Newer, r.Err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// send sends what is queued for a node, batch after batch, until nothing
// is left.
func (b *recordBatches) send(nq *nodeQueue) {
	for {
		b.mu.Lock()
		if len(nq.pending) == 0 {
			nq.inFlight--
			b.mu.Unlock()
			return
		}
		n, size := 0, 0
		for n < len(nq.pending) && n < maxBatchRecords && size < maxBatchBytes {
			size += len(nq.pending[n].w.V.Inline)
			n++
		}
		batch := nq.pending[:n:n]
		nq.pending = nq.pending[n:]
		b.mu.Unlock()

		writes := make([]transport.VersionWrite, len(batch))
		for i, q := range batch {
			writes[i] = q.w
		}
		// A hung node must not hold records back from their fallbacks:
		// the writers' own deadlines are as long.
		ctx, cancel := context.WithTimeout(context.Background(), stallTimeout)
		results, err := batch[0].to.PutVersions(ctx, writes)
		cancel()
		for i, q := range batch {
			if err != nil {
				q.done <- transport.VersionWriteResult{Err: err}
			} else {
				q.done <- results[i]
			}
		}
	}
}

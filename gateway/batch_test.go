package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"

	"cairn/metadata"
	"cairn/transport"
)

// heldNode answers each batch only when the test releases it, and records
// the batches' sizes. It answers a record with its HLC as Newer, so each
// writer can check it got its own answer.
type heldNode struct {
	mu      sync.Mutex
	sizes   []int
	release chan error
}

func (h *heldNode) PutVersions(ctx context.Context, writes []transport.VersionWrite) ([]transport.VersionWriteResult, error) {
	h.mu.Lock()
	h.sizes = append(h.sizes, len(writes))
	h.mu.Unlock()
	if err := <-h.release; err != nil {
		return nil, err
	}
	out := make([]transport.VersionWriteResult, len(writes))
	for i, w := range writes {
		out[i].Newer = w.V.HLC
	}
	return out, nil
}

func TestBatcher(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newRecordBatches()
		n := &heldNode{release: make(chan error)}
		const writers = batchesInFlight + 70
		errs := make(chan error, writers)
		write := func(hlc int) {
			v := &metadata.Version{HLC: metadata.HLC(hlc)}
			r, err := b.do(context.Background(), n, n.PutVersions, transport.VersionWrite{V: v})
			if err == nil && r.Newer != v.HLC {
				err = fmt.Errorf("writer %d got the answer for %d", hlc, r.Newer)
			}
			errs <- err
		}
		// The first batchesInFlight go out alone, at once.
		var alone []int
		for i := 1; i <= batchesInFlight; i++ {
			go write(i)
			synctest.Wait()
			alone = append(alone, 1)
		}
		// The rest queue behind them.
		for i := batchesInFlight + 1; i <= writers; i++ {
			go write(i)
		}
		synctest.Wait()
		n.mu.Lock()
		if fmt.Sprint(n.sizes) != fmt.Sprint(alone) {
			t.Errorf("batches sent before any answer: %v; want %v", n.sizes, alone)
		}
		n.mu.Unlock()
		// Each answer lets the next batch out, up to maxBatchItems long.
		for range batchesInFlight + 2 {
			n.release <- nil
			synctest.Wait()
		}
		for range writers {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		n.mu.Lock()
		if want := fmt.Sprint(append(alone, maxBatchItems, writers-batchesInFlight-maxBatchItems)); fmt.Sprint(n.sizes) != want {
			t.Errorf("batch sizes %v; want %s", n.sizes, want)
		}
		n.mu.Unlock()

		// A failed exchange fails every record it carried; the queue
		// carries on.
		go write(100)
		synctest.Wait()
		n.release <- errors.New("node gone")
		if err := <-errs; err == nil || err.Error() != "node gone" {
			t.Errorf("write through a failed exchange: %v; want its error", err)
		}
	})
}

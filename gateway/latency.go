package gateway

import (
	"slices"
	"sync"
	"time"
)

// latencies keeps a moving average of each node's response time, so a read
// can tell that a node it is about to depend on is slow and hedge: open one
// more shard than it needs and decode from the first k to arrive.
type latencies struct {
	mu   sync.Mutex
	ewma map[string]float64 // seconds
}

// slowFactor and slowFloor: a node is slow when its average is both this
// many times the median of all nodes and above this floor.
const (
	slowFactor = 4
	slowFloor  = 2 * time.Millisecond
	ewmaWeight = 0.2
)

func (l *latencies) observe(node string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ewma == nil {
		l.ewma = make(map[string]float64)
	}
	s := d.Seconds()
	if old, ok := l.ewma[node]; ok {
		s = old + ewmaWeight*(s-old)
	}
	l.ewma[node] = s
}

// slow reports whether node answers much slower than the others.
func (l *latencies) slow(node string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	mine, ok := l.ewma[node]
	if !ok || len(l.ewma) < 3 || mine < slowFloor.Seconds() {
		return false
	}
	all := make([]float64, 0, len(l.ewma))
	for _, v := range l.ewma {
		all = append(all, v)
	}
	slices.Sort(all)
	return mine > slowFactor*all[len(all)/2]
}

// hedgeAfter is how long a read waits for the homes it asked first before
// it asks the others too: a few times the median node's average, within
// bounds that keep a stalled node from holding a read up and a fast
// cluster from asking everyone on a scheduling hiccup.
func (l *latencies) hedgeAfter() time.Duration {
	const lo, hi = 2 * time.Millisecond, 50 * time.Millisecond
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ewma) == 0 {
		return lo
	}
	all := make([]float64, 0, len(l.ewma))
	for _, v := range l.ewma {
		all = append(all, v)
	}
	slices.Sort(all)
	d := time.Duration(slowFactor * all[len(all)/2] * float64(time.Second))
	return min(max(d, lo), hi)
}

package node

import (
	"context"
	"sync"
	"time"
)

// pacer spreads background work (hint replay, scrubbing) to a byte rate, so
// it does not crowd out foreground traffic. Its zero value is ready.
type pacer struct {
	mu   sync.Mutex
	next time.Time
}

// wait blocks until size more bytes fit under rate bytes per second.
func (p *pacer) wait(ctx context.Context, size, rate int64) error {
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	wait := p.next.Sub(now)
	p.next = p.next.Add(time.Duration(float64(size) / float64(rate) * float64(time.Second)))
	p.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

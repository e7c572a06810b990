package gateway

import (
	"context"
	"time"

	"cairn/transport"
)

// answer is one node's reply in a fan-out.
type answer[T any] struct {
	node string
	val  T
	err  error
}

// fanout calls fn on every node concurrently and returns a channel that
// yields each answer once. The channel is buffered for all of them, so
// callers may stop reading early without leaking goroutines.
func fanout[T any](ctx context.Context, g *Gateway, nodes []string, fn func(ctx context.Context, c transport.NodeClient) (T, error)) <-chan answer[T] {
	out := make(chan answer[T], len(nodes))
	for _, id := range nodes {
		go func() {
			c, err := g.node(id)
			if err != nil {
				out <- answer[T]{node: id, err: err}
				return
			}
			start := time.Now()
			v, err := fn(ctx, c)
			if err == nil {
				g.lat.observe(id, time.Since(start))
			}
			out <- answer[T]{node: id, val: v, err: err}
		}()
	}
	return out
}

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
	fanoutInto(ctx, g, nodes, out, fn)
	return out
}

// fanoutInto is fanout into a channel the caller made, with room for
// every answer it will ever receive.
func fanoutInto[T any](ctx context.Context, g *Gateway, nodes []string, out chan<- answer[T], fn func(ctx context.Context, c transport.NodeClient) (T, error)) {
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
}

// readOrder splits homes into the n to ask first and the rest: live homes
// that are not slow, in shard order (an inline object's data fragments
// come with the first k records, so it decodes without parity), then the
// others.
func (g *Gateway) readOrder(homes []string, n int) (first, rest []string) {
	var later []string
	for _, id := range homes {
		if len(first) < n && g.alive(id) && !g.lat.slow(id) {
			first = append(first, id)
		} else {
			later = append(later, id)
		}
	}
	for len(first) < n && len(later) > 0 {
		first, later = append(first, later[0]), later[1:]
	}
	return first, later
}

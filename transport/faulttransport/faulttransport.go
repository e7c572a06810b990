// Package faulttransport wraps a transport.Dialer so tests can make nodes
// unreachable, slow or cut off, as seen by one caller. It is the seam where
// faults are injected; everything behind it — the real HTTP transport and
// the real nodes — runs unchanged.
package faulttransport

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"cairn/metadata"
	"cairn/transport"
)

// Faults is the current fault set of one caller's view of the cluster. It
// is safe for concurrent use; rules can change while calls are in flight.
type Faults struct {
	mu    sync.Mutex
	cut   map[string]bool
	delay map[string]time.Duration
	calls map[string]int
}

// New returns an empty fault set.
func New() *Faults {
	return &Faults{cut: map[string]bool{}, delay: map[string]time.Duration{}, calls: map[string]int{}}
}

// Cut makes every call to node fail as if the network dropped it.
func (f *Faults) Cut(node string) { f.mu.Lock(); f.cut[node] = true; f.mu.Unlock() }

// Heal undoes Cut and Slow for node.
func (f *Faults) Heal(node string) {
	f.mu.Lock()
	delete(f.cut, node)
	delete(f.delay, node)
	f.mu.Unlock()
}

// Slow delays every call to node, and every read of a body it returns, by d.
func (f *Faults) Slow(node string, d time.Duration) { f.mu.Lock(); f.delay[node] = d; f.mu.Unlock() }

// Calls returns how many calls reached node (cut calls excluded).
func (f *Faults) Calls(node string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[node] }

func (f *Faults) before(ctx context.Context, node, op string) (time.Duration, error) {
	f.mu.Lock()
	cut, d := f.cut[node], f.delay[node]
	if !cut {
		f.calls[node]++
	}
	f.mu.Unlock()
	if cut {
		return 0, fmt.Errorf("faulttransport: %s to %s: %w: cut off", op, node, transport.ErrUnavailable)
	}
	return d, sleep(ctx, d)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Dialer wraps inner so that every client it returns obeys f.
func (f *Faults) Dialer(inner transport.Dialer) transport.Dialer { return dialer{f, inner} }

type dialer struct {
	f     *Faults
	inner transport.Dialer
}

func (d dialer) Node(id string) (transport.NodeClient, error) {
	c, err := d.inner.Node(id)
	if err != nil {
		return nil, err
	}
	fc := &client{f: d.f, id: id, inner: c}
	if b, ok := c.(batcher); ok {
		return batchClient{fc, b}, nil
	}
	return fc, nil
}

// client is a NodeClient (and Hinter and NodeAdmin, when the inner one is)
// under faults.
type client struct {
	f     *Faults
	id    string
	inner transport.NodeClient
}

var (
	_ transport.NodeClient = (*client)(nil)
	_ transport.Hinter     = (*client)(nil)
)

func (c *client) PutShard(ctx context.Context, ref transport.ShardRef, r io.Reader, size int64) error {
	if _, err := c.f.before(ctx, c.id, "put shard"); err != nil {
		return err
	}
	return c.inner.PutShard(ctx, ref, r, size)
}

func (c *client) ReadShard(ctx context.Context, ref transport.ShardRef, off, n int64) (io.ReadCloser, error) {
	d, err := c.f.before(ctx, c.id, "read shard")
	if err != nil {
		return nil, err
	}
	rc, err := c.inner.ReadShard(ctx, ref, off, n)
	if err != nil || d <= 0 {
		return rc, err
	}
	return &slowBody{ctx: ctx, rc: rc, d: d, done: make(chan struct{})}, nil
}

func (c *client) DeleteShard(ctx context.Context, ref transport.ShardRef) error {
	if _, err := c.f.before(ctx, c.id, "delete shard"); err != nil {
		return err
	}
	return c.inner.DeleteShard(ctx, ref)
}

func (c *client) PutVersion(ctx context.Context, v *metadata.Version) error {
	if _, err := c.f.before(ctx, c.id, "put version"); err != nil {
		return err
	}
	return c.inner.PutVersion(ctx, v)
}

func (c *client) PutVersionUnlessNewer(ctx context.Context, v *metadata.Version) (metadata.HLC, error) {
	ow, ok := c.inner.(transport.OrderedWriter)
	if !ok {
		return 0, fmt.Errorf("faulttransport: node %s: %w: no ordered writes", c.id, transport.ErrUnavailable)
	}
	if _, err := c.f.before(ctx, c.id, "put version"); err != nil {
		return 0, err
	}
	return ow.PutVersionUnlessNewer(ctx, v)
}

func (c *client) GetVersion(ctx context.Context, key metadata.ObjectKey) (*metadata.Version, error) {
	if _, err := c.f.before(ctx, c.id, "get version"); err != nil {
		return nil, err
	}
	return c.inner.GetVersion(ctx, key)
}

func (c *client) List(ctx context.Context, req transport.ListRequest) (*transport.ListPage, error) {
	if _, err := c.f.before(ctx, c.id, "list"); err != nil {
		return nil, err
	}
	return c.inner.List(ctx, req)
}

func (c *client) PutBucket(ctx context.Context, b *metadata.Bucket) error {
	if _, err := c.f.before(ctx, c.id, "put bucket"); err != nil {
		return err
	}
	return c.inner.PutBucket(ctx, b)
}

func (c *client) Buckets(ctx context.Context) ([]metadata.Bucket, error) {
	if _, err := c.f.before(ctx, c.id, "buckets"); err != nil {
		return nil, err
	}
	return c.inner.Buckets(ctx)
}

func (c *client) hinter() (transport.Hinter, error) {
	h, ok := c.inner.(transport.Hinter)
	if !ok {
		return nil, fmt.Errorf("faulttransport: node %s: %w: no hints", c.id, transport.ErrUnavailable)
	}
	return h, nil
}

func (c *client) PutShardHint(ctx context.Context, home string, ref transport.ShardRef, r io.Reader, size int64) error {
	h, err := c.hinter()
	if err != nil {
		return err
	}
	if _, err := c.f.before(ctx, c.id, "put shard hint"); err != nil {
		return err
	}
	return h.PutShardHint(ctx, home, ref, r, size)
}

func (c *client) PutVersionHint(ctx context.Context, home string, v *metadata.Version) error {
	h, err := c.hinter()
	if err != nil {
		return err
	}
	if _, err := c.f.before(ctx, c.id, "put version hint"); err != nil {
		return err
	}
	return h.PutVersionHint(ctx, home, v)
}

// slowBody delays every read of a shard body, as a slow disk or link
// would. Close unblocks a read that is waiting.
type slowBody struct {
	ctx  context.Context
	rc   io.ReadCloser
	d    time.Duration
	once sync.Once
	done chan struct{}
}

func (s *slowBody) Read(p []byte) (int, error) {
	t := time.NewTimer(s.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
		return 0, io.ErrClosedPipe
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	}
	return s.rc.Read(p)
}

func (s *slowBody) Close() error {
	s.once.Do(func() { close(s.done) })
	return s.rc.Close()
}

package faulttransport

import (
	"context"
	"fmt"

	"cairn/transport"
)

var _ transport.NodeAdmin = (*client)(nil)

func (c *client) admin() (transport.NodeAdmin, error) {
	a, ok := c.inner.(transport.NodeAdmin)
	if !ok {
		return nil, fmt.Errorf("faulttransport: node %s: %w: no admin calls", c.id, transport.ErrUnavailable)
	}
	return a, nil
}

func (c *client) NodeStats(ctx context.Context) (*transport.NodeStats, error) {
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	if _, err := c.f.before(ctx, c.id, "node stats"); err != nil {
		return nil, err
	}
	return a.NodeStats(ctx)
}

func (c *client) StartScan(ctx context.Context) error {
	a, err := c.admin()
	if err != nil {
		return err
	}
	if _, err := c.f.before(ctx, c.id, "start scan"); err != nil {
		return err
	}
	return a.StartScan(ctx)
}

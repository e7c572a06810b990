package httptransport

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"cairn/transport"
)

var _ transport.NodeAdmin = (*Client)(nil)

// NodeStats implements transport.NodeAdmin.
func (c *Client) NodeStats(ctx context.Context) (*transport.NodeStats, error) {
	b, err := c.readAll(ctx, "node stats", c.url(pathNodeStats, nil))
	if err != nil {
		return nil, err
	}
	st := new(transport.NodeStats)
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("node stats on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
	}
	return st, nil
}

// StartScan implements transport.NodeAdmin.
func (c *Client) StartScan(ctx context.Context) error {
	return c.doNoBody(ctx, "start scan", http.MethodPost, c.url(pathStartScan, nil), nil)
}

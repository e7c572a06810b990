package httptransport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"cairn/transport"
)

var _ transport.AntiEntropy = (*Client)(nil)

// PGDigests implements transport.AntiEntropy.
func (c *Client) PGDigests(ctx context.Context, pgCount int) (map[int]transport.PGDigest, error) {
	b, err := c.readAll(ctx, "pg digests", c.url(pathPGDigests, url.Values{"pgc": {strconv.Itoa(pgCount)}}))
	if err != nil {
		return nil, err
	}
	ds, err := decodeDigests(b)
	if err != nil {
		return nil, fmt.Errorf("pg digests on node %s: %w", c.node, err)
	}
	return ds, nil
}

// PGRecords implements transport.AntiEntropy.
func (c *Client) PGRecords(ctx context.Context, req transport.PGRecordsRequest) (*transport.PGRecordsPage, error) {
	q, body := pgRecordsQuery(req)
	resp, err := c.do(ctx, "pg records", http.MethodPost, c.url(pathPGRecords, q), bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("pg records on node %s: %w: %v", c.node, transport.ErrUnavailable, err)
	}
	page, err := decodePGRecords(b)
	if err != nil {
		return nil, fmt.Errorf("pg records on node %s: %w", c.node, err)
	}
	return page, nil
}

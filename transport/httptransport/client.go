package httptransport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"cairn/internal/nodeauth"
	"cairn/metadata"
	"cairn/transport"
)

// Client calls one node over HTTP. It is safe for concurrent use.
type Client struct {
	node string // the node's ID, for errors
	base string // "http://host:port"
	hc   *http.Client
}

var (
	_ transport.NodeClient      = (*Client)(nil)
	_ transport.ShardPrefetcher = (*Client)(nil)
	_ transport.Hinter          = (*Client)(nil)
)

// NewTransport returns an http.Transport tuned for gateway→node traffic:
// many long-lived connections per node, no compression (shards do not
// compress), and a short dial timeout so a dead node is noticed quickly.
//
// The read buffer is small on purpose: a response body read with a buffer
// at least as large as the connection's goes from the socket straight into
// the caller's (a shard's 256 KiB frame), where a larger connection buffer
// takes every byte in first and copies it out again. With 256 KiB it was
// a tenth of the gateway's CPU under 1 MiB GETs; 16 KiB still holds a
// response's headers and a small object's record and shard in one read.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           bigWrites((&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext),
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 30 * time.Second,
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// NewClient returns a client for the node with the given ID at addr
// ("host:port"). hc may be shared by all clients of a gateway.
func NewClient(nodeID, addr string, hc *http.Client) *Client {
	return &Client{node: nodeID, base: "http://" + addr, hc: hc}
}

func (c *Client) url(path string, q url.Values) string {
	return c.base + path + "?" + q.Encode()
}

func (c *Client) do(ctx context.Context, op, method, u string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s on node %s: %w", op, c.node, err)
	}
	if id := transport.RequestIDFrom(ctx); id != "" {
		req.Header.Set(transport.HeaderRequestID, id)
	}
	// Signed requests bind the node they are meant for (SignRequests).
	req.Header.Set(nodeauth.HeaderNode, c.node)
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s on node %s: %w: %v", op, c.node, transport.ErrUnavailable, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		code, convErr := strconv.Atoi(resp.Header.Get(headerError))
		if convErr != nil {
			code = int(transport.CodeInternal)
		}
		return nil, &transport.Error{Node: c.node, Op: op, Code: transport.Code(code), Message: strings.TrimSpace(string(msg))}
	}
	return resp, nil
}

func (c *Client) doNoBody(ctx context.Context, op, method, u string, body []byte) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, err := c.do(ctx, op, method, u, r, int64(len(body)))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func (c *Client) readAll(ctx context.Context, op, u string) ([]byte, error) {
	resp, err := c.do(ctx, op, http.MethodGet, u, nil, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s on node %s: %w: %v", op, c.node, transport.ErrUnavailable, err)
	}
	return b, nil
}

// PutShard implements transport.NodeClient.
func (c *Client) PutShard(ctx context.Context, ref transport.ShardRef, r io.Reader, size int64) error {
	resp, err := c.do(ctx, "put shard", http.MethodPut, c.url(pathShard, refQuery(ref)), r, size)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// ReadShard implements transport.NodeClient.
func (c *Client) ReadShard(ctx context.Context, ref transport.ShardRef, off, n int64) (io.ReadCloser, error) {
	q := refQuery(ref)
	q.Set("off", strconv.FormatInt(off, 10))
	q.Set("n", strconv.FormatInt(n, 10))
	resp, err := c.do(ctx, "read shard", http.MethodGet, c.url(pathShard, q), nil, 0)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// DeleteShard implements transport.NodeClient.
func (c *Client) DeleteShard(ctx context.Context, ref transport.ShardRef) error {
	return c.doNoBody(ctx, "delete shard", http.MethodDelete, c.url(pathShard, refQuery(ref)), nil)
}

// PutVersion implements transport.NodeClient.
func (c *Client) PutVersion(ctx context.Context, v *metadata.Version) error {
	rec, err := v.MarshalBinary()
	if err != nil {
		return fmt.Errorf("put version on node %s: %w", c.node, err)
	}
	return c.doNoBody(ctx, "put version", http.MethodPut, c.url(pathVersion, nil), rec)
}

// GetVersion implements transport.NodeClient.
func (c *Client) GetVersion(ctx context.Context, key metadata.ObjectKey) (*metadata.Version, error) {
	b, err := c.readAll(ctx, "get version", c.url(pathVersion, url.Values{"b": {key.Bucket}, "k": {key.Key}}))
	if err != nil {
		return nil, err
	}
	v := new(metadata.Version)
	if err := v.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("get version on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
	}
	return v, nil
}

// GetVersionWithShard implements transport.ShardPrefetcher. The shard is
// the rest of the response body, read as the caller decodes.
func (c *Client) GetVersionWithShard(ctx context.Context, key metadata.ObjectKey, maxSize int64) (*metadata.Version, int, io.ReadCloser, error) {
	q := url.Values{"b": {key.Bucket}, "k": {key.Key}, "shard": {strconv.FormatInt(maxSize, 10)}}
	resp, err := c.do(ctx, "get version", http.MethodGet, c.url(pathVersion, q), nil, 0)
	if err != nil {
		return nil, -1, nil, err
	}
	index, recLen := -1, -1
	if h := resp.Header.Get(headerRecordLength); h != "" {
		n, err1 := strconv.Atoi(h)
		i, err2 := strconv.Atoi(resp.Header.Get(headerShardIndex))
		if err1 != nil || err2 != nil || n < 0 || n > maxRecordBody || i < 0 {
			resp.Body.Close()
			return nil, -1, nil, fmt.Errorf("get version on node %s: %w: bad shard framing", c.node, transport.ErrCorrupt)
		}
		index, recLen = i, n
	}
	var rec []byte
	if recLen >= 0 {
		rec = make([]byte, recLen)
		_, err = io.ReadFull(resp.Body, rec)
	} else {
		rec, err = io.ReadAll(resp.Body)
	}
	if err != nil {
		resp.Body.Close()
		return nil, -1, nil, fmt.Errorf("get version on node %s: %w: %v", c.node, transport.ErrUnavailable, err)
	}
	v := new(metadata.Version)
	if err := v.UnmarshalBinary(rec); err != nil {
		resp.Body.Close()
		return nil, -1, nil, fmt.Errorf("get version on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
	}
	if index < 0 {
		resp.Body.Close()
		return v, -1, nil, nil
	}
	return v, index, resp.Body, nil
}

// List implements transport.NodeClient.
func (c *Client) List(ctx context.Context, req transport.ListRequest) (*transport.ListPage, error) {
	q := url.Values{"b": {req.Bucket}, "p": {req.Prefix}, "a": {req.After}, "l": {strconv.Itoa(req.Limit)}}
	b, err := c.readAll(ctx, "list", c.url(pathList, q))
	if err != nil {
		return nil, err
	}
	entries, truncated, err := metadata.DecodeListPage(b)
	if err != nil {
		return nil, fmt.Errorf("list on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
	}
	return &transport.ListPage{Entries: entries, Truncated: truncated}, nil
}

// PutBucket implements transport.NodeClient.
func (c *Client) PutBucket(ctx context.Context, b *metadata.Bucket) error {
	rec, err := b.MarshalBinary()
	if err != nil {
		return fmt.Errorf("put bucket on node %s: %w", c.node, err)
	}
	return c.doNoBody(ctx, "put bucket", http.MethodPut, c.url(pathBucket, nil), rec)
}

// Buckets implements transport.NodeClient.
func (c *Client) Buckets(ctx context.Context) ([]metadata.Bucket, error) {
	b, err := c.readAll(ctx, "buckets", c.url(pathBuckets, nil))
	if err != nil {
		return nil, err
	}
	bs, err := decodeBuckets(b)
	if err != nil {
		return nil, fmt.Errorf("buckets on node %s: %w", c.node, err)
	}
	return bs, nil
}

// PutShardHint implements transport.Hinter.
func (c *Client) PutShardHint(ctx context.Context, home string, ref transport.ShardRef, r io.Reader, size int64) error {
	q := refQuery(ref)
	q.Set("home", home)
	resp, err := c.do(ctx, "put shard hint", http.MethodPut, c.url(pathShardHint, q), r, size)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// PutVersionHint implements transport.Hinter.
func (c *Client) PutVersionHint(ctx context.Context, home string, v *metadata.Version) error {
	rec, err := v.MarshalBinary()
	if err != nil {
		return fmt.Errorf("put version hint on node %s: %w", c.node, err)
	}
	return c.doNoBody(ctx, "put version hint", http.MethodPut, c.url(pathVersionHint, url.Values{"home": {home}}), rec)
}

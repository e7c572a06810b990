package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"cairn/erasure"
	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/placement"
	"cairn/quorum"
	"cairn/transport"
)

// firstBytes is how much of a GET body is decoded before the status line
// is sent, so that a read that cannot succeed still gets a proper error.
const firstBytes = 64 << 10

// readNewest returns the newest record of a key, tombstones included (nil
// when no home has one), from a metadata read quorum of its homes, and the
// records that arrived with it by node.
func (g *Gateway) readNewest(ctx context.Context, bucket, key string) (*metadata.Version, map[string]*metadata.Version, error) {
	plan, err := placement.Place(g.cfg.Layout, bucket, key, g.codec.TotalShards())
	if err != nil {
		return nil, nil, err
	}
	homes := make([]string, len(plan.Homes))
	for i, id := range plan.Homes {
		homes[i] = string(id)
	}
	okey := metadata.ObjectKey{Bucket: bucket, Key: key}
	answers := fanout(ctx, g, homes, func(ctx context.Context, c transport.NodeClient) (*metadata.Version, error) {
		return c.GetVersion(ctx, okey)
	})
	// A definite "no such key" counts toward the quorum like a record.
	t := quorum.NewTally("read "+okey.String(), g.params.MetaRead, len(homes))
	byNode := make(map[string]*metadata.Version)
	var newest *metadata.Version
	for !t.Done() {
		a := <-answers
		switch {
		case a.err == nil:
			t.Add(quorum.Result{Node: a.node})
			byNode[a.node] = a.val
			if newest == nil || a.val.Newer(newest) ||
				(a.val.VersionID == newest.VersionID && a.val.MetaHLC > newest.MetaHLC) {
				newest = a.val
			}
		case errors.Is(a.err, transport.ErrNotFound):
			t.Add(quorum.Result{Node: a.node})
		default:
			t.Add(quorum.Result{Node: a.node, Err: a.err})
		}
	}
	if err := t.Err(); err != nil {
		return nil, nil, err
	}
	return newest, byNode, nil
}

// readVersion returns the newest live record of a key from a metadata read
// quorum of its homes, and the records that arrived with it by node; a
// missing key or a tombstone is NoSuchKey.
func (g *Gateway) readVersion(ctx context.Context, bucket, key string) (*metadata.Version, map[string]*metadata.Version, error) {
	newest, byNode, err := g.readNewest(ctx, bucket, key)
	if err != nil {
		return nil, nil, err
	}
	if newest == nil || newest.Deleted {
		return nil, nil, &s3api.Error{Code: s3api.NoSuchKey, Resource: "/" + bucket + "/" + key}
	}
	return newest, byNode, nil
}

func (g *Gateway) getObject(c *gin.Context, bucket, key string, head bool) {
	ctx := c.Request.Context()
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	v, byNode, err := g.readVersion(ctx, bucket, key)
	if err != nil {
		g.fail(c, err)
		return
	}
	for retries := 2; ; retries-- {
		err := g.serveVersion(c, v, byNode, head)
		if err == nil {
			return
		}
		// A PUT of the same key retires the shards of the version it
		// replaces as its record lands on each home, so a GET that read the
		// old record just before can find too few of its shards. The newer
		// version is then the answer; nothing has been sent yet.
		if retries > 0 && errors.Is(err, erasure.ErrTooFewShards) {
			if nv, nb, rerr := g.readVersion(ctx, bucket, key); rerr == nil && nv.Newer(v) {
				v, byNode = nv, nb
				continue
			}
		}
		g.fail(c, err)
		return
	}
}

// serveVersion answers a GET or HEAD with version v. It returns an error
// only when it has written nothing, so the caller can still send it or
// try again.
func (g *Gateway) serveVersion(c *gin.Context, v *metadata.Version, byNode map[string]*metadata.Version, head bool) error {
	r := c.Request
	ctx := r.Context()
	if g.readPreconditions(c, v) {
		return nil
	}
	start, length := int64(0), v.Size
	status := http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" {
		s, n, ok, err := s3api.ParseRange(rh, v.Size)
		if err != nil {
			return err
		}
		if ok {
			start, length, status = s, n, http.StatusPartialContent
		}
	}
	// The object's headers go out only with a success: an error answer
	// must not carry the ETag or metadata of an object it did not send.
	setHeaders := func() {
		h := c.Writer.Header()
		setObjectHeaders(h, v)
		setExtraHeaders(r, h, v, status == http.StatusOK)
		if status == http.StatusPartialContent {
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, v.Size))
		}
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	if head || length == 0 {
		setHeaders()
		c.Status(status)
		return nil
	}
	var fails readFailures
	body, err := g.openObjectNoting(ctx, v, byNode, start, length, &fails)
	if err != nil {
		return err
	}
	defer body.Close()
	first := make([]byte, min(length, firstBytes))
	if _, err := io.ReadFull(body, first); err != nil {
		return err
	}
	setHeaders()
	c.Status(status)
	if _, err := c.Writer.Write(first); err != nil {
		return nil // the client is gone
	}
	if _, err := io.Copy(c.Writer, body); err != nil {
		g.log.Warn("get: body failed after headers", "request_id", c.GetString(ctxRequestID),
			"bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "err", err)
		// The status is sent; cutting the connection is the only way
		// left to tell the client its body is incomplete.
		panic(http.ErrAbortHandler)
	}
	g.repairShards(v, fails.list())
	return nil
}

func setObjectHeaders(h http.Header, v *metadata.Version) {
	ct := v.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("ETag", `"`+v.ETag+`"`)
	h.Set("Last-Modified", v.ModTime.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	for k, val := range v.UserMeta {
		h["X-Amz-Meta-"+k] = []string{val}
	}
}

// openObject returns a reader of [start, start+length) of version v,
// decoding from its shards: data shards first, parity when one is missing,
// unreachable or corrupt.
func (g *Gateway) openObject(ctx context.Context, v *metadata.Version, byNode map[string]*metadata.Version, start, length int64) (io.ReadCloser, error) {
	return g.openObjectNoting(ctx, v, byNode, start, length, nil)
}

// openObjectNoting is openObject that also notes in fails (if not nil) the
// shards that were missing or corrupt, for read repair.
func (g *Gateway) openObjectNoting(ctx context.Context, v *metadata.Version, byNode map[string]*metadata.Version, start, length int64, fails *readFailures) (io.ReadCloser, error) {
	if len(v.Parts) > 0 {
		return g.openParts(ctx, v, start, length)
	}
	codec, err := g.codecFor(v.EC)
	if err != nil {
		return nil, err
	}
	open := func(shard int, off, n int64) (io.ReadCloser, error) {
		if shard >= len(v.Shards) {
			return nil, fmt.Errorf("shard %d: %w", shard, errUnavailable)
		}
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: shard}
		// The home first; then the fallback that took the shard as a hint,
		// in case it has not handed it back yet.
		var firstErr error
		for _, id := range shardHolders(v, shard) {
			if rec, ok := byNode[id]; ok && rec.VersionID == v.VersionID && rec.Inline != nil {
				return inlineRange(rec.Inline, off, n)
			}
			cl, err := g.node(id)
			if err == nil {
				var rc io.ReadCloser
				start := time.Now()
				rc, err = cl.ReadShard(ctx, ref, off, n)
				if err == nil {
					return &timedBody{ReadCloser: rc, lat: &g.lat, node: id, start: start}, nil
				}
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil, firstErr
	}
	onFail := func(shard int, err error) {
		if fails != nil {
			fails.add(shard, err)
		}
		node := ""
		if shard < len(v.Shards) {
			node = v.Shards[shard]
		}
		if errors.Is(err, erasure.ErrCorrupt) {
			g.stats.CorruptShards.Add(1)
			g.log.Warn("corrupt shard", "bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "shard", shard, "node", node, "err", err)
			return
		}
		g.stats.FailedShardReads.Add(1)
		g.log.Info("shard read failed", "bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "shard", shard, "node", node, "err", err)
	}
	opts := []erasure.DecodeOption{erasure.WithShardFailure(onFail)}
	for _, id := range v.Shards[:min(codec.DataShards(), len(v.Shards))] {
		if g.lat.slow(id) {
			// One of the nodes this read depends on is slow: read one
			// shard more and decode from the first k frames to arrive.
			opts = append(opts, erasure.WithExtraReads(1))
			g.stats.HedgedReads.Add(1)
			break
		}
	}
	return codec.NewDecoder(v.Size, start, length, open, opts...)
}

func inlineRange(b []byte, off, n int64) (io.ReadCloser, error) {
	if off < 0 || off > int64(len(b)) {
		return nil, fmt.Errorf("inline shard: offset %d out of range", off)
	}
	end := int64(len(b))
	if n >= 0 && off+n < end {
		end = off + n
	}
	return io.NopCloser(bytes.NewReader(b[off:end])), nil
}

func (g *Gateway) deleteObject(c *gin.Context, bucket, key string) {
	ctx := c.Request.Context()
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	if err := g.deleteKey(ctx, bucket, key); err != nil {
		g.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// shardHolders lists the nodes that may hold shard i of v, home first.
func shardHolders(v *metadata.Version, i int) []string {
	holders := []string{v.Shards[i]}
	if i < len(v.Hints) && v.Hints[i] != "" && v.Hints[i] != v.Shards[i] {
		holders = append(holders, v.Hints[i])
	}
	return holders
}

// timedBody records how long a node took to deliver the first bytes of a
// shard, for the latency averages that decide hedging.
type timedBody struct {
	io.ReadCloser
	lat   *latencies
	node  string
	start time.Time
	seen  bool
}

func (t *timedBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if !t.seen && (n > 0 || err != nil) {
		t.seen = true
		t.lat.observe(t.node, time.Since(t.start))
	}
	return n, err
}

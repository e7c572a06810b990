package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/placement"
	"cairn/quorum"
	"cairn/transport"
)

// shardWriteTimeout bounds how long a node may take to make one shard
// durable once the gateway has sent its last byte.
const shardWriteTimeout = 60 * time.Second

func (g *Gateway) putObject(c *gin.Context, bucket, key string) {
	r := c.Request
	ctx := r.Context()
	auth := c.MustGet(ctxAuth).(*s3api.Auth)

	// The payload verifies signature, payload hash, checksums and
	// Content-MD5, and withholds the body's final bytes until they all
	// hold: since the encoder cannot finish the last block without them,
	// no node ever completes a shard of a body that turns out bad.
	payload, err := auth.BodyReader(r)
	if err != nil {
		g.fail(c, err)
		return
	}
	size := payload.Size()
	switch {
	case size < 0:
		g.fail(c, s3api.NewError(s3api.MissingContentLength))
		return
	case size > g.cfg.MaxObjectSize:
		g.fail(c, s3api.NewError(s3api.EntityTooLarge))
		return
	}
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	hlc := g.clock.Now()
	v := &metadata.Version{
		Bucket:      bucket,
		Key:         key,
		VersionID:   metadata.NewVersionID(hlc, g.origin),
		HLC:         hlc,
		Size:        size,
		ContentType: r.Header.Get("Content-Type"),
		ModTime:     hlc.Time().UTC(),
		UserMeta:    userMeta(r.Header),
		EC: metadata.ErasureInfo{
			DataShards:   g.codec.DataShards(),
			ParityShards: g.codec.ParityShards(),
			BlockSize:    g.codec.BlockSize(),
			Checksum:     metadata.HighwayHash256,
		},
	}
	plan, err := placement.Place(g.cfg.Layout, bucket, key, g.codec.TotalShards())
	if err != nil {
		g.fail(c, err)
		return
	}
	v.Shards = make([]string, len(plan.Homes))
	for i, id := range plan.Homes {
		v.Shards[i] = string(id)
	}

	var inline [][]byte
	if size <= g.cfg.InlineThreshold {
		data := make([]byte, size)
		if _, err := io.ReadFull(payload, data); err != nil {
			g.fail(c, bodyError(err))
			return
		}
		if _, err := payload.Read(nil); err != nil && err != io.EOF {
			g.fail(c, bodyError(err))
			return
		}
		if inline, err = g.codec.EncodeAll(data); err != nil {
			g.fail(c, err)
			return
		}
	} else if err := g.writeShards(ctx, v, payload); err != nil {
		g.fail(c, err)
		return
	}
	sum := payload.MD5()
	if sum == nil {
		// Unreachable when the reads above succeeded; guard the invariant.
		g.fail(c, s3api.NewError(s3api.IncompleteBody))
		return
	}
	v.ETag = hex.EncodeToString(sum)
	v.Checksums = payload.Checksums()
	if err := g.commitVersion(ctx, v, inline); err != nil {
		if inline == nil {
			g.discardShards(v)
		}
		g.fail(c, err)
		return
	}
	c.Header("ETag", `"`+v.ETag+`"`)
	for algo, sum := range v.Checksums {
		c.Header("x-amz-checksum-"+algo, sum)
	}
	c.Status(http.StatusOK)
}

// userMeta collects x-amz-meta-* headers; S3 keeps their names lower-case.
func userMeta(h http.Header) map[string]string {
	var m map[string]string
	for name, vals := range h {
		lower := strings.ToLower(name)
		if rest, ok := strings.CutPrefix(lower, "x-amz-meta-"); ok && rest != "" {
			if m == nil {
				m = make(map[string]string)
			}
			m[rest] = strings.Join(vals, ",")
		}
	}
	return m
}

// bodyError turns a failure to read the request body into the S3 error the
// client should see.
func bodyError(err error) error {
	var s3err *s3api.Error
	if errors.As(err, &s3err) {
		return err
	}
	return &s3api.Error{Code: s3api.IncompleteBody, Err: err}
}

// writeShards streams the body through the encoder to the homes of the
// version's shards and returns once a write quorum of them is durable.
func (g *Gateway) writeShards(ctx context.Context, v *metadata.Version, body io.Reader) error {
	n := len(v.Shards)
	shardSize := g.codec.ShardFileSize(v.Size)
	// Shard writes outlive a client that hangs up after its last byte, so
	// that an object is never left with fewer shards than it was acked with;
	// a client that hangs up earlier aborts them through the pipes.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shardWriteTimeout+time.Duration(v.Size/(1<<20))*time.Second)
	results := make(chan quorum.Result, n)
	writers := make([]io.Writer, n)
	pipes := make([]*io.PipeWriter, n)
	for i, id := range v.Shards {
		pr, pw := io.Pipe()
		writers[i], pipes[i] = pw, pw
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: i}
		go func() {
			err := g.putShard(wctx, id, ref, pr, shardSize)
			// Unblocks the encoder if the node failed before reading all.
			pr.CloseWithError(errShardFailed(err))
			results <- quorum.Result{Node: id, Err: err}
		}()
	}
	enc := g.codec.NewEncoder(writers)
	buf := make([]byte, 256<<10)
	_, err := io.CopyBuffer(enc, body, buf)
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		for _, pw := range pipes {
			pw.CloseWithError(err)
		}
		for range n {
			<-results
		}
		cancel()
		g.discardShards(v)
		return bodyError(err)
	}
	for _, pw := range pipes {
		pw.Close()
	}
	t := quorum.NewTally("write shards "+v.Bucket+"/"+v.Key, g.params.ShardWrite, n)
	for !t.Done() {
		t.Add(<-results)
	}
	// Stragglers finish (or time out) in the background; results is
	// buffered for them.
	go func() {
		defer cancel()
		for range n - t.Succeeded() - t.Failed() {
			<-results
		}
	}()
	return t.Err()
}

func errShardFailed(err error) error {
	if err == nil {
		return errors.New("gateway: shard writer finished")
	}
	return err
}

func (g *Gateway) putShard(ctx context.Context, id string, ref transport.ShardRef, r io.Reader, size int64) error {
	c, err := g.node(id)
	if err != nil {
		return err
	}
	return c.PutShard(ctx, ref, r, size)
}

// commitVersion writes the version record to every home and returns once a
// metadata write quorum has it. For inline objects, home i's record carries
// shard i.
func (g *Gateway) commitVersion(ctx context.Context, v *metadata.Version, inline [][]byte) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	results := make(chan quorum.Result, len(v.Shards))
	for i, id := range v.Shards {
		rec := *v
		if inline != nil {
			rec.Inline = inline[i]
		}
		go func() {
			c, err := g.node(id)
			if err == nil {
				err = c.PutVersion(ctx, &rec)
			}
			results <- quorum.Result{Node: id, Err: err}
		}()
	}
	t := quorum.NewTally(fmt.Sprintf("commit %s/%s", v.Bucket, v.Key), g.params.MetaWrite, len(v.Shards))
	for !t.Done() {
		t.Add(<-results)
	}
	go func() {
		defer cancel()
		for range len(v.Shards) - t.Succeeded() - t.Failed() {
			<-results
		}
	}()
	return t.Err()
}

// discardShards removes what a failed PUT left on the nodes. It is best
// effort: whatever stays is an orphan without metadata, invisible to
// clients, for the scanner to collect.
func (g *Gateway) discardShards(v *metadata.Version) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i, id := range v.Shards {
			ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: i}
			if c, err := g.node(id); err == nil {
				if err := c.DeleteShard(ctx, ref); err != nil {
					g.log.Debug("discard shard", "node", id, "shard", ref.String(), "err", err)
				}
			}
		}
	}()
}

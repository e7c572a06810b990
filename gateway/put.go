package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/metadata"
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
	state, err := g.bucketVersioning(ctx, bucket)
	if err != nil {
		g.fail(c, err)
		return
	}
	cond, err := g.writeCondition(ctx, r.Header, bucket, key)
	if err != nil {
		g.fail(c, err)
		return
	}
	// A conditional write already read the key and moved the clock past
	// it; a small write to a bucket that never had versioning learns from
	// its own commit instead (commitFresh); any other starts that read now,
	// while the body streams.
	homes, err := g.homes(bucket, key)
	if err != nil {
		g.fail(c, err)
		return
	}
	fresh := cond == nil && state == metadata.Unversioned && size <= g.cfg.InlineThreshold && g.ordersWrites(homes)
	var latest <-chan error
	if cond == nil && !fresh {
		latest = g.latestHLC(ctx, bucket, key)
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
		Versioning:  state,
		EC: metadata.ErasureInfo{
			DataShards:   g.codec.DataShards(),
			ParityShards: g.codec.ParityShards(),
			BlockSize:    g.codec.BlockSize(),
			Checksum:     metadata.HighwayHash256,
		},
	}
	if err := decoratePut(r, v); err != nil {
		g.fail(c, err)
		return
	}
	v.Shards = homes

	var inline [][]byte
	dur := durability{want: len(v.Shards)}
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
	} else {
		dur, err = g.writeShards(ctx, v, payload)
		if err != nil {
			g.fail(c, err)
			return
		}
	}
	sum := payload.MD5()
	if sum == nil {
		// Unreachable when the reads above succeeded; guard the invariant.
		g.fail(c, s3api.NewError(s3api.IncompleteBody))
		return
	}
	v.ETag = hex.EncodeToString(sum)
	v.Checksums = payload.Checksums()
	if err := g.checkMinHomeShards(r, v, dur); err != nil {
		g.discardShards(v)
		g.fail(c, err)
		return
	}
	if err := g.stampVersion(v, latest); err != nil {
		if inline == nil {
			g.discardShards(v)
		}
		g.fail(c, err)
		return
	}
	var hinted int
	switch {
	case cond != nil:
		err = g.commitConditional(ctx, v, inline, *cond)
	case fresh:
		hinted, err = g.commitFresh(ctx, v, inline)
	default:
		hinted, err = g.commitVersion(ctx, v, inline)
	}
	if err != nil {
		if inline == nil {
			g.discardShards(v)
		}
		g.fail(c, err)
		return
	}
	if inline != nil {
		dur.total, dur.hinted = len(v.Shards), hinted
	}
	c.Header(headerDurability, dur.header())
	setVersionHeaders(c.Writer.Header(), v)
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

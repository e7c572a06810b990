package gateway

import (
	"context"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/quorum"
	"cairn/transport"
)

// maxXMLBody bounds every XML request body.
const maxXMLBody = 1 << 20

// readXMLBody reads a request's authenticated body for an XML document of
// at most maxXMLBody bytes; a larger one is MalformedXML, as in S3.
func readXMLBody(c *gin.Context) ([]byte, error) {
	payload, err := c.MustGet(ctxAuth).(*s3api.Auth).BodyReader(c.Request)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(payload, maxXMLBody+1))
	if err != nil {
		return nil, bodyError(err)
	}
	if len(body) > maxXMLBody {
		return nil, s3api.NewError(s3api.MalformedXML)
	}
	return body, nil
}

// decodeXMLBody decodes a request's authenticated XML body into v.
func decodeXMLBody(c *gin.Context, v any) error {
	payload, err := c.MustGet(ctxAuth).(*s3api.Auth).BodyReader(c.Request)
	if err != nil {
		return err
	}
	return s3api.DecodeXML(payload, maxXMLBody, v)
}

// Bucket records live on every node: a write needs N−m of them and a read
// m+1, so any read meets the newest write while up to m nodes are down.
func (g *Gateway) bucketQuorums() (write, read int) {
	n, m := len(g.layout().Nodes), g.cfg.ParityShards
	return n - m, m + 1
}

// bucketCache remembers buckets known to exist for a short while, so that
// object requests do not each pay a quorum read. Absence is never cached:
// a bucket created through another gateway is visible at once.
type bucketCache struct {
	ttl    time.Duration
	mu     sync.Mutex
	seen   map[string]time.Time
	states map[string]metadata.Versioning // versioning.go
}

// state returns a cached bucket's versioning state.
func (bc *bucketCache) state(name string, now time.Time) (metadata.Versioning, bool) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	t, ok := bc.seen[name]
	return bc.states[name], ok && now.Sub(t) < bc.ttl
}

func (bc *bucketCache) setState(name string, s metadata.Versioning) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.states == nil {
		bc.states = make(map[string]metadata.Versioning)
	}
	bc.states[name] = s
}

func (bc *bucketCache) has(name string, now time.Time) bool {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	t, ok := bc.seen[name]
	return ok && now.Sub(t) < bc.ttl
}

func (bc *bucketCache) add(name string, now time.Time) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.seen == nil {
		bc.seen = make(map[string]time.Time)
	}
	bc.seen[name] = now
}

func (bc *bucketCache) drop(name string) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	delete(bc.seen, name)
}

// readBuckets returns the newest record of every bucket, tombstones
// included, from a read quorum of the nodes.
func (g *Gateway) readBuckets(ctx context.Context) (map[string]metadata.Bucket, error) {
	_, need := g.bucketQuorums()
	nodes := g.allNodes()
	answers := fanout(ctx, g, nodes, func(ctx context.Context, c transport.NodeClient) ([]metadata.Bucket, error) {
		return c.Buckets(ctx)
	})
	t := quorum.NewTally("read buckets", need, len(nodes))
	newest := make(map[string]metadata.Bucket)
	for !t.Done() {
		a := <-answers
		t.Add(quorum.Result{Node: a.node, Err: a.err})
		if a.err != nil {
			continue
		}
		for _, b := range a.val {
			if cur, ok := newest[b.Name]; !ok || b.HLC > cur.HLC {
				newest[b.Name] = b
			}
		}
	}
	if err := t.Err(); err != nil {
		return nil, err
	}
	return newest, nil
}

// readBucket returns a live bucket's newest record from a read quorum, or
// NoSuchBucket, and refreshes the cache with it.
func (g *Gateway) readBucket(ctx context.Context, name string) (metadata.Bucket, error) {
	all, err := g.readBuckets(ctx)
	if err != nil {
		return metadata.Bucket{}, err
	}
	b, ok := all[name]
	if !ok || b.Deleted {
		return metadata.Bucket{}, &s3api.Error{Code: s3api.NoSuchBucket, Resource: name}
	}
	g.buckets.setState(name, b.Versioning)
	g.buckets.add(name, g.cfg.Now())
	return b, nil
}

// updateBucket changes a live bucket's record with change and writes it
// with an HLC ordered after the record it read.
func (g *Gateway) updateBucket(ctx context.Context, name string, change func(*metadata.Bucket)) error {
	b, err := g.readBucket(ctx, name)
	if err != nil {
		return err
	}
	if err := g.clock.Update(b.HLC); err != nil {
		return errClockBehind
	}
	change(&b)
	b.HLC = g.clock.Now()
	if err := g.writeBucket(ctx, &b); err != nil {
		return err
	}
	g.buckets.setState(name, b.Versioning)
	return nil
}

// requireBucket returns NoSuchBucket unless the bucket exists.
func (g *Gateway) requireBucket(ctx context.Context, name string) error {
	if g.buckets.has(name, g.cfg.Now()) {
		return nil
	}
	_, err := g.readBucket(ctx, name)
	return err
}

// writeBucket stores a bucket record on a write quorum of every node.
func (g *Gateway) writeBucket(ctx context.Context, b *metadata.Bucket) error {
	need, _ := g.bucketQuorums()
	nodes := g.allNodes()
	// The write finishes even if the client hangs up: half a quorum is
	// worse than a whole one nobody waited for.
	_, err := g.quorumDo(ctx, "write bucket "+b.Name, nodes, need, func(ctx context.Context, c transport.NodeClient) error {
		return c.PutBucket(ctx, b)
	})
	return err
}

func (g *Gateway) createBucket(c *gin.Context, name string) {
	ctx := c.Request.Context()
	if err := s3api.ValidateBucketName(name); err != nil {
		g.fail(c, err)
		return
	}
	if err := g.readCreateBucketBody(c); err != nil {
		g.fail(c, err)
		return
	}
	all, err := g.readBuckets(ctx)
	if err != nil {
		g.fail(c, err)
		return
	}
	if b, ok := all[name]; ok && !b.Deleted {
		g.fail(c, &s3api.Error{Code: s3api.BucketAlreadyOwnedByYou, Resource: name})
		return
	}
	hlc := g.clock.Now()
	if err := g.writeBucket(ctx, &metadata.Bucket{Name: name, Created: g.cfg.Now().UTC(), HLC: hlc}); err != nil {
		g.fail(c, err)
		return
	}
	g.buckets.setState(name, metadata.Unversioned)
	g.buckets.add(name, g.cfg.Now())
	c.Header("Location", "/"+name)
	c.Status(http.StatusOK)
}

// readCreateBucketBody accepts an empty body or a CreateBucketConfiguration
// naming our region.
func (g *Gateway) readCreateBucketBody(c *gin.Context) error {
	payload, err := c.MustGet(ctxAuth).(*s3api.Auth).BodyReader(c.Request)
	if err != nil {
		return err
	}
	if payload.Size() == 0 {
		return nil
	}
	var cfg s3api.CreateBucketConfiguration
	if err := s3api.DecodeXML(payload, maxXMLBody, &cfg); err != nil {
		return err
	}
	if cfg.LocationConstraint != "" && cfg.LocationConstraint != g.cfg.Region {
		return s3api.Errorf(s3api.InvalidArgument, "The specified location-constraint is not valid")
	}
	return nil
}

func (g *Gateway) headBucket(c *gin.Context, name string) {
	if err := g.requireBucket(c.Request.Context(), name); err != nil {
		g.fail(c, err)
		return
	}
	c.Header("x-amz-bucket-region", g.cfg.Region)
	c.Status(http.StatusOK)
}

func (g *Gateway) deleteBucket(c *gin.Context, name string) {
	ctx := c.Request.Context()
	g.buckets.drop(name)
	if err := g.requireBucket(ctx, name); err != nil {
		g.fail(c, err)
		return
	}
	empty, err := g.bucketEmpty(ctx, name)
	if err != nil {
		g.fail(c, err)
		return
	}
	if !empty {
		g.fail(c, &s3api.Error{Code: s3api.BucketNotEmpty, Resource: name})
		return
	}
	if err := g.writeBucket(ctx, &metadata.Bucket{Name: name, HLC: g.clock.Now(), Deleted: true}); err != nil {
		g.fail(c, err)
		return
	}
	g.buckets.drop(name)
	c.Status(http.StatusNoContent)
}

func (g *Gateway) listBuckets(c *gin.Context) {
	all, err := g.readBuckets(c.Request.Context())
	if err != nil {
		g.fail(c, err)
		return
	}
	res := s3api.ListAllMyBucketsResult{Owner: g.owner(c)}
	for _, b := range all {
		if !b.Deleted && g.mayRead(c, b.Name) {
			res.Buckets = append(res.Buckets, s3api.Bucket{Name: b.Name, CreationDate: s3api.Timestamp(b.Created)})
		}
	}
	sort.Slice(res.Buckets, func(i, j int) bool { return res.Buckets[i].Name < res.Buckets[j].Name })
	s3api.WriteXML(c.Writer, http.StatusOK, &res)
}

func (g *Gateway) getBucketLocation(c *gin.Context, name string) {
	if err := g.requireBucket(c.Request.Context(), name); err != nil {
		g.fail(c, err)
		return
	}
	// S3 reports us-east-1 as an empty constraint.
	loc := g.cfg.Region
	if loc == "us-east-1" {
		loc = ""
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &s3api.LocationConstraint{Location: loc})
}

func (g *Gateway) owner(c *gin.Context) s3api.Owner {
	ak := ""
	if a, ok := c.Get(ctxAuth); ok {
		ak = a.(*s3api.Auth).AccessKey
	}
	return s3api.Owner{ID: ak, DisplayName: ak}
}

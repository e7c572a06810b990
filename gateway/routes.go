package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/transport"
)

const (
	ctxRequestID = "cairn.request-id"
	ctxAuth      = "cairn.auth"
)

func (g *Gateway) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.ContextWithFallback = true
	e.Use(g.requestID)
	if g.metrics != nil {
		// Outside recoverPanics, so a recovered panic counts as its 500.
		e.Use(g.observe)
	}
	e.Use(g.countTraffic, g.recoverPanics, g.accessLog)
	e.NoRoute(g.serveS3)
	return e
}

// countTraffic feeds the throughput the admin status shows.
func (g *Gateway) countTraffic(c *gin.Context) {
	c.Next()
	g.traffic.add(c.Writer.Status(), c.Request.ContentLength, int64(c.Writer.Size()))
}

func (g *Gateway) requestID(c *gin.Context) {
	// A per-gateway origin plus a sequence number is unique and cheap.
	id := strings.ToUpper(fmt.Sprintf("%s%012X", g.origin, g.reqSeq.Add(1)))
	c.Set(ctxRequestID, id)
	// Node calls made for this request carry the ID (httptransport sends it).
	c.Request = c.Request.WithContext(transport.WithRequestID(c.Request.Context(), id))
	h := c.Writer.Header()
	h.Set("x-amz-request-id", id)
	h.Set("x-amz-id-2", id)
	h.Set("Server", "Cairn")
	c.Next()
}

// recoverPanics turns a panic into InternalError, except http.ErrAbortHandler,
// which is how a handler cuts a response whose body went wrong after the
// headers were sent.
func (g *Gateway) recoverPanics(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			g.log.Error("panic serving request", "request_id", c.GetString(ctxRequestID), "panic", fmt.Sprint(p))
			if !c.Writer.Written() {
				g.fail(c, fmt.Errorf("panic: %v", p))
			}
		}
	}()
	c.Next()
}

func (g *Gateway) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	g.log.Debug("request", "request_id", c.GetString(ctxRequestID), "method", c.Request.Method,
		"path", c.Request.URL.Path, "status", c.Writer.Status(), "dur", time.Since(start))
}

// fail writes err as an S3 error response.
func (g *Gateway) fail(c *gin.Context, err error) {
	s3err := toS3Error(err)
	if s3err.Code.Status() >= 500 {
		g.log.Error("request failed", "request_id", c.GetString(ctxRequestID), "method", c.Request.Method,
			"path", c.Request.URL.Path, "err", err)
	}
	s3api.WriteError(c.Writer, c.Request, s3err, c.GetString(ctxRequestID))
	c.Abort()
}

// target splits a request into bucket and key, path style or virtual-host
// style.
func (g *Gateway) target(r *http.Request) (bucket, key string) {
	path := r.URL.Path
	if b := g.vhostBucket(r.Host); b != "" {
		return b, strings.TrimPrefix(path, "/")
	}
	path = strings.TrimPrefix(path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

func (g *Gateway) vhostBucket(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, d := range g.cfg.Domains {
		if b, ok := strings.CutSuffix(host, "."+strings.ToLower(d)); ok && b != "" {
			return b
		}
	}
	return ""
}

func (g *Gateway) serveS3(c *gin.Context) {
	r := c.Request
	auth, err := g.verifier.Verify(r)
	if err != nil {
		g.fail(c, err)
		return
	}
	c.Set(ctxAuth, auth)
	bucket, key := g.target(r)
	if err := g.authorize(c, auth, bucket, key); err != nil {
		g.fail(c, err)
		return
	}
	q := r.URL.Query()
	switch {
	case bucket == "":
		if r.Method == http.MethodGet {
			g.listBuckets(c)
			return
		}
	case key == "":
		g.serveBucket(c, bucket, q)
		return
	default:
		g.serveObject(c, bucket, key, q)
		return
	}
	g.fail(c, s3api.NewError(s3api.MethodNotAllowed))
}

// unsupported are sub-resources that later work brings; until then they get
// NotImplemented rather than being mistaken for plain object or bucket calls.
var unsupportedBucket = []string{"uploads", "lifecycle", "policy", "cors", "tagging", "acl",
	"website", "logging", "notification", "replication", "encryption", "object-lock", "delete", "accelerate",
	"requestPayment", "ownershipControls", "publicAccessBlock", "analytics", "metrics", "inventory", "intelligent-tiering"}

var unsupportedObject = []string{"uploads", "uploadId", "partNumber", "tagging", "acl", "retention",
	"legal-hold", "torrent", "attributes", "restore", "select"}

func hasAny(q map[string][]string, names []string) bool {
	for _, n := range names {
		if _, ok := q[n]; ok {
			return true
		}
	}
	return false
}

func (g *Gateway) serveBucket(c *gin.Context, bucket string, q map[string][]string) {
	r := c.Request
	if g.serveBucketExtra(c, bucket, q) || g.serveVersioning(c, bucket, q) || g.serveLifecycle(c, bucket, q) {
		return
	}
	if _, ok := q["location"]; ok && r.Method == http.MethodGet {
		g.getBucketLocation(c, bucket)
		return
	}
	if hasAny(q, unsupportedBucket) || hasAny(q, []string{"versioning"}) {
		g.fail(c, s3api.NewError(s3api.NotImplemented))
		return
	}
	switch r.Method {
	case http.MethodPut:
		g.createBucket(c, bucket)
	case http.MethodHead:
		g.headBucket(c, bucket)
	case http.MethodDelete:
		g.deleteBucket(c, bucket)
	case http.MethodGet:
		g.listObjects(c, bucket)
	default:
		g.fail(c, s3api.NewError(s3api.MethodNotAllowed))
	}
}

func (g *Gateway) serveObject(c *gin.Context, bucket, key string, q map[string][]string) {
	r := c.Request
	if g.serveObjectExtra(c, bucket, key, q) {
		return
	}
	if hasAny(q, unsupportedObject) || r.Header.Get("x-amz-copy-source") != "" {
		g.fail(c, s3api.NewError(s3api.NotImplemented))
		return
	}
	if err := s3api.ValidateObjectKey(key); err != nil {
		g.fail(c, err)
		return
	}
	switch r.Method {
	case http.MethodPut:
		g.putObject(c, bucket, key)
	case http.MethodGet:
		g.getObject(c, bucket, key, false)
	case http.MethodHead:
		g.getObject(c, bucket, key, true)
	case http.MethodDelete:
		g.deleteObjectAs(c, bucket, key)
	default:
		g.fail(c, s3api.NewError(s3api.MethodNotAllowed))
	}
}

// errUnavailable marks failures caused by too few nodes answering.
var errUnavailable = errors.New("gateway: not enough nodes available")

package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
)

// authorize checks, after SigV4 has authenticated the request, that its
// access key may do what the request asks: s3api.Requirements says which
// permission on which bucket, Config.Authorizer says whether the key has
// it. It is the gateway's only permission check; every S3 operation passes
// through it from serveS3. Without an Authorizer every authenticated key may
// do everything, as before per-key permissions existed.
func (g *Gateway) authorize(c *gin.Context, auth *s3api.Auth, bucket, key string) error {
	if g.cfg.Authorizer == nil {
		return nil
	}
	r := c.Request
	src := ""
	if key != "" && r.Method == http.MethodPut {
		if h := r.Header.Get("X-Amz-Copy-Source"); h != "" {
			// A malformed header is left to the copy handler, which
			// refuses it before reading anything.
			if sb, _, _, err := copySource(h); err == nil {
				src = sb
			}
		}
	}
	for _, req := range s3api.Requirements(r.Method, bucket, src) {
		if !g.cfg.Authorizer.Allowed(auth.AccessKey, req.Bucket, req.Perm) {
			// The message names neither the key's grants nor whether
			// the bucket exists.
			return s3api.NewError(s3api.AccessDenied)
		}
	}
	return nil
}

// mayRead reports whether the request's key may read bucket; ListBuckets
// shows only those.
func (g *Gateway) mayRead(c *gin.Context, bucket string) bool {
	if g.cfg.Authorizer == nil {
		return true
	}
	a, ok := c.Get(ctxAuth)
	if !ok {
		return false
	}
	return g.cfg.Authorizer.Allowed(a.(*s3api.Auth).AccessKey, bucket, s3api.PermRead)
}

package gateway

import (
	"maps"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/metadata"
)

// Bucket lifecycle configuration.
//
// The configuration is a field of the bucket record (metadata.Lifecycle),
// written like a versioning change: read the newest record from a read
// quorum, stamp it after that record's HLC, write it to a write quorum of
// every node. The nodes run the rules (node/lifecycle.go); the gateway
// only stores and returns them.

// serveLifecycle answers PUT, GET and DELETE ?lifecycle. It reports
// whether it answered.
func (g *Gateway) serveLifecycle(c *gin.Context, bucket string, q map[string][]string) bool {
	if _, ok := q["lifecycle"]; !ok {
		return false
	}
	switch c.Request.Method {
	case http.MethodPut:
		g.putBucketLifecycle(c, bucket)
	case http.MethodGet:
		g.getBucketLifecycle(c, bucket)
	case http.MethodDelete:
		g.setBucketLifecycle(c, bucket, nil)
	default:
		g.fail(c, s3api.NewError(s3api.MethodNotAllowed))
	}
	return true
}

func (g *Gateway) putBucketLifecycle(c *gin.Context, name string) {
	body, err := readXMLBody(c)
	if err != nil {
		g.fail(c, err)
		return
	}
	cfg, err := s3api.DecodeLifecycleConfiguration(body)
	if err != nil {
		g.fail(c, err)
		return
	}
	l, err := lifecycleFromXML(cfg)
	if err != nil {
		g.fail(c, err)
		return
	}
	g.setBucketLifecycle(c, name, l)
}

// setBucketLifecycle stores l (nil: none) on the bucket record.
func (g *Gateway) setBucketLifecycle(c *gin.Context, name string, l *metadata.Lifecycle) {
	if err := g.updateBucket(c.Request.Context(), name, func(b *metadata.Bucket) { b.Lifecycle = l }); err != nil {
		g.fail(c, err)
		return
	}
	if l == nil {
		c.Status(http.StatusNoContent)
		return
	}
	c.Status(http.StatusOK)
}

func (g *Gateway) getBucketLifecycle(c *gin.Context, name string) {
	b, err := g.readBucket(c.Request.Context(), name)
	if err != nil {
		g.fail(c, err)
		return
	}
	if b.Lifecycle == nil {
		g.fail(c, &s3api.Error{Code: s3api.NoSuchLifecycleConfiguration, Resource: name})
		return
	}
	s3api.WriteXML(c.Writer, http.StatusOK, lifecycleToXML(b.Lifecycle))
}

// lifecycleFromXML turns the request document into the stored form and
// checks it as S3 does.
func lifecycleFromXML(cfg *s3api.LifecycleConfiguration) (*metadata.Lifecycle, error) {
	l := &metadata.Lifecycle{Rules: make([]metadata.LifecycleRule, 0, len(cfg.Rules))}
	for _, x := range cfg.Rules {
		r := metadata.LifecycleRule{ID: x.ID, Enabled: x.Status == "Enabled"}
		if x.Prefix != nil {
			r.Prefix = *x.Prefix
		}
		if f := x.Filter; f != nil {
			switch {
			case f.Prefix != nil:
				r.Prefix = *f.Prefix
			case f.Tag != nil:
				r.Tags = map[string]string{f.Tag.Key: f.Tag.Value}
			case f.And != nil:
				r.Prefix = f.And.Prefix
				if len(f.And.Tags) > 0 {
					r.Tags = make(map[string]string, len(f.And.Tags))
					for _, t := range f.And.Tags {
						if _, dup := r.Tags[t.Key]; dup {
							return nil, s3api.Errorf(s3api.InvalidArgument, "Duplicate Tag Keys are not allowed.")
						}
						r.Tags[t.Key] = t.Value
					}
				}
			}
		}
		if e := x.Expiration; e != nil {
			r.ExpireDays = e.Days
			if e.Date != "" {
				d, err := s3api.ParseLifecycleDate(e.Date)
				if err != nil {
					return nil, s3api.Errorf(s3api.InvalidArgument, "'Date' must be at midnight GMT")
				}
				r.ExpireDate = d
			}
			r.ExpiredObjectDeleteMarker = e.ExpiredObjectDeleteMarker != nil && *e.ExpiredObjectDeleteMarker
			if e.Days == 0 && e.Date == "" && e.ExpiredObjectDeleteMarker == nil {
				return nil, s3api.NewError(s3api.MalformedXML)
			}
		}
		if nv := x.NoncurrentVersionExpiration; nv != nil {
			if nv.NoncurrentDays <= 0 {
				return nil, s3api.Errorf(s3api.InvalidArgument, "'NoncurrentDays' in NoncurrentVersionExpiration action must be a positive integer.")
			}
			r.NoncurrentDays, r.NewerNoncurrent = nv.NoncurrentDays, nv.NewerNoncurrentVersions
		}
		if a := x.AbortIncompleteMultipartUpload; a != nil {
			if a.DaysAfterInitiation <= 0 {
				return nil, s3api.Errorf(s3api.InvalidArgument, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer.")
			}
			r.AbortDays = a.DaysAfterInitiation
		}
		l.Rules = append(l.Rules, r)
	}
	if err := l.Validate(); err != nil {
		return nil, &s3api.Error{Code: s3api.InvalidArgument, Message: err.Error(), Err: err}
	}
	return l, nil
}

// lifecycleToXML is the GetBucketLifecycleConfiguration answer: every
// rule with a Filter, as S3 returns them.
func lifecycleToXML(l *metadata.Lifecycle) *s3api.LifecycleConfiguration {
	out := &s3api.LifecycleConfiguration{}
	for _, r := range l.Rules {
		x := s3api.LifecycleRule{ID: r.ID, Status: "Disabled", Filter: &s3api.LifecycleFilter{}}
		if r.Enabled {
			x.Status = "Enabled"
		}
		switch {
		case len(r.Tags) == 0:
			p := r.Prefix
			x.Filter.Prefix = &p
		case len(r.Tags) == 1 && r.Prefix == "":
			for k, v := range r.Tags {
				x.Filter.Tag = &s3api.Tag{Key: k, Value: v}
			}
		default:
			and := &s3api.LifecycleAnd{Prefix: r.Prefix}
			for _, k := range slices.Sorted(maps.Keys(r.Tags)) {
				and.Tags = append(and.Tags, s3api.Tag{Key: k, Value: r.Tags[k]})
			}
			x.Filter.And = and
		}
		if r.ExpireDays > 0 || !r.ExpireDate.IsZero() || r.ExpiredObjectDeleteMarker {
			e := &s3api.LifecycleExpiration{Days: r.ExpireDays}
			if !r.ExpireDate.IsZero() {
				e.Date = r.ExpireDate.UTC().Format("2006-01-02T15:04:05.000Z")
			}
			if r.ExpiredObjectDeleteMarker {
				t := true
				e.ExpiredObjectDeleteMarker = &t
			}
			x.Expiration = e
		}
		if r.NoncurrentDays > 0 {
			x.NoncurrentVersionExpiration = &s3api.NoncurrentVersionExpiration{NoncurrentDays: r.NoncurrentDays, NewerNoncurrentVersions: r.NewerNoncurrent}
		}
		if r.AbortDays > 0 {
			x.AbortIncompleteMultipartUpload = &s3api.AbortIncompleteMultipartUpload{DaysAfterInitiation: r.AbortDays}
		}
		out.Rules = append(out.Rules, x)
	}
	return out
}

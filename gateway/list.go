package gateway

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/transport"
)

const maxListKeys = 1000

// afterPrefix is an exclusive lower bound that skips every key beginning
// with p: keys are valid UTF-8, which never contains the byte 0xff.
func afterPrefix(p string) string { return p + "\xff" }

// nodeStream pages through one node's listing.
type nodeStream struct {
	node      string
	client    transport.NodeClient
	req       transport.ListRequest
	buf       []metadata.ListEntry
	exhausted bool
	err       error
}

func (s *nodeStream) peek(ctx context.Context) *metadata.ListEntry {
	for len(s.buf) == 0 && !s.exhausted && s.err == nil {
		page, err := s.client.List(ctx, s.req)
		if err != nil {
			s.err = fmt.Errorf("list on node %s: %w", s.node, err)
			return nil
		}
		s.buf = page.Entries
		s.exhausted = !page.Truncated
		if n := len(page.Entries); n > 0 {
			s.req.After = page.Entries[n-1].Key
		}
	}
	if len(s.buf) == 0 {
		return nil
	}
	return &s.buf[0]
}

// seek drops everything up to and including after.
func (s *nodeStream) seek(after string) {
	for len(s.buf) > 0 && s.buf[0].Key <= after {
		s.buf = s.buf[1:]
	}
	if len(s.buf) == 0 && after > s.req.After {
		s.req.After = after
	}
}

// merger merges the nodes' sorted listings into one stream of live keys:
// for each key the newest record by HLC decides, so a tombstone on any
// node that saw the delete hides copies on nodes that missed it.
type merger struct {
	streams   []*nodeStream
	tolerated int // streams that may fail before the listing does
	failed    []error
}

func (g *Gateway) newMerger(bucket, prefix, after string, pageSize int) *merger {
	m := &merger{tolerated: g.cfg.ParityShards}
	for _, id := range g.allNodes() {
		s := &nodeStream{node: id, req: transport.ListRequest{Bucket: bucket, Prefix: prefix, After: after, Limit: pageSize}}
		c, err := g.node(id)
		if err != nil {
			s.err = err
		}
		s.client = c
		m.streams = append(m.streams, s)
	}
	return m
}

func (m *merger) check() error {
	var live []*nodeStream
	for _, s := range m.streams {
		if s.err != nil {
			m.failed = append(m.failed, s.err)
			continue
		}
		live = append(live, s)
	}
	m.streams = live
	if len(m.failed) > m.tolerated {
		return fmt.Errorf("%w: %d nodes failed listing: %v", errUnavailable, len(m.failed), m.failed)
	}
	return nil
}

// next returns the next live key, or nil at the end.
func (m *merger) next(ctx context.Context) (*metadata.ListEntry, error) {
	for {
		var min *metadata.ListEntry
		for _, s := range m.streams {
			if e := s.peek(ctx); e != nil && (min == nil || e.Key < min.Key) {
				min = e
			}
		}
		if err := m.check(); err != nil {
			return nil, err
		}
		if min == nil {
			return nil, nil
		}
		key := min.Key
		var winner metadata.ListEntry
		found := false
		for _, s := range m.streams {
			if e := s.peek(ctx); e != nil && e.Key == key {
				if !found || cmp.Or(cmp.Compare(e.HLC, winner.HLC), cmp.Compare(winner.VersionID, e.VersionID)) > 0 {
					winner, found = *e, true
				}
				s.buf = s.buf[1:]
			}
		}
		if !winner.Deleted {
			return &winner, nil
		}
	}
}

func (m *merger) seek(after string) {
	for _, s := range m.streams {
		s.seek(after)
	}
}

// listing is the result of one page of ListObjects, before rendering.
type listing struct {
	contents    []metadata.ListEntry
	prefixes    []string
	truncated   bool
	nextAfter   string // exclusive start of the next page
	lastEmitted string // the last key or common prefix returned
}

// list walks the merged listing from after, grouping keys by delimiter.
func (g *Gateway) list(ctx context.Context, bucket, prefix, delimiter, after string, maxKeys int) (*listing, error) {
	res := &listing{}
	if maxKeys == 0 {
		return res, nil
	}
	m := g.newMerger(bucket, prefix, after, min(maxKeys+1, maxListKeys+1))
	if err := m.check(); err != nil {
		return nil, err
	}
	count := 0
	for {
		e, err := m.next(ctx)
		if err != nil {
			return nil, err
		}
		if e == nil {
			return res, nil
		}
		item, isPrefix := e.Key, false
		if delimiter != "" {
			if i := strings.Index(e.Key[len(prefix):], delimiter); i >= 0 {
				item, isPrefix = e.Key[:len(prefix)+i+len(delimiter)], true
			}
		}
		if isPrefix && item <= after {
			// The page before this one ended inside this prefix.
			m.seek(afterPrefix(item))
			continue
		}
		if count == maxKeys {
			res.truncated = true
			return res, nil
		}
		count++
		res.lastEmitted = item
		if isPrefix {
			res.prefixes = append(res.prefixes, item)
			res.nextAfter = afterPrefix(item)
			m.seek(res.nextAfter)
		} else {
			res.contents = append(res.contents, *e)
			res.nextAfter = item
		}
	}
}

// bucketEmpty reports whether a bucket has no live key.
func (g *Gateway) bucketEmpty(ctx context.Context, bucket string) (bool, error) {
	l, err := g.list(ctx, bucket, "", "", "", 1)
	if err != nil {
		return false, err
	}
	return len(l.contents) == 0, nil
}

func parseMaxKeys(q map[string][]string) (int, error) {
	v, ok := q["max-keys"]
	if !ok {
		return maxListKeys, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 0 {
		return 0, s3api.Errorf(s3api.InvalidArgument, "Provided max-keys not an integer or within integer range")
	}
	return min(n, maxListKeys), nil
}

func (g *Gateway) listObjects(c *gin.Context, bucket string) {
	r := c.Request
	ctx := r.Context()
	q := r.URL.Query()
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	maxKeys, err := parseMaxKeys(q)
	if err != nil {
		g.fail(c, err)
		return
	}
	prefix, delimiter := q.Get("prefix"), q.Get("delimiter")
	encodingType := q.Get("encoding-type")
	if err := s3api.CheckEncodingType(encodingType); err != nil {
		g.fail(c, err)
		return
	}
	v2 := q.Get("list-type") == "2"
	after := q.Get("marker")
	var token string
	if v2 {
		after = q.Get("start-after")
		if ct, ok := q["continuation-token"]; ok {
			token = ct[0]
			raw, err := base64.RawURLEncoding.DecodeString(token)
			if err != nil || token == "" {
				g.fail(c, s3api.Errorf(s3api.InvalidArgument, "The continuation token provided is incorrect"))
				return
			}
			after = string(raw)
		}
	}
	l, err := g.list(ctx, bucket, prefix, delimiter, after, maxKeys)
	if err != nil {
		g.fail(c, err)
		return
	}
	withOwner := !v2 || q.Get("fetch-owner") == "true"
	contents := make([]s3api.Object, 0, len(l.contents))
	for _, e := range l.contents {
		obj := s3api.Object{
			Key:          e.Key,
			LastModified: s3api.Timestamp(e.ModTime),
			ETag:         s3api.QuoteETag(e.ETag),
			Size:         e.Size,
			StorageClass: "STANDARD",
		}
		if withOwner {
			o := g.owner(c)
			obj.Owner = &o
		}
		contents = append(contents, obj)
	}
	var prefixes []s3api.CommonPrefix
	for _, p := range l.prefixes {
		prefixes = append(prefixes, s3api.CommonPrefix{Prefix: p})
	}
	if v2 {
		res := s3api.ListBucketResultV2{
			Name: bucket, Prefix: prefix, Delimiter: delimiter, MaxKeys: maxKeys,
			KeyCount:          len(contents) + len(prefixes),
			ContinuationToken: token,
			StartAfter:        q.Get("start-after"),
			IsTruncated:       l.truncated,
			Contents:          contents,
			CommonPrefixes:    prefixes,
		}
		if l.truncated {
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(l.nextAfter))
		}
		if encodingType != "" {
			res.EncodeURL()
		}
		s3api.WriteXML(c.Writer, http.StatusOK, &res)
		return
	}
	res := s3api.ListBucketResult{
		Name: bucket, Prefix: prefix, Delimiter: delimiter, MaxKeys: maxKeys,
		Marker:         q.Get("marker"),
		IsTruncated:    l.truncated,
		Contents:       contents,
		CommonPrefixes: prefixes,
	}
	// S3 sends NextMarker only with a delimiter; without one, clients
	// continue from the last key.
	if l.truncated && delimiter != "" {
		res.NextMarker = l.lastEmitted
	}
	if encodingType != "" {
		res.EncodeURL()
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &res)
}

package gateway

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/placement"
	"cairn/quorum"
	"cairn/transport"
)

// serveObjectExtra answers the object operations beyond plain
// PUT/GET/HEAD/DELETE: multipart uploads, copies, tagging and attributes.
// It reports whether it answered.
func (g *Gateway) serveObjectExtra(c *gin.Context, bucket, key string, q map[string][]string) bool {
	r := c.Request
	_, uploads := q["uploads"]
	_, hasUpload := q["uploadId"]
	_, tagging := q["tagging"]
	_, attributes := q["attributes"]
	copySource := r.Header.Get("X-Amz-Copy-Source") != ""
	handled := true
	var fn func()
	switch {
	case uploads && r.Method == http.MethodPost:
		fn = func() { g.createMultipart(c, bucket, key) }
	case hasUpload && r.Method == http.MethodPut && copySource:
		fn = func() { g.uploadPartCopy(c, bucket, key) }
	case hasUpload && r.Method == http.MethodPut:
		fn = func() { g.uploadPart(c, bucket, key) }
	case hasUpload && r.Method == http.MethodPost:
		fn = func() { g.completeMultipart(c, bucket, key) }
	case hasUpload && r.Method == http.MethodDelete:
		fn = func() { g.abortMultipart(c, bucket, key) }
	case hasUpload && r.Method == http.MethodGet:
		fn = func() { g.listParts(c, bucket, key) }
	case tagging && r.Method == http.MethodPut:
		fn = func() { g.putTagging(c, bucket, key) }
	case tagging && r.Method == http.MethodGet:
		fn = func() { g.getTagging(c, bucket, key) }
	case tagging && r.Method == http.MethodDelete:
		fn = func() { g.deleteTagging(c, bucket, key) }
	case attributes && r.Method == http.MethodGet:
		fn = func() { g.getObjectAttributes(c, bucket, key) }
	case copySource && r.Method == http.MethodPut && !hasAny(q, unsupportedObject):
		fn = func() { g.copyObject(c, bucket, key) }
	default:
		handled = false
	}
	if !handled {
		return false
	}
	if err := s3api.ValidateObjectKey(key); err != nil {
		g.fail(c, err)
		return true
	}
	fn()
	return true
}

// serveBucketExtra answers ?uploads (ListMultipartUploads) and ?delete
// (DeleteObjects).
func (g *Gateway) serveBucketExtra(c *gin.Context, bucket string, q map[string][]string) bool {
	r := c.Request
	if _, ok := q["uploads"]; ok && r.Method == http.MethodGet {
		g.listMultipartUploads(c, bucket)
		return true
	}
	if _, ok := q["delete"]; ok && r.Method == http.MethodPost {
		g.deleteObjects(c, bucket)
		return true
	}
	return false
}

// homes returns the k+m homes of a key.
func (g *Gateway) homes(bucket, key string) ([]string, error) {
	plan, err := placement.Place(g.layout(), bucket, key, g.codec.TotalShards())
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(plan.Homes))
	for i, id := range plan.Homes {
		ids[i] = string(id)
	}
	return ids, nil
}

// quorumDo calls fn on every node and returns once need of them succeeded
// or that became impossible. The calls outlive a client that hangs up.
// notFound counts the nodes that answered ErrNotFound.
func (g *Gateway) quorumDo(ctx context.Context, op string, nodes []string, need int, fn func(ctx context.Context, c transport.NodeClient) error) (notFound int, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	answers := fanout(ctx, g, nodes, func(ctx context.Context, c transport.NodeClient) (struct{}, error) {
		return struct{}{}, fn(ctx, c)
	})
	t := quorum.NewTally(op, need, len(nodes))
	got := 0
	for !t.Done() {
		a := <-answers
		got++
		if errors.Is(a.err, transport.ErrNotFound) {
			notFound++
		}
		t.Add(quorum.Result{Node: a.node, Err: a.err})
	}
	go func() {
		defer cancel()
		for range len(nodes) - got {
			<-answers
		}
	}()
	return notFound, t.Err()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// storedHeaderNames are the request headers S3 stores with an object and
// returns on GET and HEAD.
var storedHeaderNames = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

var storageClasses = map[string]bool{"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true, "ONEZONE_IA": true,
	"INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "GLACIER_IR": true, "OUTPOSTS": true, "EXPRESS_ONEZONE": true}

// storedHeaders collects the headers to keep with a new object.
// aws-chunked is transfer framing, not a content coding: it is dropped.
func storedHeaders(h http.Header) (map[string]string, error) {
	var m map[string]string
	set := func(k, v string) {
		if m == nil {
			m = make(map[string]string)
		}
		m[k] = v
	}
	for _, name := range storedHeaderNames {
		v := h.Get(name)
		if name == "Content-Encoding" {
			var keep []string
			for part := range strings.SplitSeq(v, ",") {
				if p := strings.TrimSpace(part); p != "" && !strings.EqualFold(p, "aws-chunked") {
					keep = append(keep, p)
				}
			}
			v = strings.Join(keep, ",")
		}
		if v != "" {
			set(name, v)
		}
	}
	if sc := h.Get("X-Amz-Storage-Class"); sc != "" {
		if !storageClasses[sc] {
			return nil, s3api.Errorf(s3api.InvalidArgument, "The storage class you specified is not valid")
		}
		if sc != "STANDARD" {
			set("X-Amz-Storage-Class", sc)
		}
	}
	return m, nil
}

// decoratePut fills what a PUT stores beyond the body: the stored headers
// and the tag set of x-amz-tagging.
func decoratePut(r *http.Request, v *metadata.Version) error {
	hs, err := storedHeaders(r.Header)
	if err != nil {
		return err
	}
	tags, err := s3api.ParseTaggingHeader(r.Header.Get("X-Amz-Tagging"))
	if err != nil {
		return err
	}
	v.Headers = hs
	if len(tags) > 0 {
		v.Tags = tags
	}
	return nil
}

// responseOverrides are the GET query parameters that replace a response
// header.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// setExtraHeaders adds to a GET or HEAD response what setObjectHeaders
// does not: stored headers, tag and part counts, the storage class,
// checksums when asked for, and response-* overrides.
func setExtraHeaders(r *http.Request, h http.Header, v *metadata.Version, whole bool) {
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	if n := len(v.Tags); n > 0 {
		h.Set("X-Amz-Tagging-Count", strconv.Itoa(n))
	}
	if n := len(v.Parts); n > 0 {
		h.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(n))
	}
	if whole && strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		for algo, sum := range v.Checksums {
			h.Set("X-Amz-Checksum-"+algo, sum)
		}
	}
	q := r.URL.Query()
	for param, header := range responseOverrides {
		if val := q.Get(param); val != "" {
			h.Set(header, val)
		}
	}
}

// readPreconditions answers a GET or HEAD whose conditional headers fail:
// 412, or 304 with the validators. It reports whether it answered.
func (g *Gateway) readPreconditions(c *gin.Context, v *metadata.Version) bool {
	notModified, err := s3api.ReadPreconditions(c.Request.Header).Evaluate(v.ETag, v.ModTime)
	if err != nil {
		g.fail(c, err)
		return true
	}
	if notModified {
		h := c.Writer.Header()
		h.Set("ETag", `"`+v.ETag+`"`)
		h.Set("Last-Modified", v.ModTime.UTC().Format(http.TimeFormat))
		c.Status(http.StatusNotModified)
		c.Abort()
		return true
	}
	return false
}

// multipartETag is S3's ETag of a multipart object: the MD5 of the parts'
// binary MD5s, then "-" and the part count.
func multipartETag(parts []metadata.Part) (string, error) {
	h := md5.New()
	for _, p := range parts {
		b, err := hex.DecodeString(p.ETag)
		if err != nil {
			return "", fmt.Errorf("part %d etag %q: %w", p.Number, p.ETag, err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}

// deleteKey deletes a key as its bucket's versioning says (a tombstone
// or a delete marker) on a write quorum of its homes.
func (g *Gateway) deleteKey(ctx context.Context, bucket, key string) error {
	_, err := g.deleteKeyVersioned(ctx, bucket, key) // versioning.go
	return err
}

func (g *Gateway) deleteObjects(c *gin.Context, bucket string) {
	ctx := c.Request.Context()
	var req s3api.Delete
	if err := decodeXMLBody(c, &req); err != nil {
		g.fail(c, err)
		return
	}
	if err := req.Validate(); err != nil {
		g.fail(c, err)
		return
	}
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	errs := make([]*s3api.Error, len(req.Objects))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, o := range req.Objects {
		if err := s3api.ValidateObjectKey(o.Key); err != nil {
			errs[i] = s3api.AsError(err)
			continue
		}
		if o.VersionID != "" && o.VersionID != "null" {
			errs[i] = s3api.NewError(s3api.NotImplemented)
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := g.deleteKey(ctx, bucket, o.Key); err != nil {
				errs[i] = toS3Error(err)
			}
		})
	}
	wg.Wait()
	var res s3api.DeleteResult
	for i, o := range req.Objects {
		if e := errs[i]; e != nil {
			res.Errors = append(res.Errors, s3api.DeleteError{Key: o.Key, Code: string(e.Code), Message: e.Error()})
			continue
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, s3api.DeletedObject{Key: o.Key, VersionID: o.VersionID})
		}
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &res)
}

// setTags writes a tag set into the records of the current version, or of
// the one ?versionId names.
func (g *Gateway) setTags(c *gin.Context, bucket, key string, tags map[string]string) error {
	ctx := c.Request.Context()
	if err := g.requireBucket(ctx, bucket); err != nil {
		return err
	}
	v, _, err := g.readObjectVersion(ctx, bucket, key, c.Query("versionId")) // versioning.go
	if err != nil {
		return err
	}
	okey := metadata.ObjectKey{Bucket: bucket, Key: key}
	if err := g.clock.Update(v.MetaHLC); err != nil {
		return err
	}
	at := g.clock.Now()
	_, err = g.quorumDo(ctx, "tag "+okey.String(), v.Shards, g.params.MetaWrite, func(ctx context.Context, cl transport.NodeClient) error {
		tw, ok := cl.(transport.TagWriter)
		if !ok {
			return errUnavailable
		}
		return tw.SetTags(ctx, okey, v.VersionID, tags, at)
	})
	return err
}

func (g *Gateway) putTagging(c *gin.Context, bucket, key string) {
	var t s3api.Tagging
	if err := decodeXMLBody(c, &t); err != nil {
		g.fail(c, err)
		return
	}
	tags, err := s3api.TagMap(t.TagSet)
	if err != nil {
		g.fail(c, err)
		return
	}
	if len(tags) == 0 {
		tags = nil
	}
	if err := g.setTags(c, bucket, key, tags); err != nil {
		g.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}

func (g *Gateway) deleteTagging(c *gin.Context, bucket, key string) {
	if err := g.setTags(c, bucket, key, nil); err != nil {
		g.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (g *Gateway) getTagging(c *gin.Context, bucket, key string) {
	ctx := c.Request.Context()
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	v, _, err := g.readObjectVersion(ctx, bucket, key, c.Query("versionId")) // versioning.go
	if err != nil {
		g.fail(c, err)
		return
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &s3api.Tagging{TagSet: s3api.TagSet(v.Tags)})
}

func (g *Gateway) getObjectAttributes(c *gin.Context, bucket, key string) {
	ctx := c.Request.Context()
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	v, _, err := g.readObjectVersion(ctx, bucket, key, c.Query("versionId")) // versioning.go
	if err != nil {
		g.fail(c, err)
		return
	}
	want := map[string]bool{}
	for _, line := range c.Request.Header.Values("X-Amz-Object-Attributes") {
		for a := range strings.SplitSeq(line, ",") {
			want[strings.TrimSpace(a)] = true
		}
	}
	if len(want) == 0 {
		g.fail(c, s3api.Errorf(s3api.InvalidArgument, "Empty attribute specified"))
		return
	}
	var res s3api.ObjectAttributes
	if want["ETag"] {
		res.ETag = v.ETag
	}
	if want["ObjectSize"] {
		size := v.Size
		res.ObjectSize = &size
	}
	if want["StorageClass"] {
		res.StorageClass = "STANDARD"
		if sc := v.Headers["X-Amz-Storage-Class"]; sc != "" {
			res.StorageClass = sc
		}
	}
	if want["Checksum"] && len(v.Checksums) > 0 {
		sum := &s3api.AttributesSum{}
		for algo, val := range v.Checksums {
			switch s3api.ChecksumAlgorithm(strings.ToUpper(algo)) {
			case s3api.ChecksumCRC32:
				sum.ChecksumCRC32 = val
			case s3api.ChecksumCRC32C:
				sum.ChecksumCRC32C = val
			case s3api.ChecksumCRC64NVME:
				sum.ChecksumCRC64NVME = val
			case s3api.ChecksumSHA1:
				sum.ChecksumSHA1 = val
			case s3api.ChecksumSHA256:
				sum.ChecksumSHA256 = val
			}
		}
		res.Checksum = sum
	}
	if want["ObjectParts"] && len(v.Parts) > 0 {
		op := &s3api.AttributesParts{TotalPartsCount: len(v.Parts), MaxParts: 1000}
		for _, p := range v.Parts {
			op.Parts = append(op.Parts, s3api.AttributesPart{PartNumber: p.Number, Size: p.Size})
		}
		res.ObjectParts = op
	}
	c.Header("Last-Modified", v.ModTime.UTC().Format(http.TimeFormat))
	s3api.WriteXML(c.Writer, http.StatusOK, &res)
}

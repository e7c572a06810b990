package gateway

import (
	"crypto/md5"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/metadata"
)

// copySource parses x-amz-copy-source: "[/]bucket/key[?versionId=v]",
// URL-encoded.
func copySource(h string) (bucket, key, versionID string, err error) {
	path, query, _ := strings.Cut(h, "?")
	if query != "" {
		q, perr := url.ParseQuery(query)
		if perr != nil {
			return "", "", "", s3api.Errorf(s3api.InvalidArgument, "Invalid copy source version id")
		}
		versionID = q.Get("versionId")
	}
	dec, perr := url.PathUnescape(path)
	if perr != nil {
		return "", "", "", s3api.Errorf(s3api.InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(dec, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return "", "", "", s3api.Errorf(s3api.InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	if err := s3api.ValidateObjectKey(key); err != nil {
		return "", "", "", err
	}
	return bucket, key, versionID, nil
}

// readCopySource finds the source version and checks the
// x-amz-copy-source-if-* conditions (all failures are 412 for a copy).
func (g *Gateway) readCopySource(c *gin.Context) (*metadata.Version, map[string]*metadata.Version, error) {
	ctx := c.Request.Context()
	sb, sk, svid, err := copySource(c.Request.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return nil, nil, err
	}
	if err := g.requireBucket(ctx, sb); err != nil {
		return nil, nil, err
	}
	src, byNode, err := g.readObjectVersion(ctx, sb, sk, svid)
	if err != nil {
		if src != nil && src.IsDeleteMarker() && svid != "" {
			return nil, nil, s3api.Errorf(s3api.InvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
		}
		return nil, nil, err
	}
	notModified, err := s3api.CopySourcePreconditions(c.Request.Header).Evaluate(src.ETag, src.ModTime)
	if err != nil || notModified {
		return nil, nil, s3api.NewError(s3api.PreconditionFailed)
	}
	return src, byNode, nil
}

// md5Reader hashes what passes through it.
type md5Reader struct {
	r io.Reader
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (m *md5Reader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	m.n += int64(n)
	return n, err
}

func (g *Gateway) copyObject(c *gin.Context, bucket, key string) {
	r := c.Request
	ctx := r.Context()
	state, err := g.bucketVersioning(ctx, bucket)
	if err != nil {
		g.fail(c, err)
		return
	}
	directive := r.Header.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		g.fail(c, s3api.Errorf(s3api.InvalidArgument, "Unknown metadata directive."))
		return
	}
	tagDirective := r.Header.Get("X-Amz-Tagging-Directive")
	if tagDirective != "" && tagDirective != "COPY" && tagDirective != "REPLACE" {
		g.fail(c, s3api.Errorf(s3api.InvalidArgument, "Unknown tagging directive."))
		return
	}
	src, byNode, err := g.readCopySource(c)
	if err != nil {
		g.fail(c, err)
		return
	}
	if src.Bucket == bucket && src.Key == key && directive != "REPLACE" && r.Header.Get("X-Amz-Storage-Class") == "" && tagDirective != "REPLACE" {
		g.fail(c, s3api.Errorf(s3api.InvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."))
		return
	}
	if src.Size > g.cfg.MaxObjectSize {
		g.fail(c, s3api.Errorf(s3api.InvalidRequest, "The specified copy source is larger than the maximum allowable size for a copy source: %d", g.cfg.MaxObjectSize))
		return
	}
	cond, err := g.writeCondition(ctx, r.Header, bucket, key)
	if err != nil {
		g.fail(c, err)
		return
	}
	homes, err := g.homes(bucket, key)
	if err != nil {
		g.fail(c, err)
		return
	}
	hlc := g.clock.Now()
	v := &metadata.Version{
		Bucket: bucket, Key: key, VersionID: metadata.NewVersionID(hlc, g.origin), HLC: hlc,
		Size: src.Size, ContentType: src.ContentType, ModTime: hlc.Time().UTC(),
		UserMeta: src.UserMeta, Headers: src.Headers, Tags: src.Tags, Checksums: src.Checksums,
		EC: metadata.ErasureInfo{DataShards: g.codec.DataShards(), ParityShards: g.codec.ParityShards(),
			BlockSize: g.codec.BlockSize(), Checksum: metadata.HighwayHash256},
		Shards: homes, Versioning: state,
	}
	if len(src.Parts) > 0 {
		v.Checksums = nil // a multipart object's checksums are per part
	}
	if directive == "REPLACE" {
		var probe metadata.Version
		if err := decoratePut(r, &probe); err != nil {
			g.fail(c, err)
			return
		}
		v.ContentType, v.UserMeta, v.Headers = r.Header.Get("Content-Type"), userMeta(r.Header), probe.Headers
	} else if sc := r.Header.Get("X-Amz-Storage-Class"); sc != "" {
		hs, err := storedHeaders(http.Header{"X-Amz-Storage-Class": {sc}})
		if err != nil {
			g.fail(c, err)
			return
		}
		v.Headers = mergeHeaders(v.Headers, hs)
	}
	if tagDirective == "REPLACE" {
		tags, err := s3api.ParseTaggingHeader(r.Header.Get("X-Amz-Tagging"))
		if err != nil {
			g.fail(c, err)
			return
		}
		v.Tags = tags
	}
	var body io.ReadCloser = io.NopCloser(strings.NewReader(""))
	if src.Size > 0 {
		if body, err = g.openObject(ctx, src, byNode, 0, src.Size); err != nil {
			g.fail(c, err)
			return
		}
	}
	defer body.Close()
	mr := &md5Reader{r: body, h: md5.New()}
	var inline [][]byte
	if v.Size <= g.cfg.InlineThreshold {
		data := make([]byte, v.Size)
		if _, err := io.ReadFull(mr, data); err != nil {
			g.fail(c, err)
			return
		}
		if inline, err = g.codec.EncodeAll(data); err != nil {
			g.fail(c, err)
			return
		}
	} else if _, err := g.writeShards(ctx, v, mr); err != nil {
		g.fail(c, err)
		return
	}
	if mr.n != v.Size {
		if inline == nil {
			g.discardShards(v)
		}
		g.fail(c, io.ErrUnexpectedEOF)
		return
	}
	v.ETag = hexString(mr.h.Sum(nil))
	if err := g.commitAs(ctx, v, inline, cond); err != nil {
		if inline == nil {
			g.discardShards(v)
		}
		g.fail(c, err)
		return
	}
	setVersionHeaders(c.Writer.Header(), v)
	if src.Versioning != metadata.Unversioned {
		c.Header("x-amz-copy-source-version-id", src.S3VersionID())
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &s3api.CopyObjectResult{ETag: `"` + v.ETag + `"`, LastModified: s3api.Timestamp(v.ModTime)})
}

func mergeHeaders(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func (g *Gateway) uploadPartCopy(c *gin.Context, bucket, key string) {
	r := c.Request
	ctx := r.Context()
	q := r.URL.Query()
	number, err := parsePartNumber(q.Get("partNumber"))
	if err != nil {
		g.fail(c, err)
		return
	}
	u, err := g.readUpload(ctx, bucket, key, q.Get("uploadId"))
	if err != nil {
		g.fail(c, err)
		return
	}
	src, byNode, err := g.readCopySource(c)
	if err != nil {
		g.fail(c, err)
		return
	}
	start, length := int64(0), src.Size
	if rh := r.Header.Get("X-Amz-Copy-Source-Range"); rh != "" {
		s, n, ok, err := s3api.ParseRange(rh, src.Size)
		if err != nil || !ok || !strings.HasPrefix(rh, "bytes=") || strings.HasPrefix(strings.TrimPrefix(rh, "bytes="), "-") {
			g.fail(c, s3api.Errorf(s3api.InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"))
			return
		}
		start, length = s, n
	}
	if length > s3api.MaxPartSize {
		g.fail(c, s3api.NewError(s3api.EntityTooLarge))
		return
	}
	var body io.ReadCloser = io.NopCloser(strings.NewReader(""))
	if length > 0 {
		if body, err = g.openObject(ctx, src, byNode, start, length); err != nil {
			g.fail(c, err)
			return
		}
	}
	defer body.Close()
	mr := &md5Reader{r: body, h: md5.New()}
	p, err := g.storePart(ctx, u, number, mr, length, func() ([]byte, map[string]string) {
		if mr.n != length {
			return nil, nil
		}
		return mr.h.Sum(nil), nil
	})
	if err != nil {
		g.fail(c, err)
		return
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &s3api.CopyPartResult{ETag: `"` + p.ETag + `"`, LastModified: s3api.Timestamp(p.ModTime)})
}

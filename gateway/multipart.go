package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"cairn/erasure"
	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/quorum"
	"cairn/transport"
)

// Multipart uploads
//
// An upload is a record on every home of the object; each part is
// erasure-coded as it arrives, under its own shard name (its StorageID), and
// recorded on the homes. Completion writes one version record listing the
// parts and re-encodes nothing; reads decode part by part.

const uploadIDLen = 32 // hex digits

func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func noSuchUpload(id string) error {
	return &s3api.Error{Code: s3api.NoSuchUpload, Resource: id}
}

func uploadStoreOf(c transport.NodeClient) (transport.UploadStore, error) {
	us, ok := c.(transport.UploadStore)
	if !ok {
		return nil, errUnavailable
	}
	return us, nil
}

func (g *Gateway) createMultipart(c *gin.Context, bucket, key string) {
	r := c.Request
	ctx := r.Context()
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	homes, err := g.homes(bucket, key)
	if err != nil {
		g.fail(c, err)
		return
	}
	var probe metadata.Version
	if err := decoratePut(r, &probe); err != nil {
		g.fail(c, err)
		return
	}
	algo := r.Header.Get("X-Amz-Checksum-Algorithm")
	if algo != "" {
		if _, ok := s3api.ParseChecksumAlgorithm(algo); !ok {
			g.fail(c, s3api.Errorf(s3api.InvalidRequest, "Checksum algorithm %q is not supported.", algo))
			return
		}
	}
	hlc := g.clock.Now()
	u := &metadata.Upload{
		Bucket: bucket, Key: key, UploadID: randomHex(uploadIDLen / 2), HLC: hlc, Created: hlc.Time().UTC(),
		ContentType: r.Header.Get("Content-Type"), UserMeta: userMeta(r.Header), Headers: probe.Headers, Tags: probe.Tags,
		ChecksumAlgo: strings.ToUpper(algo),
		EC: metadata.ErasureInfo{DataShards: g.codec.DataShards(), ParityShards: g.codec.ParityShards(),
			BlockSize: g.codec.BlockSize(), Checksum: metadata.HighwayHash256},
		Shards: homes,
	}
	_, err = g.quorumDo(ctx, "create upload "+bucket+"/"+key, homes, g.params.MetaWrite, func(ctx context.Context, cl transport.NodeClient) error {
		us, err := uploadStoreOf(cl)
		if err != nil {
			return err
		}
		return us.PutUpload(ctx, u)
	})
	if err != nil {
		g.fail(c, err)
		return
	}
	if u.ChecksumAlgo != "" {
		c.Header("X-Amz-Checksum-Algorithm", u.ChecksumAlgo)
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &s3api.InitiateMultipartUploadResult{Bucket: bucket, Key: key, UploadID: u.UploadID})
}

// readUpload returns a live upload from a metadata read quorum of the
// key's homes. An upload any home knows as done is gone.
func (g *Gateway) readUpload(ctx context.Context, bucket, key, uploadID string) (*metadata.Upload, error) {
	if !validUploadID(uploadID) {
		return nil, noSuchUpload(uploadID)
	}
	if err := g.requireBucket(ctx, bucket); err != nil {
		return nil, err
	}
	homes, err := g.homes(bucket, key)
	if err != nil {
		return nil, err
	}
	answers := fanout(ctx, g, homes, func(ctx context.Context, cl transport.NodeClient) (*metadata.Upload, error) {
		us, err := uploadStoreOf(cl)
		if err != nil {
			return nil, err
		}
		return us.GetUpload(ctx, bucket, key, uploadID)
	})
	t := quorum.NewTally("read upload "+uploadID, g.params.MetaRead, len(homes))
	var found *metadata.Upload
	done := false
	for !t.Done() {
		a := <-answers
		switch {
		case a.err == nil:
			t.Add(quorum.Result{Node: a.node})
			if a.val.Done {
				done = true
			} else if found == nil {
				found = a.val
			}
		case errors.Is(a.err, transport.ErrNotFound):
			t.Add(quorum.Result{Node: a.node})
		default:
			t.Add(quorum.Result{Node: a.node, Err: a.err})
		}
	}
	if err := t.Err(); err != nil {
		return nil, err
	}
	if done || found == nil {
		return nil, noSuchUpload(uploadID)
	}
	return found, nil
}

// readParts merges the homes' part records: for each part number the
// newest by HLC wins.
func (g *Gateway) readParts(ctx context.Context, u *metadata.Upload) ([]metadata.UploadPart, error) {
	answers := fanout(ctx, g, u.Shards, func(ctx context.Context, cl transport.NodeClient) ([]metadata.UploadPart, error) {
		us, err := uploadStoreOf(cl)
		if err != nil {
			return nil, err
		}
		return us.Parts(ctx, u.Bucket, u.Key, u.UploadID)
	})
	// Part records are written to a write quorum, so a read quorum meets
	// every acknowledged part.
	t := quorum.NewTally("read parts "+u.UploadID, g.params.MetaRead, len(u.Shards))
	best := map[int]metadata.UploadPart{}
	for !t.Done() {
		a := <-answers
		t.Add(quorum.Result{Node: a.node, Err: a.err})
		for _, p := range a.val {
			if cur, ok := best[p.Number]; !ok || p.HLC > cur.HLC {
				best[p.Number] = p
			}
		}
	}
	if err := t.Err(); err != nil {
		return nil, err
	}
	out := make([]metadata.UploadPart, 0, len(best))
	for _, p := range best {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

func parsePartNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > s3api.MaxParts {
		return 0, s3api.Errorf(s3api.InvalidArgument, "Part number must be an integer between 1 and %d, inclusive", s3api.MaxParts)
	}
	return n, nil
}

// storePart erasure-codes one part from body and records it on the
// upload's homes. sums returns the part's MD5 and checksums once body is
// fully read.
func (g *Gateway) storePart(ctx context.Context, u *metadata.Upload, number int, body io.Reader, size int64, sums func() ([]byte, map[string]string)) (*metadata.UploadPart, error) {
	if u.EC.DataShards != g.codec.DataShards() || u.EC.ParityShards != g.codec.ParityShards() || u.EC.BlockSize != g.codec.BlockSize() {
		return nil, s3api.Errorf(s3api.InvalidRequest, "The upload was created with other erasure parameters than this gateway's.")
	}
	pv := &metadata.Version{
		Bucket: u.Bucket, Key: u.Key, VersionID: metadata.PartStorageID(u.UploadID, number, randomHex(8)),
		HLC: g.clock.Now(), Size: size, EC: u.EC, Shards: append([]string(nil), u.Shards...),
	}
	if _, err := g.writeShards(ctx, pv, body); err != nil {
		return nil, err
	}
	sum, checksums := sums()
	if sum == nil {
		g.discardShards(pv)
		return nil, s3api.NewError(s3api.IncompleteBody)
	}
	hlc := g.clock.Now()
	p := &metadata.UploadPart{
		Part: metadata.Part{Number: number, Size: size, ETag: hexString(sum), StorageID: pv.VersionID},
		HLC:  hlc, ModTime: hlc.Time().UTC(), Checksums: checksums,
	}
	notFound, err := g.quorumDo(ctx, "put part "+u.UploadID, u.Shards, g.params.MetaWrite, func(ctx context.Context, cl transport.NodeClient) error {
		us, err := uploadStoreOf(cl)
		if err != nil {
			return err
		}
		return us.PutPart(ctx, u.Bucket, u.Key, u.UploadID, p)
	})
	if err != nil {
		g.discardShards(pv)
		if notFound > 0 {
			return nil, noSuchUpload(u.UploadID)
		}
		return nil, err
	}
	return p, nil
}

func (g *Gateway) uploadPart(c *gin.Context, bucket, key string) {
	r := c.Request
	ctx := r.Context()
	q := r.URL.Query()
	number, err := parsePartNumber(q.Get("partNumber"))
	if err != nil {
		g.fail(c, err)
		return
	}
	payload, err := c.MustGet(ctxAuth).(*s3api.Auth).BodyReader(r)
	if err != nil {
		g.fail(c, err)
		return
	}
	switch size := payload.Size(); {
	case size < 0:
		g.fail(c, s3api.NewError(s3api.MissingContentLength))
		return
	case size > s3api.MaxPartSize:
		g.fail(c, s3api.NewError(s3api.EntityTooLarge))
		return
	}
	u, err := g.readUpload(ctx, bucket, key, q.Get("uploadId"))
	if err != nil {
		g.fail(c, err)
		return
	}
	p, err := g.storePart(ctx, u, number, payload, payload.Size(), func() ([]byte, map[string]string) {
		return payload.MD5(), payload.Checksums()
	})
	if err != nil {
		g.fail(c, err)
		return
	}
	c.Header("ETag", `"`+p.ETag+`"`)
	for algo, sum := range p.Checksums {
		c.Header("x-amz-checksum-"+algo, sum)
	}
	c.Status(http.StatusOK)
}

func (g *Gateway) completeMultipart(c *gin.Context, bucket, key string) {
	r := c.Request
	ctx := r.Context()
	uploadID := r.URL.Query().Get("uploadId")
	payload, err := c.MustGet(ctxAuth).(*s3api.Auth).BodyReader(r)
	if err != nil {
		g.fail(c, err)
		return
	}
	var req s3api.CompleteMultipartUpload
	if err := s3api.DecodeXML(payload, maxXMLBody, &req); err != nil {
		g.fail(c, err)
		return
	}
	if err := req.Validate(); err != nil {
		g.fail(c, err)
		return
	}
	u, err := g.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		g.fail(c, err)
		return
	}
	cond, err := g.writeCondition(ctx, r.Header, bucket, key)
	if err != nil {
		g.fail(c, err)
		return
	}
	stored, err := g.readParts(ctx, u)
	if err != nil {
		g.fail(c, err)
		return
	}
	byNumber := make(map[int]metadata.UploadPart, len(stored))
	for _, p := range stored {
		byNumber[p.Number] = p
	}
	parts := make([]metadata.Part, 0, len(req.Parts))
	var total int64
	for i, cp := range req.Parts {
		p, ok := byNumber[cp.PartNumber]
		if !ok || strings.Trim(strings.TrimSpace(cp.ETag), `"`) != p.ETag {
			g.fail(c, s3api.NewError(s3api.InvalidPart))
			return
		}
		if i < len(req.Parts)-1 && p.Size < s3api.MinPartSize {
			g.fail(c, s3api.NewError(s3api.EntityTooSmall))
			return
		}
		total += p.Size
		parts = append(parts, p.Part)
	}
	if total > s3api.MaxMultipartObj {
		g.fail(c, s3api.NewError(s3api.EntityTooLarge))
		return
	}
	etag, err := multipartETag(parts)
	if err != nil {
		g.fail(c, err)
		return
	}
	hlc := g.clock.Now()
	v := &metadata.Version{
		Bucket: bucket, Key: key, VersionID: metadata.NewVersionID(hlc, g.origin), HLC: hlc,
		Size: total, ETag: etag, ContentType: u.ContentType, ModTime: hlc.Time().UTC(),
		UserMeta: u.UserMeta, Headers: u.Headers, Tags: u.Tags,
		EC: u.EC, Shards: u.Shards, Parts: parts,
	}
	if v.Versioning, err = g.bucketVersioning(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	if err := g.commitAs(ctx, v, nil, cond); err != nil {
		// The parts stay with the upload: the client may try again.
		g.fail(c, err)
		return
	}
	keep := make([]string, len(parts))
	for i, p := range parts {
		keep[i] = p.StorageID
	}
	// The version is committed; ending the upload everywhere is cleanup,
	// and a home that misses it drops the records at the cleaner's age.
	if _, err := g.quorumDo(ctx, "finish upload "+uploadID, u.Shards, g.params.MetaWrite, func(ctx context.Context, cl transport.NodeClient) error {
		us, err := uploadStoreOf(cl)
		if err != nil {
			return err
		}
		return us.FinishUpload(ctx, bucket, key, uploadID, keep)
	}); err != nil {
		g.log.Warn("finish upload", "upload", uploadID, "err", err)
	}
	loc := (&url.URL{Scheme: "http", Host: r.Host, Path: "/" + bucket + "/" + key}).String()
	setVersionHeaders(c.Writer.Header(), v)
	s3api.WriteXML(c.Writer, http.StatusOK, &s3api.CompleteMultipartUploadResult{Location: loc, Bucket: bucket, Key: key, ETag: `"` + etag + `"`})
}

func (g *Gateway) abortMultipart(c *gin.Context, bucket, key string) {
	ctx := c.Request.Context()
	uploadID := c.Request.URL.Query().Get("uploadId")
	u, err := g.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		g.fail(c, err)
		return
	}
	if _, err := g.quorumDo(ctx, "abort upload "+uploadID, u.Shards, g.params.MetaWrite, func(ctx context.Context, cl transport.NodeClient) error {
		us, err := uploadStoreOf(cl)
		if err != nil {
			return err
		}
		return us.FinishUpload(ctx, bucket, key, uploadID, nil)
	}); err != nil {
		g.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func parseMax(q url.Values, name string, def int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, s3api.Errorf(s3api.InvalidArgument, "Provided %s not an integer or within integer range", name)
	}
	return min(n, def), nil
}

func (g *Gateway) listParts(c *gin.Context, bucket, key string) {
	ctx := c.Request.Context()
	q := c.Request.URL.Query()
	u, err := g.readUpload(ctx, bucket, key, q.Get("uploadId"))
	if err != nil {
		g.fail(c, err)
		return
	}
	maxParts, err := parseMax(q, "max-parts", 1000)
	if err != nil {
		g.fail(c, err)
		return
	}
	marker := 0
	if s := q.Get("part-number-marker"); s != "" {
		if marker, err = strconv.Atoi(s); err != nil || marker < 0 {
			g.fail(c, s3api.Errorf(s3api.InvalidArgument, "Invalid part-number-marker"))
			return
		}
	}
	parts, err := g.readParts(ctx, u)
	if err != nil {
		g.fail(c, err)
		return
	}
	owner := g.owner(c)
	res := s3api.ListPartsResult{Bucket: bucket, Key: key, UploadID: u.UploadID, Initiator: owner, Owner: owner,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts}
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, s3api.PartInfo{PartNumber: p.Number, LastModified: s3api.Timestamp(p.ModTime), ETag: `"` + p.ETag + `"`, Size: p.Size})
		res.NextPartNumberMarker = p.Number
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &res)
}

// uploadStream pages through one node's upload records.
type uploadStream struct {
	us        transport.UploadStore
	req       transport.UploadListRequest
	buf       []metadata.Upload
	exhausted bool
	err       error
}

func (s *uploadStream) peek(ctx context.Context) *metadata.Upload {
	for len(s.buf) == 0 && !s.exhausted && s.err == nil {
		page, err := s.us.ListUploads(ctx, s.req)
		if err != nil {
			s.err = err
			return nil
		}
		s.buf, s.exhausted = page.Uploads, !page.Truncated
		if n := len(page.Uploads); n > 0 {
			s.req.KeyMarker, s.req.UploadIDMarker = page.Uploads[n-1].Key, page.Uploads[n-1].UploadID
		}
	}
	if len(s.buf) == 0 {
		return nil
	}
	return &s.buf[0]
}

func uploadLess(a, b *metadata.Upload) bool {
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	return a.UploadID < b.UploadID
}

func (g *Gateway) listMultipartUploads(c *gin.Context, bucket string) {
	ctx := c.Request.Context()
	q := c.Request.URL.Query()
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	maxUploads, err := parseMax(q, "max-uploads", 1000)
	if err != nil {
		g.fail(c, err)
		return
	}
	prefix, delimiter := q.Get("prefix"), q.Get("delimiter")
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	if keyMarker == "" {
		idMarker = ""
	}
	var streams []*uploadStream
	failed := 0
	for _, id := range g.allNodes() {
		cl, err := g.node(id)
		var us transport.UploadStore
		if err == nil {
			us, err = uploadStoreOf(cl)
		}
		if err != nil {
			failed++
			continue
		}
		streams = append(streams, &uploadStream{us: us, req: transport.UploadListRequest{Bucket: bucket, Prefix: prefix,
			KeyMarker: keyMarker, UploadIDMarker: idMarker, Limit: min(maxUploads+1, 1001)}})
	}
	owner := g.owner(c)
	res := s3api.ListMultipartUploadsResult{Bucket: bucket, KeyMarker: keyMarker, UploadIDMarker: idMarker,
		Prefix: prefix, Delimiter: delimiter, MaxUploads: maxUploads}
	lastPrefix := ""
	count := 0
	for maxUploads > 0 {
		var least *metadata.Upload
		var live []*uploadStream
		for _, s := range streams {
			u := s.peek(ctx)
			if s.err != nil {
				failed++
				continue
			}
			live = append(live, s)
			if u != nil && (least == nil || uploadLess(u, least)) {
				least = u
			}
		}
		streams = live
		if failed > g.cfg.ParityShards {
			g.fail(c, errUnavailable)
			return
		}
		if least == nil {
			break
		}
		cur := *least
		for _, s := range streams {
			if u := s.peek(ctx); u != nil && u.Key == cur.Key && u.UploadID == cur.UploadID {
				cur.Done = cur.Done || u.Done
				if cur.Created.IsZero() || (!u.Created.IsZero() && u.Created.Before(cur.Created)) {
					cur.Created = u.Created
				}
				s.buf = s.buf[1:]
			}
		}
		if cur.Done {
			continue
		}
		if delimiter != "" {
			if i := strings.Index(cur.Key[len(prefix):], delimiter); i >= 0 {
				p := cur.Key[:len(prefix)+i+len(delimiter)]
				if p == lastPrefix {
					continue
				}
				if count == maxUploads {
					res.IsTruncated = true
					break
				}
				count++
				lastPrefix = p
				res.CommonPrefixes = append(res.CommonPrefixes, s3api.CommonPrefix{Prefix: p})
				res.NextKeyMarker, res.NextUploadIDMarker = cur.Key, cur.UploadID
				continue
			}
		}
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		count++
		res.Uploads = append(res.Uploads, s3api.UploadInfo{Key: cur.Key, UploadID: cur.UploadID, Initiator: owner, Owner: owner,
			StorageClass: "STANDARD", Initiated: s3api.Timestamp(cur.Created)})
		res.NextKeyMarker, res.NextUploadIDMarker = cur.Key, cur.UploadID
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &res)
}

// openParts reads [start, start+length) of a multipart version, opening
// only the parts the range touches and, inside each, only its blocks.
func (g *Gateway) openParts(ctx context.Context, v *metadata.Version, start, length int64) (io.ReadCloser, error) {
	codec, err := g.codecFor(v.EC)
	if err != nil {
		return nil, err
	}
	pr := &partsReader{ctx: ctx, g: g, v: v, codec: codec, pos: start, end: start + length}
	// Open the first part now so an unreadable object fails before the
	// status line.
	if err := pr.advance(); err != nil {
		return nil, err
	}
	return pr, nil
}

type partsReader struct {
	ctx   context.Context
	g     *Gateway
	v     *metadata.Version
	codec *erasure.Codec
	pos   int64 // object offset of the next byte
	end   int64
	cur   io.ReadCloser
	left  int64 // bytes still to read from cur
}

// advance opens the part holding pos.
func (pr *partsReader) advance() error {
	if pr.cur != nil {
		pr.cur.Close()
		pr.cur = nil
	}
	if pr.pos >= pr.end {
		return nil
	}
	var off int64
	for _, p := range pr.v.Parts {
		if pr.pos < off+p.Size {
			in := pr.pos - off
			n := min(p.Size-in, pr.end-pr.pos)
			part := p
			open := func(shard int, so, sn int64) (io.ReadCloser, error) {
				if shard >= len(pr.v.Shards) {
					return nil, errUnavailable
				}
				cl, err := pr.g.node(pr.v.Shards[shard])
				if err != nil {
					return nil, err
				}
				return cl.ReadShard(pr.ctx, transport.ShardRef{Bucket: pr.v.Bucket, Key: pr.v.Key, VersionID: part.StorageID, Index: shard}, so, sn)
			}
			d, err := pr.codec.NewDecoder(p.Size, in, n, open, erasure.WithShardFailure(func(shard int, err error) {
				if errors.Is(err, erasure.ErrCorrupt) {
					pr.g.stats.CorruptShards.Add(1)
				} else {
					pr.g.stats.FailedShardReads.Add(1)
				}
			}))
			if err != nil {
				return err
			}
			pr.cur, pr.left = d, n
			return nil
		}
		off += p.Size
	}
	return io.ErrUnexpectedEOF // the parts are shorter than the version says
}

func (pr *partsReader) Read(b []byte) (int, error) {
	for {
		if pr.pos >= pr.end {
			return 0, io.EOF
		}
		if pr.cur == nil || pr.left == 0 {
			if err := pr.advance(); err != nil {
				return 0, err
			}
			continue
		}
		n, err := pr.cur.Read(b[:min(int64(len(b)), pr.left)])
		pr.pos += int64(n)
		pr.left -= int64(n)
		if err == io.EOF {
			if pr.left > 0 {
				return n, io.ErrUnexpectedEOF
			}
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (pr *partsReader) Close() error {
	if pr.cur != nil {
		return pr.cur.Close()
	}
	return nil
}

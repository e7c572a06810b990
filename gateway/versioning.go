package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/quorum"
	"cairn/transport"
)

// S3 versioning.
//
// A bucket's versioning state is a field of its bucket record, read with
// it and cached with it for bucketCacheTTL. Every record a write produces
// is stamped with the state the gateway saw (metadata.Version.Versioning),
// and the nodes keep or retire older versions by what the records say
// (node/versions.go). A gateway that cached "unversioned" a moment before
// another enabled versioning therefore writes null versions for up to the
// cache's lifetime — S3 documents the same lag, for up to 15 minutes.
//
// Deleting a version for good is a record too: a purge tombstone sent with
// the quorum rules of every write (PutVersion to the homes, hints for the
// homes that are down), so hinted handoff and write-back carry it.

// bucketVersioning returns a bucket's versioning state; NoSuchBucket when
// the bucket does not exist.
func (g *Gateway) bucketVersioning(ctx context.Context, name string) (metadata.Versioning, error) {
	if s, ok := g.buckets.state(name, g.cfg.Now()); ok {
		return s, nil
	}
	if err := g.requireBucket(ctx, name); err != nil {
		return 0, err
	}
	s, _ := g.buckets.state(name, g.cfg.Now())
	return s, nil
}

// serveVersioning answers PUT/GET ?versioning and GET ?versions. It reports
// whether it answered.
func (g *Gateway) serveVersioning(c *gin.Context, bucket string, q map[string][]string) bool {
	r := c.Request
	_, versioning := q["versioning"]
	_, versions := q["versions"]
	switch {
	case versioning && r.Method == http.MethodPut:
		g.putBucketVersioning(c, bucket)
	case versioning && r.Method == http.MethodGet:
		g.getBucketVersioning(c, bucket)
	case versions && r.Method == http.MethodGet:
		g.listObjectVersions(c, bucket)
	default:
		return false
	}
	return true
}

func (g *Gateway) putBucketVersioning(c *gin.Context, name string) {
	ctx := c.Request.Context()
	body, err := readXMLBody(c)
	if err != nil {
		g.fail(c, err)
		return
	}
	cfg, err := s3api.DecodeVersioningConfiguration(body)
	if err != nil {
		g.fail(c, err)
		return
	}
	state, _ := metadata.ParseVersioning(cfg.Status)
	if err := g.updateBucket(ctx, name, func(b *metadata.Bucket) { b.Versioning = state }); err != nil {
		g.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}

func (g *Gateway) getBucketVersioning(c *gin.Context, name string) {
	b, err := g.readBucket(c.Request.Context(), name)
	if err != nil {
		g.fail(c, err)
		return
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &s3api.VersioningConfiguration{Status: b.Versioning.String()})
}

// setVersionHeaders adds x-amz-version-id for a version of a bucket that
// is or was versioned; buckets never versioned get none, as in S3.
func setVersionHeaders(h http.Header, v *metadata.Version) {
	if v.Versioning != metadata.Unversioned {
		h.Set("x-amz-version-id", v.S3VersionID())
	}
	if v.IsDeleteMarker() {
		h.Set("x-amz-delete-marker", "true")
	}
}

// validVersionID rejects version IDs no version can have.
func validVersionID(id string) error {
	if id == metadata.NullVersionID {
		return nil
	}
	if _, err := metadata.ParseVersionID(id); err != nil {
		return s3api.Errorf(s3api.InvalidArgument, "Invalid version id specified")
	}
	return nil
}

// readVersionByID reads one version of a key from a metadata read quorum
// of its homes: nil when no home has it or any home says it was deleted
// for good. The second result holds the records by node, for inline reads.
func (g *Gateway) readVersionByID(ctx context.Context, bucket, key, versionID string) (*metadata.Version, map[string]*metadata.Version, error) {
	homes, err := g.homes(bucket, key)
	if err != nil {
		return nil, nil, err
	}
	okey := metadata.ObjectKey{Bucket: bucket, Key: key}
	answers := fanout(ctx, g, homes, func(ctx context.Context, c transport.NodeClient) (*metadata.Version, error) {
		vs, ok := c.(transport.VersionStore)
		if !ok {
			return nil, fmt.Errorf("%w: node cannot keep versions", errUnavailable)
		}
		return vs.GetVersionByID(ctx, okey, versionID)
	})
	t := quorum.NewTally("read version "+okey.String()+"@"+versionID, g.params.MetaRead, len(homes))
	byNode := make(map[string]*metadata.Version)
	for !t.Done() {
		a := <-answers
		switch {
		case a.err == nil:
			byNode[a.node] = a.val
			t.Add(quorum.Result{Node: a.node})
		case errors.Is(a.err, transport.ErrNotFound):
			t.Add(quorum.Result{Node: a.node})
		default:
			t.Add(quorum.Result{Node: a.node, Err: a.err})
		}
	}
	if err := t.Err(); err != nil {
		return nil, nil, err
	}
	// For "null", homes may name different null versions while a
	// replacement is in flight: the newest decides, and a purge of it
	// anywhere means it is gone.
	var best *metadata.Version
	for _, v := range byNode {
		if best == nil || metadata.CompareVersions(v, best) < 0 || v.VersionID == best.VersionID && (v.IsPurged() || v.MetaHLC > best.MetaHLC && !best.IsPurged()) {
			best = v
		}
	}
	if best == nil {
		return nil, nil, nil
	}
	for _, v := range byNode {
		if v.VersionID == best.VersionID && v.IsPurged() {
			return nil, nil, nil
		}
	}
	return best, byNode, nil
}

// readObjectVersion returns the version a GET, HEAD or copy source names:
// the latest live one when versionID is empty. A delete marker is
// NoSuchKey when it is the latest and MethodNotAllowed when named; either
// way the marker comes back too, for its headers.
func (g *Gateway) readObjectVersion(ctx context.Context, bucket, key, versionID string) (*metadata.Version, map[string]*metadata.Version, error) {
	res := "/" + bucket + "/" + key
	if versionID == "" {
		v, byNode, err := g.readNewest(ctx, bucket, key)
		if err != nil {
			return nil, nil, err
		}
		if v == nil || v.Deleted {
			return v, nil, &s3api.Error{Code: s3api.NoSuchKey, Resource: res}
		}
		return v, byNode, nil
	}
	if err := validVersionID(versionID); err != nil {
		return nil, nil, err
	}
	v, byNode, err := g.readVersionByID(ctx, bucket, key, versionID)
	if err != nil {
		return nil, nil, err
	}
	if v == nil || v.Deleted && !v.IsDeleteMarker() {
		return nil, nil, &s3api.Error{Code: s3api.NoSuchVersion, Resource: res}
	}
	if v.Deleted {
		return v, nil, &s3api.Error{Code: s3api.MethodNotAllowed, Resource: res}
	}
	return v, byNode, nil
}

// getObjectVersion answers GET or HEAD with ?versionId.
func (g *Gateway) getObjectVersion(c *gin.Context, bucket, key, versionID string, head bool) {
	ctx := c.Request.Context()
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	v, byNode, err := g.readObjectVersion(ctx, bucket, key, versionID)
	if err != nil {
		g.failVersion(c, v, err)
		return
	}
	// Asked by ID, the answer names it, even for a bucket never versioned.
	c.Header("x-amz-version-id", v.S3VersionID())
	if err := g.serveVersion(c, v, byNode, head); err != nil {
		g.fail(c, err)
	}
}

// failVersion sends err with the headers of the delete marker v, if it is
// one, as S3 does.
func (g *Gateway) failVersion(c *gin.Context, v *metadata.Version, err error) {
	if v != nil && v.IsDeleteMarker() {
		h := c.Writer.Header()
		setVersionHeaders(h, v)
		h.Set("Last-Modified", v.ModTime.UTC().Format(http.TimeFormat))
	}
	g.fail(c, err)
}

// deleteObjectAs answers DELETE of a key: with a version ID, that version
// goes for good; without, a versioned bucket gets a delete marker.
func (g *Gateway) deleteObjectAs(c *gin.Context, bucket, key string) {
	ctx := c.Request.Context()
	versionID, byID := c.GetQuery("versionId")
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	var (
		v   *metadata.Version
		err error
	)
	if byID {
		if err = validVersionID(versionID); err == nil {
			v, err = g.purge(ctx, bucket, key, versionID)
		}
		if v == nil {
			v = &metadata.Version{VersionID: versionID}
		}
	} else {
		v, err = g.deleteKeyVersioned(ctx, bucket, key)
	}
	if err != nil {
		g.fail(c, err)
		return
	}
	setVersionHeaders(c.Writer.Header(), v)
	if byID {
		c.Header("x-amz-version-id", versionID)
	}
	c.Status(http.StatusNoContent)
}

// deleteKeyVersioned deletes a key as its bucket's versioning says: a
// plain tombstone, a delete marker, or a null delete marker. It returns
// the record written.
func (g *Gateway) deleteKeyVersioned(ctx context.Context, bucket, key string) (*metadata.Version, error) {
	state, err := g.bucketVersioning(ctx, bucket)
	if err != nil {
		return nil, err
	}
	homes, err := g.homes(bucket, key)
	if err != nil {
		return nil, err
	}
	// The tombstone must order after the newest version, whatever this
	// gateway's clock says.
	if err := g.stampVersion(&metadata.Version{}, g.latestHLC(ctx, bucket, key)); err != nil {
		return nil, err
	}
	hlc := g.clock.Now()
	tomb := &metadata.Version{Bucket: bucket, Key: key, VersionID: metadata.NewVersionID(hlc, g.origin), HLC: hlc,
		Deleted: true, ModTime: hlc.Time().UTC(), Shards: homes, Versioning: state}
	if _, err := g.commitVersion(ctx, tomb, nil); err != nil {
		return nil, err
	}
	return tomb, nil
}

// purge deletes one version of a key for good: a purge tombstone goes to
// the homes like any record. It returns the version deleted, or nil when
// no home had it (S3 answers 204 all the same).
func (g *Gateway) purge(ctx context.Context, bucket, key, versionID string) (*metadata.Version, error) {
	target, _, err := g.readVersionByID(ctx, bucket, key, versionID)
	if err != nil || target == nil {
		return nil, err
	}
	// The purge must order after the key's current record, so that the
	// version that becomes current again wins over stale copies.
	if err := g.stampVersion(&metadata.Version{}, g.latestHLC(ctx, bucket, key)); err != nil {
		return nil, err
	}
	if err := g.clock.Update(target.HLC); err != nil {
		return nil, err
	}
	homes, err := g.homes(bucket, key)
	if err != nil {
		return nil, err
	}
	p := &metadata.Version{Bucket: bucket, Key: key, VersionID: target.VersionID, HLC: target.SlotHLC(),
		Versioning: target.Versioning, Deleted: target.Deleted, ModTime: target.ModTime, Shards: homes, Purged: g.clock.Now()}
	if _, err := g.commitVersion(ctx, p, nil); err != nil {
		return nil, err
	}
	return target, nil
}

// versionStream pages through one node's version listing.
type versionStream struct {
	node      string
	client    transport.VersionStore
	req       transport.VersionListRequest
	buf       []*metadata.Version
	exhausted bool
	err       error
}

func (s *versionStream) peek(ctx context.Context) *metadata.Version {
	for len(s.buf) == 0 && !s.exhausted && s.err == nil {
		page, err := s.client.ListVersions(ctx, s.req)
		if err != nil {
			s.err = fmt.Errorf("list versions on node %s: %w", s.node, err)
			return nil
		}
		s.buf = page.Versions
		s.exhausted = !page.Truncated
		if n := len(page.Versions); n > 0 {
			last := page.Versions[n-1]
			s.req.KeyMarker, s.req.VersionIDMarker, s.req.MarkerHLC = last.Key, last.VersionID, last.SlotHLC()
		}
	}
	if len(s.buf) == 0 {
		return nil
	}
	return s.buf[0]
}

// skipPrefix drops every version whose key starts with p.
func (s *versionStream) skipPrefix(p string) {
	for len(s.buf) > 0 && strings.HasPrefix(s.buf[0].Key, p) {
		s.buf = s.buf[1:]
	}
	if len(s.buf) == 0 && afterPrefix(p) > s.req.From {
		s.req.From = afterPrefix(p)
	}
}

func sameSlot(a, b *metadata.Version) bool {
	return a.Key == b.Key && a.VersionID == b.VersionID && a.SlotHLC() == b.SlotHLC()
}

func versionBefore(a, b *metadata.Version) bool {
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	return metadata.CompareVersions(a, b) < 0
}

// versionMerger merges the nodes' version listings: copies of one version
// on several nodes become one, a purge tombstone anywhere drops it, and of
// a key's null versions only the newest counts.
type versionMerger struct {
	streams   []*versionStream
	tolerated int
	failed    []error
	lastKey   string
	nullSeen  bool
}

func (m *versionMerger) check() error {
	var live []*versionStream
	for _, s := range m.streams {
		if s.err != nil {
			m.failed = append(m.failed, s.err)
			continue
		}
		live = append(live, s)
	}
	m.streams = live
	if len(m.failed) > m.tolerated {
		return fmt.Errorf("%w: %d nodes failed listing versions: %v", errUnavailable, len(m.failed), m.failed)
	}
	return nil
}

// next returns the next version to list and whether it is the first
// record of its key (the key's current record), or nil at the end.
func (m *versionMerger) next(ctx context.Context) (*metadata.Version, bool, error) {
	for {
		var head *metadata.Version
		for _, s := range m.streams {
			if e := s.peek(ctx); e != nil && (head == nil || versionBefore(e, head)) {
				head = e
			}
		}
		if err := m.check(); err != nil {
			return nil, false, err
		}
		if head == nil {
			return nil, false, nil
		}
		best, purged := head, false
		for _, s := range m.streams {
			if e := s.peek(ctx); e != nil && sameSlot(e, head) {
				purged = purged || e.IsPurged()
				if e.MetaHLC > best.MetaHLC {
					best = e
				}
				s.buf = s.buf[1:]
			}
		}
		if purged {
			continue
		}
		first := best.Key != m.lastKey
		if first {
			m.lastKey, m.nullSeen = best.Key, false
		}
		if best.IsNull() {
			if m.nullSeen {
				continue // replaced by a newer null version
			}
			m.nullSeen = true
		}
		if !best.Retained() {
			continue // a plain tombstone: it only hides older null versions
		}
		return best, first, nil
	}
}

func (m *versionMerger) skipPrefix(p string) {
	for _, s := range m.streams {
		s.skipPrefix(p)
	}
}

func (g *Gateway) listObjectVersions(c *gin.Context, bucket string) {
	r := c.Request
	ctx := r.Context()
	q := r.URL.Query()
	maxKeys, prefix, delimiter, encodingType, err := g.listArgs(ctx, bucket, q)
	if err != nil {
		g.fail(c, err)
		return
	}
	keyMarker, vidMarker := q.Get("key-marker"), q.Get("version-id-marker")
	if vidMarker != "" && keyMarker == "" {
		g.fail(c, s3api.Errorf(s3api.InvalidArgument, "A version-id marker cannot be specified without a key marker."))
		return
	}
	base := transport.VersionListRequest{Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, Limit: min(maxKeys+1, maxListKeys+1)}
	midKey := false // the page starts inside a key's versions
	if vidMarker != "" {
		if err := validVersionID(vidMarker); err != nil {
			g.fail(c, err)
			return
		}
		// Markers name versions by ID; nodes place them by slot HLC.
		mv, _, err := g.readVersionByID(ctx, bucket, keyMarker, vidMarker)
		switch {
		case err != nil:
			g.fail(c, err)
			return
		case mv != nil:
			base.VersionIDMarker, base.MarkerHLC = mv.VersionID, mv.SlotHLC()
		case vidMarker == metadata.NullVersionID:
			base.KeyMarker = keyMarker // the null version is gone: resume after the key
		default:
			// Deleted meanwhile: its ID still says about where it was.
			h, _ := metadata.ParseVersionID(vidMarker)
			base.VersionIDMarker, base.MarkerHLC = vidMarker, h
		}
		midKey = base.VersionIDMarker != ""
	}
	m := &versionMerger{tolerated: g.cfg.ParityShards}
	for _, id := range g.allNodes() {
		s := &versionStream{node: id, req: base}
		cl, err := g.node(id)
		if err == nil {
			vs, ok := cl.(transport.VersionStore)
			if !ok {
				err = fmt.Errorf("%w: node %s cannot keep versions", errUnavailable, id)
			}
			s.client = vs
		}
		s.err = err
		m.streams = append(m.streams, s)
	}
	if err := m.check(); err != nil {
		g.fail(c, err)
		return
	}
	if midKey {
		m.lastKey = keyMarker
	}
	res := s3api.ListVersionsResult{Name: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIDMarker: vidMarker,
		MaxKeys: maxKeys, Delimiter: delimiter}
	owner := g.owner(c)
	count := 0
	for maxKeys > 0 {
		v, first, err := m.next(ctx)
		if err != nil {
			g.fail(c, err)
			return
		}
		if v == nil {
			break
		}
		if delimiter != "" {
			if i := strings.Index(v.Key[len(prefix):], delimiter); i >= 0 {
				cp := v.Key[:len(prefix)+i+len(delimiter)]
				m.skipPrefix(cp)
				if cp <= keyMarker {
					continue // the page before ended inside this prefix
				}
				if count == maxKeys {
					res.IsTruncated = true
					break
				}
				count++
				res.CommonPrefixes = append(res.CommonPrefixes, s3api.CommonPrefix{Prefix: cp})
				res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
				continue
			}
		}
		if count == maxKeys {
			res.IsTruncated = true
			break
		}
		count++
		e := s3api.NewVersionEntry(v.Deleted)
		e.Key, e.VersionID, e.IsLatest, e.LastModified = v.Key, v.S3VersionID(), first, s3api.Timestamp(v.ModTime)
		e.Owner = &owner
		if !v.Deleted {
			size := v.Size
			e.ETag, e.Size = s3api.QuoteETag(v.ETag), &size
		}
		res.Entries = append(res.Entries, e)
		res.NextKeyMarker, res.NextVersionIDMarker = v.Key, v.S3VersionID()
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	if encodingType != "" {
		res.EncodeURL()
	}
	s3api.WriteXML(c.Writer, http.StatusOK, &res)
}

package gateway

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
)

const maxListKeys = 1000

// afterPrefix is an exclusive lower bound that skips every key beginning
// with p: keys are valid UTF-8, which never contains the byte 0xff.
func afterPrefix(p string) string { return p + "\xff" }

// nodeStream pages through one node's listing. With a delimiter and a node
// that collapses common prefixes (transport.PrefixLister), the stream holds
// Prefix entries whose Key is rewritten to afterPrefix(prefix), so that they
// sort after every key under the prefix and the merge compares keys only.
type nodeStream struct {
	node      string
	client    transport.NodeClient
	prefixes  transport.PrefixLister // nil: plain List
	req       transport.ListRequest
	delimiter string
	buf       []metadata.ListEntry
	exhausted bool
	err       error
	// last is the key of the last real entry taken from the stream: after a
	// Prefix entry, the node's witness for that prefix.
	last string
}

func (s *nodeStream) needsFill() bool { return len(s.buf) == 0 && !s.exhausted && s.err == nil }

// fill fetches the stream's next page.
func (s *nodeStream) fill(ctx context.Context) {
	var page *transport.ListPage
	var err error
	if s.prefixes != nil {
		page, err = s.prefixes.ListPrefixes(ctx, transport.PrefixListRequest{ListRequest: s.req, Delimiter: s.delimiter})
	} else {
		page, err = s.client.List(ctx, s.req)
	}
	if err != nil {
		s.err = fmt.Errorf("list on node %s: %w", s.node, err)
		return
	}
	for i := range page.Entries {
		if e := &page.Entries[i]; e.Prefix {
			e.Key = afterPrefix(e.Key)
		}
	}
	s.buf = page.Entries
	s.exhausted = !page.Truncated
	if n := len(page.Entries); n > 0 {
		s.req.After = page.Entries[n-1].Key
	}
}

func (s *nodeStream) peek() *metadata.ListEntry {
	if len(s.buf) == 0 {
		return nil
	}
	return &s.buf[0]
}

// take drops the head entry.
func (s *nodeStream) take() {
	if !s.buf[0].Prefix {
		s.last = s.buf[0].Key
	}
	s.buf = s.buf[1:]
}

// seek drops everything up to and including after.
func (s *nodeStream) seek(after string) {
	for len(s.buf) > 0 && s.buf[0].Key <= after {
		s.take()
	}
	if len(s.buf) == 0 && after > s.req.After {
		s.req.After = after
	}
}

// expand replaces a Prefix entry at the head by what the node skipped: the
// keys under the prefix after its witness, which the merge needs because
// the witness turned out deleted or another node reports later keys under
// the prefix that this node may hold newer records of.
//
// No key after the witness has been resolved yet: the first one would have
// expanded the stream. pos, the merge's position, only guards that.
func (s *nodeStream) expand(pos string) {
	s.buf, s.exhausted = nil, false
	s.req.After = max(s.last, pos)
}

// merger merges the nodes' sorted listings into one stream of live keys:
// for each key the newest record by HLC decides, so a tombstone on any
// node that saw the delete hides copies on nodes that missed it.
//
// With a delimiter, a node that collapses a common prefix P has sent its
// records under P up to its first live key (its witness) and a Prefix
// entry, and skipped the rest of P. Its witness is live only as far as it
// knows: another node may hold a newer tombstone (or a newer version) for
// it, so the merge resolves every key under P as any other, and a key under
// P is resolved only when no stream has skipped it. When the next key to
// resolve lies after some stream's witness (that stream's head is P's
// Prefix entry), the stream is expanded, asking its node for the keys after
// its witness. In the usual case every node's witness is the same first
// live key of P: it resolves live, the gateway emits P and seeks every
// stream past P, and P has cost two entries per node whatever lies under it.
type merger struct {
	g         *Gateway
	streams   []*nodeStream
	spares    []string // nodes to read instead of streams that fail
	bucket    string
	prefix    string
	delimiter string
	pageSize  int
	// pos is the merge's position: every key up to it is resolved.
	pos       string
	tolerated int // streams that may fail before the listing does
	failed    []error
}

// listRotor spreads listings over the nodes when a read quorum of them
// suffices.
var listRotor atomic.Uint64

// listNodes returns the nodes a listing reads and the spares it reads
// instead of nodes that fail. When every node is a home of every placement
// group (as many Active nodes as k+m), every committed record is on a
// metadata write quorum of them, so any read quorum (MetaRead = m+1) meets
// it: the listing reads that many, live ones first, which halves the work of
// a 4+2 cluster's listing. Otherwise it reads every node.
func (g *Gateway) listNodes() (read, spares []string) {
	ids := g.allNodes()
	all := len(ids) != g.params.N() || g.params.MetaRead <= 0 || g.params.MetaRead >= len(ids)
	for _, n := range g.layout().Nodes {
		all = all || n.State != placement.Active
	}
	if all {
		return ids, nil
	}
	r := int(listRotor.Add(1) % uint64(len(ids)))
	ids = append(ids[r:], ids[:r]...)
	var live, down []string
	for _, id := range ids {
		if g.alive(id) {
			live = append(live, id)
		} else {
			down = append(down, id)
		}
	}
	ids = append(live, down...)
	return ids[:g.params.MetaRead], ids[g.params.MetaRead:]
}

func (g *Gateway) newMerger(bucket, prefix, delimiter, after string, pageSize int) *merger {
	m := &merger{g: g, bucket: bucket, prefix: prefix, delimiter: delimiter, pageSize: pageSize, pos: after,
		tolerated: g.cfg.ParityShards}
	read, spares := g.listNodes()
	m.spares = spares
	for _, id := range read {
		m.streams = append(m.streams, m.stream(id, after))
	}
	return m
}

// stream starts reading node id's listing after after.
func (m *merger) stream(id, after string) *nodeStream {
	s := &nodeStream{node: id, delimiter: m.delimiter,
		req: transport.ListRequest{Bucket: m.bucket, Prefix: m.prefix, After: after, Limit: m.pageSize}}
	c, err := m.g.node(id)
	if err != nil {
		s.err = err
	}
	s.client = c
	if pl, ok := c.(transport.PrefixLister); ok && m.delimiter != "" {
		s.prefixes = pl
	}
	return s
}

// fill fetches the next page of every stream that has run dry, all at once:
// a page's latency is one node round trip, not one per node.
func (m *merger) fill(ctx context.Context) {
	var dry []*nodeStream
	for _, s := range m.streams {
		if s.needsFill() {
			dry = append(dry, s)
		}
	}
	if len(dry) == 1 {
		dry[0].fill(ctx)
		return
	}
	var wg sync.WaitGroup
	for _, s := range dry {
		wg.Go(func() { s.fill(ctx) })
	}
	wg.Wait()
}

// check drops the streams that failed and puts spares in their place,
// reading from the merge's position, so that a listing reading a quorum
// keeps one. It fails once more than m nodes have failed.
func (m *merger) check(ctx context.Context) error {
	for {
		var live []*nodeStream
		replace := 0
		for _, s := range m.streams {
			if s.err != nil {
				m.failed = append(m.failed, s.err)
				replace++
				continue
			}
			live = append(live, s)
		}
		m.streams = live
		if len(m.failed) > m.tolerated {
			return fmt.Errorf("%w: %d nodes failed listing: %v", errUnavailable, len(m.failed), m.failed)
		}
		if replace == 0 || len(m.spares) == 0 {
			return nil
		}
		var fresh []*nodeStream
		for ; replace > 0 && len(m.spares) > 0; replace-- {
			s := m.stream(m.spares[0], m.pos)
			m.spares = m.spares[1:]
			m.streams = append(m.streams, s)
			fresh = append(fresh, s)
		}
		var wg sync.WaitGroup
		for _, s := range fresh {
			if s.needsFill() {
				wg.Go(func() { s.fill(ctx) })
			}
		}
		wg.Wait()
	}
}

// commonPrefix returns the common prefix key falls under, or "".
func (m *merger) commonPrefix(key string) string {
	if m.delimiter == "" || !strings.HasPrefix(key, m.prefix) {
		return ""
	}
	if i := strings.Index(key[len(m.prefix):], m.delimiter); i >= 0 {
		return key[:len(m.prefix)+i+len(m.delimiter)]
	}
	return ""
}

// next returns the next live key, or nil at the end.
func (m *merger) next(ctx context.Context) (*metadata.ListEntry, error) {
	for {
		m.fill(ctx)
		if err := m.check(ctx); err != nil {
			return nil, err
		}
		var min *metadata.ListEntry
		for _, s := range m.streams {
			if e := s.peek(); e != nil && (min == nil || e.Key < min.Key) {
				min = e
			}
		}
		if min == nil {
			return nil, nil
		}
		// The Prefix entry that streams which skipped min hold at their head.
		skipped := ""
		if min.Prefix {
			// Every key any node sent under this prefix is deleted.
			skipped = min.Key
		} else if p := m.commonPrefix(min.Key); p != "" {
			skipped = afterPrefix(p)
		}
		expanded := false
		for _, s := range m.streams {
			if e := s.peek(); skipped != "" && e != nil && e.Prefix && e.Key == skipped {
				s.expand(m.pos)
				expanded = true
			}
		}
		if expanded {
			continue
		}
		key := min.Key
		var winner metadata.ListEntry
		found := false
		for _, s := range m.streams {
			if e := s.peek(); e != nil && e.Key == key {
				if !found || cmp.Or(cmp.Compare(e.HLC, winner.HLC), cmp.Compare(winner.VersionID, e.VersionID)) > 0 {
					winner, found = *e, true
				}
				s.take()
			}
		}
		m.pos = max(m.pos, key)
		if !winner.Deleted {
			return &winner, nil
		}
	}
}

func (m *merger) seek(after string) {
	m.pos = max(m.pos, after)
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
	m := g.newMerger(bucket, prefix, delimiter, after, min(maxKeys+1, maxListKeys+1))
	if err := m.check(ctx); err != nil {
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

// listArgs checks the bucket and the query parameters every listing takes.
func (g *Gateway) listArgs(ctx context.Context, bucket string, q url.Values) (maxKeys int, prefix, delimiter, encodingType string, err error) {
	if err := g.requireBucket(ctx, bucket); err != nil {
		return 0, "", "", "", err
	}
	if maxKeys, err = parseMaxKeys(q); err != nil {
		return 0, "", "", "", err
	}
	encodingType = q.Get("encoding-type")
	if err := s3api.CheckEncodingType(encodingType); err != nil {
		return 0, "", "", "", err
	}
	return maxKeys, q.Get("prefix"), q.Get("delimiter"), encodingType, nil
}

func (g *Gateway) listObjects(c *gin.Context, bucket string) {
	r := c.Request
	ctx := r.Context()
	q := r.URL.Query()
	maxKeys, prefix, delimiter, encodingType, err := g.listArgs(ctx, bucket, q)
	if err != nil {
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
		writeListV2(c.Writer, &res)
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

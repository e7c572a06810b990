package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"cairn/erasure"
	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/placement"
	"cairn/quorum"
	"cairn/transport"
)

// firstBytes is how much of a GET body is decoded before the status line
// is sent, so that a read that cannot succeed still gets a proper error.
const firstBytes = 64 << 10

// readNewest returns the newest record of a key, tombstones included (nil
// when no home has one), from a metadata read quorum of its homes, and the
// records that arrived with it by node.
func (g *Gateway) readNewest(ctx context.Context, bucket, key string) (*metadata.Version, map[string]*metadata.Version, error) {
	return g.readNewestOf(ctx, bucket, key, g.params.MetaRead)
}

// errUnsettled: a read found only writes still in flight; see readNewestOf.
var errUnsettled = fmt.Errorf("%w: only writes still in flight were found", errUnavailable)

// readNewestOf is readNewest waiting for need answers.
func (g *Gateway) readNewestOf(ctx context.Context, bucket, key string, need int) (*metadata.Version, map[string]*metadata.Version, error) {
	for wait := 5 * time.Millisecond; ; wait *= 2 {
		v, byNode, err := g.readNewestOnce(ctx, bucket, key, need)
		if !errors.Is(err, errUnsettled) || wait > time.Second {
			return v, byNode, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (g *Gateway) readNewestOnce(ctx context.Context, bucket, key string, need int) (*metadata.Version, map[string]*metadata.Version, error) {
	plan, err := placement.Place(g.layout(), bucket, key, g.codec.TotalShards())
	if err != nil {
		return nil, nil, err
	}
	homes := make([]string, len(plan.Homes))
	for i, id := range plan.Homes {
		homes[i] = string(id)
	}
	okey := metadata.ObjectKey{Bucket: bucket, Key: key}
	var get recordGetter = func(ctx context.Context, c transport.NodeClient) (*metadata.Version, error) {
		if br, ok := c.(transport.BatchReader); ok {
			return g.readRecord(ctx, br, okey)
		}
		return c.GetVersion(ctx, okey)
	}
	if pf := prefetchOf(ctx); pf != nil {
		get = pf.getVersion(okey, get)
	}
	// The read asks a write quorum of homes first, the rest only when one
	// of those fails, is slow, or disagrees: four answers that agree are
	// all a read needs (see below), and on a machine with few cores six
	// parallel requests cost half as much again as four.
	answers := make(chan answer[*metadata.Version], len(homes))
	first, rest := g.readOrder(homes, max(need, g.params.MetaWrite))
	launched := len(first)
	fanoutInto(ctx, g, first, answers, get)
	expand := func() {
		if len(rest) == 0 {
			return
		}
		fanoutInto(ctx, g, rest, answers, get)
		launched, rest = launched+len(rest), nil
	}
	hedge := time.NewTimer(g.lat.hedgeAfter())
	defer hedge.Stop()
	// A definite "no such key" counts toward the quorum like a record.
	t := quorum.NewTally("read "+okey.String(), need, len(homes))
	byNode := make(map[string]*metadata.Version)
	absent := make(map[string]bool) // homes that said they have no record
	var newest *metadata.Version
	for !t.Done() {
		var a answer[*metadata.Version]
		select {
		case a = <-answers:
		case <-hedge.C:
			expand()
			continue
		}
		if a.err != nil && !errors.Is(a.err, transport.ErrNotFound) {
			expand()
		}
		switch {
		case a.err == nil:
			t.Add(quorum.Result{Node: a.node})
			byNode[a.node] = a.val
			if newest == nil || a.val.Newer(newest) ||
				(a.val.VersionID == newest.VersionID && a.val.MetaHLC > newest.MetaHLC) {
				newest = a.val
			}
		case errors.Is(a.err, transport.ErrNotFound):
			t.Add(quorum.Result{Node: a.node})
			absent[a.node] = true
		default:
			t.Add(quorum.Result{Node: a.node, Err: a.err})
		}
	}
	if err := t.Err(); err != nil {
		return nil, nil, err
	}
	received := t.Succeeded() + t.Failed() // answers taken off the channel
	// await takes further answers until cond holds, every home answered,
	// or the wait ends. A wait that runs out while homes are still unasked
	// asks them and starts over, once: one slow home must not leave the
	// read short of agreeing answers, which would write the record back and
	// read the slow home's shard. (Asking them at the hedge timer instead
	// cost 2-4 % of small GETs under load, for the extra requests.)
	await := func(wait time.Duration, cond func() bool) {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for received < len(homes) && !cond() {
			if received == launched {
				expand() // what was asked is in and not enough
			}
			select {
			case a := <-answers:
				received++
				if a.err == nil {
					byNode[a.node] = a.val
				} else if errors.Is(a.err, transport.ErrNotFound) {
					absent[a.node] = true
				}
			case <-timer.C:
				if launched == len(homes) {
					return
				}
				expand()
				timer.Reset(wait)
			}
		}
	}
	// What this read returns must already be on a write quorum, or a later
	// read could miss it (a write still in flight, or one that failed after
	// reaching a few homes). Usually the remaining answers show it is; when
	// they don't, write the record back first.
	excluded := map[string]bool{}
	for {
		newest = newestOf(byNode, excluded)
		if newest == nil && len(excluded) > 0 {
			// Every record found was an inline write still short of k
			// homes; what they replace is no longer any home's current
			// record. The writes land within moments: ask again.
			return nil, nil, errUnsettled
		}
		if newest == nil {
			return nil, byNode, nil
		}
		agree := func() int { return agreeing(byNode, newest) }
		changed := func() bool { return !sameRecord(newestOf(byNode, excluded), newest) }
		if agree() < g.params.MetaWrite {
			await(settleWait, func() bool { return agree() >= g.params.MetaWrite || changed() })
			if changed() {
				continue // a newer record arrived
			}
		}
		n := agree()
		if n >= g.params.MetaWrite {
			return newest, byNode, nil
		}
		err := g.writeBack(ctx, newest, byNode, homes, n)
		if err == nil {
			return newest, byNode, nil
		}
		if !errors.Is(err, erasure.ErrTooFewShards) {
			return nil, nil, err
		}
		// Fewer than k fragments of an inline record could be found. If
		// enough homes answered without it that it can never have k, it is
		// a write still in flight or one that failed: no read can have
		// returned it, so it is not visible yet, and the read answers with
		// what came before it. Otherwise homes are merely unreachable.
		await(stallTimeout, func() bool { return false })
		lacking := 0
		for _, id := range homes {
			if v, ok := byNode[id]; (ok && v.VersionID != newest.VersionID) || absent[id] {
				lacking++
			}
		}
		if len(homes)-lacking >= g.codec.DataShards() {
			// Homes that answered with it may have given its fragment up
			// since, to a newer write, or be unreachable: either way the
			// answers are already stale. Read again; readNewestOf gives up
			// after about a second.
			return nil, nil, fmt.Errorf("%w: %w", errUnsettled, err)
		}
		excluded[newest.VersionID] = true
	}
}

// newestOf returns the newest record in byNode whose version is not
// excluded, by HLC and then by tag changes; nil if none.
func newestOf(byNode map[string]*metadata.Version, excluded map[string]bool) *metadata.Version {
	var best *metadata.Version
	for _, v := range byNode {
		if excluded[v.VersionID] {
			continue
		}
		if best == nil || v.Newer(best) || (v.VersionID == best.VersionID && v.MetaHLC > best.MetaHLC) {
			best = v
		}
	}
	return best
}

func sameRecord(a, b *metadata.Version) bool {
	return a != nil && b != nil && a.VersionID == b.VersionID && a.MetaHLC == b.MetaHLC
}

// agreeing counts the records in byNode that are v, tags and all.
func agreeing(byNode map[string]*metadata.Version, v *metadata.Version) int {
	n := 0
	for _, w := range byNode {
		if sameRecord(w, v) {
			n++
		}
	}
	return n
}

// settleWait is how long a read waits for answers beyond its quorum before
// it writes the newest record back itself.
const settleWait = 20 * time.Millisecond

// writeBack stores newest on homes that lack it until a metadata write
// quorum has it. An inline record carries each home's own fragment, so the
// fragment for a home that lacks it is rebuilt from k others.
func (g *Gateway) writeBack(ctx context.Context, newest *metadata.Version, byNode map[string]*metadata.Version, homes []string, agree int) error {
	var frags [][]byte
	if newest.Inline != nil {
		var err error
		if frags, err = g.inlineFragments(ctx, newest, byNode); err != nil {
			return err
		}
	}
	var targets []string
	for _, id := range newest.Shards {
		// A home with a newer record gets this one too: it keeps its own
		// and acknowledges, and that newer record is one this read set
		// aside as not yet visible (an inline write short of k homes).
		if v, ok := byNode[id]; ok && sameRecord(v, newest) {
			continue
		}
		targets = append(targets, id)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stallTimeout)
	defer cancel()
	results := make(chan error, len(targets))
	for _, id := range targets {
		rec := *newest
		rec.Inline = nil
		if frags != nil {
			rec.Inline = frags[slices.Index(newest.Shards, id)]
		}
		go func() {
			c, err := g.node(id)
			if err == nil {
				err = c.PutVersion(wctx, &rec)
			}
			results <- err
		}()
	}
	var errs []error
	for range targets {
		if err := <-results; err != nil {
			errs = append(errs, err)
		} else if agree++; agree >= g.params.MetaWrite {
			// The rebuilt fragments serve this read: a home's own copy
			// may already have given way to a newer write.
			for i, id := range newest.Shards {
				if v, ok := byNode[id]; frags != nil && (!ok || !sameRecord(v, newest)) {
					rec := *newest
					rec.Inline = frags[i]
					byNode[id] = &rec
				}
			}
			return nil
		}
	}
	return &quorum.Error{Op: "write back " + newest.Bucket + "/" + newest.Key, Need: g.params.MetaWrite, Got: agree, Total: len(homes), Errs: errs}
}

// inlineFragments rebuilds every home's inline fragment of v from the k or
// more records that carry theirs.
func (g *Gateway) inlineFragments(ctx context.Context, v *metadata.Version, byNode map[string]*metadata.Version) ([][]byte, error) {
	codec, err := g.codecFor(v.EC)
	if err != nil {
		return nil, err
	}
	open := func(shard int, off, n int64) (io.ReadCloser, error) {
		id := v.Shards[shard]
		if rec, ok := byNode[id]; ok && rec.VersionID == v.VersionID && rec.Inline != nil {
			return inlineRange(rec.Inline, off, n)
		}
		// A home that had not answered yet may hold its fragment.
		c, err := g.node(id)
		if err != nil {
			return nil, err
		}
		return c.ReadShard(ctx, transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: shard}, off, n)
	}
	dec, err := codec.NewDecoder(v.Size, 0, v.Size, open)
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	data, err := io.ReadAll(dec)
	if err != nil {
		return nil, err
	}
	return codec.EncodeAll(data)
}

// readVersion returns the newest live record of a key from a metadata read
// quorum of its homes, and the records that arrived with it by node; a
// missing key or a tombstone is NoSuchKey.
func (g *Gateway) readVersion(ctx context.Context, bucket, key string) (*metadata.Version, map[string]*metadata.Version, error) {
	newest, byNode, err := g.readNewest(ctx, bucket, key)
	if err != nil {
		return nil, nil, err
	}
	if newest == nil || newest.Deleted {
		return nil, nil, &s3api.Error{Code: s3api.NoSuchKey, Resource: "/" + bucket + "/" + key}
	}
	return newest, byNode, nil
}

func (g *Gateway) getObject(c *gin.Context, bucket, key string, head bool) {
	ctx := c.Request.Context()
	if vid, ok := c.GetQuery("versionId"); ok {
		g.getObjectVersion(c, bucket, key, vid, head)
		return
	}
	if err := g.requireBucket(ctx, bucket); err != nil {
		g.fail(c, err)
		return
	}
	whole := !head && c.Request.Header.Get("Range") == "" && c.Query("partNumber") == ""
	if whole && g.prefetch.want(bucket) {
		// A small object's shards come with the records.
		var pf *prefetched
		ctx, pf = withPrefetch(ctx)
		defer pf.release()
		c.Request = c.Request.WithContext(ctx)
	}
	v, byNode, err := g.readObjectVersion(ctx, bucket, key, "")
	if err != nil {
		g.failVersion(c, v, err) // a delete marker's headers go with NoSuchKey
		return
	}
	if whole {
		g.prefetch.found(bucket, v)
	}
	for retries := 3; ; retries-- {
		err := g.serveVersion(c, v, byNode, head)
		if err == nil {
			return
		}
		// A PUT of the same key retires the shards of the version it
		// replaces as its record lands on each home, so a GET that read the
		// old record just before can find too few of its shards; the newer
		// version is then the answer, and nothing has been sent yet. If
		// more than m shards went that way, more than m homes hold a newer
		// record, and any N-m of the homes include one of them.
		if retries > 0 && errors.Is(err, erasure.ErrTooFewShards) {
			nv, nb, rerr := g.readNewestOf(ctx, bucket, key, len(v.Shards)-g.params.M)
			if rerr == nil && nv != nil && nv.Newer(v) {
				if nv.Deleted {
					err = &s3api.Error{Code: s3api.NoSuchKey, Resource: "/" + bucket + "/" + key}
				} else {
					v, byNode = nv, nb
					continue
				}
			}
		}
		g.fail(c, err)
		return
	}
}

// serveVersion answers a GET or HEAD with version v. It returns an error
// only when it has written nothing, so the caller can still send it or
// try again.
func (g *Gateway) serveVersion(c *gin.Context, v *metadata.Version, byNode map[string]*metadata.Version, head bool) error {
	r := c.Request
	ctx := r.Context()
	if g.readPreconditions(c, v) {
		return nil
	}
	start, length := int64(0), v.Size
	status := http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" {
		s, n, ok, err := s3api.ParseRange(rh, v.Size)
		if err != nil {
			return err
		}
		if ok {
			start, length, status = s, n, http.StatusPartialContent
		}
	}
	// The object's headers go out only with a success: an error answer
	// must not carry the ETag or metadata of an object it did not send.
	setHeaders := func() {
		h := c.Writer.Header()
		setObjectHeaders(h, v)
		setExtraHeaders(r, h, v, status == http.StatusOK)
		if status == http.StatusPartialContent {
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, v.Size))
		}
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	if head || length == 0 {
		setHeaders()
		c.Status(status)
		return nil
	}
	var fails readFailures
	body, err := g.openObjectNoting(ctx, v, byNode, start, length, &fails)
	if err != nil {
		return err
	}
	defer body.Close()
	first := make([]byte, min(length, firstBytes))
	if _, err := io.ReadFull(body, first); err != nil {
		return err
	}
	setHeaders()
	c.Status(status)
	if _, err := c.Writer.Write(first); err != nil {
		return nil // the client is gone
	}
	if _, err := io.Copy(c.Writer, body); err != nil {
		g.log.Warn("get: body failed after headers", "request_id", c.GetString(ctxRequestID),
			"bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "err", err)
		// The status is sent; cutting the connection is the only way
		// left to tell the client its body is incomplete.
		panic(http.ErrAbortHandler)
	}
	g.repairShards(v, fails.list())
	return nil
}

func setObjectHeaders(h http.Header, v *metadata.Version) {
	ct := v.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("ETag", `"`+v.ETag+`"`)
	h.Set("Last-Modified", v.ModTime.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	for k, val := range v.UserMeta {
		h["X-Amz-Meta-"+k] = []string{val}
	}
	setVersionHeaders(h, v)
}

// openObject returns a reader of [start, start+length) of version v,
// decoding from its shards: data shards first, parity when one is missing,
// unreachable or corrupt.
func (g *Gateway) openObject(ctx context.Context, v *metadata.Version, byNode map[string]*metadata.Version, start, length int64) (io.ReadCloser, error) {
	return g.openObjectNoting(ctx, v, byNode, start, length, nil)
}

// openObjectNoting is openObject that also notes in fails (if not nil) the
// shards that were missing or corrupt, for read repair.
func (g *Gateway) openObjectNoting(ctx context.Context, v *metadata.Version, byNode map[string]*metadata.Version, start, length int64, fails *readFailures) (io.ReadCloser, error) {
	if len(v.Parts) > 0 {
		return g.openParts(ctx, v, start, length)
	}
	codec, err := g.codecFor(v.EC)
	if err != nil {
		return nil, err
	}
	// An inline object's fragments, and a small object's shards, may have
	// come with the records the read gathered: those are read first, and
	// the others only if too few of them decode; a shard already here
	// decodes faster than a round trip, parity or not.
	atHand := func(shard int) []byte {
		for _, id := range shardHolders(v, shard) {
			if rec, ok := byNode[id]; ok && rec.VersionID == v.VersionID && rec.Inline != nil {
				return rec.Inline
			}
		}
		return nil
	}
	pf := prefetchOf(ctx)
	var order, later []int
	for i := range codec.TotalShards() {
		if i < len(v.Shards) && (atHand(i) != nil || pf.has(v.VersionID, i)) {
			order = append(order, i)
		} else {
			later = append(later, i)
		}
	}
	here := len(order)
	order = append(order, later...)
	open := func(shard int, off, n int64) (io.ReadCloser, error) {
		if shard >= len(v.Shards) {
			return nil, fmt.Errorf("shard %d: %w", shard, errUnavailable)
		}
		if frag := atHand(shard); frag != nil {
			return inlineRange(frag, off, n)
		}
		if rc := pf.take(v.VersionID, shard); rc != nil {
			if off == 0 {
				g.stats.PrefetchedShards.Add(1)
				if n >= 0 {
					return struct {
						io.Reader
						io.Closer
					}{io.LimitReader(rc, n), rc}, nil
				}
				return rc, nil
			}
			rc.Close()
		}
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: shard}
		// The home first; then the fallback that took the shard as a hint,
		// in case it has not handed it back yet.
		var firstErr error
		for _, id := range shardHolders(v, shard) {
			cl, err := g.node(id)
			if err == nil {
				var rc io.ReadCloser
				start := time.Now()
				rc, err = cl.ReadShard(ctx, ref, off, n)
				if err == nil {
					g.stats.ShardReads.Add(1)
					return &timedBody{ReadCloser: rc, lat: &g.lat, node: id, start: start}, nil
				}
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil, firstErr
	}
	onFail := func(shard int, err error) {
		if fails != nil {
			fails.add(shard, err)
		}
		node := ""
		if shard < len(v.Shards) {
			node = v.Shards[shard]
		}
		if errors.Is(err, erasure.ErrCorrupt) {
			g.stats.CorruptShards.Add(1)
			g.log.Warn("corrupt shard", "bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "shard", shard, "node", node, "err", err)
			return
		}
		g.stats.FailedShardReads.Add(1)
		g.log.Info("shard read failed", "bucket", v.Bucket, "key", v.Key, "version", v.VersionID, "shard", shard, "node", node, "err", err)
	}
	opts := []erasure.DecodeOption{erasure.WithShardFailure(onFail), erasure.WithOpenOrder(order)}
	for pos, shard := range order[:codec.DataShards()] {
		if pos >= here && shard < len(v.Shards) && g.lat.slow(v.Shards[shard]) {
			// One of the nodes this read depends on is slow: read one
			// shard more and decode from the first k frames to arrive.
			opts = append(opts, erasure.WithExtraReads(1))
			g.stats.HedgedReads.Add(1)
			break
		}
	}
	return codec.NewDecoder(v.Size, start, length, open, opts...)
}

func inlineRange(b []byte, off, n int64) (io.ReadCloser, error) {
	if off < 0 || off > int64(len(b)) {
		return nil, fmt.Errorf("inline shard: offset %d out of range", off)
	}
	end := int64(len(b))
	if n >= 0 && off+n < end {
		end = off + n
	}
	return io.NopCloser(bytes.NewReader(b[off:end])), nil
}

// shardHolders lists the nodes that may hold shard i of v, home first.
func shardHolders(v *metadata.Version, i int) []string {
	holders := []string{v.Shards[i]}
	if i < len(v.Hints) && v.Hints[i] != "" && v.Hints[i] != v.Shards[i] {
		holders = append(holders, v.Hints[i])
	}
	return holders
}

// timedBody records how long a node took to deliver the first bytes of a
// shard, for the latency averages that decide hedging.
type timedBody struct {
	io.ReadCloser
	lat   *latencies
	node  string
	start time.Time
	seen  bool
}

func (t *timedBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if !t.seen && (n > 0 || err != nil) {
		t.seen = true
		t.lat.observe(t.node, time.Since(t.start))
	}
	return n, err
}

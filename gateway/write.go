package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"cairn/erasure"
	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/placement"
	"cairn/quorum"
	"cairn/transport"
)

// Sloppy quorum for erasure-coded shards.
//
// Every shard has a home, the node at its index in the placement group's
// preference list. A shard whose home is down (membership says so), refuses
// the connection, or stalls goes instead to a fallback — the next live node
// of the preference list, preferring a zone and then a node the stripe does
// not use yet — which stores it as a hint naming the home and hands it back
// once the home is alive. When fewer than k+m nodes are alive a node may
// hold several shards of one object, so all k+m shards are still written.
//
// Version records follow the same rule: a record for a home that is down
// goes to a fallback as a hint. Only records on homes count toward the
// metadata write quorum, which keeps read and write quorums intersecting.

// stallTimeout is how long one shard's stream may make no progress before
// the shard is given up for this PUT (a hung node accepts connections and
// then never reads).
const stallTimeout = 5 * time.Second

// ackTimeout bounds the wait for a node to make a fully sent shard durable
// once a write quorum is already in hand.
const ackTimeout = 2 * time.Second

// durability describes where a PUT's shards ended up.
type durability struct {
	total  int // shards durable somewhere
	hinted int // of those, held by a fallback
	want   int // k+m
}

func (d durability) header() string {
	return fmt.Sprintf("%d/%d shards, %d hinted", d.total, d.want, d.hinted)
}

// alive reports whether membership believes a node is up.
func (g *Gateway) alive(id string) bool { return g.cfg.Alive == nil || g.cfg.Alive(id) }

// noRoomFor is how long shards avoid a node after it refused data for want
// of disk space: they go straight to fallbacks instead of each sending a
// doomed stream first. Space freed there is used again after it.
const noRoomFor = 2 * time.Second

// noteRefusal remembers a node that refused data for want of space.
func (g *Gateway) noteRefusal(id string, err error) {
	if errors.Is(err, transport.ErrNoSpace) {
		g.full.Store(id, time.Now().Add(noRoomFor))
	}
}

// anyFull reports whether a live node is being passed over for want of
// room.
func (g *Gateway) anyFull() bool {
	full := false
	g.full.Range(func(id, _ any) bool {
		full = g.alive(id.(string)) && !g.hasRoom(id.(string))
		return !full
	})
	return full
}

// hasRoom reports whether id is to be sent data: false for noRoomFor after
// it refused some for want of space.
func (g *Gateway) hasRoom(id string) bool {
	until, ok := g.full.Load(id)
	return !ok || time.Now().After(until.(time.Time))
}

// fallbacks returns, for a shard whose home is unusable, the nodes to try in
// order: live nodes of the preference list that are not the home, those in a
// zone the stripe does not use first, then those holding no shard of it,
// then the rest.
func (g *Gateway) fallbacks(plan placement.Plan, home string, used map[string]bool) []string {
	zoneOf := func(id string) string {
		n, _ := g.layout().Node(placement.NodeID(id))
		return n.Zone
	}
	usedZones := make(map[string]bool)
	for id := range used {
		usedZones[zoneOf(id)] = true
	}
	var order []string
	for _, id := range plan.Fallbacks {
		order = append(order, string(id))
	}
	for _, id := range plan.Homes {
		order = append(order, string(id))
	}
	var fresh, unused, rest []string
	for _, id := range order {
		switch {
		case id == home || !g.alive(id) || !g.hasRoom(id):
		case !usedZones[zoneOf(id)] && !used[id]:
			fresh = append(fresh, id)
		case !used[id]:
			unused = append(unused, id)
		default:
			rest = append(rest, id)
		}
	}
	return append(append(fresh, unused...), rest...)
}

// shardPlan is where each shard of a version goes first.
type shardPlan struct {
	plan    placement.Plan
	targets []string // node to write shard i to
	mu      sync.Mutex
	used    map[string]bool
	failed  map[string]bool // nodes that failed during this write
}

func (sp *shardPlan) markFailed(id string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.failed[id] = true
}

func (sp *shardPlan) hasFailed(id string) bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.failed[id]
}

func (g *Gateway) planShards(v *metadata.Version) (*shardPlan, error) {
	plan, err := placement.Place(g.layout(), v.Bucket, v.Key, len(v.Shards))
	if err != nil {
		return nil, err
	}
	sp := &shardPlan{plan: plan, targets: make([]string, len(v.Shards)), used: make(map[string]bool), failed: make(map[string]bool)}
	for i, home := range v.Shards {
		if g.alive(home) && g.hasRoom(home) {
			sp.targets[i] = home
			sp.used[home] = true
		}
	}
	for i, home := range v.Shards {
		if sp.targets[i] == "" {
			if fb := g.fallbacks(plan, home, sp.used); len(fb) > 0 {
				sp.targets[i] = fb[0]
				sp.used[fb[0]] = true
			}
		}
	}
	return sp, nil
}

// next picks the node to try after target failed for a shard of home.
func (sp *shardPlan) next(g *Gateway, home string, tried map[string]bool) string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for _, id := range g.fallbacks(sp.plan, home, sp.used) {
		if !tried[id] && !sp.failed[id] {
			sp.used[id] = true
			return id
		}
	}
	return ""
}

// attemptReader is one node's turn at a shard stream. A node may answer
// before reading all of it (a full disk's 507), and the HTTP client's body
// writer can go on reading after the answer: end stops it from taking any
// more and says whether it took, or may still take, any bytes, for only
// then may the same stream go to another node.
type attemptReader struct {
	r       io.Reader
	mu      sync.Mutex
	over    bool
	reading bool
	took    bool // a read returned bytes
}

var errAttemptOver = errors.New("gateway: shard attempt over")

func (a *attemptReader) Read(p []byte) (int, error) {
	a.mu.Lock()
	if a.over {
		a.mu.Unlock()
		return 0, errAttemptOver
	}
	a.reading = true
	a.mu.Unlock()
	n, err := a.r.Read(p)
	a.mu.Lock()
	a.reading = false
	a.took = a.took || n > 0
	a.mu.Unlock()
	return n, err
}

func (a *attemptReader) end() (consumed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.over = true
	return a.took || a.reading
}

// stallWriter gives up on a shard whose node stops reading: it ends the
// stream for the encoder and cancels the request, whose goroutine may be
// stuck writing to a socket nobody drains.
type stallWriter struct {
	pw     *io.PipeWriter
	cancel context.CancelFunc
}

var errStalled = errors.New("gateway: node stopped reading the shard")

func (s stallWriter) Write(p []byte) (int, error) {
	t := time.AfterFunc(stallTimeout, func() {
		s.pw.CloseWithError(errStalled)
		s.cancel()
	})
	defer t.Stop()
	return s.pw.Write(p)
}

// shardResult is where one shard ended up.
type shardResult struct {
	index int
	node  string // "" when the shard was not stored
	err   error
}

// writeShards streams the body through the encoder to the shards' targets
// and returns once a write quorum of shards is durable. It fills v.Hints
// for shards held by fallbacks.
func (g *Gateway) writeShards(ctx context.Context, v *metadata.Version, body io.Reader) (durability, error) {
	n := len(v.Shards)
	d := durability{want: n}
	sp, err := g.planShards(v)
	if err != nil {
		return d, err
	}
	shardSize := g.codec.ShardFileSize(v.Size)
	// Shard writes outlive a client that hangs up after its last byte, so
	// that an object is never left with fewer shards than it was acked with;
	// a client that hangs up earlier aborts them through the pipes.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shardWriteTimeout+time.Duration(v.Size/(1<<20))*time.Second)
	results := make(chan shardResult, n)
	writers := make([]io.Writer, n)
	pipes := make([]*io.PipeWriter, n)
	cancels := make([]context.CancelFunc, n)
	for i, home := range v.Shards {
		pr, pw := io.Pipe()
		sctx, scancel := context.WithCancel(wctx)
		writers[i], pipes[i], cancels[i] = stallWriter{pw, scancel}, pw, scancel
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: i}
		go func() {
			res := g.sendShard(sctx, sp, home, sp.targets[i], ref, pr, shardSize)
			// Unblocks the encoder if no node took the whole shard.
			pr.CloseWithError(errShardFailed(res.err))
			results <- res
		}()
	}
	enc := g.codec.NewEncoder(writers)
	// The encoder's ReadFrom reads the body straight into its block buffer.
	_, err = io.Copy(enc, body)
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		for _, pw := range pipes {
			pw.CloseWithError(err)
		}
		var shardErrs []error
		for range n {
			if r := <-results; r.err != nil {
				shardErrs = append(shardErrs, r.err)
			}
		}
		cancel()
		g.discardShards(v)
		if errors.Is(err, erasure.ErrTooFewShards) {
			return d, noRoomError(err, shardErrs) // the nodes failed, not the body
		}
		return d, bodyError(err)
	}
	for _, pw := range pipes {
		pw.Close()
	}
	stored := make([]string, n) // node holding shard i, "" if none
	got, answered := 0, 0
	var shardErrs []error
	collect := func(r shardResult) {
		answered++
		if r.err == nil {
			stored[r.index] = r.node
			got++
		} else {
			shardErrs = append(shardErrs, r.err)
			g.log.Info("shard write failed", "bucket", v.Bucket, "key", v.Key, "shard", r.index, "err", r.err)
		}
	}
	// Wait for every shard, but not forever: once a write quorum is in,
	// stragglers get ackTimeout; without one, a node that took its whole
	// shard but never answers gets stallTimeout. Then stragglers are
	// cancelled and count as lost.
	quorumTimer := time.NewTimer(stallTimeout)
	var ackTimer <-chan time.Time
wait:
	for answered < n {
		if got >= g.params.ShardWrite && ackTimer == nil {
			ackTimer = time.After(ackTimeout)
		}
		select {
		case r := <-results:
			collect(r)
		case <-ackTimer:
			break wait
		case <-quorumTimer.C:
			break wait
		}
	}
	quorumTimer.Stop()
	pending := n - answered
	if got < g.params.ShardWrite {
		for _, c := range cancels {
			c()
		}
		for range pending {
			collect(<-results)
		}
		pending = 0
	}
	if pending > 0 {
		// Stragglers finish in the background; a shard that fails there
		// is rebuilt there, so the object still ends up whole.
		late := slices.Clone(stored)
		go func() {
			defer cancel()
			lost := false
			for range pending {
				r := <-results
				if r.err == nil {
					late[r.index] = r.node
				} else {
					lost = true
				}
			}
			if lost {
				g.rebuildLost(wctx, sp, v, late)
			}
		}()
	} else {
		defer cancel()
	}
	// Shards lost mid-stream (a node died or stalled after taking part of
	// one) are rebuilt from the stored ones and placed elsewhere, so the
	// object is acknowledged with every shard it can have.
	if pending == 0 && got < n && got >= g.codec.DataShards() {
		g.rebuildLost(wctx, sp, v, stored)
	}
	hints := make([]string, n)
	var errs []error
	for i, node := range stored {
		switch {
		case node == "":
			errs = append(errs, fmt.Errorf("shard %d: not stored", i))
		case node != v.Shards[i]:
			hints[i] = node
			d.hinted++
			d.total++
		default:
			d.total++
		}
	}
	if d.hinted > 0 {
		v.Hints = hints
	}
	if d.total < g.params.ShardWrite {
		return d, noRoomError(&quorum.Error{Op: "write shards " + v.Bucket + "/" + v.Key, Need: g.params.ShardWrite, Got: d.total, Total: n, Errs: errs}, shardErrs)
	}
	return d, nil
}

// noRoomError is err, a write of shards that fell short, as
// InsufficientStorage when the shards failed only for want of disk space
// (onlyNoSpace).
func noRoomError(err error, shardErrs []error) error {
	if !onlyNoSpace(shardErrs) {
		return err
	}
	return &s3api.Error{Code: s3api.InsufficientStorage, Err: err}
}

// rebuildLost regenerates the shards missing from stored out of the stored
// ones and writes each to a live node, its home if possible. stored is
// updated in place.
func (g *Gateway) rebuildLost(ctx context.Context, sp *shardPlan, v *metadata.Version, stored []string) {
	var want []int
	for i, node := range stored {
		if node == "" {
			want = append(want, i)
		}
	}
	open := func(shard int, off, n int64) (io.ReadCloser, error) {
		c, err := g.node(stored[shard])
		if err != nil {
			return nil, err
		}
		return c.ReadShard(ctx, transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: shard}, off, n)
	}
	shardSize := g.codec.ShardFileSize(v.Size)
	writers := make([]io.Writer, len(want))
	pipes := make([]*io.PipeWriter, len(want))
	results := make(chan shardResult, len(want))
	for j, i := range want {
		pr, pw := io.Pipe()
		writers[j], pipes[j] = pw, pw
		home := v.Shards[i]
		target := home
		if !g.alive(home) || !g.hasRoom(home) || sp.hasFailed(home) {
			target = sp.next(g, home, map[string]bool{})
		}
		ref := transport.ShardRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, Index: i}
		go func() {
			res := g.sendShard(ctx, sp, home, target, ref, pr, shardSize)
			pr.CloseWithError(errShardFailed(res.err))
			results <- res
		}()
	}
	err := g.codec.ReconstructShards(v.Size, want, open, writers)
	for _, pw := range pipes {
		pw.CloseWithError(err) // nil: a clean end of the shard
	}
	for range want {
		if r := <-results; r.err == nil && err == nil {
			stored[r.index] = r.node
		}
	}
	if err != nil {
		g.log.Warn("rebuilding shards lost during a PUT", "bucket", v.Bucket, "key", v.Key, "shards", want, "err", err)
	}
}

func errShardFailed(err error) error {
	if err == nil {
		return errors.New("gateway: shard writer finished")
	}
	return err
}

// sendShard writes one shard to target, and to fallbacks as a hint while a
// node fails before consuming any of the stream.
func (g *Gateway) sendShard(ctx context.Context, sp *shardPlan, home, target string, ref transport.ShardRef, r io.Reader, size int64) shardResult {
	res := shardResult{index: ref.Index}
	tried := map[string]bool{}
	for target != "" {
		tried[target] = true
		attempt := &attemptReader{r: r}
		err := g.putShardAt(ctx, home, target, ref, attempt, size)
		consumed := attempt.end()
		if err == nil {
			g.stats.ShardWrites.Add(1)
			res.node, res.err = target, nil
			return res
		}
		g.stats.FailedShardWrites.Add(1)
		g.noteRefusal(target, err)
		res.err = fmt.Errorf("shard %d on %s: %w", ref.Index, target, err)
		sp.markFailed(target)
		if consumed || ctx.Err() != nil {
			return res
		}
		target = sp.next(g, home, tried)
	}
	if res.err == nil {
		res.err = fmt.Errorf("shard %d: %w: no live node to hold it", ref.Index, errUnavailable)
		if g.anyFull() {
			// Nodes that are up were passed over for want of room: the
			// answer is theirs, not a retried unavailability.
			res.err = fmt.Errorf("shard %d: %w: no live node with room to hold it", ref.Index, transport.ErrNoSpace)
		}
	}
	return res
}

// putShardAt writes a shard to its home, or as a hint for home to another node.
func (g *Gateway) putShardAt(ctx context.Context, home, target string, ref transport.ShardRef, r io.Reader, size int64) error {
	c, err := g.node(target)
	if err != nil {
		return err
	}
	if target == home {
		return c.PutShard(ctx, ref, r, size)
	}
	h, ok := c.(transport.Hinter)
	if !ok {
		return fmt.Errorf("node %s: %w: cannot hold hints", target, errUnavailable)
	}
	return h.PutShardHint(ctx, home, ref, r, size)
}

// commitVersion writes the version record to every home, as a hint to a
// fallback for homes that are down, and returns once a metadata write
// quorum of homes has it, with the number of records held as hints. For
// inline objects, home i's record carries shard i.
func (g *Gateway) commitVersion(ctx context.Context, v *metadata.Version, inline [][]byte) (int, error) {
	hinted, _, err := g.commitRecords(ctx, v, inline, false)
	return hinted, err
}

// commitRecords is commitVersion. With unlessNewer, homes refuse the record
// when they hold something newer (transport.OrderedWriter), and newer is
// the highest HLC that a home counted toward the quorum refused it for: a
// write acknowledged before this one began is on a write quorum of homes,
// which meets the counted ones, so newer is 0 only when no such write
// orders after v. Refusals count as answers, not failures.
func (g *Gateway) commitRecords(ctx context.Context, v *metadata.Version, inline [][]byte, unlessNewer bool) (hinted int, newer metadata.HLC, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	sp, err := g.planShards(v)
	if err != nil {
		cancel()
		return 0, 0, err
	}
	results := make(chan quorum.Result, len(v.Shards))
	for i, home := range v.Shards {
		rec := *v
		if inline != nil {
			rec.Inline = inline[i]
		}
		go func() {
			results <- quorum.Result{Node: home, Err: g.putRecord(ctx, sp, home, &rec, unlessNewer)}
		}()
	}
	t := quorum.NewTally(fmt.Sprintf("commit %s/%s", v.Bucket, v.Key), g.params.MetaWrite, len(v.Shards))
	record := func(r quorum.Result) {
		var refused *refusedError
		if errors.As(r.Err, &refused) {
			if !t.Done() {
				newer = max(newer, refused.newer)
			}
			r.Err = nil
		}
		t.Add(r)
		if errors.Is(r.Err, errHinted) {
			hinted++
		}
	}
	for !t.Done() {
		record(<-results)
	}
	if t.Err() == nil {
		timer := time.NewTimer(ackTimeout)
	wait:
		for t.Pending() > 0 {
			select {
			case r := <-results:
				record(r)
			case <-timer.C:
				break wait
			}
		}
		timer.Stop()
	}
	pending := t.Pending()
	go func() {
		defer cancel()
		for range pending {
			<-results
		}
	}()
	return hinted, newer, t.Err()
}

// refusedError: a home holds a record of the key newer than the one sent.
type refusedError struct{ newer metadata.HLC }

func (e *refusedError) Error() string {
	return fmt.Sprintf("gateway: record refused, the home holds one at HLC %d", e.newer)
}

// errHinted marks a record that reached a fallback, not its home: durable,
// but not part of the metadata quorum.
var errHinted = errors.New("gateway: record held as a hint")

func (g *Gateway) putRecord(ctx context.Context, sp *shardPlan, home string, rec *metadata.Version, unlessNewer bool) error {
	var homeErr error
	if g.alive(home) {
		c, err := g.node(home)
		if err == nil {
			// A hung home must not hold the record back from a fallback.
			hctx, cancel := context.WithTimeout(ctx, stallTimeout)
			if bw, ok := c.(transport.BatchWriter); ok {
				var newer metadata.HLC
				newer, err = g.writeRecord(hctx, bw, transport.VersionWrite{V: rec, UnlessNewer: unlessNewer})
				if err == nil && newer != 0 {
					err = &refusedError{newer}
				}
			} else if ow, ok := c.(transport.OrderedWriter); ok && unlessNewer {
				var newer metadata.HLC
				if newer, err = ow.PutVersionUnlessNewer(hctx, rec); err == nil && newer != 0 {
					err = &refusedError{newer}
				}
			} else {
				err = c.PutVersion(hctx, rec)
			}
			cancel()
			if _, refused := err.(*refusedError); refused {
				return err
			}
		}
		if err == nil {
			return nil
		}
		g.noteRefusal(home, err)
		homeErr = err
	}
	tried := map[string]bool{home: true}
	for target := sp.next(g, home, tried); target != ""; target = sp.next(g, home, tried) {
		tried[target] = true
		c, err := g.node(target)
		if err != nil {
			continue
		}
		if h, ok := c.(transport.Hinter); ok && h.PutVersionHint(ctx, home, rec) == nil {
			return errors.Join(errHinted, homeErr)
		}
	}
	return errors.Join(fmt.Errorf("record for %s: %w", home, errUnavailable), homeErr)
}

// headerMinHomeShards lets a client ask for at least this many shards on
// their homes (not hinted) before its PUT is acknowledged.
const (
	headerMinHomeShards = "X-Cairn-Min-Home-Shards"
	headerDurability    = "X-Cairn-Durability"
)

func (g *Gateway) checkMinHomeShards(r *http.Request, v *metadata.Version, d durability) error {
	h := r.Header.Get(headerMinHomeShards)
	if h == "" {
		return nil
	}
	want, err := strconv.Atoi(h)
	if err != nil || want < 0 || want > len(v.Shards) {
		return s3api.Errorf(s3api.InvalidArgument, "%s must be a number from 0 to %d", headerMinHomeShards, len(v.Shards))
	}
	atHome := d.total - d.hinted
	if v.Size <= g.cfg.InlineThreshold {
		// Inline shards travel with the records, written next: count the
		// homes that are up.
		atHome = 0
		for _, home := range v.Shards {
			if g.alive(home) {
				atHome++
			}
		}
	}
	if atHome < want {
		return s3api.Errorf(s3api.ServiceUnavailable, "Only %d of the %d shards requested could be placed on their homes.", atHome, want)
	}
	return nil
}

package benchmarks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// errMismatch marks a body or size that differs from what was written.
var errMismatch = errors.New("benchmarks: content mismatch")

// Config is what a Runner needs besides the scenarios.
type Config struct {
	Client *s3.Client // required; see NewClient
	Bucket string     // required; EnsureBucket creates it
	// Prefix is put before every key the run writes; default
	// "cairnbench/<start time>". Each scenario writes under Prefix/<name>/.
	Prefix string
	Seed   uint64 // seeds payloads and key choice; 0 picks one from the clock
	// OpTimeout bounds one request; default 60s.
	OpTimeout time.Duration
	// Progress receives a line per second while a scenario runs; nil for none.
	Progress io.Writer
	// Faults is where scenarios' fault schedules are applied; scenarios
	// with faults fail without it.
	Faults FaultTarget
	// SkipReadBack skips reading back every object after each scenario.
	SkipReadBack bool
	// RedundancyTimeout bounds the wait for full redundancy after the
	// last restart of a scenario's faults, when Faults is a
	// RedundancyTarget; default 2 minutes, negative skips the measurement.
	RedundancyTimeout time.Duration
	Logger            *slog.Logger // default discards
	// Measured, if set, is called right before a scenario's measured phase
	// and returns what to call right after it: for a caller that measures
	// something of its own over the same span (CPU time, memory).
	Measured func(Scenario) (done func())
}

// Runner runs scenarios one after another against one bucket. A Runner
// is not safe for concurrent use.
type Runner struct {
	cfg      Config
	hashSeed maphash.Seed
	rng      *rand.Rand
	seq      atomic.Uint64
}

// NewRunner checks cfg and returns a Runner.
func NewRunner(cfg Config) (*Runner, error) {
	var errs []error
	if cfg.Client == nil {
		errs = append(errs, errors.New("no client"))
	}
	if cfg.Bucket == "" {
		errs = append(errs, errors.New("no bucket"))
	}
	if cfg.OpTimeout < 0 {
		errs = append(errs, errors.New("negative op timeout"))
	}
	if cfg.RedundancyTimeout == 0 {
		cfg.RedundancyTimeout = redundancyLimit
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("benchmarks: config: %w", err)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "cairnbench/" + time.Now().UTC().Format("20060102T150405.000")
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, hashSeed: maphash.MakeSeed(), rng: rand.New(rand.NewPCG(cfg.Seed, 0x6361_6972_6e62))}, nil
}

// EnsureBucket creates the bucket unless it exists.
func (r *Runner) EnsureBucket(ctx context.Context) error {
	c := r.cfg.Client
	ctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
	defer cancel()
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &r.cfg.Bucket}); err == nil {
		return nil
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &r.cfg.Bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", r.cfg.Bucket, err)
	}
	return nil
}

// ScenarioResult is everything measured in one scenario.
type ScenarioResult struct {
	Scenario Scenario `json:"scenario"`
	Mix      string   `json:"mix,omitempty"`
	Prefix   string   `json:"prefix"`
	Started  time.Time
	// Elapsed is the measured phase, from the first request to the last
	// response; rates divide by it.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Populated objects were written before the measured phase.
	Populated       int           `json:"populated"`
	PopulateErrors  int64         `json:"populate_errors"`
	PopulateError   string        `json:"populate_error,omitempty"` // the first one
	PopulateElapsed time.Duration `json:"populate_elapsed_ns"`
	// Ops has one entry per operation that ran, in Op order; Total sums
	// them (its Op is zero).
	Ops   []OpStats `json:"ops"`
	Total OpStats   `json:"total"`
	// Raced counts reads that failed because a concurrent DELETE of the
	// same key won; they are neither successes nor errors.
	Raced    int64           `json:"raced"`
	Faults   []FaultRecord   `json:"faults,omitempty"`
	ReadBack *ReadBackResult `json:"read_back,omitempty"`
	// Redundancy is the time to full redundancy after the last restart;
	// nil when no node came back or the target cannot tell.
	Redundancy *RedundancyResult `json:"redundancy,omitempty"`
	// Canceled is set when the run was interrupted.
	Canceled bool `json:"canceled,omitempty"`
}

// OpStats measures one operation type in one scenario. Latencies are those
// of successful requests; a GET's includes reading and hashing the body.
type OpStats struct {
	Op     Op    `json:"op"`
	Count  int64 `json:"count"`  // successful requests
	Errors int64 `json:"errors"` // failed requests, mismatches included
	// Mismatches are GETs and HEADs whose body or size differed from what
	// was written.
	Mismatches int64       `json:"mismatches"`
	Bytes      int64       `json:"bytes"`
	MiBps      float64     `json:"mib_per_sec"`
	OpsPerSec  float64     `json:"ops_per_sec"`
	Latency    Summary     `json:"latency"`
	TTFB       *Summary    `json:"ttfb,omitempty"` // GET: request start to first body byte
	Series     Series      `json:"series"`
	CDF        []CDFPoint  `json:"latency_cdf,omitempty"`
	TTFBCDF    []CDFPoint  `json:"ttfb_cdf,omitempty"`
	ErrorKinds []ErrorKind `json:"error_kinds,omitempty"`
	ttfb       []time.Duration
}

// ErrorKind groups failures by S3 error code or client-side cause.
type ErrorKind struct {
	Kind    string `json:"kind"`
	Count   int64  `json:"count"`
	Example string `json:"example"`
}

// ReadBackResult is the "nothing was lost" check: every object the
// scenario wrote and did not delete, read once more after the faults were
// healed.
type ReadBackResult struct {
	Objects int           `json:"objects"`
	OK      int           `json:"ok"`
	Missing int           `json:"missing"` // 404
	Corrupt int           `json:"corrupt"` // wrong size or content
	Failed  int           `json:"failed"`  // any other error: unreadable
	Elapsed time.Duration `json:"elapsed_ns"`
	Samples []string      `json:"samples,omitempty"` // the first failures
}

// Lost is how many written objects could not be read back intact.
func (rb *ReadBackResult) Lost() int { return rb.Missing + rb.Corrupt + rb.Failed }

// Failures is every error plus every object lost in read-back.
func (res *ScenarioResult) Failures() int64 {
	n := res.Total.Errors
	if res.ReadBack != nil {
		n += int64(res.ReadBack.Lost())
	}
	return n
}

// Run runs one scenario: it writes the objects the scenario reads (if
// any), runs the measured phase while applying the fault schedule, heals
// the cluster, and reads back every object. An error means the scenario
// could not run; request failures are counted in the result.
func (r *Runner) Run(ctx context.Context, sc Scenario) (*ScenarioResult, error) {
	sc = sc.withDefaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if len(sc.Faults) > 0 {
		if r.cfg.Faults == nil {
			return nil, fmt.Errorf("benchmarks: scenario %q has faults but no cluster to apply them to", sc.Name)
		}
		if err := ValidateFaults(sc.Faults, r.cfg.Faults.Nodes()); err != nil {
			return nil, err
		}
	}
	st := &scenarioRun{
		r:      r,
		sc:     sc,
		prefix: r.cfg.Prefix + "/" + sc.Name + "/",
		ledger: newLedger(),
		pay:    newPayloads(sc.Size, sc.Concurrency, r.rng, r.hashSeed),
		rec:    newRecorder(),
	}
	res := &ScenarioResult{Scenario: sc, Prefix: st.prefix, Started: time.Now()}
	if sc.Kind == KindMixed {
		res.Mix = sc.Mix.String()
	}
	if sc.Kind != KindPut {
		st.progressf("%s: writing %d objects of %s first", sc.Name, sc.Objects, FormatSize(sc.Size))
		t0 := time.Now()
		res.PopulateErrors, res.PopulateError = st.populate(ctx)
		res.Populated = st.ledger.len()
		res.PopulateElapsed = time.Since(t0)
		if res.Populated == 0 && sc.Objects > 0 {
			return nil, fmt.Errorf("benchmarks: scenario %q: could not write any of %d objects to read: %s", sc.Name, sc.Objects, res.PopulateError)
		}
	}

	var measured func()
	if r.cfg.Measured != nil {
		measured = r.cfg.Measured(sc)
	}
	res.Elapsed, res.Faults = st.measure(ctx)
	if measured != nil {
		measured()
	}
	res.Raced = st.rec.raced.Load()
	if len(sc.Faults) > 0 {
		healed, err := r.cfg.Faults.Heal()
		var back *FaultRecord
		for _, e := range healed {
			rec := FaultRecord{FaultEvent: e, Label: e.String(), Actual: time.Since(st.rec.start), Healed: true}
			res.Faults = append(res.Faults, rec)
			if e.Action.recovers() {
				back = &rec
			}
		}
		if err != nil {
			st.stopWatch()
			return nil, fmt.Errorf("benchmarks: heal after %q: %w", sc.Name, err)
		}
		if back != nil {
			// The heal's restart is the last one now.
			st.stopWatch()
			st.startWatch(ctx, *back)
		}
	}
	res.Canceled = ctx.Err() != nil
	res.Ops, res.Total = st.rec.stats(res.Elapsed)
	if !r.cfg.SkipReadBack && !res.Canceled {
		st.progressf("%s: reading back %d objects", sc.Name, st.ledger.len())
		res.ReadBack = st.readBack(ctx)
	}
	if w := st.watch; w != nil {
		select {
		case <-w.done:
		default:
			st.progressf("%s: waiting for full redundancy (at most %v after %s)", sc.Name, w.res.Limit, w.res.After)
		}
		<-w.done
		res.Redundancy = &w.res
	}
	return res, nil
}

// scenarioRun is the state of one Run.
type scenarioRun struct {
	r      *Runner
	sc     Scenario
	prefix string
	ledger *ledger
	pay    *payloads
	rec    *recorder
	// watch times the return to full redundancy after the last restart;
	// set by the fault goroutine, read once it is over.
	watch *redundancyWatcher
}

func (st *scenarioRun) progressf(format string, args ...any) {
	if st.r.cfg.Progress != nil {
		fmt.Fprintf(st.r.cfg.Progress, format+"\n", args...)
	}
}

// worker is one client goroutine's private state.
type worker struct {
	id    int
	rng   *rand.Rand
	buf   []byte
	token *string // LIST continuation
}

func (st *scenarioRun) newWorker(id int) *worker {
	return &worker{
		id:  id,
		rng: rand.New(rand.NewPCG(st.r.cfg.Seed, uint64(id)<<32|st.r.seq.Add(1))),
		buf: make([]byte, 256<<10),
	}
}

// populate writes the objects a get, mixed or list scenario reads and
// returns how many PUTs failed and the first failure.
func (st *scenarioRun) populate(ctx context.Context) (int64, string) {
	var next, failed atomic.Int64
	var first sync.Once
	var firstErr string
	var wg sync.WaitGroup
	for i := range st.sc.Concurrency {
		w := st.newWorker(i)
		wg.Go(func() {
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				if n >= int64(st.sc.Objects) {
					return
				}
				key := fmt.Sprintf("%spop/%08d", st.prefix, n)
				if _, _, err := st.put(ctx, w, key); err != nil {
					failed.Add(1)
					first.Do(func() { firstErr = err.Error() })
				}
			}
		})
	}
	wg.Wait()
	return failed.Load(), firstErr
}

// measure runs the measured phase and the fault schedule, and returns how
// long the phase took and the faults applied.
func (st *scenarioRun) measure(ctx context.Context) (time.Duration, []FaultRecord) {
	sc := st.sc
	st.rec.start = time.Now()
	deadline := time.Time{}
	if sc.Duration > 0 {
		deadline = st.rec.start.Add(sc.Duration)
	}
	var issued atomic.Int64
	more := func() bool {
		if ctx.Err() != nil || !deadline.IsZero() && time.Now().After(deadline) {
			return false
		}
		return sc.Ops <= 0 || issued.Add(1) <= sc.Ops
	}

	faultCtx, stopFaults := context.WithCancel(ctx)
	faultsDone := make(chan []FaultRecord, 1)
	last := lastRecovery(sc.Faults)
	applied := func(i int, rec FaultRecord) {
		// A restart that failed leaves the node to the heal, which
		// starts the watch instead.
		if i == last && rec.Err == "" {
			st.startWatch(ctx, rec)
		}
	}
	go func() { faultsDone <- runFaults(faultCtx, st.rec.start, sc.Faults, st.r.cfg.Faults, applied) }()
	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	go func() {
		defer close(progressDone)
		st.progress(stopProgress)
	}()

	var wg sync.WaitGroup
	for i := range sc.Concurrency {
		w := st.newWorker(i)
		wg.Go(func() {
			for more() {
				st.do(ctx, w, st.pick(w))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(st.rec.start)
	stopFaults()
	close(stopProgress)
	<-progressDone
	return elapsed, <-faultsDone
}

// progress prints a line per second until stop is closed.
func (st *scenarioRun) progress(stop <-chan struct{}) {
	if st.r.cfg.Progress == nil {
		<-stop
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastOps, lastBytes, lastErrs int64
	last := st.rec.start
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			ops, bytes, errs := st.rec.liveOps.Load(), st.rec.liveBytes.Load(), st.rec.liveErrs.Load()
			dt := now.Sub(last).Seconds()
			fmt.Fprintf(st.r.cfg.Progress, "%-22s %4.0fs %9.1f ops/s %9.2f MiB/s %6d errors/s  (total %d ops, %d errors)\n",
				st.sc.Name, now.Sub(st.rec.start).Seconds(), float64(ops-lastOps)/dt,
				float64(bytes-lastBytes)/dt/(1<<20), errs-lastErrs, ops, errs)
			lastOps, lastBytes, lastErrs, last = ops, bytes, errs, now
		}
	}
}

// pick chooses the next operation for the scenario's kind.
func (st *scenarioRun) pick(w *worker) Op {
	switch st.sc.Kind {
	case KindPut:
		return OpPut
	case KindGet:
		return OpGet
	case KindList:
		return OpList
	}
	total := 0
	for _, v := range st.sc.Mix {
		total += v
	}
	n := w.rng.IntN(total)
	for op := OpPut; op < numOps; op++ {
		if n < st.sc.Mix[op] {
			return op
		}
		n -= st.sc.Mix[op]
	}
	return OpPut
}

// do runs one measured operation and records it.
func (st *scenarioRun) do(ctx context.Context, w *worker, op Op) {
	if (op == OpGet || op == OpHead || op == OpDelete) && st.ledger.len() == 0 {
		op = OpPut // nothing left to read or delete
	}
	switch op {
	case OpPut:
		key := fmt.Sprintf("%sw%03d/%016x", st.prefix, w.id, st.r.seq.Add(1))
		start, n, err := st.put(ctx, w, key)
		st.rec.record(ctx, OpPut, start, 0, n, err)
	case OpGet:
		e, _ := st.ledger.pick(w.rng)
		start, ttfb, n, err := st.get(ctx, w, e)
		if err != nil && !st.ledger.has(e) {
			st.rec.raced.Add(1)
			return
		}
		st.rec.record(ctx, OpGet, start, ttfb, n, err)
	case OpHead:
		e, _ := st.ledger.pick(w.rng)
		start, err := st.head(ctx, e)
		if err != nil && !st.ledger.has(e) {
			st.rec.raced.Add(1)
			return
		}
		st.rec.record(ctx, OpHead, start, 0, 0, err)
	case OpList:
		start, err := st.list(ctx, w)
		st.rec.record(ctx, OpList, start, 0, 0, err)
	case OpDelete:
		e, _ := st.ledger.take(w.rng)
		start := time.Now()
		opCtx, cancel := context.WithTimeout(ctx, st.r.cfg.OpTimeout)
		_, err := st.r.cfg.Client.DeleteObject(opCtx, &s3.DeleteObjectInput{Bucket: &st.r.cfg.Bucket, Key: &e.Key})
		cancel()
		// A failed DELETE leaves the object in an unknown state; it stays
		// out of the ledger, so read-back does not judge it.
		st.rec.record(ctx, OpDelete, start, 0, 0, err)
	}
}

func (st *scenarioRun) put(ctx context.Context, w *worker, key string) (time.Time, int64, error) {
	seed := st.r.seq.Add(1) ^ st.r.cfg.Seed<<1
	body, sum := st.pay.object(w.id, seed)
	ctx, cancel := context.WithTimeout(ctx, st.r.cfg.OpTimeout)
	defer cancel()
	start := time.Now()
	_, err := st.r.cfg.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &st.r.cfg.Bucket,
		Key:           &key,
		Body:          body,
		ContentLength: aws.Int64(st.sc.Size),
	})
	if err != nil {
		return start, 0, err
	}
	st.ledger.add(ledgerEntry{Key: key, Size: st.sc.Size, Hash: sum})
	return start, st.sc.Size, nil
}

// get reads e, hashing the body as it streams, and checks it.
func (st *scenarioRun) get(ctx context.Context, w *worker, e ledgerEntry) (start time.Time, ttfb time.Duration, n int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, st.r.cfg.OpTimeout)
	defer cancel()
	start = time.Now()
	out, err := st.r.cfg.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &st.r.cfg.Bucket, Key: &e.Key})
	if err != nil {
		return start, 0, 0, err
	}
	defer out.Body.Close()
	h := maphash.Hash{}
	h.SetSeed(st.r.hashSeed)
	for {
		m, rerr := out.Body.Read(w.buf)
		if m > 0 && n == 0 {
			ttfb = time.Since(start)
		}
		h.Write(w.buf[:m])
		n += int64(m)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return start, ttfb, n, fmt.Errorf("read body of %s after %d bytes: %w", e.Key, n, rerr)
		}
	}
	if n != e.Size || h.Sum64() != e.Hash {
		return start, ttfb, n, fmt.Errorf("%w: %s: got %d bytes with hash %016x, wrote %d bytes with hash %016x",
			errMismatch, e.Key, n, h.Sum64(), e.Size, e.Hash)
	}
	return start, ttfb, n, nil
}

func (st *scenarioRun) head(ctx context.Context, e ledgerEntry) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, st.r.cfg.OpTimeout)
	defer cancel()
	start := time.Now()
	out, err := st.r.cfg.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &st.r.cfg.Bucket, Key: &e.Key})
	if err != nil {
		return start, err
	}
	if got := aws.ToInt64(out.ContentLength); got != e.Size {
		return start, fmt.Errorf("%w: HEAD %s: size %d, wrote %d", errMismatch, e.Key, got, e.Size)
	}
	return start, nil
}

// list fetches the worker's next page of the scenario's keys; each worker
// pages through the whole listing, then starts over.
func (st *scenarioRun) list(ctx context.Context, w *worker) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, st.r.cfg.OpTimeout)
	defer cancel()
	start := time.Now()
	out, err := st.r.cfg.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:            &st.r.cfg.Bucket,
		Prefix:            &st.prefix,
		MaxKeys:           aws.Int32(int32(st.sc.ListPage)),
		ContinuationToken: w.token,
	})
	if err != nil {
		w.token = nil
		return start, err
	}
	w.token = nil
	if aws.ToBool(out.IsTruncated) {
		w.token = out.NextContinuationToken
	}
	return start, nil
}

// readBack reads every object in the ledger once more.
func (st *scenarioRun) readBack(ctx context.Context) *ReadBackResult {
	entries := st.ledger.snapshot()
	res := &ReadBackResult{Objects: len(entries)}
	start := time.Now()
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range st.sc.Concurrency {
		w := st.newWorker(i)
		wg.Go(func() {
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				if n >= int64(len(entries)) {
					return
				}
				_, _, _, err := st.get(ctx, w, entries[n])
				var nsk *types.NoSuchKey
				mu.Lock()
				switch {
				case err == nil:
					res.OK++
				case errors.As(err, &nsk) || httpStatus(err) == http.StatusNotFound:
					res.Missing++
				case errors.Is(err, errMismatch):
					res.Corrupt++
				default:
					res.Failed++
				}
				if err != nil && len(res.Samples) < 20 {
					res.Samples = append(res.Samples, entries[n].Key+": "+err.Error())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorKindOf names a failure for grouping: the S3 error code if the
// server sent one, else the client-side cause.
func errorKindOf(err error) string {
	var ae smithy.APIError
	switch {
	case errors.Is(err, errMismatch):
		return "content mismatch"
	case errors.As(err, &ae):
		if s := httpStatus(err); s != 0 {
			return fmt.Sprintf("%s (HTTP %d)", ae.ErrorCode(), s)
		}
		return ae.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected EOF"
	}
	if s := httpStatus(err); s != 0 {
		return fmt.Sprintf("HTTP %d", s)
	}
	return "other"
}

// recorder collects measurements from every worker.
type recorder struct {
	start time.Time

	mu  sync.Mutex
	ops [numOps]opRec

	liveOps, liveBytes, liveErrs atomic.Int64
	raced                        atomic.Int64
}

type opRec struct {
	lat, ttfb                        []time.Duration
	count, errors, mismatches, bytes int64
	series                           Series
	kinds                            []ErrorKind
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

// record counts one finished operation that started at start. Failures
// caused by the run being interrupted are not counted.
func (rc *recorder) record(ctx context.Context, op Op, start time.Time, ttfb time.Duration, bytes int64, err error) {
	if err != nil && ctx.Err() != nil && !errors.Is(err, errMismatch) {
		return
	}
	end := time.Now()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	o := &rc.ops[op]
	o.series.Add(end.Sub(rc.start), bytes, err != nil)
	if err != nil {
		rc.liveErrs.Add(1)
		o.errors++
		if errors.Is(err, errMismatch) {
			o.mismatches++
		}
		kind := errorKindOf(err)
		for i := range o.kinds {
			if o.kinds[i].Kind == kind {
				o.kinds[i].Count++
				return
			}
		}
		msg := err.Error()
		if len(msg) > 400 {
			msg = msg[:400] + "…"
		}
		o.kinds = append(o.kinds, ErrorKind{Kind: kind, Count: 1, Example: msg})
		return
	}
	rc.liveOps.Add(1)
	rc.liveBytes.Add(bytes)
	o.count++
	o.bytes += bytes
	o.lat = append(o.lat, end.Sub(start))
	if op == OpGet {
		o.ttfb = append(o.ttfb, ttfb)
	}
}

// stats summarises what was recorded over a phase of the given length.
func (rc *recorder) stats(elapsed time.Duration) ([]OpStats, OpStats) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	secs := max(elapsed.Seconds(), 1e-9)
	var ops []OpStats
	total := OpStats{}
	var all []time.Duration
	for op := OpPut; op < numOps; op++ {
		o := &rc.ops[op]
		if o.count == 0 && o.errors == 0 {
			continue
		}
		s := OpStats{
			Op: op, Count: o.count, Errors: o.errors, Mismatches: o.mismatches, Bytes: o.bytes,
			MiBps: float64(o.bytes) / secs / (1 << 20), OpsPerSec: float64(o.count) / secs,
			Series: slices.Clone(o.series), ErrorKinds: slices.Clone(o.kinds),
		}
		all = append(all, o.lat...)
		lat := slices.Clone(o.lat)
		s.Latency = Summarize(lat)
		s.CDF = CDF(lat, 400)
		if op == OpGet && len(o.ttfb) > 0 {
			t := slices.Clone(o.ttfb)
			sum := Summarize(t)
			s.TTFB, s.TTFBCDF, s.ttfb = &sum, CDF(t, 400), t
		}
		slices.SortFunc(s.ErrorKinds, func(a, b ErrorKind) int { return cmp.Compare(b.Count, a.Count) })
		ops = append(ops, s)
		total.Count += s.Count
		total.Errors += s.Errors
		total.Mismatches += s.Mismatches
		total.Bytes += s.Bytes
		total.Series.Merge(s.Series)
		total.ErrorKinds = append(total.ErrorKinds, s.ErrorKinds...)
	}
	total.MiBps = float64(total.Bytes) / secs / (1 << 20)
	total.OpsPerSec = float64(total.Count) / secs
	total.Latency = Summarize(all)
	return ops, total
}

// Seed is the seed the runner uses, for reports: the same seed gives the
// same payloads and key choices.
func (r *Runner) Seed() uint64 { return r.cfg.Seed }

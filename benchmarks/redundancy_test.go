package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/adminapi"
	"cairn/internal/clustertest"
	"cairn/internal/objctl"
)

func TestRedundancyWatchCheck(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 26, 8, 0, 30, 0, time.UTC)
	before, after := since.Add(-time.Millisecond), since.Add(2*time.Second)
	// node is up, reporting, with its last census begun at census (zero:
	// none yet). LastScan, when its last pass ended, is set well after
	// since on every node so that a watch judging by it would call them
	// all fresh.
	node := func(id string, census time.Time) adminapi.NodeStatus {
		return adminapi.NodeStatus{ID: id, State: "active", Alive: true, Reported: true,
			LastScan: since.Add(time.Minute), CensusStarted: census}
	}
	down := func(id string) adminapi.NodeStatus {
		return adminapi.NodeStatus{ID: id, State: "active", CensusStarted: after}
	}
	mute := func(id string) adminapi.NodeStatus {
		return adminapi.NodeStatus{ID: id, State: "active", Alive: true, CensusStarted: after}
	}
	unassigned := func(id string, census time.Time) adminapi.NodeStatus {
		n := node(id, census)
		n.State = "unassigned"
		return n
	}
	full := map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 0, 13}}}
	for _, tc := range []struct {
		name    string
		nodes   []adminapi.NodeStatus
		buckets map[string]adminapi.Redundancy
		hints   int64
		full    bool
		waiting string // a part of Waiting when not full
	}{
		{name: "every census began after the restart", nodes: []adminapi.NodeStatus{node("n1", after), node("n2", after)}, buckets: full, full: true},
		{name: "a census that began at the restart counts", nodes: []adminapi.NodeStatus{node("n1", since), node("n2", after)}, buckets: full, full: true},
		{name: "a census that began before the restart does not count, though its pass ended after",
			nodes: []adminapi.NodeStatus{node("n1", after), node("n2", before)}, buckets: full, waiting: "n2 (census from before)"},
		{name: "a node with no census yet", nodes: []adminapi.NodeStatus{node("n1", after), node("n2", time.Time{})}, buckets: full, waiting: "n2 (no census yet)"},
		{name: "a node down", nodes: []adminapi.NodeStatus{node("n1", after), down("n2")}, buckets: full, waiting: "n2 (down)"},
		{name: "a node that does not answer", nodes: []adminapi.NodeStatus{node("n1", after), mute("n2")}, buckets: full, waiting: "n2 (no answer)"},
		{name: "every node stale is named", nodes: []adminapi.NodeStatus{node("n1", before), node("n2", time.Time{}), down("n3")}, buckets: full,
			waiting: "n1 (census from before), n2 (no census yet), n3 (down)"},
		{name: "objects below full redundancy", nodes: []adminapi.NodeStatus{node("n1", after), node("n2", after)},
			buckets: map[string]adminapi.Redundancy{"b": {Objects: []int64{1, 3, 9}}}, waiting: "4 objects below full redundancy"},
		{name: "lost objects", nodes: []adminapi.NodeStatus{node("n1", after)},
			buckets: map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 0, 13}, Lost: 1}}, waiting: "1 lost objects"},
		{name: "shards still held as hints, though counted readable", nodes: []adminapi.NodeStatus{node("n1", after), node("n2", after)},
			buckets: full, hints: 7, waiting: "7 shards still held as hints"},
		{name: "another bucket's damage does not count", nodes: []adminapi.NodeStatus{node("n1", after)},
			buckets: map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 0, 13}}, "other": {Objects: []int64{5, 0, 0}, Lost: 2}}, full: true},
		{name: "a node outside the layout is not waited for", nodes: []adminapi.NodeStatus{node("n1", after), unassigned("n7", time.Time{})}, buckets: full, full: true},
		{name: "a node outside the layout does not make a cluster", nodes: []adminapi.NodeStatus{unassigned("n7", after)}, buckets: full, waiting: "the gateway"},
		{name: "no nodes listed", buckets: full, waiting: "the gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRedundancyWatch("b", since)
			st := &adminapi.Status{DataShards: 4, ParityShards: 2, Nodes: tc.nodes, Buckets: tc.buckets, HintCount: tc.hints}
			got := w.check(st, after)
			if got.Full != tc.full || !tc.full && !strings.Contains(got.Waiting, tc.waiting) {
				t.Fatalf("full %v, waiting for %q; want full %v, waiting for %q", got.Full, got.Waiting, tc.full, tc.waiting)
			}
			if got.Full && (got.FullObjects() != 13 || got.Waiting != "") {
				t.Errorf("full with %d objects at full redundancy, waiting %q; want 13 and nothing", got.FullObjects(), got.Waiting)
			}
		})
	}
}

func TestRedundancyWatchAsksForPassesOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 26, 8, 0, 30, 0, time.UTC)
	at := func(s int) time.Time { return since.Add(time.Duration(s) * time.Second) }
	node := func(id string, census time.Time) adminapi.NodeStatus {
		return adminapi.NodeStatus{ID: id, State: "active", Alive: true, Reported: true, CensusStarted: census}
	}
	down := adminapi.NodeStatus{ID: "n2", State: "active"}
	full := map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 0, 13}}}
	degraded := map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 2, 11}}}
	w := newRedundancyWatch("b", since)
	for i, s := range []struct {
		why     string
		nodes   []adminapi.NodeStatus
		buckets map[string]adminapi.Redundancy
		want    bool
		askAt   int // the watch asks after this status, at that many seconds after since; 0 for not
	}{
		{"n1 was never asked", []adminapi.NodeStatus{node("n1", at(-5)), down}, full, true, 1},
		{"n1's census is to come, n2 down", []adminapi.NodeStatus{node("n1", at(-5)), down}, full, false, 0},
		{"n2 has come up", []adminapi.NodeStatus{node("n1", at(-5)), node("n2", time.Time{})}, full, true, 3},
		{"both counting as asked", []adminapi.NodeStatus{node("n1", at(2)), node("n2", at(-5))}, degraded, false, 0},
		{"both counted afresh, objects still below full redundancy", []adminapi.NodeStatus{node("n1", at(4)), node("n2", at(4))}, degraded, true, 5},
		{"the censuses asked for last have not begun", []adminapi.NodeStatus{node("n1", at(4)), node("n2", at(6))}, degraded, false, 0},
		{"both counted again since the last ask, still degraded", []adminapi.NodeStatus{node("n1", at(6)), node("n2", at(6))}, degraded, true, 0},
	} {
		st := w.check(&adminapi.Status{ParityShards: 2, Nodes: s.nodes, Buckets: s.buckets}, at(10))
		if st.Full {
			t.Fatalf("step %d (%s): full; every step here has something left", i, s.why)
		}
		if got := w.passWanted(st); got != s.want {
			t.Errorf("step %d (%s): passWanted = %v; want %v (waiting for %s)", i, s.why, got, s.want, st.Waiting)
		}
		if s.askAt != 0 {
			w.ask(at(s.askAt))
		}
	}
}

func TestRedundancyWatchEmptyBucketIsFull(t *testing.T) {
	t.Parallel()
	since := time.Now()
	w := newRedundancyWatch("b", since)
	st := &adminapi.Status{ParityShards: 2, Nodes: []adminapi.NodeStatus{{ID: "n1", State: "active", Alive: true, Reported: true, CensusStarted: since}}}
	got := w.check(st, since)
	if !got.Full || len(got.Objects) != 3 || got.FullObjects() != 0 {
		t.Errorf("check = %+v; want full, with a histogram of zeros 0..m", got)
	}
}

// censusAPI is a cluster of one node as the admin API shows it: each Heal
// makes the node's census begin then. Its histogram shows one object
// degraded after the first heal (the census ran before a repair landed)
// and none before (a census from before the restart) or after the second.
type censusAPI struct {
	mu        sync.Mutex
	census    time.Time
	heals     int
	statusErr error
}

func (a *censusAPI) Status(context.Context) (*adminapi.Status, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.statusErr != nil {
		return nil, a.statusErr
	}
	objects := []int64{0, 0, 13}
	if a.heals == 1 {
		objects = []int64{0, 1, 12}
	}
	return &adminapi.Status{DataShards: 4, ParityShards: 2, Buckets: map[string]adminapi.Redundancy{"b": {Objects: objects}},
		Nodes: []adminapi.NodeStatus{{ID: "n1", State: "active", Alive: true, Reported: true, CensusStarted: a.census}}}, nil
}

func (a *censusAPI) Heal(context.Context, string) (*adminapi.Status, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.heals++
	a.census = time.Now()
	return &adminapi.Status{}, nil
}

func TestWatchRedundancyAsksAgainWhileObjectsAreDegraded(t *testing.T) {
	t.Parallel()
	// In a bubble the watch's clock, tickers and timeout are virtual: the
	// time it takes is its own pacing, not the machine's load.
	synctest.Test(t, func(t *testing.T) {
		since := time.Now()
		api := &censusAPI{census: since.Add(-time.Second)}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		st, err := watchRedundancy(ctx, api, "b", since)
		if err != nil || !st.Full {
			t.Fatalf("watchRedundancy = %+v, %v; want full", st, err)
		}
		if st.Heals != 2 || api.heals != 2 {
			t.Errorf("asked for passes %d times (the node saw %d); want 2: at the start, and again once the fresh census showed a degraded object", st.Heals, api.heals)
		}
		if took := st.At.Sub(since); took < redundancyKick || took > redundancyKick+2*redundancyPoll {
			t.Errorf("full after %v; want a poll or two over %v, the wait between asks", took, redundancyKick)
		}
	})
}

func TestWatchRedundancyStopsOnARefusedKey(t *testing.T) {
	t.Parallel()
	api := &censusAPI{statusErr: &objctl.APIError{StatusCode: http.StatusForbidden, Message: "not an admin"}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	st, err := watchRedundancy(ctx, api, "b", time.Now())
	if err == nil || ctx.Err() != nil || st.Full || st.Polls != 1 {
		t.Errorf("watchRedundancy = %+v, %v; want an error after one status read, before the deadline", st, err)
	}
}

func TestLastRecovery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		schedule string
		want     int
	}{
		{"kill node 2 at 15s; kill node 5 at 15s; restart node 2 at 30s; restart node 5 at 30s", 3},
		{"kill nodes 3,5 at 10s for 15s", 3},
		{"pause node 5 at 5s for 15s", 1},
		{"restart node 3 at 5s", 0},
		{"kill node 2 at 1s; kill node 4 at 2s; restart node 2 at 3s", -1}, // n4 stays down
		{"kill node 2 at 1s; restart node 2 at 2s; kill node 3 at 3s", -1},
		{"kill node 2 at 1s", -1},
		{"slow node 2 by 50ms for 5s", -1},
		{"kill node 2 at 1s for 1s; slow node 3 by 5ms at 5s", 1},
		{"", -1},
	} {
		events, err := ParseFaults(tc.schedule)
		if err != nil {
			t.Fatal(err)
		}
		if got := lastRecovery(events); got != tc.want {
			t.Errorf("lastRecovery(%q) = %d; want %d", tc.schedule, got, tc.want)
		}
	}
}

// redundancyFake is a fault target that can tell full redundancy: call i
// of FullRedundancy reports it delays[i] after it began, or never when
// that is negative.
type redundancyFake struct {
	fakeTarget
	healed []FaultEvent
	delays []time.Duration

	mu    sync.Mutex
	calls []time.Time // since, per call
}

func (f *redundancyFake) Heal() ([]FaultEvent, error) { return f.healed, nil }

func (f *redundancyFake) FullRedundancy(ctx context.Context, bucket string, since time.Time) (RedundancyState, error) {
	f.mu.Lock()
	i := len(f.calls)
	f.calls = append(f.calls, since)
	f.mu.Unlock()
	degraded := RedundancyState{ParityShards: 2, Objects: []int64{0, 1, 6}, Waiting: "1 objects below full redundancy"}
	if f.delays[i] < 0 {
		<-ctx.Done()
		return degraded, ctx.Err()
	}
	select {
	case <-ctx.Done():
		return degraded, ctx.Err()
	case <-time.After(f.delays[i]):
	}
	return RedundancyState{At: time.Now(), Full: true, ParityShards: 2, Objects: []int64{0, 0, 7}}, nil
}

// acceptPuts is an S3 endpoint that takes every PUT and forgets it.
func acceptPuts(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("ETag", `"0"`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRunnerTimesFullRedundancyFromTheLastRestart(t *testing.T) {
	t.Parallel()
	restart := func(n int) FaultEvent { return FaultEvent{Action: FaultRestart, Node: n} }
	for _, tc := range []struct {
		name     string
		schedule string
		healed   []FaultEvent
		delays   []time.Duration
		limit    time.Duration
		after    string
		fromMin  time.Duration // the event timed from was applied no earlier
		healedBy bool
		reached  bool
		calls    int
	}{
		{name: "the schedule's restart", schedule: "kill node 2 at 0s; restart node 2 at 60ms",
			delays: []time.Duration{40 * time.Millisecond}, after: "restart n2", fromMin: 60 * time.Millisecond, reached: true, calls: 1},
		{name: "the heal's restart of a node the schedule left down", schedule: "kill node 2 at 0s; restart node 2 at 30ms; kill node 3 at 60ms",
			healed: []FaultEvent{restart(3)}, delays: []time.Duration{40 * time.Millisecond},
			after: "restart n3", fromMin: 150 * time.Millisecond, healedBy: true, reached: true, calls: 1},
		{name: "a heal's restart supersedes the schedule's", schedule: "kill node 2 at 0s; restart node 2 at 30ms",
			healed: []FaultEvent{restart(5)}, delays: []time.Duration{-1, 40 * time.Millisecond},
			after: "restart n5", fromMin: 150 * time.Millisecond, healedBy: true, reached: true, calls: 2},
		{name: "never full: it gives up at the limit", schedule: "kill node 2 at 0s; restart node 2 at 30ms",
			delays: []time.Duration{-1}, limit: 200 * time.Millisecond, after: "restart n2", fromMin: 30 * time.Millisecond, calls: 1},
		{name: "nothing comes back", schedule: "slow node 2 by 1ms", delays: []time.Duration{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			faults, err := ParseFaults(tc.schedule)
			if err != nil {
				t.Fatal(err)
			}
			ft := &redundancyFake{healed: tc.healed, delays: tc.delays}
			client := NewClient(ClientOptions{Endpoint: acceptPuts(t), Region: "us-east-1", AccessKey: "k", SecretKey: "s", Concurrency: 1})
			r, err := NewRunner(Config{Client: client, Bucket: "b", Faults: ft, SkipReadBack: true, RedundancyTimeout: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			res, err := r.Run(t.Context(), Scenario{Name: "faults", Kind: KindPut, Size: 1000, Concurrency: 1, Duration: 150 * time.Millisecond, Faults: faults})
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("the run took %v", took)
			}
			if len(ft.calls) != tc.calls {
				t.Fatalf("FullRedundancy called %d times; want %d", len(ft.calls), tc.calls)
			}
			rd := res.Redundancy
			if tc.calls == 0 {
				if rd != nil {
					t.Errorf("Redundancy = %+v; want none", rd)
				}
				return
			}
			if rd == nil {
				t.Fatal("no Redundancy in the result")
			}
			if rd.After != tc.after || rd.Healed != tc.healedBy || rd.Reached != tc.reached || rd.From < tc.fromMin || rd.Bucket != "b" {
				t.Errorf("Redundancy = %+v; want after %q (healed %v) at ≥ %v in bucket b, reached %v", rd, tc.after, tc.healedBy, tc.fromMin, tc.reached)
			}
			// The watch begins once the event is over, not before it.
			if since := ft.calls[len(ft.calls)-1]; since.Before(res.Started.Add(rd.From)) {
				t.Errorf("watched from %v, before the event at %v", since, res.Started.Add(rd.From))
			}
			md := (&Report{Bucket: "b", Scenarios: []*ScenarioResult{res}}).Markdown("")
			if tc.reached {
				// The fake reports full 40 ms after the watch began, and the
				// watch began after the event.
				if rd.Took < 40*time.Millisecond || rd.Took > 2*time.Second || rd.State.FullObjects() != 7 || rd.Err != "" {
					t.Errorf("reached after %v with %d objects full, err %q; want 40 ms or a little more, 7, none", rd.Took, rd.State.FullObjects(), rd.Err)
				}
				want := fmt.Sprintf("- time to full redundancy after the last restart (%s at ", tc.after)
				if !strings.Contains(md, want) || !strings.Contains(md, "7 objects of bucket b at full redundancy") {
					t.Errorf("results.md does not say it:\n%s", md)
				}
			} else {
				if rd.Took < tc.limit || rd.Err != "" || rd.State.Waiting == "" {
					t.Errorf("gave up after %v, err %q, waiting %q; want ≥ %v, no error (time ran out), and what it waited for", rd.Took, rd.Err, rd.State.Waiting, tc.limit)
				}
				if !strings.Contains(md, "**not reached**") || !strings.Contains(md, "0:0 1:1 2:6") {
					t.Errorf("results.md does not say it was not reached, with the histogram:\n%s", md)
				}
			}
		})
	}
}

// TestFullRedundancyInProcess follows a real outage on an in-process
// cluster: with a node down no watch can end; after its restart one ends
// with every object written, during the outage too, at full redundancy.
func TestFullRedundancyInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	tt := &testTarget{c: c}
	cl := NewClient(ClientOptions{Endpoint: c.Endpoint, Region: clustertest.Region,
		AccessKey: clustertest.AccessKey, SecretKey: clustertest.SecretKey, Concurrency: 4})
	ctx := t.Context()
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("heal")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("cairn"), 60_000) // 300 kB: shard files, not inline
	put := func(key string) {
		t.Helper()
		if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("heal"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		put(fmt.Sprint("before/", i))
	}
	if err := tt.Kill(3); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		put(fmt.Sprint("during/", i))
	}
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	st, err := tt.FullRedundancy(short, "heal", time.Now())
	cancel()
	if err == nil || st.Full || !strings.Contains(st.Waiting, "n3 (down)") {
		t.Fatalf("with n3 down: %+v, %v; want no full redundancy, waiting for n3", st, err)
	}
	if err := tt.Restart(3); err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	long, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	st, err = tt.FullRedundancy(long, "heal", since)
	if err != nil || !st.Full {
		t.Fatalf("after the restart: %+v, %v; want full redundancy", st, err)
	}
	if st.FullObjects() != 20 || st.Lost != 0 || !st.At.After(since) || st.Heals == 0 {
		t.Errorf("full redundancy: %+v; want all 20 objects full, none lost, seen after the restart, with scanner passes asked for", st)
	}
}

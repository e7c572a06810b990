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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/adminapi"
	"cairn/internal/clustertest"
)

func TestRedundancyWatchCheck(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 26, 8, 0, 30, 0, time.UTC)
	before, after1, after2 := since.Add(-time.Second), since.Add(2*time.Second), since.Add(5*time.Second)
	node := func(id string, lastScan time.Time) adminapi.NodeStatus {
		return adminapi.NodeStatus{ID: id, State: "active", Alive: true, Reported: true, LastScan: lastScan}
	}
	down := func(id string) adminapi.NodeStatus { return adminapi.NodeStatus{ID: id, State: "active"} }
	mute := func(id string) adminapi.NodeStatus {
		return adminapi.NodeStatus{ID: id, State: "active", Alive: true}
	}
	full := map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 0, 13}}}
	// begun says every listed node's pass began at t.
	begun := func(t time.Time, ids ...string) map[string]time.Time {
		m := map[string]time.Time{}
		for _, id := range ids {
			m[id] = t
		}
		return m
	}
	type step struct {
		nodes   []adminapi.NodeStatus
		buckets map[string]adminapi.Redundancy
		starts  map[string]time.Time
		full    bool
		waiting string // a part of Waiting when not full
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a node down", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1), down("n2")}, buckets: full, starts: begun(after1, "n1"), waiting: "n2 (down)"},
		}},
		{"a node that does not answer", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1), mute("n2")}, buckets: full, starts: begun(after1, "n1"), waiting: "n2 (no answer)"},
		}},
		{"a pass that ended before the restart", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1), node("n2", before)}, buckets: full, starts: begun(after1, "n1"), waiting: "n2 (scanning)"},
		}},
		{"a node that never scanned", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1), node("n2", time.Time{})}, buckets: full, starts: begun(after1, "n1"), waiting: "n2 (scanning)"},
		}},
		{"a pass ended after the restart may have begun before it: the next one counts", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1), node("n2", after1)}, buckets: full, waiting: "n1 (scanning), n2 (scanning)"},
			{nodes: []adminapi.NodeStatus{node("n1", after1), node("n2", after1)}, buckets: full, waiting: "n1 (scanning), n2 (scanning)"},
			{nodes: []adminapi.NodeStatus{node("n1", after2), node("n2", after1)}, buckets: full, waiting: "n2 (scanning)"},
			{nodes: []adminapi.NodeStatus{node("n1", after2), node("n2", after2)}, buckets: full, full: true},
		}},
		{"a pass its node says began after the restart counts at once", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1), node("n2", after1)}, buckets: full, starts: begun(since, "n1", "n2"), full: true},
		}},
		{"a pass its node says began before the restart does not count", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1), node("n2", after1)}, buckets: full,
				starts: begun(since.Add(-time.Millisecond), "n1", "n2"), waiting: "n1 (scanning), n2 (scanning)"},
			{nodes: []adminapi.NodeStatus{node("n1", after2), node("n2", after2)}, buckets: full, full: true},
		}},
		{"objects below full redundancy, then repaired", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1), node("n2", after1)}, starts: begun(after1, "n1", "n2"),
				buckets: map[string]adminapi.Redundancy{"b": {Objects: []int64{1, 3, 9}}}, waiting: "4 objects below full redundancy"},
			{nodes: []adminapi.NodeStatus{node("n1", after2), node("n2", after2)}, starts: begun(after2, "n1", "n2"), buckets: full, full: true},
		}},
		{"lost objects", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1)}, starts: begun(after1, "n1"),
				buckets: map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 0, 13}, Lost: 1}}, waiting: "1 lost objects"},
		}},
		{"another bucket's damage does not count", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1)}, starts: begun(after1, "n1"),
				buckets: map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 0, 13}}, "other": {Objects: []int64{5, 0, 0}, Lost: 2}}, full: true},
		}},
		{"a node outside the layout is not waited for", []step{
			{nodes: []adminapi.NodeStatus{node("n1", after1), {ID: "n7", State: "unassigned"}}, starts: begun(after1, "n1"), buckets: full, full: true},
		}},
		{"no nodes listed", []step{
			{buckets: full, waiting: "the gateway"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRedundancyWatch("b", since)
			for i, s := range tc.steps {
				st := &adminapi.Status{DataShards: 4, ParityShards: 2, Nodes: s.nodes, Buckets: s.buckets}
				got := w.check(st, s.starts, after2)
				if got.Full != s.full || !s.full && !strings.Contains(got.Waiting, s.waiting) {
					t.Fatalf("step %d: full %v, waiting for %q; want full %v, waiting for %q", i, got.Full, got.Waiting, s.full, s.waiting)
				}
				if got.Full && (got.FullObjects() != 13 || got.Waiting != "") {
					t.Errorf("step %d: full with %d objects at full redundancy, waiting %q; want 13 and nothing", i, got.FullObjects(), got.Waiting)
				}
			}
		})
	}
}

func TestRedundancyWatchAsksForPassesOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 26, 8, 0, 30, 0, time.UTC)
	before, after1, after2 := since.Add(-time.Second), since.Add(2*time.Second), since.Add(5*time.Second)
	node := func(id string, lastScan time.Time) adminapi.NodeStatus {
		return adminapi.NodeStatus{ID: id, State: "active", Alive: true, Reported: true, LastScan: lastScan}
	}
	full := map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 0, 13}}}
	degraded := map[string]adminapi.Redundancy{"b": {Objects: []int64{0, 2, 11}}}
	w := newRedundancyWatch("b", since)
	for i, s := range []struct {
		why     string
		nodes   []adminapi.NodeStatus
		buckets map[string]adminapi.Redundancy
		starts  map[string]time.Time
		want    bool
		ask     bool // the watch asks after this status
	}{
		{"n1 was never asked", []adminapi.NodeStatus{node("n1", before), {ID: "n2", State: "active"}}, full, nil, true, true},
		{"n1 is scanning, n2 down", []adminapi.NodeStatus{node("n1", before), {ID: "n2", State: "active"}}, full, nil, false, false},
		{"n2 has come up", []adminapi.NodeStatus{node("n1", before), node("n2", time.Time{})}, full, nil, true, true},
		{"both scanning as asked; n1's pass began after the restart", []adminapi.NodeStatus{node("n1", after1), node("n2", time.Time{})}, full,
			map[string]time.Time{"n1": since.Add(time.Millisecond)}, false, false},
		{"n2's pass ended, its start unknown: the next one tells", []adminapi.NodeStatus{node("n1", after1), node("n2", after1)}, degraded,
			map[string]time.Time{"n1": since.Add(time.Millisecond)}, true, true},
		{"both scanned afresh, objects still below full redundancy", []adminapi.NodeStatus{node("n1", after1), node("n2", after2)}, degraded,
			map[string]time.Time{"n1": since.Add(time.Millisecond)}, true, true},
	} {
		st := w.check(&adminapi.Status{ParityShards: 2, Nodes: s.nodes, Buckets: s.buckets}, s.starts, after2)
		if got := w.passWanted(st); got != s.want {
			t.Errorf("step %d (%s): passWanted = %v; want %v (waiting for %s)", i, s.why, got, s.want, st.Waiting)
		}
		if s.ask {
			w.asked = w.up
		}
	}
}

func TestRedundancyWatchEmptyBucketIsFull(t *testing.T) {
	t.Parallel()
	since := time.Now()
	w := newRedundancyWatch("b", since)
	st := &adminapi.Status{ParityShards: 2, Nodes: []adminapi.NodeStatus{{ID: "n1", State: "active", Alive: true, Reported: true, LastScan: since.Add(time.Second)}}}
	got := w.check(st, map[string]time.Time{"n1": since}, since)
	if !got.Full || len(got.Objects) != 3 || got.FullObjects() != 0 {
		t.Errorf("check = %+v; want full, with a histogram of zeros 0..m", got)
	}
}

func TestParseLastPass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text string
		end        time.Time
		took       time.Duration
		ok         bool
	}{
		{"with the node label", `# HELP cairn_node_scanner_last_pass_timestamp_seconds When the scanner's last pass ended, Unix time.
# TYPE cairn_node_scanner_last_pass_timestamp_seconds gauge
cairn_node_scanner_last_pass_timestamp_seconds{node="n1"} 1.7645e+09
cairn_node_scanner_last_pass_duration_seconds_total{node="n1"} 99
cairn_node_scanner_last_pass_duration_seconds{node="n1"} 2.5
`, time.Unix(1_764_500_000, 0), 2500 * time.Millisecond, true},
		{"without labels, a fraction of a second", "cairn_node_scanner_last_pass_duration_seconds 0.25\ncairn_node_scanner_last_pass_timestamp_seconds 1764500000.5\n",
			time.Unix(1_764_500_000, 5e8), 250 * time.Millisecond, true},
		{"before the first pass", "cairn_node_scanner_passes_total{node=\"n1\"} 0\n", time.Time{}, 0, false},
		{"an end without a duration", "cairn_node_scanner_last_pass_timestamp_seconds 1.7645e+09\n", time.Unix(1_764_500_000, 0), 0, false},
	} {
		end, took, ok, err := parseLastPass(strings.NewReader(tc.text))
		if err != nil || ok != tc.ok || ok && (end.Sub(tc.end).Abs() > time.Microsecond || took != tc.took) {
			t.Errorf("%s: parseLastPass = %v, %v, %v, %v; want %v, %v, %v", tc.name, end, took, ok, err, tc.end, tc.took, tc.ok)
		}
	}
}

func TestPassStartsFromMatchesThePassTheStatusReports(t *testing.T) {
	t.Parallel()
	end := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	calls := 0
	nodeEnd := map[string]time.Time{"n1": end.Add(300 * time.Nanosecond), "n2": end.Add(3 * time.Second)}
	starts := passStartsFrom(func(_ context.Context, id string) (time.Time, time.Duration, bool) {
		calls++
		return nodeEnd[id], 2 * time.Second, true
	})
	st := &adminapi.Status{Nodes: []adminapi.NodeStatus{
		{ID: "n1", Reported: true, LastScan: end},
		{ID: "n2", Reported: true, LastScan: end}, // its node has ended another pass since
		{ID: "n3", LastScan: end},                 // did not answer the gateway
	}}
	got := starts(t.Context(), st)
	if len(got) != 1 || got["n1"].Sub(end.Add(-2*time.Second)).Abs() > time.Microsecond {
		t.Errorf("starts = %v; want only n1, at %v", got, end.Add(-2*time.Second))
	}
	if calls != 2 {
		t.Errorf("asked the nodes %d times; want 2 (n1, n2)", calls)
	}
	starts(t.Context(), st)
	if calls != 3 {
		t.Errorf("after a second status of the same passes, asked %d times in all; want 3 (n2 again, n1 known)", calls)
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

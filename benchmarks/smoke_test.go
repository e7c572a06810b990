package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cairn/internal/clustertest"
	"cairn/internal/objctl"
)

// TestSmoke runs every scenario kind for about a second against an
// in-process cluster and checks that nothing failed, nothing was lost, and
// the JSON, markdown and PNG outputs were written.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	client := NewClient(ClientOptions{Endpoint: c.Endpoint, Region: clustertest.Region,
		AccessKey: clustertest.AccessKey, SecretKey: clustertest.SecretKey, Concurrency: 4})
	r, err := NewRunner(Config{Client: client, Bucket: "smoke", Seed: 1, OpTimeout: 20 * time.Second, Faults: &testTarget{c: c}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	rep := &Report{Tool: "cairnbench", Date: time.Now(), Endpoint: c.Endpoint, Target: "clustertest", Bucket: "smoke"}
	scenarios := SmokeSuite(600 * time.Millisecond)
	scenarios = append(scenarios, Scenario{Name: "bounded-put", Kind: KindPut, Size: 100_000, Concurrency: 2, Ops: 20})
	faults, err := ParseFaults("kill node 2 at 200ms for 300ms; kill node 4 at 300ms")
	if err != nil {
		t.Fatal(err)
	}
	// Node 4 stays down to the end: Heal must bring it back for read-back.
	scenarios = append(scenarios, Scenario{Name: "put-faults", Kind: KindPut, Size: 200_000, Concurrency: 2, Duration: 700 * time.Millisecond, Faults: faults})
	for _, sc := range scenarios {
		res, err := r.Run(t.Context(), sc)
		if err != nil {
			t.Fatalf("Run(%s) = %v", sc.Name, err)
		}
		rep.Scenarios = append(rep.Scenarios, res)
		if res.Total.Count == 0 {
			t.Errorf("%s: no successful requests", sc.Name)
		}
		if len(sc.Faults) > 0 {
			// Requests in flight when a node dies may fail; what must hold is
			// that the faults ran, were healed, and nothing acked was lost.
			var labels []string
			for _, f := range res.Faults {
				labels = append(labels, f.Label)
				if f.Err != "" {
					t.Errorf("%s: fault %s failed: %s", sc.Name, f.Label, f.Err)
				}
			}
			if want := "kill n2 kill n4 restart n2 restart n4"; strings.Join(labels, " ") != want {
				t.Errorf("%s: faults %q; want %q", sc.Name, strings.Join(labels, " "), want)
			}
			if !res.Faults[len(res.Faults)-1].Healed {
				t.Errorf("%s: last fault %+v was not applied by Heal", sc.Name, res.Faults[len(res.Faults)-1])
			}
			// The heal's restart of n4 is the last; every object of the
			// bucket, the earlier scenarios' too, is back at full
			// redundancy soon after.
			if rd := res.Redundancy; rd == nil || !rd.Reached || rd.After != "restart n4" || !rd.Healed || rd.State.FullObjects() == 0 {
				t.Errorf("%s: redundancy %+v; want full redundancy reached after the heal's restart n4", sc.Name, rd)
			} else {
				t.Logf("%s: time to full redundancy %s", sc.Name, rd.Line())
			}
		}
		for _, o := range res.Ops {
			if len(sc.Faults) > 0 {
				continue
			}
			if o.Errors != 0 || o.Mismatches != 0 {
				t.Errorf("%s: %s: %d errors, %d mismatches: %+v", sc.Name, o.Op, o.Errors, o.Mismatches, o.ErrorKinds)
			}
		}
		if rb := res.ReadBack; rb == nil || rb.Lost() != 0 || rb.OK != rb.Objects || rb.Objects == 0 {
			t.Errorf("%s: read-back = %+v; want every object ok", sc.Name, rb)
		}
	}
	if got := rep.Scenarios[4].Total.Count; got != 20 {
		t.Errorf("bounded-put: %d PUTs; want exactly 20", got)
	}
	mixed := rep.Scenarios[2]
	if len(mixed.Ops) < 4 {
		t.Errorf("mixed ran only %d kinds of operation: %+v", len(mixed.Ops), mixed.Ops)
	}
	for _, o := range rep.Scenarios[1].Ops {
		if o.Op == OpGet && (o.TTFB == nil || o.TTFB.P50 <= 0 || o.TTFB.P50 > o.Latency.Max) {
			t.Errorf("get: TTFB = %+v; want positive and within the latencies", o.TTFB)
		}
	}

	dir := t.TempDir()
	summary := filepath.Join(dir, "summary.md")
	if err := rep.WriteFiles(filepath.Join(dir, "out"), summary); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Scenarios) != len(scenarios) {
		t.Errorf("results.json: %d scenarios, %v; want %d", len(back.Scenarios), err, len(scenarios))
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "- time to full redundancy after the last restart (restart n4 at ") {
		t.Errorf("summary.md has no time to full redundancy")
	}
	for _, sc := range scenarios {
		if !strings.Contains(string(md), "| "+sc.Name+" | ") {
			t.Errorf("summary.md has no table row for %s", sc.Name)
		}
		tp, cdf := chartNames(sc.Name)
		if !strings.Contains(string(md), "out/"+tp) {
			t.Errorf("summary.md does not link out/%s", tp)
		}
		for _, name := range []string{tp, cdf} {
			png, err := os.ReadFile(filepath.Join(dir, "out", name))
			if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
				t.Errorf("%s: %d bytes, %v; want a PNG", name, len(png), err)
			}
		}
	}
}

// testTarget applies kill and restart to a clustertest cluster.
type testTarget struct {
	c    *clustertest.Cluster
	down []bool
}

var errUnsupported = errors.New("not supported in process")

func (tt *testTarget) Nodes() int { return len(tt.c.Nodes) }
func (tt *testTarget) Kill(n int) error {
	if tt.down == nil {
		tt.down = make([]bool, len(tt.c.Nodes)+1)
	}
	tt.down[n] = true
	return tt.c.Nodes[n-1].Stop()
}
func (tt *testTarget) Restart(n int) error {
	tt.down[n] = false
	return tt.c.Nodes[n-1].Restart()
}
func (tt *testTarget) Pause(int) error               { return errUnsupported }
func (tt *testTarget) Resume(int) error              { return errUnsupported }
func (tt *testTarget) Slow(int, time.Duration) error { return errUnsupported }

// FullRedundancy watches through the gateway's admin API, as LocalCluster
// does.
func (tt *testTarget) FullRedundancy(ctx context.Context, bucket string, since time.Time) (RedundancyState, error) {
	admin := httptest.NewServer(tt.c.Gateway.AdminHandler())
	defer admin.Close()
	api, err := objctl.NewClient(admin.URL, clustertest.AccessKey, clustertest.SecretKey, clustertest.Region, nil)
	if err != nil {
		return RedundancyState{}, err
	}
	return watchRedundancy(ctx, api, bucket, since)
}

func (tt *testTarget) Heal() ([]FaultEvent, error) {
	var did []FaultEvent
	var errs []error
	for n, d := range tt.down {
		if d {
			did = append(did, FaultEvent{Action: FaultRestart, Node: n})
			errs = append(errs, tt.Restart(n))
		}
	}
	return did, errors.Join(errs...)
}

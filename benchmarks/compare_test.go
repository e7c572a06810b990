package benchmarks

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cairn/internal/clustertest"
)

func TestRatioRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		baseline, subj []float64
		lo, hi         float64
		ok             bool
	}{
		{name: "one round", baseline: []float64{100}, subj: []float64{150}, lo: 1.5, hi: 1.5, ok: true},
		{name: "two rounds", baseline: []float64{170, 128}, subj: []float64{233, 230}, lo: 233.0 / 170, hi: 230.0 / 128, ok: true},
		{name: "subject slower", baseline: []float64{100, 200}, subj: []float64{50, 100}, lo: 0.5, hi: 0.5, ok: true},
		{name: "a round without its baseline run", baseline: []float64{100}, subj: []float64{120, 90}, lo: 1.2, hi: 1.2, ok: true},
		{name: "zero baseline", baseline: []float64{0, 100}, subj: []float64{10, 10}},
		{name: "no subject run", baseline: []float64{100}},
		{name: "nothing"},
	} {
		lo, hi, ok := RatioRange(tc.baseline, tc.subj)
		if ok != tc.ok || math.Abs(lo-tc.lo) > 1e-9 || math.Abs(hi-tc.hi) > 1e-9 {
			t.Errorf("%s: RatioRange(%v, %v) = %v, %v, %v; want %v, %v, %v", tc.name, tc.baseline, tc.subj, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}

// TestCompareRuns compares two buckets of one in-process cluster: the
// runs alternate, each side's report gets every round, and the files are
// written.
func TestCompareRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	contender := func(bucket, target string) Contender {
		client := NewClient(ClientOptions{Endpoint: c.Endpoint, Region: clustertest.Region,
			AccessKey: clustertest.AccessKey, SecretKey: clustertest.SecretKey, Concurrency: 2})
		r, err := NewRunner(Config{Client: client, Bucket: bucket, Seed: 7, OpTimeout: 20 * time.Second, SkipReadBack: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.EnsureBucket(t.Context()); err != nil {
			t.Fatal(err)
		}
		return Contender{Runner: r, Report: &Report{Tool: "cairnbench", Date: time.Now(), Endpoint: c.Endpoint, Target: target, Bucket: bucket}}
	}
	base, subj := contender("cmp-base", "first bucket"), contender("cmp-subj", "second bucket")
	scenarios := []Scenario{
		{Name: "put", Kind: KindPut, Size: 4 << 10, Concurrency: 2, Duration: 200 * time.Millisecond},
		{Kind: KindGet, Size: 64 << 10, Concurrency: 2, Duration: 200 * time.Millisecond, Objects: 8},
	}
	var progress strings.Builder
	cmp, err := CompareRuns(t.Context(), base, subj, scenarios, 2, &progress)
	if err != nil {
		t.Fatal(err)
	}

	var want []string
	for _, sc := range []string{"put", "get-64KiB-c2"} {
		for round := 1; round <= 2; round++ {
			b := fmt.Sprintf("%s, round %d of 2: first bucket (baseline)", sc, round)
			s := fmt.Sprintf("%s, round %d of 2: second bucket (subject)", sc, round)
			if round == 2 {
				b, s = s, b // the order turns every round
			}
			want = append(want, b, s)
		}
	}
	if got := strings.TrimSpace(progress.String()); got != strings.Join(want, "\n") {
		t.Errorf("runs in order\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	for _, rep := range []*Report{base.Report, subj.Report} {
		var names []string
		for _, res := range rep.Scenarios {
			names = append(names, res.Scenario.Name)
			if res.Total.Count == 0 || res.Failures() > 0 {
				t.Errorf("%s, %s: %d requests, %d failures", rep.Target, res.Scenario.Name, res.Total.Count, res.Failures())
			}
		}
		if got := strings.Join(names, " "); got != "put-r1 put-r2 get-64KiB-c2-r1 get-64KiB-c2-r2" {
			t.Errorf("%s: runs %q", rep.Target, got)
		}
	}
	table := cmp.Table()
	for _, row := range []string{"| put | ", "| get-64KiB-c2 | "} {
		line := ""
		for _, l := range strings.Split(table, "\n") {
			if strings.HasPrefix(l, row) {
				line = l
			}
		}
		if !strings.Contains(line, "×") || !strings.Contains(line, " / ") {
			t.Errorf("table row %q lacks two rates a side and a ratio:\n%s", row, table)
		}
	}

	lat := cmp.LatencyTable()
	for _, row := range []string{"| put | 1 | ", "| put | 2 | ", "| get-64KiB-c2 | 1 | ", "| get-64KiB-c2 | 2 | "} {
		if !strings.Contains(lat, row) {
			t.Errorf("latency table lacks a row starting %q:\n%s", row, lat)
		}
	}
	if strings.Contains(lat, "—") || strings.Contains(lat, "–") {
		t.Errorf("latency table has a run without latencies:\n%s", lat)
	}

	dir := t.TempDir()
	summary := filepath.Join(dir, "summary.md")
	if err := cmp.WriteFiles(filepath.Join(dir, "out"), summary); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"out/comparison.md", "out/baseline/results.json", "out/subject/results.md", "out/subject/get-64KiB-c2-r2-throughput.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "](out/baseline)") || !strings.Contains(string(md), table) || !strings.Contains(string(md), lat) {
		t.Errorf("summary does not link into the results or lacks the table:\n%s", md)
	}
}

func TestCompareRunsRefusesFaults(t *testing.T) {
	t.Parallel()
	faults, err := ParseFaults("kill node 1 at 1s")
	if err != nil {
		t.Fatal(err)
	}
	sc := Scenario{Name: "put", Kind: KindPut, Size: 1, Concurrency: 1, Duration: time.Second, Faults: faults}
	if _, err := CompareRuns(t.Context(), Contender{}, Contender{}, []Scenario{sc}, 1, nil); err == nil {
		t.Error("CompareRuns with a fault schedule succeeded")
	}
	if _, err := CompareRuns(t.Context(), Contender{}, Contender{}, nil, 0, nil); err == nil {
		t.Error("CompareRuns with no rounds succeeded")
	}
}

package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"cairn/internal/metrics"
)

func TestAdminMuxHealth(t *testing.T) {
	down := errors.New("3 of 6 nodes alive")
	tests := []struct {
		name       string
		path       string
		live       metrics.Check
		ready      metrics.Check
		wantStatus int
		wantBody   string
	}{
		{"live without check", "/health/live", nil, nil, 200, `"status":"ok"`},
		{"ready ok", "/health/ready", nil, func(context.Context) error { return nil }, 200, `"status":"ok"`},
		{"ready failing", "/health/ready", nil, func(context.Context) error { return down }, 503, `"error":"3 of 6 nodes alive"`},
		{"live failing", "/health/live", func(context.Context) error { return down }, nil, 503, `"status":"unavailable"`},
		{"unknown path", "/health/other", nil, nil, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(metrics.NewAdminMux(prometheus.NewRegistry(), tc.live, tc.ready))
			defer srv.Close()
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("GET %s = %d %s; want %d containing %s", tc.path, resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantStatus != 404 && !json.Valid(body) {
				t.Errorf("GET %s body %q is not JSON", tc.path, body)
			}
		})
	}
}

func TestAdminMuxMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_test_things_total", Help: "Things."})
	reg.MustRegister(c)
	c.Add(3)
	srv := httptest.NewServer(metrics.NewAdminMux(reg, nil, nil))
	defer srv.Close()
	body := get(t, srv.URL+"/metrics")
	for _, want := range []string{"cairn_test_things_total 3", "go_goroutines", "process_"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
}

func TestDiskCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewDiskCollector(t.TempDir(), prometheus.Labels{"node": "n1"}))
	capacity := gathered(t, reg, "cairn_disk_capacity_bytes", map[string]string{"node": "n1"})
	used := gathered(t, reg, "cairn_disk_used_bytes", map[string]string{"node": "n1"})
	free := gathered(t, reg, "cairn_disk_free_bytes", map[string]string{"node": "n1"})
	if capacity <= 0 || used < 0 || free < 0 || used > capacity || free > capacity {
		t.Errorf("disk capacity %v used %v free %v; want 0 ≤ used, free ≤ capacity > 0", capacity, used, free)
	}
	d, err := metrics.StatDisk(t.TempDir())
	if err != nil || d.Capacity != int64(capacity) {
		t.Errorf("StatDisk = %+v, %v; want capacity %v", d, err, capacity)
	}
	if _, err := metrics.StatDisk("/does/not/exist"); err == nil {
		t.Errorf("StatDisk(/does/not/exist) = nil error; want one")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %s", url, resp.Status)
	}
	return string(b)
}

// gathered returns the value of the one metric named name whose labels
// include labels; for a histogram, its sample count.
func gathered(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := find(t, g, name, labels)
	if !ok {
		t.Fatalf("no metric %s%v", name, labels)
	}
	return v
}

func find(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func httptestGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

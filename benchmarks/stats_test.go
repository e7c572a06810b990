package benchmarks

import (
	"reflect"
	"testing"
	"time"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p50", ms(7), 50, 7 * time.Millisecond},
		{"one p99", ms(7), 99, 7 * time.Millisecond},
		{"two p50", ms(1, 2), 50, time.Millisecond},
		{"two p51", ms(1, 2), 51, 2 * time.Millisecond},
		{"four p50", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"four p75", ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{"four p100", ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{"four p0", ms(1, 2, 3, 4), 0, time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p90", hundred, 90, 90 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred p99.9", hundred, 99.9, 100 * time.Millisecond},
		{"ten p99", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 1000), 99, time.Second},
		{"ten p90", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 1000), 90, 9 * time.Millisecond},
	} {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(%v, %v) = %v; want %v", tc.name, tc.sorted, tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []time.Duration
		want Summary
	}{
		{nil, Summary{}},
		{ms(5), Summary{N: 1, Min: 5e6, Mean: 5e6, P50: 5e6, P90: 5e6, P99: 5e6, P999: 5e6, Max: 5e6}},
		{ms(4, 1, 3, 2), Summary{N: 4, Min: 1e6, Mean: 2.5e6, P50: 2e6, P90: 4e6, P99: 4e6, P999: 4e6, Max: 4e6}},
		{ms(10, 10, 10, 10, 10, 10, 10, 10, 10, 100), Summary{N: 10, Min: 10e6, Mean: 19e6, P50: 10e6, P90: 10e6, P99: 100e6, P999: 100e6, Max: 100e6}},
	} {
		in := append([]time.Duration(nil), tc.in...)
		if got := Summarize(in); got != tc.want {
			t.Errorf("Summarize(%v) = %+v; want %+v", tc.in, got, tc.want)
		}
	}
}

func TestCDF(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		n      int
		want   []CDFPoint
	}{
		{"empty", nil, 10, nil},
		{"fewer than n", ms(1, 2), 10, []CDFPoint{{1e6, 0.5}, {2e6, 1}}},
		{"thinned", ms(1, 2, 3, 4, 5), 3, []CDFPoint{{1e6, 0.2}, {3e6, 0.6}, {5e6, 1}}},
		{"n too small", ms(1, 2), 1, nil},
	} {
		if got := CDF(tc.sorted, tc.n); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: CDF(%v, %d) = %v; want %v", tc.name, tc.sorted, tc.n, got, tc.want)
		}
	}
}

func TestSeries(t *testing.T) {
	t.Parallel()
	var s Series
	s.Add(100*time.Millisecond, 10, false)
	s.Add(900*time.Millisecond, 5, false)
	s.Add(2500*time.Millisecond, 7, false)
	s.Add(2600*time.Millisecond, 99, true)
	s.Add(-time.Millisecond, 1, false) // clock skew lands in the first second
	want := Series{{0, 3, 16, 0}, {1, 0, 0, 0}, {2, 1, 7, 1}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Series after Adds = %v; want %v", s, want)
	}
	var total Series
	total.Merge(Series{{0, 1, 1, 0}})
	total.Merge(s)
	want = Series{{0, 4, 17, 0}, {1, 0, 0, 0}, {2, 1, 7, 1}}
	if !reflect.DeepEqual(total, want) {
		t.Errorf("Merge = %v; want %v", total, want)
	}
}

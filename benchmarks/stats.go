package benchmarks

import (
	"math"
	"slices"
	"time"
)

// Summary describes a set of latencies. Durations are in nanoseconds in
// JSON.
type Summary struct {
	N    int           `json:"n"`
	Min  time.Duration `json:"min_ns"`
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
}

// Summarize sorts samples in place and summarises them. An empty set gives
// the zero Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	var sum float64
	for _, d := range samples {
		sum += float64(d)
	}
	return Summary{
		N:    len(samples),
		Min:  samples[0],
		Mean: time.Duration(sum / float64(len(samples))),
		P50:  Percentile(samples, 50),
		P90:  Percentile(samples, 90),
		P99:  Percentile(samples, 99),
		P999: Percentile(samples, 99.9),
		Max:  samples[len(samples)-1],
	}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted samples by
// the nearest-rank method: the smallest sample such that at least p% of
// samples are ≤ it. It returns 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// CDFPoint is one point of an empirical distribution: a fraction F of the
// samples are ≤ D.
type CDFPoint struct {
	D time.Duration `json:"d_ns"`
	F float64       `json:"f"`
}

// CDF thins sorted samples to at most n points of their empirical
// distribution, always keeping the first and the last sample.
func CDF(sorted []time.Duration, n int) []CDFPoint {
	if len(sorted) == 0 || n < 2 {
		return nil
	}
	if len(sorted) <= n {
		out := make([]CDFPoint, len(sorted))
		for i, d := range sorted {
			out[i] = CDFPoint{d, float64(i+1) / float64(len(sorted))}
		}
		return out
	}
	out := make([]CDFPoint, 0, n)
	for j := range n {
		i := j * (len(sorted) - 1) / (n - 1)
		out = append(out, CDFPoint{sorted[i], float64(i+1) / float64(len(sorted))})
	}
	return out
}

// Point is one second of a time series: what completed during
// [Sec, Sec+1) seconds after the measured phase began.
type Point struct {
	Sec    int   `json:"sec"`
	Ops    int64 `json:"ops"`
	Bytes  int64 `json:"bytes"`
	Errors int64 `json:"errors"`
}

// Series is a per-second time series. The zero value is empty and ready.
type Series []Point

// Add counts an operation that completed at offset since the start.
func (s *Series) Add(offset time.Duration, bytes int64, failed bool) {
	sec := max(int(offset/time.Second), 0)
	for len(*s) <= sec {
		*s = append(*s, Point{Sec: len(*s)})
	}
	p := &(*s)[sec]
	if failed {
		p.Errors++
		return
	}
	p.Ops++
	p.Bytes += bytes
}

// Merge adds other's counts into s, second by second.
func (s *Series) Merge(other Series) {
	for _, p := range other {
		for len(*s) <= p.Sec {
			*s = append(*s, Point{Sec: len(*s)})
		}
		q := &(*s)[p.Sec]
		q.Ops += p.Ops
		q.Bytes += p.Bytes
		q.Errors += p.Errors
	}
}

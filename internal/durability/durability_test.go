package durability

import (
	"math"
	"strings"
	"testing"
)

func near(got, want, relTol float64) bool {
	if want == 0 {
		return got == 0
	}
	return math.Abs(got-want) <= relTol*math.Abs(want)
}

// The wanted values are worked out by hand:
//
//   - 1+0: the stripe is one disk, so it is lost in a year exactly when the
//     disk fails: (1-p)^(8760/T) = exp(-λ·8760) = 1-AFR, loss = AFR, for
//     any repair time.
//   - 1+1 with a year to repair: one window, p = AFR, both disks must fail:
//     loss = 0.02² = 4e-4, nines = -log10(4e-4) = 3.398.
//   - 4+2, AFR 2 %, one day to repair: p = 1 - 0.98^(24/8760) = 5.5348e-5.
//     Losing 3 of 6 dominates: P ≈ C(6,3)·p³·(1-p)³ = 20·1.69557e-13 =
//     3.3907e-12 per window (the 4-of-6 term adds 1e-16), and 365 windows
//     make 1.2376e-9 a year: 8.907 nines.
//   - 4+3, same: P ≈ C(7,4)·p⁴ = 35·9.3846e-18 = 3.2842e-16, ×365 =
//     1.1987e-13: 12.921 nines.
//   - 10+4, same: P ≈ C(14,5)·p⁵ = 2002·5.1942e-22 = 1.0399e-18 (less
//     the (1-p)^9 factor: 1.03946e-18), ×365 = 3.794e-16: 15.421 nines.
func TestModel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k, m        int
		afr, hours  float64
		loss, nines float64
	}{
		{1, 0, 0.02, 24, 0.02, 1.69897},
		{1, 0, 0.02, 8760, 0.02, 1.69897},
		{1, 1, 0.02, 8760, 4e-4, 3.39794},
		{4, 2, 0.02, 24, 1.23761e-9, 8.90742},
		{4, 3, 0.02, 24, 1.19873e-13, 12.92128},
		{10, 4, 0.02, 24, 3.79402e-16, 15.42090},
		// Nothing fails, or repair is instant: nothing is lost.
		{4, 2, 0, 24, 0, MaxNines},
		{4, 2, 0.02, 0, 0, MaxNines},
		// Every disk fails within the window.
		{4, 2, 1, 24, 1, 0},
	} {
		loss, nines := Model(tc.k, tc.m, tc.afr, tc.hours)
		if !near(loss, tc.loss, 1e-4) || !near(nines, tc.nines, 1e-5) {
			t.Errorf("Model(%d, %d, %g, %g) = %g, %.5f; want %g, %.5f", tc.k, tc.m, tc.afr, tc.hours, loss, nines, tc.loss, tc.nines)
		}
	}
}

// A loss far below the smallest float64 still has its nines computed:
// 4+100 at 2 %, one day: P ≈ C(104,101)·p^101, log10 = 5.2603 + 101·
// log10(5.5348e-5) = -424.686, plus log10(365) = 2.562 for the year:
// -422.124.
func TestModelUnderflow(t *testing.T) {
	t.Parallel()
	loss, nines := Model(4, 100, 0.02, 24)
	if loss != 0 || nines != MaxNines {
		t.Errorf("Model(4, 100, 0.02, 24) = %g, %g; want 0 (underflow), %g (capped)", loss, nines, MaxNines)
	}
	if got := logLossPerYear(4, 100, 0.02, 24) / math.Ln10; !near(got, -422.1239, 1e-5) {
		t.Errorf("log10 loss of 4+100 = %.4f; want -422.1239", got)
	}
}

func TestModelInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k, m       int
		afr, hours float64
	}{
		{0, 2, 0.02, 24},
		{4, -1, 0.02, 24},
		{4, 2, -0.1, 24},
		{4, 2, 1.5, 24},
		{4, 2, math.NaN(), 24},
		{4, 2, 0.02, -1},
		{4, 2, 0.02, math.NaN()},
	} {
		if loss, nines := Model(tc.k, tc.m, tc.afr, tc.hours); !math.IsNaN(loss) || !math.IsNaN(nines) {
			t.Errorf("Model(%d, %d, %g, %g) = %g, %g; want NaN, NaN", tc.k, tc.m, tc.afr, tc.hours, loss, nines)
		}
	}
}

// More parity, faster repair and sturdier disks each add nines; more data
// shards per stripe take some away.
func TestModelMonotonic(t *testing.T) {
	t.Parallel()
	rawNines := func(k, m int, afr, hours float64) float64 {
		return -logLossPerYear(k, m, afr, hours) / math.Ln10
	}
	for _, tc := range []struct {
		name        string
		fewer, more func(step int) float64 // nines at step and step+1 must grow from fewer to more
	}{
		{"more parity", func(s int) float64 { return rawNines(4, s, 0.02, 24) }, func(s int) float64 { return rawNines(4, s+1, 0.02, 24) }},
		{"faster repair", func(s int) float64 { return rawNines(4, 2, 0.02, float64(200-10*s)) }, func(s int) float64 { return rawNines(4, 2, 0.02, float64(190-10*s)) }},
		{"lower AFR", func(s int) float64 { return rawNines(4, 2, 0.2-0.01*float64(s), 24) }, func(s int) float64 { return rawNines(4, 2, 0.19-0.01*float64(s), 24) }},
		{"fewer data shards", func(s int) float64 { return rawNines(20-s, 3, 0.02, 24) }, func(s int) float64 { return rawNines(19-s, 3, 0.02, 24) }},
	} {
		for step := range 18 {
			if a, b := tc.fewer(step), tc.more(step); !(b > a) {
				t.Errorf("%s, step %d: nines %g then %g; want them to grow", tc.name, step, a, b)
			}
		}
	}
}

func TestRepairHours(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		bytes, rate, want float64
	}{
		{4e12, 100e6, 4e12 / 100e6 / 3600}, // 4 TB at 100 MB/s: 11.1 h
		{0, 100e6, 0},
		{1e12, 0, math.Inf(1)},
		{1e12, -5, math.Inf(1)},
	} {
		if got := RepairHours(tc.bytes, tc.rate); !near(got, tc.want, 1e-12) && got != tc.want {
			t.Errorf("RepairHours(%g, %g) = %g; want %g", tc.bytes, tc.rate, got, tc.want)
		}
	}
}

// A repair slower than a year, or none at all, is modelled as a one-year
// window.
func TestModelNoRepairWithinYear(t *testing.T) {
	t.Parallel()
	wantLoss, wantNines := Model(4, 2, 0.02, 8760)
	for _, hours := range []float64{20000, RepairHours(1e12, 0)} {
		if loss, nines := Model(4, 2, 0.02, hours); loss != wantLoss || nines != wantNines {
			t.Errorf("Model(4, 2, 0.02, %g) = %g, %g; want the one-year window's %g, %g", hours, loss, nines, wantLoss, wantNines)
		}
	}
}

func TestAdvise(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k, m       int
		afr, hours float64
		want       []string // substrings; none for no advice
	}{
		{4, 3, 0.02, 24, nil},
		{10, 4, 0.02, 24, nil},
		{4, 2, 0.02, 24, []string{"4+2 models 8.9 nines", "2%", "24.0 h", "4+3 would give 12.9."}},
		// 17+3 falls just short; 17+4 gives 14.4.
		{17, 3, 0.02, 24, []string{"17+3 models 10.8 nines", "17+4 would give 14.4."}},
		// A week to repair: 4+3 gives 10.4, 4+4 is needed.
		{4, 2, 0.02, 168, []string{"4+2 models 7.2 nines", "4+3 would give", "4+4 reaches", "faster repair"}},
		// Disks that fail half the time and are never repaired: no parity
		// within reach helps.
		{4, 2, 0.5, 8760, []string{"4+2 models 0.2 nines", "no parity up to 4+10", "repair must get faster"}},
		{0, 2, 0.02, 24, nil},
	} {
		got := Advise(tc.k, tc.m, tc.afr, tc.hours)
		if len(tc.want) == 0 {
			if got != "" {
				t.Errorf("Advise(%d, %d, %g, %g) = %q; want none", tc.k, tc.m, tc.afr, tc.hours, got)
			}
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("Advise(%d, %d, %g, %g) = %q; want it to contain %q", tc.k, tc.m, tc.afr, tc.hours, got, w)
			}
		}
	}
}

package metadata

import (
	"errors"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewHLC(t *testing.T) {
	tests := []struct {
		name    string
		ms      int64
		logical uint16
		millis  int64
		wantLog uint16
	}{
		{"zero", 0, 0, 0, 0},
		{"plain", 1_700_000_000_123, 42, 1_700_000_000_123, 42},
		{"full counter", 5, math.MaxUint16, 5, math.MaxUint16},
		{"negative clamps to 0", -1, 3, 0, 3},
		{"max millis", maxMillis, 1, maxMillis, 1},
		{"beyond 48 bits clamps", maxMillis + 1, 1, maxMillis, 1},
		{"max int64 clamps", math.MaxInt64, 0, maxMillis, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHLC(tc.ms, tc.logical)
			if got := h.Millis(); got != tc.millis {
				t.Errorf("NewHLC(%d, %d).Millis() = %d; want %d", tc.ms, tc.logical, got, tc.millis)
			}
			if got := h.Logical(); got != tc.wantLog {
				t.Errorf("NewHLC(%d, %d).Logical() = %d; want %d", tc.ms, tc.logical, got, tc.wantLog)
			}
		})
	}
}

func TestHLCOrderAndCarry(t *testing.T) {
	a, b := NewHLC(7, math.MaxUint16), NewHLC(8, 0)
	if !(a < b) {
		t.Errorf("NewHLC(7, max) < NewHLC(8, 0) = false; want true")
	}
	if a+1 != b {
		t.Errorf("NewHLC(7, max)+1 = %v; want %v", a+1, b)
	}
}

func TestHLCTime(t *testing.T) {
	if got := HLC(0).Time(); !got.IsZero() {
		t.Errorf("HLC(0).Time() = %v; want zero time", got)
	}
	want := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	if got := NewHLC(want.UnixMilli(), 99).Time(); !got.Equal(want) {
		t.Errorf("NewHLC(%d, 99).Time() = %v; want %v", want.UnixMilli(), got, want)
	}
}

// seqClock returns the given millisecond times in turn, then repeats the last.
func seqClock(ms ...int64) func() time.Time {
	var i int
	return func() time.Time {
		t := time.UnixMilli(ms[min(i, len(ms)-1)])
		i++
		return t
	}
}

func TestClockNow(t *testing.T) {
	tests := []struct {
		name     string
		physical []int64
		want     []HLC
	}{
		{
			name:     "advancing wall clock",
			physical: []int64{100, 101, 105},
			want:     []HLC{NewHLC(100, 0), NewHLC(101, 0), NewHLC(105, 0)},
		},
		{
			name:     "same millisecond bumps the counter",
			physical: []int64{100, 100, 100, 101},
			want:     []HLC{NewHLC(100, 0), NewHLC(100, 1), NewHLC(100, 2), NewHLC(101, 0)},
		},
		{
			name:     "wall clock steps back",
			physical: []int64{100, 90, 80, 100, 101},
			want:     []HLC{NewHLC(100, 0), NewHLC(100, 1), NewHLC(100, 2), NewHLC(100, 3), NewHLC(101, 0)},
		},
		{
			name:     "before the epoch clamps to 0",
			physical: []int64{-5, -5},
			want:     []HLC{1, 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(seqClock(tc.physical...), time.Second)
			for i, want := range tc.want {
				if got := c.Now(); got != want {
					t.Errorf("call %d: Now() = %v; want %v", i, got, want)
				}
			}
		})
	}
}

func TestClockCounterOverflow(t *testing.T) {
	c := NewClock(seqClock(100), time.Second)
	if err := c.Update(NewHLC(100, math.MaxUint16-1)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	for _, want := range []HLC{NewHLC(100, math.MaxUint16), NewHLC(101, 0), NewHLC(101, 1)} {
		if got := c.Now(); got != want {
			t.Errorf("Now() = %v; want %v", got, want)
		}
	}
}

func TestClockNilNow(t *testing.T) {
	c := NewClock(nil, 0)
	for want := HLC(1); want <= 3; want++ {
		if got := c.Now(); got != want {
			t.Errorf("Now() = %v; want %v", got, want)
		}
	}
}

func TestClockUpdate(t *testing.T) {
	const physical = 1_000_000
	tests := []struct {
		name    string
		maxSkew time.Duration
		remote  HLC
		wantErr bool
		want    HLC // the next Now after the update
	}{
		{"behind", 50 * time.Millisecond, NewHLC(physical-10, 5), false, NewHLC(physical, 0)},
		{"equal millisecond, later counter", 50 * time.Millisecond, NewHLC(physical, 9), false, NewHLC(physical, 10)},
		{"ahead within skew", 50 * time.Millisecond, NewHLC(physical+50, 7), false, NewHLC(physical+50, 8)},
		{"ahead beyond skew", 50 * time.Millisecond, NewHLC(physical+51, 0), true, NewHLC(physical, 0)},
		{"zero skew refuses any lead", 0, NewHLC(physical+1, 0), true, NewHLC(physical, 0)},
		{"sub-millisecond skew", 500 * time.Microsecond, NewHLC(physical+1, 0), true, NewHLC(physical, 0)},
		{"far future does not overflow", time.Hour, NewHLC(maxMillis, 0), true, NewHLC(physical, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(seqClock(physical), tc.maxSkew)
			err := c.Update(tc.remote)
			if gotErr := errors.Is(err, ErrClockSkew); gotErr != tc.wantErr {
				t.Errorf("Update(%v) = %v; want ErrClockSkew: %v", tc.remote, err, tc.wantErr)
			}
			if err != nil && !tc.wantErr {
				t.Errorf("Update(%v) = %v; want nil", tc.remote, err)
			}
			if got := c.Now(); got != tc.want {
				t.Errorf("Now() after Update(%v) = %v; want %v", tc.remote, got, tc.want)
			}
		})
	}
}

func TestClockConcurrent(t *testing.T) {
	// A wall clock that advances one millisecond every 1000 reads: many
	// timestamps share a millisecond, and 8 goroutines race on each.
	var reads atomic.Int64
	now := func() time.Time { return time.UnixMilli(1_700_000_000_000 + reads.Add(1)/1000) }
	c := NewClock(now, time.Second)

	const goroutines, each = 8, 5000
	got := make([][]HLC, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			hs := make([]HLC, each)
			for i := range hs {
				hs[i] = c.Now()
			}
			got[g] = hs
		})
	}
	wg.Wait()

	var all []HLC
	for g, hs := range got {
		for i := 1; i < len(hs); i++ {
			if hs[i] <= hs[i-1] {
				t.Fatalf("goroutine %d: Now() = %v after %v; want strictly increasing", g, hs[i], hs[i-1])
			}
		}
		all = append(all, hs...)
	}
	slices.Sort(all)
	if n := len(slices.Compact(all)); n != goroutines*each {
		t.Errorf("%d distinct timestamps from %d calls; want all distinct", n, goroutines*each)
	}
}

func TestVersionIDOrder(t *testing.T) {
	hs := []HLC{1, NewHLC(5, 0), NewHLC(5, 1), NewHLC(6, 0), NewHLC(1_700_000_000_000, 3), NewHLC(maxMillis, math.MaxUint16)}
	ids := make([]string, len(hs))
	for i, h := range hs {
		ids[i] = NewVersionID(h, "gw1")
	}
	// Newest first: the ids of ascending HLCs must be in descending order.
	if !sort.IsSorted(sort.Reverse(sort.StringSlice(ids))) {
		t.Errorf("version ids of ascending HLCs %v = %q; want descending", hs, ids)
	}
}

func TestVersionIDRoundTrip(t *testing.T) {
	tests := []struct {
		h      HLC
		origin string
		want   string
	}{
		{1, "", "fffffffffffffffe"},
		{NewHLC(1, 0), "a", "fffffffffffeffffa"},
		{NewHLC(maxMillis, math.MaxUint16), "zz", "0000000000000000zz"},
		{NewHLC(1_700_000_000_000, 7), "Xy-9", "fe74301a97fffff8Xy-9"},
	}
	for _, tc := range tests {
		id := NewVersionID(tc.h, tc.origin)
		if id != tc.want {
			t.Errorf("NewVersionID(%v, %q) = %q; want %q", tc.h, tc.origin, id, tc.want)
		}
		h, err := ParseVersionID(id)
		if err != nil || h != tc.h {
			t.Errorf("ParseVersionID(%q) = %v, %v; want %v, nil", id, h, err, tc.h)
		}
	}
}

func TestParseVersionIDErrors(t *testing.T) {
	for _, id := range []string{
		"",
		"null",
		"fffffffffffffff",   // 15 digits
		"FFFFFFFFFFFFFFFE",  // upper case
		"fffffffffffffffg",  // not hex
		"ffffffffffffffff",  // the zero HLC
		"ffffffff ffffffe1", // space
	} {
		if h, err := ParseVersionID(id); !errors.Is(err, ErrBadVersionID) {
			t.Errorf("ParseVersionID(%q) = %v, %v; want ErrBadVersionID", id, h, err)
		}
	}
}

// FuzzParseVersionID feeds arbitrary versionId query values: an accepted
// one names exactly one HLC, so writing it back gives the same text.
func FuzzParseVersionID(f *testing.F) {
	f.Add(NewVersionID(HLC(1<<40|7), "n3"))
	f.Add("ffffffffffffffff")
	f.Add("null")
	f.Fuzz(func(t *testing.T, id string) {
		h, err := ParseVersionID(id)
		if err != nil {
			if !errors.Is(err, ErrBadVersionID) {
				t.Fatalf("ParseVersionID(%q) = %v; want ErrBadVersionID", id, err)
			}
			return
		}
		if h == 0 {
			t.Fatalf("ParseVersionID(%q) accepted the zero HLC", id)
		}
		if back := NewVersionID(h, id[versionIDHexLen:]); back != id {
			t.Fatalf("ParseVersionID(%q) = %v, which writes back as %q", id, h, back)
		}
	})
}

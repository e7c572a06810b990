package adminapi

import (
	"testing"
	"time"
)

func TestRedundancyDegraded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		objects []int64
		m       int
		want    int64
	}{
		{objects: []int64{1, 3, 9}, m: 2, want: 4},
		{objects: []int64{0, 0, 9}, m: 2, want: 0},
		{objects: []int64{2, 5}, m: 2, want: 7}, // a short histogram has nothing at full redundancy
		{objects: nil, m: 2, want: 0},
		{objects: []int64{4}, m: 0, want: 0},
	} {
		if got := (Redundancy{Objects: tc.objects}).Degraded(tc.m); got != tc.want {
			t.Errorf("Redundancy{Objects: %v}.Degraded(%d) = %d; want %d", tc.objects, tc.m, got, tc.want)
		}
	}
}

// TestPassWatch feeds one node's successive statuses to a PassWatch: a pass
// counts only if its census began after since, and once one has, the next
// pass replacing the census does not hide that it ended.
func TestPassWatch(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	at := func(s int) time.Time { return since.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name  string
		steps [][2]int // census began, last pass ended, in seconds from since
		want  []bool
	}{
		{"begun before, ended after", [][2]int{{-1, 1}}, []bool{false}},
		{"begun after, still running", [][2]int{{1, -2}}, []bool{false}},
		{"begun after, then ended", [][2]int{{1, -2}, {1, 2}}, []bool{false, true}},
		{"ended, and the next census already begun", [][2]int{{1, -2}, {3, 2}}, []bool{false, true}},
		{"first seen mid-way through a later pass", [][2]int{{-1, -2}, {3, 2}, {3, 4}}, []bool{false, false, true}},
	} {
		var w PassWatch
		for i, st := range tc.steps {
			n := NodeStatus{ID: "n1", CensusStarted: at(st[0]), LastScan: at(st[1])}
			if got := w.Ended(n, since); got != tc.want[i] {
				t.Errorf("%s, status %d: Ended = %v; want %v", tc.name, i, got, tc.want[i])
			}
		}
	}
}

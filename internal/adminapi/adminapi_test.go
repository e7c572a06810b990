package adminapi

import "testing"

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

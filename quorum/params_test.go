package quorum

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultParams(t *testing.T) {
	for _, tc := range []struct {
		k, m                int
		shard, metaW, metaR int
		valid               bool
	}{
		{4, 2, 5, 4, 3, true},
		{2, 1, 3, 2, 2, true},
		{3, 2, 4, 3, 3, true},
		{6, 3, 7, 6, 4, true},
		{8, 4, 9, 8, 5, true},
		{10, 4, 11, 10, 5, true},
		{1, 0, 1, 1, 1, true}, // a single copy: nothing to spare
		{3, 0, 3, 3, 1, true},
		{2, 2, 3, 2, 3, false}, // 2m = N: quorums that meet need more than N-m
		{1, 1, 2, 1, 2, false}, // a 2-way mirror cannot tolerate a loss and stay consistent
		{1, 2, 2, 1, 3, false},
		{0, 0, 0, 0, 1, false},
	} {
		p := DefaultParams(tc.k, tc.m)
		if p.K != tc.k || p.M != tc.m || p.ShardWrite != tc.shard || p.MetaWrite != tc.metaW || p.MetaRead != tc.metaR {
			t.Errorf("DefaultParams(%d, %d) = %+v; want ShardWrite %d, MetaWrite %d, MetaRead %d",
				tc.k, tc.m, p, tc.shard, tc.metaW, tc.metaR)
		}
		if err := p.Validate(); (err == nil) != tc.valid {
			t.Errorf("DefaultParams(%d, %d).Validate() = %v; want valid %v", tc.k, tc.m, err, tc.valid)
		}
	}
}

// DefaultParams is valid exactly when any valid metadata quorums exist: 2m < N.
func TestDefaultParamsValidWhenPossible(t *testing.T) {
	for k := 1; k <= 12; k++ {
		for m := 0; m <= 12; m++ {
			n := k + m
			possible := false
			for w := 1; w <= n; w++ {
				for r := 1; r <= n; r++ {
					if (Params{K: k, M: m, ShardWrite: k, MetaWrite: w, MetaRead: r}).Validate() == nil {
						possible = true
					}
				}
			}
			p := DefaultParams(k, m)
			if err := p.Validate(); (err == nil) != possible {
				t.Errorf("DefaultParams(%d, %d) = %+v, Validate() = %v; want valid %v", k, m, p, err, possible)
			}
			if possible != (2*m < n) {
				t.Errorf("k=%d m=%d: valid metadata quorums exist = %v; want %v (2m < N)", k, m, possible, 2*m < n)
			}
		}
	}
}

func TestParamsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Params
		want []string // one substring per problem; nil means valid
	}{
		{"default 4+2", DefaultParams(4, 2), nil},
		{"shard write k", Params{K: 4, M: 2, ShardWrite: 4, MetaWrite: 4, MetaRead: 3}, nil},
		{"shard write N", Params{K: 4, M: 2, ShardWrite: 6, MetaWrite: 4, MetaRead: 3}, nil},
		{"majorities", Params{K: 6, M: 3, ShardWrite: 7, MetaWrite: 5, MetaRead: 5}, nil},
		{"no K", Params{K: 0, M: 2, ShardWrite: 0, MetaWrite: 1, MetaRead: 1},
			[]string{"K = 0", "MetaWrite = 1 exceeds N-M = 0", "MetaRead = 1 exceeds N-M = 0", "MetaWrite+MetaRead = 1+1, want more than N = 2"}},
		{"negative M", Params{K: 2, M: -1, ShardWrite: 1, MetaWrite: 1, MetaRead: 1},
			[]string{"M = -1", "ShardWrite = 1, want K ≤ ShardWrite ≤ N (2 ≤ w ≤ 1)"}},
		{"shard write below K", Params{K: 4, M: 2, ShardWrite: 3, MetaWrite: 4, MetaRead: 3},
			[]string{"ShardWrite = 3, want K ≤ ShardWrite ≤ N (4 ≤ w ≤ 6)"}},
		{"shard write above N", Params{K: 4, M: 2, ShardWrite: 7, MetaWrite: 4, MetaRead: 3},
			[]string{"ShardWrite = 7"}},
		{"quorums do not meet", Params{K: 4, M: 2, ShardWrite: 5, MetaWrite: 3, MetaRead: 3},
			[]string{"MetaWrite+MetaRead = 3+3, want more than N = 6"}},
		{"write too big", Params{K: 4, M: 2, ShardWrite: 5, MetaWrite: 5, MetaRead: 2},
			[]string{"MetaWrite = 5 exceeds N-M = 4: 2 down homes would block it"}},
		{"read too big", Params{K: 4, M: 2, ShardWrite: 5, MetaWrite: 2, MetaRead: 5},
			[]string{"MetaRead = 5 exceeds N-M = 4"}},
		{"zero quorums", Params{K: 4, M: 2, ShardWrite: 5},
			[]string{"MetaWrite = 0, want at least 1", "MetaRead = 0, want at least 1", "MetaWrite+MetaRead = 0+0"}},
		{"everything at once", Params{K: -1, M: -2, ShardWrite: 9, MetaWrite: -1, MetaRead: 9},
			[]string{"K = -1", "M = -2", "ShardWrite = 9", "MetaWrite = -1", "MetaRead = 9 exceeds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("%+v.Validate() = %v; want nil", tc.p, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%+v.Validate() = nil; want %d problems", tc.p, len(tc.want))
			}
			if !errors.Is(err, ErrInvalidParams) {
				t.Errorf("errors.Is(%+v.Validate(), ErrInvalidParams) = false for %v", tc.p, err)
			}
			problems := 1
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				problems = len(j.Unwrap())
			}
			if problems != len(tc.want) {
				t.Errorf("%+v.Validate() reported %d problems; want %d: %v", tc.p, problems, len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%+v.Validate() = %q; want it to mention %q", tc.p, err, w)
				}
			}
		})
	}
}

package benchmarks

import "testing"

func TestNodeProcs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		nodes      int
		cpus       int
		userSet    string
		wantProcs  int
		wantForced bool
	}{
		{"six nodes on two cores get one each", 6, 2, "", 1, true},
		{"six nodes on twelve cores get two each", 6, 12, "", 2, true},
		{"a remainder is not handed out", 4, 10, "", 2, true},
		{"one node gets the machine", 1, 8, "", 8, true},
		{"the user's GOMAXPROCS wins", 6, 2, "4", 0, false},
		{"no nodes, nothing to size", 0, 2, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			procs, ok := nodeProcs(tt.nodes, tt.cpus, tt.userSet)
			if procs != tt.wantProcs || ok != tt.wantForced {
				t.Errorf("nodeProcs(%d, %d, %q) = %d, %v; want %d, %v",
					tt.nodes, tt.cpus, tt.userSet, procs, ok, tt.wantProcs, tt.wantForced)
			}
		})
	}
}

package benchmarks

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	t.Parallel()
	s := time.Second
	for _, tc := range []struct {
		in   string
		want []FaultEvent
	}{
		{"kill node 3 at 10s", []FaultEvent{{At: 10 * s, Action: FaultKill, Node: 3}}},
		{"restart node 3 at 30s", []FaultEvent{{At: 30 * s, Action: FaultRestart, Node: 3}}},
		{"pause node 5 at 5s for 15s", []FaultEvent{
			{At: 5 * s, Action: FaultPause, Node: 5},
			{At: 20 * s, Action: FaultResume, Node: 5},
		}},
		{"resume node 5 at 1m", []FaultEvent{{At: time.Minute, Action: FaultResume, Node: 5}}},
		{"slow node 2 by 50ms", []FaultEvent{{Action: FaultSlow, Node: 2, Delay: 50 * time.Millisecond}}},
		{"slow node 2 at 3s by 50ms for 2s", []FaultEvent{
			{At: 3 * s, Action: FaultSlow, Node: 2, Delay: 50 * time.Millisecond},
			{At: 5 * s, Action: FaultSlow, Node: 2},
		}},
		{"unslow node 2 at 9s", []FaultEvent{{At: 9 * s, Action: FaultSlow, Node: 2}}},
		{"Kill Node 1 At 1s", []FaultEvent{{At: s, Action: FaultKill, Node: 1}}},
		{"kill nodes 3,5 at 10s for 15s", []FaultEvent{
			{At: 10 * s, Action: FaultKill, Node: 3},
			{At: 10 * s, Action: FaultKill, Node: 5},
			{At: 25 * s, Action: FaultRestart, Node: 3},
			{At: 25 * s, Action: FaultRestart, Node: 5},
		}},
		// Out of order, several per line, comments and blank lines; the
		// result is sorted by time, stable for equal times.
		{"restart node 3 at 25s; kill node 5 at 12s\n# comment\n\nkill node 3 at 10s # first\nrestart node 5 at 25s", []FaultEvent{
			{At: 10 * s, Action: FaultKill, Node: 3},
			{At: 12 * s, Action: FaultKill, Node: 5},
			{At: 25 * s, Action: FaultRestart, Node: 3},
			{At: 25 * s, Action: FaultRestart, Node: 5},
		}},
		{"", nil},
		{"# nothing", nil},
	} {
		got, err := ParseFaults(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseFaults(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseFaultsErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"kill",
		"kill node",
		"explode node 3 at 1s",
		"kill host 3 at 1s",
		"kill node x at 1s",
		"kill node 0 at 1s",
		"kill node -1 at 1s",
		"kill node 3 at",
		"kill node 3 at 10",   // a duration needs a unit
		"kill node 3 at -1s",  // no negative times
		"kill node 3 in 10s",  // unknown keyword
		"kill node 3 by 10ms", // by is for slow only
		"slow node 2 at 1s",   // slow needs by
		"restart node 3 for 1s",
		"resume node 3 for 1s",
		"unslow node 3 at 1s for 1s",
		"pause node 3 at 1s for 0s",
		"kill node 3 at 1s at 2s",
		"kill node 3 at 1s\nbogus",
	} {
		if got, err := ParseFaults(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseFaults(%q) = %v, %v; want ErrSyntax", in, got, err)
		}
	}
}

func TestValidateFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		node, nodes int
		ok          bool
	}{{1, 6, true}, {6, 6, true}, {7, 6, false}, {0, 6, false}} {
		err := ValidateFaults([]FaultEvent{{Action: FaultKill, Node: tc.node}}, tc.nodes)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateFaults(node %d, %d nodes) = %v; want ok=%v", tc.node, tc.nodes, err, tc.ok)
		}
	}
}

func TestFaultEventString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e    FaultEvent
		want string
	}{
		{FaultEvent{Action: FaultKill, Node: 3}, "kill n3"},
		{FaultEvent{Action: FaultRestart, Node: 3}, "restart n3"},
		{FaultEvent{Action: FaultPause, Node: 5}, "pause n5"},
		{FaultEvent{Action: FaultSlow, Node: 2, Delay: 50 * time.Millisecond}, "slow n2 +50ms"},
		{FaultEvent{Action: FaultSlow, Node: 2}, "unslow n2"},
	} {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("%#v.String() = %q; want %q", tc.e, got, tc.want)
		}
	}
}

// fakeTarget records the faults applied to it.
type fakeTarget struct{ log []string }

func (f *fakeTarget) Nodes() int { return 6 }
func (f *fakeTarget) note(e FaultEvent) error {
	f.log = append(f.log, e.String())
	return nil
}
func (f *fakeTarget) Kill(n int) error    { return f.note(FaultEvent{Action: FaultKill, Node: n}) }
func (f *fakeTarget) Restart(n int) error { return f.note(FaultEvent{Action: FaultRestart, Node: n}) }
func (f *fakeTarget) Pause(n int) error   { return f.note(FaultEvent{Action: FaultPause, Node: n}) }
func (f *fakeTarget) Resume(n int) error  { return errors.New("not paused") }
func (f *fakeTarget) Slow(n int, d time.Duration) error {
	return f.note(FaultEvent{Action: FaultSlow, Node: n, Delay: d})
}
func (f *fakeTarget) Heal() ([]FaultEvent, error) { return nil, nil }

func TestRunFaults(t *testing.T) {
	t.Parallel()
	events, err := ParseFaults("kill node 3 at 0s; slow node 2 by 5ms at 10ms; resume node 1 at 20ms")
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeTarget{}
	start := time.Now()
	recs := runFaults(t.Context(), start, events, ft, nil)
	if want := []string{"kill n3", "slow n2 +5ms"}; !reflect.DeepEqual(ft.log, want) {
		t.Errorf("applied %v; want %v", ft.log, want)
	}
	if len(recs) != 3 || recs[2].Err == "" || recs[0].Err != "" {
		t.Fatalf("records = %+v; want 3 with only the last failed", recs)
	}
	for _, r := range recs {
		if r.Actual < r.At {
			t.Errorf("%s applied at %v; scheduled for %v", r.Label, r.Actual, r.At)
		}
	}
}

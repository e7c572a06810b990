package objctl

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/internal/adminapi"
)

// scripted is the admin API of a small cluster whose nodes the test moves
// along: each status read after an apply advances the drain by one step,
// as the nodes' scanner passes would. It answers the way the gateway's
// admin API does, refusals included.
type scripted struct {
	mu      sync.Mutex
	epoch   uint64
	nodes   []adminapi.LayoutNode
	staged  []adminapi.LayoutNode
	applied time.Time
	// shards[id] is what each node holds; a draining node hands over
	// drainStep shards at each status read after the apply.
	shards    map[string]int64
	drainStep int64
	moved     map[string]int64
	// refuseApply, when set, is the problems apply answers 409 with.
	refuseApply []string
	// status, when set, overrides the status replies (heal tests).
	status func(n int) adminapi.Status
	reads  int
	// lastStatus is when the previous status was read: each read after
	// the apply shows a scanner pass whose census began then.
	lastStatus time.Time
}

func newScripted() *scripted {
	s := &scripted{epoch: 3, shards: map[string]int64{}, moved: map[string]int64{}, drainStep: 40}
	for _, id := range []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7"} {
		s.nodes = append(s.nodes, adminapi.LayoutNode{ID: id, Zone: "z1", Weight: 1, State: "active"})
		s.shards[id] = 100
	}
	return s
}

func (s *scripted) view() adminapi.LayoutView {
	v := adminapi.LayoutView{Epoch: s.epoch, Version: s.epoch, PGCount: 256, Homes: 6, Nodes: slices.Clone(s.nodes)}
	if s.staged != nil {
		v.Staged = slices.Clone(s.staged)
		v.Preview = &adminapi.Preview{PGsMoved: 10, ShardsMoved: 10, BytesMoved: 100 << 10, RedundancyDuringMove: 1, Problems: s.refuseApply}
	}
	return v
}

func (s *scripted) handle(c call) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.method + " " + c.path {
	case "GET /admin/v1/layout":
		return http.StatusOK, s.view()
	case "GET /admin/v1/status":
		s.reads++
		if s.status != nil {
			return http.StatusOK, s.status(s.reads)
		}
		return http.StatusOK, s.statusNow()
	case "POST /admin/v1/layout/stage":
		var ch adminapi.LayoutChange
		if err := json.Unmarshal(c.body, &ch); err != nil {
			return http.StatusBadRequest, adminapi.Error{Error: err.Error()}
		}
		next := s.nodes
		if s.staged != nil {
			next = s.staged
		}
		next = slices.Clone(next)
		i := slices.IndexFunc(next, func(n adminapi.LayoutNode) bool { return n.ID == ch.Node })
		switch ch.Op {
		case "add-node":
			next = append(next, adminapi.LayoutNode{ID: ch.Node, Zone: ch.Zone, Weight: max(ch.Weight, 1), State: "active"})
		case "drain":
			next[i].State = "draining"
		case "remove-node":
			next = slices.Delete(next, i, i+1)
		}
		s.staged = next
		return http.StatusOK, s.view()
	case "POST /admin/v1/layout/apply":
		if s.staged == nil {
			return http.StatusConflict, adminapi.Error{Error: "nothing staged"}
		}
		if s.refuseApply != nil {
			return http.StatusConflict, adminapi.Error{Error: "layout change refused", Problems: s.refuseApply}
		}
		for _, n := range s.nodes {
			if !slices.ContainsFunc(s.staged, func(m adminapi.LayoutNode) bool { return m.ID == n.ID }) && s.shards[n.ID] > 0 {
				return http.StatusConflict, adminapi.Error{Error: "layout change refused",
					Problems: []string{"node " + n.ID + " still holds shards: wait for its drain to finish"}}
			}
		}
		s.nodes, s.staged = s.staged, nil
		s.epoch++
		s.applied = time.Now()
		return http.StatusOK, s.view()
	case "POST /admin/v1/layout/revert":
		s.staged = nil
		s.epoch++
		return http.StatusOK, s.view()
	}
	return http.StatusNotFound, adminapi.Error{Error: "no route"}
}

func (s *scripted) statusNow() adminapi.Status {
	now := time.Now()
	st := adminapi.Status{Time: now, DataShards: 4, ParityShards: 2, LayoutEpoch: s.epoch}
	for _, n := range s.nodes {
		ns := adminapi.NodeStatus{ID: n.ID, Zone: n.Zone, State: n.State, Alive: true, Reported: true, LayoutEpoch: s.epoch,
			Shards: s.shards[n.ID], ShardBytes: s.shards[n.ID] << 10, Moved: s.moved[n.ID], MovedBytes: s.moved[n.ID] << 10}
		if !s.applied.IsZero() {
			ns.LastScan, ns.CensusStarted = now, s.lastStatus
		}
		if n.State == "draining" && !s.applied.IsZero() {
			step := min(s.drainStep, s.shards[n.ID])
			s.shards[n.ID] -= step
			s.moved[n.ID] += step
			ns.Shards, ns.ShardBytes = s.shards[n.ID], s.shards[n.ID]<<10
			ns.Moved, ns.MovedBytes = s.moved[n.ID], s.moved[n.ID]<<10
			ns.Misplaced = ns.Shards
		}
		st.Nodes = append(st.Nodes, ns)
	}
	s.lastStatus = now
	return st
}

func TestApplyAsksFirst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		interactive bool
		answer      string
		args        []string
		wantErr     string
		wantApplied bool
	}{
		{"off a terminal, no --yes", false, "y\n", nil, "refusing to apply without --yes", false},
		{"answered no", true, "n\n", nil, "not applied", false},
		{"no answer at all", true, "", nil, "not applied", false},
		{"answered yes", true, "yes\n", nil, "", true},
		{"--yes off a terminal", false, "", []string{"--yes"}, "", true},
	}
	for _, tc := range tests {
		sc := newScripted()
		srv := newSignedServer(t, sc.handle)
		env := newTestEnv(srv.URL, nil)
		env.Interactive = tc.interactive
		env.Stdin = strings.NewReader(tc.answer)
		if err := env.run("layout", "add-node", "n8", "--zone", "z2"); err != nil {
			t.Fatalf("%s: add-node: %v", tc.name, err)
		}
		err := env.run(append([]string{"layout", "apply"}, tc.args...)...)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
		applied := slices.Contains(srv.callList(), "POST /admin/v1/layout/apply")
		if applied != tc.wantApplied {
			t.Errorf("%s: applied %v, want %v (calls %q)", tc.name, applied, tc.wantApplied, srv.callList())
		}
		if tc.interactive && !strings.Contains(env.stderr.String(), "Apply this change? [y/N]") {
			t.Errorf("%s: no question asked: %q", tc.name, env.stderr.String())
		}
		if tc.wantApplied && !strings.Contains(env.stdout.String(), "Applied: layout epoch 4 (version 4).") {
			t.Errorf("%s: output %q", tc.name, env.stdout.String())
		}
	}
}

func TestApplyShowsProblemsBeforeAsking(t *testing.T) {
	t.Parallel()
	sc := newScripted()
	sc.refuseApply = []string{"too few active nodes for 6 homes"}
	srv := newSignedServer(t, sc.handle)
	env := newTestEnv(srv.URL, nil)
	env.Interactive = true
	env.Stdin = strings.NewReader("y\n")
	env.run("layout", "set-weight", "n1", "2")
	err := env.run("layout", "apply")
	if err == nil || !strings.Contains(err.Error(), "  - too few active nodes for 6 homes") {
		t.Errorf("err %v", err)
	}
	if strings.Contains(env.stderr.String(), "[y/N]") || slices.Contains(srv.callList(), "POST /admin/v1/layout/apply") {
		t.Error("asked to apply a change the gateway would refuse")
	}
}

func TestRemoveNodeDrainsFirst(t *testing.T) {
	t.Parallel()
	sc := newScripted()
	srv := newSignedServer(t, sc.handle)
	env := newTestEnv(srv.URL, nil)
	if err := env.run("layout", "remove-node", "n3"); err != nil {
		t.Fatalf("remove-node: %v\nstdout:\n%s\nstderr:\n%s", err, env.stdout, env.stderr)
	}
	var changes []string
	for _, c := range srv.calls {
		if c.path == "/admin/v1/layout/stage" {
			changes = append(changes, string(c.body))
		}
	}
	want := []string{`{"op":"drain","node":"n3"}`, `{"op":"remove-node","node":"n3"}`}
	if !slices.Equal(changes, want) {
		t.Errorf("staged %q, want %q", changes, want)
	}
	if slices.ContainsFunc(sc.nodes, func(n adminapi.LayoutNode) bool { return n.ID == "n3" }) {
		t.Error("n3 is still in the layout")
	}
	if sc.shards["n3"] != 0 {
		t.Errorf("n3 was removed holding %d shards", sc.shards["n3"])
	}
	out := env.stdout.String()
	for _, want := range []string{"Draining n3:", "Applied: layout epoch 4", "Removing n3:", "Applied: layout epoch 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The bar ends full: 100 KiB handed over out of 100 KiB.
	if bar := env.stderr.String(); !strings.Contains(bar, "drain of n3") || !strings.Contains(bar, "100%") || !strings.Contains(bar, "(100/100 KiB, ") || strings.HasSuffix(bar, "\n\n") {
		t.Errorf("progress bar output %q", bar)
	}
}

func TestRemoveNodeRefused(t *testing.T) {
	t.Parallel()
	sc := newScripted()
	sc.refuseApply = []string{"the remaining active nodes have 10 bytes free for the 102400 bytes of the draining nodes"}
	srv := newSignedServer(t, sc.handle)
	env := newTestEnv(srv.URL, nil)
	code := Main(t.Context(), []string{"layout", "remove-node", "n3"}, env.Env)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(env.stderr.String(), "layout change refused (HTTP 409)\n  - the remaining active nodes have 10 bytes free") {
		t.Errorf("stderr %q", env.stderr.String())
	}
	if last := srv.callList()[len(srv.callList())-1]; last != "POST /admin/v1/layout/revert" {
		t.Errorf("the refused drain was left staged; last call %s", last)
	}
	if sc.staged != nil || sc.nodes[2].State != "active" {
		t.Errorf("n3 is %s with %v staged after the refusal", sc.nodes[2].State, sc.staged)
	}
}

func TestDrainRefusesOverAStagedChange(t *testing.T) {
	t.Parallel()
	sc := newScripted()
	srv := newSignedServer(t, sc.handle)
	env := newTestEnv(srv.URL, nil)
	env.run("layout", "add-node", "n8", "--zone", "z2")
	for _, args := range [][]string{{"drain", "n3"}, {"layout", "remove-node", "n3"}} {
		err := env.run(args...)
		if err == nil || !strings.Contains(err.Error(), "a change is staged already") {
			t.Errorf("%q: err %v", args, err)
		}
	}
	if err := env.run("drain", "n99"); err == nil || !strings.Contains(err.Error(), "a change is staged already") {
		t.Errorf("drain n99: %v", err)
	}
	env.run("layout", "revert")
	if err := env.run("drain", "n99"); err == nil || !strings.Contains(err.Error(), "node n99 is not in the layout") {
		t.Errorf("drain n99: %v", err)
	}
	if slices.Contains(srv.callList(), "POST /admin/v1/layout/apply") {
		t.Error("something was applied")
	}
}

func TestHealWait(t *testing.T) {
	t.Parallel()
	healed := func(at time.Time, hints, repair int64, objects []int64, lost int64) adminapi.Status {
		st := adminapi.Status{Time: at, DataShards: 4, ParityShards: 2, HintCount: hints, RepairQueue: repair,
			Durability: adminapi.Redundancy{Objects: objects, Lost: lost},
			Buckets:    map[string]adminapi.Redundancy{"b": {Objects: objects, Lost: lost}}}
		for _, id := range []string{"n1", "n2"} {
			st.Nodes = append(st.Nodes, adminapi.NodeStatus{ID: id, State: "active", Alive: true, Reported: true, LastScan: at, CensusStarted: at})
		}
		return st
	}
	// passes sets when every node's last pass ended and its last census
	// began.
	passes := func(st adminapi.Status, ended, census time.Time) adminapi.Status {
		st.Nodes = slices.Clone(st.Nodes)
		for i := range st.Nodes {
			st.Nodes[i].LastScan, st.Nodes[i].CensusStarted = ended, census
		}
		return st
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		seq       []adminapi.Status // the replies to each status read, the first before the heal; the last repeats
		bucket    string
		wantErr   string
		wantHeals int
	}{
		{"debt paid off", []adminapi.Status{
			healed(t0, 5, 2, []int64{1, 3, 10}, 0),
			healed(t0, 3, 2, []int64{1, 3, 10}, 0),                  // no census since the heal yet
			healed(t0.Add(time.Second), 0, 1, []int64{0, 1, 13}, 0), // a census, debt left: heal again
			healed(t0.Add(2*time.Second), 0, 0, []int64{0, 0, 14}, 0),
		}, "", "", 2},
		{"one bucket", []adminapi.Status{
			healed(t0, 0, 0, []int64{0, 2, 0}, 0),
			healed(t0.Add(time.Second), 0, 0, []int64{0, 0, 2}, 0),
		}, "b", "", 1},
		{"a census begun after the heal counts before its pass ends", []adminapi.Status{
			healed(t0, 0, 0, []int64{0, 2, 0}, 0),
			passes(healed(t0.Add(time.Second), 0, 0, []int64{0, 0, 2}, 0), t0.Add(-time.Second), t0.Add(time.Millisecond)),
		}, "", "", 1},
		{"a pass ended after the heal does not count when its census began before", []adminapi.Status{
			healed(t0, 0, 0, []int64{0, 2, 0}, 0),
			passes(healed(t0.Add(time.Second), 0, 0, []int64{0, 0, 2}, 0), t0.Add(time.Second), t0.Add(-time.Millisecond)),
		}, "", "waiting for a census begun after the heal on n1 (counting), n2 (counting)", 1},
		{"objects lost", []adminapi.Status{
			healed(t0, 1, 0, []int64{0, 0, 5}, 2),
			healed(t0.Add(time.Second), 0, 0, []int64{0, 0, 5}, 2),
		}, "", "2 objects are lost", 1},
		{"never counted", []adminapi.Status{
			healed(t0, 1, 0, []int64{0, 0, 5}, 0),
		}, "", "gave up on the heal after 50ms: waiting for a census begun after the heal on n1 (counting), n2 (counting)", 1},
		{"no census at all", []adminapi.Status{
			passes(healed(t0, 1, 0, []int64{0, 0, 5}, 0), time.Time{}, time.Time{}),
		}, "", "n1 (counting), n2 (counting)", 1},
	}
	for _, tc := range tests {
		sc := newScripted()
		sc.status = func(n int) adminapi.Status { return tc.seq[min(n-1, len(tc.seq)-1)] }
		srv := newSignedServer(t, func(c call) (int, any) {
			if c.path == "/admin/v1/heal" {
				return http.StatusOK, tc.seq[0]
			}
			return sc.handle(c)
		})
		env := newTestEnv(srv.URL, nil)
		args := []string{"heal", "--wait", "--timeout", "50ms"}
		if tc.bucket != "" {
			args = append(args, "--bucket", tc.bucket)
		}
		err := env.run(args...)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
		if tc.wantErr == "" && !strings.Contains(env.stderr.String(), "100%") {
			t.Errorf("%s: the bar did not end full: %q", tc.name, env.stderr.String())
		}
		// Passes are counted from a status read before the heal starts them.
		wantPath := "/admin/v1/heal"
		if tc.bucket != "" {
			wantPath += "?bucket=" + tc.bucket
		}
		calls := srv.callList()
		if len(calls) < 2 || calls[0] != "GET /admin/v1/status" || calls[1] != "POST "+wantPath {
			t.Errorf("%s: calls %q", tc.name, calls)
		}
		heals := 0
		for _, c := range calls {
			if c == "POST "+wantPath {
				heals++
			}
		}
		if heals != tc.wantHeals {
			t.Errorf("%s: %d heals; want %d", tc.name, heals, tc.wantHeals)
		}
	}
}

func TestApplyWaitFollowsRebalance(t *testing.T) {
	t.Parallel()
	sc := newScripted()
	srv := newSignedServer(t, sc.handle)
	env := newTestEnv(srv.URL, nil)
	env.run("layout", "add-node", "n8", "--zone", "z2")
	if err := env.run("layout", "apply", "--yes", "--wait"); err != nil {
		t.Fatalf("apply --wait: %v", err)
	}
	// The status read before the apply, then at least one after it.
	calls := srv.callList()
	i := slices.Index(calls, "POST /admin/v1/layout/apply")
	if i < 1 || calls[i-1] != "GET /admin/v1/status" || !slices.Contains(calls[i:], "GET /admin/v1/status") {
		t.Errorf("calls %q", calls)
	}
	if !strings.Contains(env.stderr.String(), "rebalance") {
		t.Errorf("no rebalance bar: %q", env.stderr.String())
	}
}

// A pass that ended after the apply but began before the node held the
// new layout may have run its rebalance step under the old one, where
// nothing was misplaced: the wait must not take it for the end.
func TestApplyWaitNeedsAPassUnderTheNewLayout(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	status := func(at time.Time, epoch uint64, census, ended time.Time) adminapi.Status {
		st := adminapi.Status{Time: at, DataShards: 4, ParityShards: 2, LayoutEpoch: epoch}
		for _, id := range []string{"n1", "n2"} {
			st.Nodes = append(st.Nodes, adminapi.NodeStatus{ID: id, State: "active", Alive: true, Reported: true,
				LayoutEpoch: epoch, CensusStarted: census, LastScan: ended})
		}
		return st
	}
	before := status(t0, 3, t0.Add(-2*time.Second), t0.Add(-time.Second))
	// Ended after the apply, begun before the nodes were seen at epoch 4.
	straddling := status(t0.Add(time.Second), 4, t0.Add(-time.Millisecond), t0.Add(500*time.Millisecond))
	// Begun and ended after that.
	under := status(t0.Add(2*time.Second), 4, t0.Add(1500*time.Millisecond), t0.Add(1900*time.Millisecond))
	tests := []struct {
		name    string
		seq     []adminapi.Status // the last repeats
		wantErr string
	}{
		{"only a straddling pass", []adminapi.Status{before, straddling}, "waiting for a scanner pass on n1 (scanning), n2 (scanning)"},
		{"then a pass under the new layout", []adminapi.Status{before, straddling, under}, ""},
	}
	for _, tc := range tests {
		sc := newScripted()
		sc.status = func(n int) adminapi.Status { return tc.seq[min(n-1, len(tc.seq)-1)] }
		srv := newSignedServer(t, sc.handle)
		env := newTestEnv(srv.URL, nil)
		env.run("layout", "add-node", "n8", "--zone", "z2")
		err := env.run("layout", "apply", "--yes", "--wait", "--timeout", "200ms")
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestJSONOutput(t *testing.T) {
	t.Parallel()
	sc := newScripted()
	srv := newSignedServer(t, sc.handle)
	env := newTestEnv(srv.URL, nil)
	if err := env.run("--json", "layout", "show"); err != nil {
		t.Fatal(err)
	}
	var v adminapi.LayoutView
	if err := json.Unmarshal(env.stdout.Bytes(), &v); err != nil || v.Epoch != 3 || len(v.Nodes) != 7 {
		t.Errorf("--json layout show printed %q (%v)", env.stdout.String(), err)
	}
	env.stdout.Reset()
	if err := env.run("status", "--json"); err != nil {
		t.Fatal(err)
	}
	var st adminapi.Status
	if err := json.Unmarshal(env.stdout.Bytes(), &st); err != nil || len(st.Nodes) != 7 {
		t.Errorf("status --json printed %q (%v)", env.stdout.String(), err)
	}
}

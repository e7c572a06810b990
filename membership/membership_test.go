package membership

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestJoinSeesMembersWithMetadata(t *testing.T) {
	t.Parallel()
	n1 := start(t, testConfig(t, "n1", RoleNode))
	n2 := start(t, testConfig(t, "n2", RoleNode))
	gw := start(t, testConfig(t, "gw1", RoleGateway))
	join(t, n2, n1.LocalGossipAddr())
	join(t, gw, n2.LocalGossipAddr()) // learns n1 through n2
	all := []*Membership{n1, n2, gw}
	took := waitUntil(t, 10*time.Second, "all three alive everywhere", seesAlive(all, "n1", "n2", "gw1"))
	t.Logf("converged in %v", took)

	want := map[string]Member{}
	for _, m := range all {
		c := m.cfg
		want[c.ID] = Member{ID: c.ID, Role: c.Role, Addr: c.Addr, Zone: c.Zone, AdminAddr: c.AdminAddr,
			GossipAddr: m.LocalGossipAddr(), State: StateAlive}
	}
	for _, o := range all {
		for id, w := range want {
			if got, ok := o.Member(id); !ok || got != w {
				t.Errorf("%s.Member(%q) = %+v, %v; want %+v, true", o.cfg.ID, id, got, ok, w)
			}
		}
		if got, w := ids(o.Members()), []string{"gw1", "n1", "n2"}; !slices.Equal(got, w) {
			t.Errorf("%s.Members() IDs = %v; want %v", o.cfg.ID, got, w)
		}
		if got, w := ids(o.Nodes()), []string{"n1", "n2"}; !slices.Equal(got, w) {
			t.Errorf("%s.Nodes() IDs = %v; want %v", o.cfg.ID, got, w)
		}
		if o.Alive("n9") {
			t.Errorf("%s.Alive(%q) = true for an unknown member; want false", o.cfg.ID, "n9")
		}
	}
}

func TestCrashDetected(t *testing.T) {
	t.Parallel()
	n1 := start(t, testConfig(t, "n1", RoleNode))
	n2 := start(t, testConfig(t, "n2", RoleNode))
	gw := start(t, testConfig(t, "gw1", RoleGateway))
	join(t, n2, n1.LocalGossipAddr())
	join(t, gw, n1.LocalGossipAddr())
	waitUntil(t, 10*time.Second, "all alive", seesAlive([]*Membership{n1, n2, gw}, "n1", "n2", "gw1"))

	begin := time.Now()
	crash(t, n2)
	survivors := []*Membership{n1, gw}
	took := make([]time.Duration, len(survivors))
	waitUntil(t, 10*time.Second, "survivors see n2 dead", func() bool {
		done := true
		for i, o := range survivors {
			mb, ok := o.Member("n2")
			if took[i] == 0 && ok && mb.State == StateDead && !o.Alive("n2") {
				took[i] = time.Since(begin)
			}
			done = done && took[i] != 0
		}
		return done
	})
	for i, o := range survivors {
		t.Logf("%s declared crashed n2 dead after %v", o.cfg.ID, took[i])
		// Dead members stay listed, with their last metadata.
		if got := ids(o.Nodes()); !slices.Equal(got, []string{"n1", "n2"}) {
			t.Errorf("%s.Nodes() IDs = %v; want [n1 n2]", o.cfg.ID, got)
		}
		if mb, _ := o.Member("n2"); mb.Addr != n2.cfg.Addr {
			t.Errorf("%s.Member(n2).Addr = %q; want %q", o.cfg.ID, mb.Addr, n2.cfg.Addr)
		}
	}
	if !n1.Alive("gw1") || !gw.Alive("n1") {
		t.Errorf("survivors lost each other: n1.Alive(gw1)=%v gw1.Alive(n1)=%v", n1.Alive("gw1"), gw.Alive("n1"))
	}
}

func TestLeaveThenRestartOnNewPort(t *testing.T) {
	t.Parallel()
	n1 := start(t, testConfig(t, "n1", RoleNode))
	n2 := start(t, testConfig(t, "n2", RoleNode))
	join(t, n2, n1.LocalGossipAddr())
	waitUntil(t, 10*time.Second, "n1 sees n2", seesAlive([]*Membership{n1}, "n2"))

	if err := n2.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	waitUntil(t, 10*time.Second, "n1 sees n2 left", func() bool {
		mb, ok := n1.Member("n2")
		return ok && mb.State == StateLeft
	})
	if n1.Alive("n2") {
		t.Errorf("n1.Alive(n2) = true after n2 left")
	}

	cfg := testConfig(t, "n2", RoleNode)
	cfg.Addr = "n2-moved.svc.example:9100"
	n2b := start(t, cfg)
	if n2b.LocalGossipAddr() == n2.LocalGossipAddr() {
		t.Fatalf("restarted member reused gossip address %s; the test wants a new one", n2.LocalGossipAddr())
	}
	join(t, n2b, n1.LocalGossipAddr())
	want := Member{ID: "n2", Role: RoleNode, Addr: cfg.Addr, Zone: cfg.Zone, AdminAddr: cfg.AdminAddr,
		GossipAddr: n2b.LocalGossipAddr(), State: StateAlive}
	waitUntil(t, 10*time.Second, "n1 sees restarted n2", func() bool {
		mb, _ := n1.Member("n2")
		return mb == want
	})
	if !n2b.Alive("n1") {
		t.Errorf("restarted n2.Alive(n1) = false")
	}
}

func TestCrashThenRestartOnSamePort(t *testing.T) {
	t.Parallel()
	n1 := start(t, testConfig(t, "n1", RoleNode))
	n2 := start(t, testConfig(t, "n2", RoleNode))
	join(t, n2, n1.LocalGossipAddr())
	waitUntil(t, 10*time.Second, "n1 sees n2", seesAlive([]*Membership{n1}, "n2"))

	crash(t, n2)
	took := waitUntil(t, 10*time.Second, "n1 sees n2 dead", func() bool { return !n1.Alive("n2") })
	t.Logf("n1 declared crashed n2 dead after %v", took)

	_, portStr, _ := net.SplitHostPort(n2.LocalGossipAddr())
	cfg := testConfig(t, "n2", RoleNode)
	cfg.BindPort, _ = strconv.Atoi(portStr)
	cfg.Addr = "n2-restarted.svc.example:9000"
	n2b := start(t, cfg)
	join(t, n2b, n1.LocalGossipAddr())
	// n2b starts at a low incarnation; it must refute the death n1 tells it
	// about before n1 takes it back.
	waitUntil(t, 10*time.Second, "n1 sees restarted n2 alive with new Addr", func() bool {
		mb, _ := n1.Member("n2")
		return mb.State == StateAlive && mb.Addr == cfg.Addr
	})
}

func TestEncryptedPool(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{'k'}, 16)
	secure := func(id string, key []byte) Config {
		cfg := testConfig(t, id, RoleNode)
		cfg.SecretKey = key
		return cfg
	}
	n1 := start(t, secure("n1", key))
	n2 := start(t, secure("n2", key))
	join(t, n2, n1.LocalGossipAddr())
	waitUntil(t, 10*time.Second, "keyed members see each other",
		seesAlive([]*Membership{n1, n2}, "n1", "n2"))

	intruders := []struct {
		id  string
		key []byte
	}{
		{"wrongkey", bytes.Repeat([]byte{'x'}, 32)},
		{"nokey", nil},
	}
	for _, in := range intruders {
		m := start(t, secure(in.id, in.key))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		n, err := m.Join(ctx, []string{n1.LocalGossipAddr(), n2.LocalGossipAddr()})
		cancel()
		if err == nil || n != 0 {
			t.Errorf("%s.Join(keyed pool) = %d, %v; want 0, error", in.id, n, err)
		}
		if m.Alive("n1") || m.Alive("n2") {
			t.Errorf("%s sees keyed members alive", in.id)
		}
	}
	for _, o := range []*Membership{n1, n2} {
		if got := ids(o.Members()); !slices.Equal(got, []string{"n1", "n2"}) {
			t.Errorf("%s.Members() IDs = %v; want [n1 n2]", o.cfg.ID, got)
		}
	}
}

func TestOnChange(t *testing.T) {
	t.Parallel()
	events := make(chan Member, 100)
	var self atomic.Pointer[Membership]
	cfg := testConfig(t, "n1", RoleNode)
	cfg.OnChange = func(mb Member) {
		// Calling back in must not deadlock: callbacks do not run under
		// memberlist's lock.
		if m := self.Load(); m != nil {
			_ = m.Members()
		}
		events <- mb
	}
	n1 := start(t, cfg)
	self.Store(n1)
	n2 := start(t, testConfig(t, "n2", RoleNode))

	next := func(want string) Member {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case mb := <-events:
				if mb.ID+" "+mb.State.String() == want {
					return mb
				}
				t.Logf("OnChange(%s %s) while waiting for %s", mb.ID, mb.State, want)
			case <-timeout:
				t.Fatalf("no OnChange(%s) within 10s", want)
			}
		}
	}
	next("n1 alive") // ourselves, reported from inside New
	join(t, n2, n1.LocalGossipAddr())
	if mb := next("n2 alive"); mb.Addr != n2.cfg.Addr || mb.Role != RoleNode {
		t.Errorf("OnChange(n2 alive) got %+v; want Addr %q, Role node", mb, n2.cfg.Addr)
	}
	begin := time.Now()
	crash(t, n2)
	next("n2 dead")
	t.Logf("OnChange(n2 dead) after %v", time.Since(begin))
}

func TestJoin(t *testing.T) {
	t.Parallel()
	t.Run("only self", func(t *testing.T) {
		t.Parallel()
		m := start(t, testConfig(t, "n1", RoleNode))
		_, port, _ := net.SplitHostPort(m.LocalGossipAddr())
		for _, seeds := range [][]string{nil, {m.LocalGossipAddr()}, {"localhost:" + port}, {"n1/" + m.LocalGossipAddr()}} {
			if n, err := m.Join(t.Context(), seeds); n != 0 || err != nil {
				t.Errorf("Join(%q) = %d, %v; want 0, nil", seeds, n, err)
			}
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		m := start(t, testConfig(t, "n1", RoleNode))
		other := start(t, testConfig(t, "n2", RoleNode))
		dead := other.LocalGossipAddr()
		crash(t, other)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if n, err := m.Join(ctx, []string{dead}); n != 0 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Join(%s) = %d, %v; want 0, DeadlineExceeded", dead, n, err)
		}
	})
	t.Run("after close", func(t *testing.T) {
		t.Parallel()
		m := start(t, testConfig(t, "n1", RoleNode))
		other := start(t, testConfig(t, "n2", RoleNode))
		if err := m.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if n, err := m.Join(t.Context(), []string{other.LocalGossipAddr()}); n != 0 || !errors.Is(err, ErrClosed) {
			t.Errorf("Join after Close = %d, %v; want 0, ErrClosed", n, err)
		}
	})
	t.Run("shared seed list", func(t *testing.T) {
		// Every member gets the same list, itself included, and all start
		// at once: the way cmd/ wires a cluster.
		t.Parallel()
		var ms []*Membership
		var seeds []string
		for _, id := range []string{"n1", "n2", "gw1"} {
			role := RoleNode
			if id == "gw1" {
				role = RoleGateway
			}
			m := start(t, testConfig(t, id, role))
			ms = append(ms, m)
			seeds = append(seeds, m.LocalGossipAddr())
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		errs := make([]error, len(ms))
		var wg sync.WaitGroup
		for i, m := range ms {
			wg.Go(func() { _, errs[i] = m.Join(ctx, seeds) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s.Join(%v) = %v", ms[i].cfg.ID, seeds, err)
			}
		}
		waitUntil(t, 10*time.Second, "all alive everywhere", seesAlive(ms, "n1", "n2", "gw1"))
	})
}

// Not parallel: it counts the process's goroutines.
func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		a := start(t, testConfig(t, "n1", RoleNode))
		cfg := testConfig(t, "n2", RoleNode)
		cfg.OnChange = func(Member) {}
		b := start(t, cfg)
		join(t, b, a.LocalGossipAddr())
		waitUntil(t, 10*time.Second, "joined", seesAlive([]*Membership{a, b}, "n1", "n2"))
		for _, m := range []*Membership{b, a} {
			if err := m.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if err := m.Close(); err != nil {
				t.Errorf("second Close() = %v; want nil", err)
			}
		}
	}()
	// Connection handlers finish shortly after Shutdown returns.
	waitUntil(t, 5*time.Second, "goroutines back to "+strconv.Itoa(before), func() bool {
		return runtime.NumGoroutine() <= before
	})
}

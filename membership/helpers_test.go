package membership

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// testWriter forwards to t.Output until the test's cleanup, then drops:
// memberlist's connection goroutines may still log a line after Shutdown.
type testWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (tw *testWriter) Write(p []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.w == nil {
		return len(p), nil
	}
	return tw.w.Write(p)
}

func testLogger(t *testing.T) *slog.Logger {
	tw := &testWriter{w: t.Output()}
	t.Cleanup(func() { // registered first, so it runs after every member's Close
		tw.mu.Lock()
		tw.w = nil
		tw.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// testConfig is a loopback member on a free port with the fast profile.
func testConfig(t *testing.T, id string, role Role) Config {
	cfg := DefaultConfig()
	cfg.ID = id
	cfg.Role = role
	cfg.Addr = id + ".svc.example:9000"
	cfg.Zone = "zone-" + id
	cfg.AdminAddr = id + ".admin.example:9001"
	cfg.BindAddr = "127.0.0.1"
	cfg.BindPort = 0
	cfg.Profile = ProfileLocal
	cfg.Logger = testLogger(t)
	return cfg
}

func start(t *testing.T, cfg Config) *Membership {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s) = %v", cfg.ID, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close(%s) = %v", cfg.ID, err)
		}
	})
	return m
}

func join(t *testing.T, m *Membership, seeds ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if n, err := m.Join(ctx, seeds); err != nil || n < 1 {
		t.Fatalf("%s.Join(%v) = %d, %v; want ≥1, nil", m.cfg.ID, seeds, n, err)
	}
}

// crash stops m without a leave message, as a killed process would.
func crash(t *testing.T, m *Membership) {
	t.Helper()
	if err := m.shutdown(false); err != nil {
		t.Fatalf("shutdown(%s) = %v", m.cfg.ID, err)
	}
}

// waitUntil polls cond until it holds and returns how long that took, or
// fails the test after timeout. The timeout is a generous bound, not the
// property under test.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	begin := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("after %v: still not %s", timeout, what)
		case <-tick.C:
		}
	}
	return time.Since(begin)
}

// seesAlive reports whether every observer sees every id alive.
func seesAlive(observers []*Membership, ids ...string) func() bool {
	return func() bool {
		for _, o := range observers {
			for _, id := range ids {
				if !o.Alive(id) {
					return false
				}
			}
		}
		return true
	}
}

func ids(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

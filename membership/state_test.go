package membership

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// adopter keeps the newest document it was offered, as an application
// would, and adopts it through SetState.
type adopter struct {
	mu    sync.Mutex
	m     *Membership
	epoch uint64
	doc   string
}

func (a *adopter) offer(doc []byte) {
	// Documents are "<epoch>:<text>" in this test.
	s := string(doc)
	var e uint64
	for i := range s {
		if s[i] == ':' {
			e, _ = strconv.ParseUint(s[:i], 10, 64)
			break
		}
	}
	a.mu.Lock()
	if e > a.epoch {
		a.epoch, a.doc = e, s
	}
	m := a.m
	a.mu.Unlock()
	if m != nil {
		m.SetState(e, doc)
	}
}

func (a *adopter) get() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.doc
}

// startAdopters starts n members named prefix0…, each adopting what it is
// offered.
func startAdopters(t *testing.T, prefix string, n int) ([]*adopter, []*Membership) {
	ads := make([]*adopter, n)
	ms := make([]*Membership, n)
	for i := range ms {
		ads[i] = &adopter{}
		cfg := testConfig(t, prefix+strconv.Itoa(i), RoleNode)
		cfg.OnState = ads[i].offer
		ms[i] = start(t, cfg)
		ads[i].mu.Lock()
		ads[i].m = ms[i]
		ads[i].mu.Unlock()
	}
	return ads, ms
}

func TestSharedStateSpreads(t *testing.T) {
	t.Parallel()
	ads, ms := startAdopters(t, "m", 3)
	// m0 holds a document before anyone joins: the join's push-pull brings it.
	ms[0].SetState(1, []byte("1:first"))
	join(t, ms[1], ms[0].LocalGossipAddr())
	waitFor(t, func() bool { return ads[1].get() == "1:first" }, "m1 gets epoch 1 by joining")

	// A newer document set anywhere reaches everyone, including a member
	// that joins later.
	ms[1].SetState(2, []byte("2:second"))
	waitFor(t, func() bool { return ads[0].get() == "2:second" }, "m0 gets epoch 2")
	join(t, ms[2], ms[0].LocalGossipAddr())
	waitFor(t, func() bool { return ads[2].get() == "2:second" }, "m2 gets epoch 2")
	waitFor(t, func() bool {
		for _, mb := range ms[0].Members() {
			if mb.StateEpoch != 2 {
				return false
			}
		}
		return true
	}, "every member gossips epoch 2")

	// An older epoch does not replace a newer one.
	ms[2].SetState(1, []byte("1:stale"))
	if got := ms[2].StateEpoch(); got != 2 {
		t.Errorf("StateEpoch after a stale SetState = %d, want 2", got)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	// Gossip converges at the latest by push-pull, every 5 s in the local
	// profile: the wait allows several rounds on a loaded machine.
	start := time.Now()
	deadline := start.Add(40 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("%s took %v: longer than a push-pull interval", what, d)
	}
}

// Documents set from several goroutines at once, as the gateway's and the
// node's layout watchers can, each gossip their epoch with UpdateNode;
// memberlist does not allow those calls to overlap (run with -race), and
// the newest document must still win everywhere.
func TestConcurrentSetStateSpreadsNewest(t *testing.T) {
	t.Parallel()
	ads, ms := startAdopters(t, "c", 2)
	join(t, ms[1], ms[0].LocalGossipAddr())
	const writers, epochs = 4, 8
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for e := w + 1; e <= writers*epochs; e += writers {
				ms[0].SetState(uint64(e), []byte(strconv.Itoa(e)+":doc"))
			}
		})
	}
	wg.Wait()
	newest := strconv.Itoa(writers*epochs) + ":doc"
	waitFor(t, func() bool { return ads[1].get() == newest }, "c1 gets the newest document")
	waitFor(t, func() bool {
		self, ok := ms[1].Member("c0")
		return ok && self.StateEpoch == writers*epochs
	}, "c0 gossips the newest epoch")
}

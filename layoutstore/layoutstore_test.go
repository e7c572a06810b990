package layoutstore

import (
	"errors"
	"path/filepath"
	"testing"

	"cairn/placement"
)

func sixNodes() *placement.Layout {
	l := &placement.Layout{Version: 1, PGCount: 64}
	for _, id := range []placement.NodeID{"n1", "n2", "n3", "n4", "n5", "n6"} {
		l.Nodes = append(l.Nodes, placement.Node{ID: id, Zone: "z", Weight: 1, State: placement.Active})
	}
	return l
}

func TestStorePersistsTheNewest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, sixNodes(), 6)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Current().Epoch; got != 1 {
		t.Fatalf("first epoch %d, want 1", got)
	}
	var seen []uint64
	s.Watch(func(d *Document) { seen = append(seen, d.Epoch) })

	nodes := append(s.Current().Next(), placement.Node{ID: "n7", Zone: "z", Weight: 1, State: placement.Active})
	staged := s.Current().Stage(nodes)
	if err := s.Propose(staged); err != nil {
		t.Fatal(err)
	}
	applied, err := s.Current().Apply()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Propose(applied); err != nil {
		t.Fatal(err)
	}
	if err := s.Propose(staged); !errors.Is(err, ErrStale) {
		t.Errorf("proposing an older epoch: %v, want ErrStale", err)
	}
	if ok, err := s.Offer(staged.Encode()); ok || err != nil {
		t.Errorf("offering an older epoch adopted it: %v, %v", ok, err)
	}
	if len(seen) != 2 || seen[0] != 2 || seen[1] != 3 {
		t.Errorf("watch saw epochs %v, want [2 3]", seen)
	}

	// A restart with the configured (older) layout keeps the saved one.
	again, err := Open(path, sixNodes(), 6)
	if err != nil {
		t.Fatal(err)
	}
	d := again.Current()
	if d.Epoch != 3 || d.Staged != nil || len(d.Layout.Nodes) != 7 || d.Layout.Version != 2 || len(d.Layout.Table) != 64 {
		t.Errorf("reopened: epoch %d, version %d, %d nodes, staged %v, %d table rows",
			d.Epoch, d.Layout.Version, len(d.Layout.Nodes), d.Staged, len(d.Layout.Table))
	}
}

func TestOfferRefuses(t *testing.T) {
	t.Parallel()
	s, err := Open("", sixNodes(), 6)
	if err != nil {
		t.Fatal(err)
	}
	other := sixNodes()
	other.PGCount = 128
	for name, b := range map[string][]byte{
		"garbage":        []byte("{not json"),
		"no layout":      []byte(`{"epoch":5,"homes":6}`),
		"other PG count": (&Document{Epoch: 9, Homes: 6, Layout: other}).Encode(),
	} {
		if ok, err := s.Offer(b); ok || err == nil {
			t.Errorf("%s: adopted %v, err %v", name, ok, err)
		}
	}
	if s.Current().Epoch != 1 {
		t.Errorf("epoch %d after refused offers", s.Current().Epoch)
	}
}

func TestSameEpochPicksOneEverywhere(t *testing.T) {
	t.Parallel()
	base := &Document{Epoch: 1, Homes: 6, Layout: sixNodes()}
	a := base.Stage(append(base.Next(), placement.Node{ID: "n7", Weight: 1, State: placement.Active}))
	b := base.Stage(append(base.Next(), placement.Node{ID: "n8", Weight: 1, State: placement.Active}))
	var winners []string
	for _, order := range [][]*Document{{a, b}, {b, a}} {
		s, err := Open("", sixNodes(), 6)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range order {
			s.Offer(d.Encode())
		}
		winners = append(winners, string(s.Current().Staged[6].ID))
	}
	if winners[0] != winners[1] {
		t.Errorf("two stores offered the same two documents in other orders chose %v", winners)
	}
}

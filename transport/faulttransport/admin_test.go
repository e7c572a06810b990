package faulttransport

import (
	"errors"
	"testing"

	"cairn/node"
	"cairn/transport"
)

// noAdmin is a NodeClient without the admin calls: only the embedded
// interface's methods, none of which the test calls.
type noAdmin struct{ transport.NodeClient }

// dialNode opens a node and dials it under a fresh fault set twice: as n1,
// the node itself, and as n2, a client with only the NodeClient calls.
func dialNode(t *testing.T) (f *Faults, c1, c2 transport.NodeClient) {
	t.Helper()
	nd, err := node.Open(node.Config{ID: "n1", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Close() })
	f = New()
	d := f.Dialer(transport.StaticDialer{"n1": nd, "n2": noAdmin{nd}})
	c1, _ = d.Node("n1")
	c2, _ = d.Node("n2")
	return f, c1, c2
}

func TestNodeAdminForwarded(t *testing.T) {
	t.Parallel()
	f, c1, c2 := dialNode(t)
	admin := func(c transport.NodeClient) transport.NodeAdmin {
		t.Helper()
		a, ok := c.(transport.NodeAdmin)
		if !ok {
			t.Fatalf("client %T does not offer NodeAdmin", c)
		}
		return a
	}

	if st, err := admin(c1).NodeStats(t.Context()); err != nil || st.ID != "n1" {
		t.Errorf("NodeStats = %+v, %v; want n1's", st, err)
	}
	if err := admin(c1).StartScan(t.Context()); err != nil {
		t.Errorf("StartScan: %v", err)
	}
	f.Cut("n1")
	if _, err := admin(c1).NodeStats(t.Context()); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("NodeStats of a cut node = %v; want ErrUnavailable", err)
	}
	if err := admin(c1).StartScan(t.Context()); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("StartScan of a cut node = %v; want ErrUnavailable", err)
	}
	if _, err := admin(c2).NodeStats(t.Context()); !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("NodeStats through a client without admin calls = %v; want ErrUnavailable", err)
	}
	if got := f.Calls("n1"); got != 2 {
		t.Errorf("calls that reached n1 = %d; want 2", got)
	}
}

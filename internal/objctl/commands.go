package objctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"cairn/internal/adminapi"
)

func (s *session) printJSON(raw []byte) error {
	if _, err := s.env.Stdout.Write(raw); err != nil {
		return err
	}
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		_, err := io.WriteString(s.env.Stdout, "\n")
		return err
	}
	return nil
}

func (s *session) status(ctx context.Context, _ []string) error {
	var st adminapi.Status
	raw, err := s.c.Call(ctx, http.MethodGet, "/admin/v1/status", nil, nil, &st)
	if err != nil {
		return err
	}
	if s.g.json {
		return s.printJSON(raw)
	}
	return WriteStatus(s.env.Stdout, &st)
}

func (s *session) layoutShow(ctx context.Context, _ []string) error {
	var v adminapi.LayoutView
	raw, err := s.c.Call(ctx, http.MethodGet, "/admin/v1/layout", nil, nil, &v)
	if err != nil {
		return err
	}
	if s.g.json {
		return s.printJSON(raw)
	}
	return WriteLayout(s.env.Stdout, &v)
}

// stage stages one change and shows the layout it leads to.
func (s *session) stage(ctx context.Context, ch adminapi.LayoutChange) error {
	var v adminapi.LayoutView
	raw, err := s.c.Call(ctx, http.MethodPost, "/admin/v1/layout/stage", nil, ch, &v)
	if err != nil {
		return err
	}
	if s.g.json {
		return s.printJSON(raw)
	}
	if err := WriteLayout(s.env.Stdout, &v); err != nil {
		return err
	}
	_, err = fmt.Fprintln(s.env.Stdout, "\nApply with 'objctl layout apply', or drop with 'objctl layout revert'.")
	return err
}

func (s *session) addNode(ctx context.Context, args []string) error {
	return s.stage(ctx, adminapi.LayoutChange{Op: "add-node", Node: args[0], Zone: s.f.zone, Weight: s.f.weight})
}

func (s *session) setWeight(ctx context.Context, args []string) error {
	return s.stage(ctx, adminapi.LayoutChange{Op: "set-weight", Node: args[0], Weight: s.f.weight})
}

func (s *session) revert(ctx context.Context, _ []string) error {
	var v adminapi.LayoutView
	raw, err := s.c.Call(ctx, http.MethodPost, "/admin/v1/layout/revert", nil, nil, &v)
	if err != nil {
		return err
	}
	if s.g.json {
		return s.printJSON(raw)
	}
	_, err = fmt.Fprintf(s.env.Stdout, "Dropped the staged change; layout epoch %d (version %d) stays.\n", v.Epoch, v.Version)
	return err
}

func (s *session) apply(ctx context.Context, _ []string) error {
	cur, err := s.c.Layout(ctx)
	if err != nil {
		return err
	}
	if cur.Staged == nil {
		return errors.New("nothing staged: stage a change first (objctl layout add-node, set-weight, remove-node)")
	}
	if !s.f.yes {
		if !s.env.Interactive {
			return errors.New("refusing to apply without --yes: stdin is not a terminal (see the change with 'objctl layout show')")
		}
		if err := WriteLayout(s.env.Stderr, cur); err != nil {
			return err
		}
		if cur.Preview != nil && len(cur.Preview.Problems) > 0 {
			return &APIError{StatusCode: http.StatusConflict, Message: "the gateway would refuse this change", Problems: cur.Preview.Problems}
		}
		ok, err := s.confirm("Apply this change?")
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not applied")
		}
	}
	return s.applyAndFollow(ctx, cur.Preview, false, func(ctx context.Context, w *waiter) error {
		return w.rebalance(ctx)
	})
}

// applyAndFollow applies the staged change; with --wait it then runs follow
// with a waiter that knows the state before the change. When undoStaged is
// true objctl staged the change itself, so a refused one is dropped again
// rather than left for the operator to find.
func (s *session) applyAndFollow(ctx context.Context, preview *adminapi.Preview, undoStaged bool, follow func(context.Context, *waiter) error) error {
	var before *adminapi.Status
	if s.f.wait {
		var err error
		if before, err = s.c.Status(ctx); err != nil {
			return err
		}
	}
	var v adminapi.LayoutView
	raw, err := s.c.Call(ctx, http.MethodPost, "/admin/v1/layout/apply", nil, nil, &v)
	if err != nil {
		if ae := (*APIError)(nil); undoStaged && errors.As(err, &ae) && ae.StatusCode == http.StatusConflict {
			if _, rerr := s.c.Revert(ctx); rerr != nil {
				return errors.Join(err, fmt.Errorf("and dropping the refused change failed: %w", rerr))
			}
			return fmt.Errorf("%w\n(the change objctl staged was dropped again)", err)
		}
		return err
	}
	if s.g.json {
		if err := s.printJSON(raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(s.env.Stdout, "Applied: layout epoch %d (version %d).\n", v.Epoch, v.Version)
	}
	if !s.f.wait {
		return nil
	}
	return follow(ctx, s.newWaiter(before, before.Time, v.Epoch, preview))
}

// followDrain follows the drain of a node that was draining before this
// run: any scanner pass that shows it empty will do, since the last one
// did not.
func (s *session) followDrain(ctx context.Context, id string) error {
	before, err := s.c.Status(ctx)
	if err != nil {
		return err
	}
	return s.newWaiter(before, time.Time{}, before.LayoutEpoch, nil).drain(ctx, id)
}

func (s *session) drain(ctx context.Context, args []string) error {
	id := args[0]
	node, err := s.layoutNode(ctx, id)
	if err != nil {
		return err
	}
	if node.State == "draining" {
		fmt.Fprintf(s.env.Stdout, "Node %s is draining already.\n", id)
		if !s.f.wait {
			return nil
		}
		return s.followDrain(ctx, id)
	}
	return s.stageDrain(ctx, id)
}

// stageDrain stages a drain of id, applies it and, with --wait, follows it.
func (s *session) stageDrain(ctx context.Context, id string) error {
	v, err := s.c.Stage(ctx, adminapi.LayoutChange{Op: "drain", Node: id})
	if err != nil {
		return err
	}
	if !s.g.json {
		fmt.Fprintf(s.env.Stdout, "Draining %s:\n", id)
		writePreview(s.env.Stdout, v.Preview)
	}
	return s.applyAndFollow(ctx, v.Preview, true, func(ctx context.Context, w *waiter) error {
		return w.drain(ctx, id)
	})
}

// layoutNode returns id's entry in the applied layout, after checking
// that nothing is staged: a drain or removal applies whatever is staged,
// and must not apply someone else's change with it.
func (s *session) layoutNode(ctx context.Context, id string) (*adminapi.LayoutNode, error) {
	cur, err := s.c.Layout(ctx)
	if err != nil {
		return nil, err
	}
	if cur.Staged != nil {
		return nil, errors.New("a change is staged already: apply or revert it first (see 'objctl layout show')")
	}
	i := slices.IndexFunc(cur.Nodes, func(n adminapi.LayoutNode) bool { return n.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("node %s is not in the layout", id)
	}
	return &cur.Nodes[i], nil
}

func (s *session) removeNode(ctx context.Context, args []string) error {
	id := args[0]
	node, err := s.layoutNode(ctx, id)
	if err != nil {
		return err
	}
	// Removal drains first, always following the drain: the gateway
	// refuses to remove a node that is active or still holds shards.
	s.f.wait = true
	st, err := s.c.Status(ctx)
	if err != nil {
		return err
	}
	ns := findNode(st, id)
	switch {
	case node.State == "active":
		if err := s.stageDrain(ctx, id); err != nil {
			return err
		}
	case ns != nil && ns.Reported && (ns.Shards > 0 || ns.Misplaced > 0):
		fmt.Fprintf(s.env.Stdout, "Node %s is draining; waiting until it holds nothing.\n", id)
		if err := s.followDrain(ctx, id); err != nil {
			return err
		}
	}
	v, err := s.c.Stage(ctx, adminapi.LayoutChange{Op: "remove-node", Node: id})
	if err != nil {
		return err
	}
	if !s.g.json {
		fmt.Fprintf(s.env.Stdout, "Removing %s:\n", id)
		writePreview(s.env.Stdout, v.Preview)
	}
	s.f.wait = false
	return s.applyAndFollow(ctx, v.Preview, true, nil)
}

func (s *session) heal(ctx context.Context, _ []string) error {
	// The wait counts passes that end after this status: read before the
	// heal starts them, since a pass over little data can end before the
	// heal's own reply is made.
	var before *adminapi.Status
	if s.f.wait {
		var err error
		if before, err = s.c.Status(ctx); err != nil {
			return err
		}
	}
	var st adminapi.Status
	raw, err := s.c.Call(ctx, http.MethodPost, "/admin/v1/heal", healQuery(s.f.bucket), nil, &st)
	if err != nil {
		return err
	}
	if s.g.json {
		if err := s.printJSON(raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(s.env.Stdout, "Started a scanner pass on every live node.")
	}
	if !s.f.wait {
		return nil
	}
	return s.newWaiter(before, before.Time, 0, nil).heal(ctx, s.f.bucket)
}

func (s *session) durability(ctx context.Context, _ []string) error {
	var d adminapi.Durability
	raw, err := s.c.Call(ctx, http.MethodGet, "/admin/v1/durability", durabilityQuery(s.f.afr), nil, &d)
	if err != nil {
		return err
	}
	if s.g.json {
		return s.printJSON(raw)
	}
	return WriteDurability(s.env.Stdout, &d)
}

// confirm asks a yes/no question on stderr and reads the answer from
// stdin; anything but y or yes is no.
func (s *session) confirm(question string) (bool, error) {
	fmt.Fprintf(s.env.Stderr, "%s [y/N] ", question)
	line, err := s.stdin.line()
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// lineReader reads answers from stdin one line at a time.
type lineReader struct {
	r  io.Reader
	br *bufio.Reader
}

func (l *lineReader) line() (string, error) {
	if l.br == nil {
		l.br = bufio.NewReader(l.r)
	}
	return l.br.ReadString('\n')
}

func findNode(st *adminapi.Status, id string) *adminapi.NodeStatus {
	for i := range st.Nodes {
		if st.Nodes[i].ID == id {
			return &st.Nodes[i]
		}
	}
	return nil
}

package quorum

import (
	"errors"
	"fmt"
	"slices"
)

// errNoCause stands in for a failure reported without an error.
var errNoCause = errors.New("failed without a cause")

// Result is one party's answer: Err == nil means success.
type Result struct {
	Node string
	Err  error
}

// nodeErr prefixes err with the node, keeping err reachable by errors.Is/As.
func nodeErr(node string, err error) error {
	if err == nil {
		err = errNoCause
	}
	if node == "" {
		return err
	}
	return fmt.Errorf("%s: %w", node, err)
}

// Tally counts the answers of total parties to an operation that needs need
// successes. It is done once need parties succeeded or so many failed that
// success has become impossible; the caller can stop waiting for the rest then.
type Tally struct {
	op          string
	need, total int
	ok, failed  int
	errs        []error
}

// NewTally returns a tally for op (used in the error message) that needs need of
// total parties. need ≤ 0 is met at once; need > total is failed at once.
func NewTally(op string, need, total int) *Tally {
	return &Tally{op: op, need: need, total: max(total, 0)}
}

// Add records one party's answer. Each party answers once, and answers beyond
// total are ignored: counting a duplicate could fake a quorum of parties that
// do not exist. Answers after Done are still recorded.
func (t *Tally) Add(r Result) {
	if t.ok+t.failed >= t.total {
		return
	}
	if r.Err == nil {
		t.ok++
		return
	}
	t.failed++
	t.errs = append(t.errs, nodeErr(r.Node, r.Err))
}

// Done reports whether the outcome is settled: need successes, or more than
// total-need failures.
func (t *Tally) Done() bool { return t.ok >= t.need || t.failed > t.total-t.need }

// Succeeded returns the number of successful answers.
func (t *Tally) Succeeded() int { return t.ok }

// Failed returns the number of failed answers.
func (t *Tally) Failed() int { return t.failed }

// Pending returns the number of parties that have not answered.
func (t *Tally) Pending() int { return t.total - t.ok - t.failed }

// Err returns nil once need parties succeeded, and otherwise a *Error with the
// answers so far, also before Done: a caller that stops waiting (its context
// expired) gets an error that counts the silent parties as unanswered.
func (t *Tally) Err() error {
	if t.ok >= t.need {
		return nil
	}
	return &Error{Op: t.op, Need: t.need, Got: t.ok, Total: t.total, Errs: slices.Clone(t.errs)}
}

package quorum

import (
	"slices"
	"strconv"
)

// Outcome classifies a quorum read.
type Outcome uint8

const (
	// Pending: too few answers to decide yet.
	Pending Outcome = 1 + iota
	// Found: a read quorum answered and at least one node has the object; the
	// newest of the found versions is the newest committed one.
	Found
	// NotFound: a read quorum answered and none of them has the object.
	NotFound
	// Unavailable: so many nodes failed that a read quorum can no longer answer.
	Unavailable
)

// String returns the outcome's name in lower case.
func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Found:
		return "found"
	case NotFound:
		return "not found"
	case Unavailable:
		return "unavailable"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// ReadTally classifies the answers of total nodes to a read that needs need
// definite answers. A definite answer is "I have it" (AddFound) or "I do not"
// (AddNotFound); errors and timeouts (AddError) are not. Because any need nodes
// meet every write quorum (Params.MetaRead), need definite answers of which none
// is found prove that no write committed; fewer prove nothing, so a read with
// down nodes ends Unavailable, never NotFound. Which found version is newest is
// for the caller to pick; the tally only counts.
type ReadTally struct {
	op                     string
	need, total            int
	found, notFound, fails int
	errs                   []error
}

// NewReadTally returns a read tally for op (used in the error message) that
// needs need of total nodes to answer definitely. need < 1 is taken as 1: with
// no answer at all, "not found" would be a guess.
func NewReadTally(op string, need, total int) *ReadTally {
	return &ReadTally{op: op, need: max(need, 1), total: max(total, 0)}
}

// full reports whether every node has answered; later answers are ignored, as
// in [Tally.Add].
func (t *ReadTally) full() bool { return t.found+t.notFound+t.fails >= t.total }

// AddFound records that a node has the object.
func (t *ReadTally) AddFound() {
	if !t.full() {
		t.found++
	}
}

// AddNotFound records that a node definitely does not have the object.
func (t *ReadTally) AddNotFound() {
	if !t.full() {
		t.notFound++
	}
}

// AddError records that node could not answer; err is kept for the *Error.
func (t *ReadTally) AddError(node string, err error) {
	if !t.full() {
		t.fails++
		t.errs = append(t.errs, nodeErr(node, err))
	}
}

// Counts returns the numbers of found, not-found and failed answers.
func (t *ReadTally) Counts() (found, notFound, failed int) { return t.found, t.notFound, t.fails }

// Done reports whether the outcome is no longer Pending.
func (t *ReadTally) Done() bool {
	o, _ := t.Outcome()
	return o != Pending
}

// Outcome returns the classification of the answers so far. Found and
// Unavailable are final. NotFound turns into Found if a node answers found
// later (it holds a write still in flight), which a caller that keeps
// collecting answers, e.g. for read repair, may act on. For Pending and
// Unavailable it also returns a *Error counting the definite answers as acks,
// so that a caller that stops waiting has an error to return; for Found and
// NotFound the error is nil.
func (t *ReadTally) Outcome() (Outcome, error) {
	definite := t.found + t.notFound
	var o Outcome
	switch {
	case definite >= t.need && t.found > 0:
		return Found, nil
	case definite >= t.need:
		return NotFound, nil
	case definite+(t.total-definite-t.fails) < t.need:
		o = Unavailable
	default:
		o = Pending
	}
	return o, &Error{Op: t.op, Need: t.need, Got: definite, Total: t.total, Errs: slices.Clone(t.errs)}
}

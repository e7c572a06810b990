package quorum

import (
	"fmt"
	"strings"
)

// Error reports a failed quorum: Got of Total parties succeeded where Need had
// to. Errs holds the failed parties' errors, each prefixed with its node, and
// Unwrap exposes them to errors.Is and errors.As.
type Error struct {
	Op               string
	Need, Got, Total int
	Errs             []error
}

// Error returns one line, e.g.
// "quorum: put b/k: 2/6 acks, need 4, 1 unanswered: n1: disk full; n3: timeout".
// The causes are joined with "; " rather than errors.Join's newlines so that a
// log record stays on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("quorum: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%d/%d acks, need %d", e.Got, e.Total, e.Need)
	if missing := e.Total - e.Got - len(e.Errs); missing > 0 {
		fmt.Fprintf(&b, ", %d unanswered", missing)
	}
	for i, err := range e.Errs {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the per-node errors.
func (e *Error) Unwrap() []error { return e.Errs }

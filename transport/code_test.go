package transport

import (
	"errors"
	"fmt"
	"testing"
)

// Every sentinel a node wraps its errors with survives the wire: the code
// it is sent as unwraps, on the other side, to the same sentinel.
func TestCodesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, sentinel := range []error{ErrNotFound, ErrInvalid, ErrCorrupt, ErrUnavailable,
		ErrHintRefused, ErrUnauthorized, ErrClockSkew, ErrNoSpace} {
		sent := fmt.Errorf("node: put shard: %w", sentinel)
		got := &Error{Node: "n1", Op: "put shard", Code: CodeOf(sent), Message: sent.Error()}
		if !errors.Is(got, sentinel) {
			t.Errorf("%v sent as code %d arrives as %v", sentinel, CodeOf(sent), errors.Unwrap(got))
		}
	}
	if c := CodeOf(errors.New("disk on fire")); c != CodeInternal {
		t.Errorf("CodeOf(an unknown error) = %d; want CodeInternal", c)
	}
}

package quorum

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

var errDisk = errors.New("disk full")

// feed adds one result per letter of seq: 's' a success, 'f' a failure of
// node n<i>. It returns how many answers had been added when Done first held:
// 0 if it held from the start, -1 if it never did.
func feed(t *Tally, seq string) (doneAt int) {
	doneAt = -1
	if t.Done() {
		doneAt = 0
	}
	for i, c := range seq {
		r := Result{Node: fmt.Sprintf("n%d", i)}
		if c == 'f' {
			r.Err = errDisk
		}
		t.Add(r)
		if doneAt < 0 && t.Done() {
			doneAt = i + 1
		}
	}
	return doneAt
}

func TestTally(t *testing.T) {
	for _, tc := range []struct {
		name        string
		need, total int
		seq         string
		doneAt      int // answers after which Done first holds; 0 = at once, -1 = never
		ok          bool
		got, failed int
	}{
		{"all succeed", 4, 6, "ssssss", 4, true, 6, 0},
		{"quorum with failures first", 4, 6, "ffssss", 6, true, 4, 2},
		{"quorum with failures mixed", 4, 6, "sfsfss", 6, true, 4, 2},
		{"early fail: 3 of 6 failed, 4 needed", 4, 6, "fffsss", 3, false, 3, 3},
		{"early fail after successes", 4, 6, "ssfff", 5, false, 2, 3},
		{"undecided, answers missing", 4, 6, "ssf", -1, false, 2, 1},
		{"need all, one fails", 3, 3, "ssf", 3, false, 2, 1},
		{"need all, first fails", 3, 3, "fss", 1, false, 2, 1},
		{"need one of three", 1, 3, "ffs", 3, true, 1, 2},
		{"need one, all fail", 1, 3, "fff", 3, false, 0, 3},
		{"answers beyond total ignored", 2, 2, "fsss", 1, false, 1, 1},
		{"need above total: extra successes cannot fake it", 3, 2, "sss", 0, false, 2, 0},
		{"need zero is met at once", 0, 3, "fff", 0, true, 0, 3},
		{"no parties, need one", 1, 0, "s", 0, false, 0, 0},
		{"negative total", 1, -2, "", 0, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTally("put", tc.need, tc.total)
			doneAt := feed(tl, tc.seq)
			if doneAt != tc.doneAt {
				t.Errorf("NewTally(need %d, total %d) fed %q: Done after %d answers; want %d", tc.need, tc.total, tc.seq, doneAt, tc.doneAt)
			}
			if tl.Succeeded() != tc.got || tl.Failed() != tc.failed {
				t.Errorf("fed %q: Succeeded, Failed = %d, %d; want %d, %d", tc.seq, tl.Succeeded(), tl.Failed(), tc.got, tc.failed)
			}
			if want := max(tc.total, 0) - tc.got - tc.failed; tl.Pending() != want {
				t.Errorf("fed %q: Pending() = %d; want %d", tc.seq, tl.Pending(), want)
			}
			err := tl.Err()
			if (err == nil) != tc.ok {
				t.Fatalf("fed %q: Err() = %v; want success %v", tc.seq, err, tc.ok)
			}
			if err == nil {
				return
			}
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("fed %q: Err() = %T; want *Error", tc.seq, err)
			}
			if qe.Op != "put" || qe.Need != tc.need || qe.Got != tc.got || qe.Total != max(tc.total, 0) || len(qe.Errs) != tc.failed {
				t.Errorf("fed %q: Err() = %+v; want Op put, Need %d, Got %d, Total %d, %d Errs", tc.seq, qe, tc.need, tc.got, max(tc.total, 0), tc.failed)
			}
			if tc.failed > 0 && !errors.Is(err, errDisk) {
				t.Errorf("fed %q: errors.Is(Err(), errDisk) = false for %v", tc.seq, err)
			}
		})
	}
}

// Done must hold exactly when the outcome can no longer change.
func TestTallyDoneIsSettled(t *testing.T) {
	for total := 0; total <= 6; total++ {
		for need := 0; need <= total+1; need++ {
			for mask := range 1 << total {
				tl := NewTally("op", need, total)
				for i := range total {
					var err error
					if mask&(1<<i) != 0 {
						err = errDisk
					}
					tl.Add(Result{Err: err})
					ok, failed := tl.Succeeded(), tl.Failed()
					pending := total - ok - failed
					canSucceed, canFail := ok+pending >= need, ok < need
					if settled := !(canSucceed && canFail); tl.Done() != settled {
						t.Fatalf("need %d of %d after %d ok, %d failed: Done() = %v; want %v", need, total, ok, failed, tl.Done(), settled)
					}
				}
			}
		}
	}
}

func TestTallyErrCopies(t *testing.T) {
	tl := NewTally("put", 2, 3)
	tl.Add(Result{Node: "n1", Err: errDisk})
	err := tl.Err().(*Error)
	tl.Add(Result{Node: "n2", Err: fs.ErrPermission})
	if len(err.Errs) != 1 {
		t.Errorf("an earlier Err() changed after Add: Errs = %v; want 1 error", err.Errs)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    *Error
		want string
	}{
		{&Error{Op: "put b/k", Need: 4, Got: 2, Total: 6, Errs: []error{
			fmt.Errorf("n1: %w", errDisk), fmt.Errorf("n3: %w", fs.ErrNotExist),
			errors.New("n4: timeout"), errors.New("n5: reset")}},
			"quorum: put b/k: 2/6 acks, need 4: n1: disk full; n3: file does not exist; n4: timeout; n5: reset"},
		{&Error{Op: "get", Need: 3, Got: 1, Total: 6, Errs: []error{errDisk}},
			"quorum: get: 1/6 acks, need 3, 4 unanswered: disk full"},
		{&Error{Need: 1, Got: 0, Total: 0}, "quorum: 0/0 acks, need 1"},
		{&Error{Op: "x", Need: 2, Got: 0, Total: 3}, "quorum: x: 0/3 acks, need 2, 3 unanswered"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("(%+v).Error() = %q; want %q", tc.e, got, tc.want)
		}
		if strings.Contains(tc.e.Error(), "\n") {
			t.Errorf("(%+v).Error() spans lines", tc.e)
		}
	}
}

type codeErr struct{ code int }

func (e *codeErr) Error() string { return fmt.Sprintf("code %d", e.code) }

func TestErrorUnwrap(t *testing.T) {
	tl := NewTally("put", 3, 3)
	tl.Add(Result{Node: "n1", Err: fs.ErrNotExist})
	tl.Add(Result{Node: "n2", Err: fmt.Errorf("write shard: %w", &codeErr{507})})
	tl.Add(Result{Node: "n3"})
	err := tl.Err()
	if want := "quorum: put: 1/3 acks, need 3: n1: file does not exist; n2: write shard: code 507"; err.Error() != want {
		t.Errorf("Err() = %q; want %q", err, want)
	}
	for _, target := range []error{fs.ErrNotExist} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false; want true", err, target)
		}
	}
	if errors.Is(err, fs.ErrPermission) {
		t.Errorf("errors.Is(%v, fs.ErrPermission) = true; want false", err)
	}
	var ce *codeErr
	if !errors.As(err, &ce) || ce.code != 507 {
		t.Errorf("errors.As(%v, *codeErr) = %v; want code 507", err, ce)
	}
	// Wrapped once more by the caller, the causes stay reachable.
	wrapped := fmt.Errorf("put object: %w", err)
	var qe *Error
	if !errors.As(wrapped, &qe) || !errors.Is(wrapped, fs.ErrNotExist) {
		t.Errorf("wrapped %v: errors.As(*Error) or errors.Is(fs.ErrNotExist) failed", wrapped)
	}
}

func TestNilErrFailure(t *testing.T) {
	r := NewReadTally("get", 1, 1)
	r.AddError("n1", nil)
	if _, err := r.Outcome(); err == nil || !strings.Contains(err.Error(), "n1: failed without a cause") {
		t.Errorf("AddError(n1, nil) then Outcome() error = %v; want a failure naming n1", err)
	}
}

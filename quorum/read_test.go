package quorum

import (
	"errors"
	"testing"
)

func TestOutcomeString(t *testing.T) {
	for _, tc := range []struct {
		o    Outcome
		want string
	}{
		{Pending, "pending"}, {Found, "found"}, {NotFound, "not found"}, {Unavailable, "unavailable"},
		{0, "Outcome(0)"}, {42, "Outcome(42)"},
	} {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("Outcome(%d).String() = %q; want %q", uint8(tc.o), got, tc.want)
		}
	}
}

func TestReadTally(t *testing.T) {
	for _, tc := range []struct {
		name        string
		need, total int
		seq         string // F found, N not found, E error
		want        Outcome
		doneAt      int // answers after which Done first holds; 0 = never
	}{
		{"quorum of not found", 3, 6, "NNN", NotFound, 3},
		{"one found in quorum", 3, 6, "NFN", Found, 3},
		{"found first still waits for quorum", 3, 6, "F", Pending, 0},
		{"found then quorum", 3, 6, "FEENN", Found, 5},
		{"errors do not count as not found", 3, 6, "NNEE", Pending, 0},
		{"not found despite errors", 3, 6, "NENEEN", NotFound, 6},
		{"unavailable: 4 of 6 failed", 3, 6, "EEEE", Unavailable, 4},
		{"found but no quorum is unavailable", 3, 6, "FEEEE", Unavailable, 5},
		{"two not found, rest failed", 3, 6, "NNEEEE", Unavailable, 6},
		{"later answers ignored", 2, 2, "ENN", Unavailable, 1},
		{"need all", 3, 3, "NNN", NotFound, 3},
		{"need all, one found", 3, 3, "NNF", Found, 3},
		{"need 0 is taken as 1", 0, 3, "N", NotFound, 1},
		{"need 0, nothing yet", 0, 3, "", Pending, 0},
		{"no nodes", 1, 0, "", Unavailable, 0},
		{"need above total", 4, 3, "NNN", Unavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := NewReadTally("get b/k", tc.need, tc.total)
			doneAt, answers := 0, 0
			for _, c := range tc.seq {
				switch c {
				case 'F':
					rt.AddFound()
				case 'N':
					rt.AddNotFound()
				case 'E':
					rt.AddError("n", errDisk)
				default:
					continue
				}
				answers++
				if doneAt == 0 && rt.Done() {
					doneAt = answers
				}
			}
			got, err := rt.Outcome()
			if got != tc.want {
				t.Errorf("NewReadTally(need %d, total %d) fed %q: Outcome() = %v; want %v", tc.need, tc.total, tc.seq, got, tc.want)
			}
			if tc.doneAt > 0 && doneAt != tc.doneAt {
				t.Errorf("fed %q: Done after %d answers; want %d", tc.seq, doneAt, tc.doneAt)
			}
			if rt.Done() != (got != Pending) {
				t.Errorf("fed %q: Done() = %v with outcome %v", tc.seq, rt.Done(), got)
			}
			settled := got == Found || got == NotFound
			if (err == nil) != settled {
				t.Fatalf("fed %q: Outcome() = %v, %v; want an error exactly when neither found nor not found", tc.seq, got, err)
			}
			if err != nil {
				var qe *Error
				if !errors.As(err, &qe) {
					t.Fatalf("fed %q: Outcome() error %T; want *Error", tc.seq, err)
				}
				found, notFound, failed := rt.Counts()
				if qe.Op != "get b/k" || qe.Got != found+notFound || len(qe.Errs) != failed || qe.Total != max(tc.total, 0) {
					t.Errorf("fed %q: Outcome() error %+v; want Got %d, %d Errs, Total %d", tc.seq, qe, found+notFound, failed, tc.total)
				}
				if failed > 0 && !errors.Is(err, errDisk) {
					t.Errorf("fed %q: errors.Is(%v, errDisk) = false", tc.seq, err)
				}
			}
		})
	}
}

// Found and Unavailable are final and nothing falls back to Pending; NotFound may
// only turn into Found (a later node has a write in flight), whatever answers come.
func TestReadTallyMonotone(t *testing.T) {
	const total = 5
	for need := 1; need <= total; need++ {
		// Every sequence of 5 answers over {F, N, E}: 3^5.
		for code := range 243 {
			rt := NewReadTally("get", need, total)
			var decided Outcome
			for i, c := 0, code; i < total; i, c = i+1, c/3 {
				switch c % 3 {
				case 0:
					rt.AddFound()
				case 1:
					rt.AddNotFound()
				case 2:
					rt.AddError("n", errDisk)
				}
				o, _ := rt.Outcome()
				if decided == 0 && o != Pending {
					decided = o
				}
				switch {
				case decided == 0:
				case decided == NotFound && o == Found:
					decided = Found
				case o != decided:
					t.Fatalf("need %d, answers code %d: outcome went %v -> %v", need, code, decided, o)
				}
			}
			if o, _ := rt.Outcome(); o == Pending {
				t.Errorf("need %d, answers code %d: all %d nodes answered, outcome still pending", need, code, total)
			}
		}
	}
}

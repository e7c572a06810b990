package quorum

import (
	"errors"
	"fmt"
)

// ErrInvalidParams is wrapped by every problem [Params.Validate] reports.
var ErrInvalidParams = errors.New("quorum: invalid params")

// Params are the quorum sizes for a placement set of N = K+M homes holding the
// K data and M parity shards of each object.
type Params struct {
	K, M int
	// ShardWrite is how many shards must be durable before a write goes on to
	// its metadata. At least K, or the object could not be read back at all.
	ShardWrite int
	// MetaWrite and MetaRead are the metadata quorums. MetaWrite+MetaRead > N
	// makes every read quorum meet every write quorum, so a read sees the newest
	// committed version; both ≤ N-M keeps reads and writes possible while any M
	// homes are down (the same failures the erasure code survives).
	MetaWrite int
	MetaRead  int
}

// N returns the size of the placement set, K+M.
func (p Params) N() int { return p.K + p.M }

// DefaultParams returns the quorums for k data and m parity shards:
//
//   - ShardWrite = k+1 (k when m = 0): one shard beyond the minimum, so losing
//     any one shard after the ack still leaves the object readable.
//   - MetaWrite = N-m: as many metadata copies as can be required while any m
//     homes may be down.
//   - MetaRead = m+1 = N-MetaWrite+1: the smallest read quorum that meets every
//     write quorum. Reads outnumber writes, so they get the cheaper quorum.
//
// For k=4, m=2 this gives 5, 4 and 3. Both metadata quorums fit in N-m only
// when 2m < N; otherwise no quorums can meet the rules and Validate reports it
// for the returned Params, as it does for k < 1 or m < 0.
func DefaultParams(k, m int) Params {
	n := k + m
	return Params{
		K:          k,
		M:          m,
		ShardWrite: min(k+1, n),
		MetaWrite:  n - m,
		MetaRead:   m + 1,
	}
}

// Validate reports every problem of p at once, joined with errors.Join; each
// wraps [ErrInvalidParams]. It returns nil for usable params.
func (p Params) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidParams}, args...)...))
	}
	if p.K < 1 {
		bad("K = %d, want at least 1", p.K)
	}
	if p.M < 0 {
		bad("M = %d, want at least 0", p.M)
	}
	n := p.N()
	if p.ShardWrite < p.K || p.ShardWrite > n {
		bad("ShardWrite = %d, want K ≤ ShardWrite ≤ N (%d ≤ w ≤ %d)", p.ShardWrite, p.K, n)
	}
	for _, q := range []struct {
		name string
		v    int
	}{{"MetaWrite", p.MetaWrite}, {"MetaRead", p.MetaRead}} {
		switch {
		case q.v < 1:
			bad("%s = %d, want at least 1", q.name, q.v)
		case q.v > n-p.M:
			bad("%s = %d exceeds N-M = %d: %d down homes would block it", q.name, q.v, n-p.M, p.M)
		}
	}
	if p.MetaWrite+p.MetaRead <= n {
		bad("MetaWrite+MetaRead = %d+%d, want more than N = %d so reads see every committed write", p.MetaWrite, p.MetaRead, n)
	}
	return errors.Join(errs...)
}

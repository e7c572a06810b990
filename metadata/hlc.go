package metadata

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// ErrClockSkew is returned by Clock.Update when a peer's timestamp is further
// ahead of our physical time than the clock's maximum skew.
var ErrClockSkew = errors.New("metadata: remote clock too far ahead")

// ErrBadVersionID is returned by ParseVersionID for text that NewVersionID
// could not have produced.
var ErrBadVersionID = errors.New("metadata: malformed version id")

// HLC is a hybrid logical clock timestamp: the upper 48 bits are Unix
// milliseconds, the lower 16 bits a logical counter that orders events within
// one millisecond. Zero means unset.
//
// Because the counter is in the low bits, HLC values compare with < and >,
// and adding one to a timestamp whose counter is full carries into the next
// millisecond.
type HLC uint64

const (
	logicalBits = 16
	// maxMillis is the largest millisecond count an HLC holds (the year
	// 10889); NewHLC saturates there rather than wrapping into the past.
	maxMillis = 1<<(64-logicalBits) - 1
)

// NewHLC builds a timestamp. Milliseconds outside [0, 2^48) are clamped.
func NewHLC(ms int64, logical uint16) HLC {
	ms = max(0, min(ms, maxMillis))
	return HLC(uint64(ms)<<logicalBits | uint64(logical))
}

// Millis returns the physical part: Unix milliseconds.
func (h HLC) Millis() int64 { return int64(h >> logicalBits) }

// Logical returns the logical counter.
func (h HLC) Logical() uint16 { return uint16(h) }

// Time returns the physical part as a time in UTC; the zero HLC gives the
// zero time. It does not read the clock.
func (h HLC) Time() time.Time {
	if h == 0 {
		return time.Time{}
	}
	return time.UnixMilli(h.Millis()).UTC()
}

func (h HLC) String() string {
	return strconv.FormatInt(h.Millis(), 10) + "." + strconv.FormatUint(uint64(h.Logical()), 10)
}

// Clock issues HLC timestamps. It is safe for concurrent use.
//
// Timestamps from one Clock are strictly increasing, even when the physical
// clock stalls or steps back: the clock then runs on its logical counter from
// the last value it issued or merged.
type Clock struct {
	now     func() time.Time
	maxSkew time.Duration

	mu   sync.Mutex
	last HLC // the largest timestamp issued or merged
}

// NewClock returns a clock that reads physical time from now (the gateway
// passes time.Now; tests pass a fake). Update refuses remote timestamps more
// than maxSkew ahead of now; a negative maxSkew is treated as zero. A nil now
// gives a purely logical clock whose physical time is always the epoch.
func NewClock(now func() time.Time, maxSkew time.Duration) *Clock {
	return &Clock{now: now, maxSkew: max(0, maxSkew)}
}

// physical reads the injected clock as an HLC with a zero counter.
func (c *Clock) physical() HLC {
	if c.now == nil {
		return 0
	}
	return NewHLC(c.now().UnixMilli(), 0)
}

// Now returns a timestamp greater than every timestamp this clock has issued
// or merged before.
func (c *Clock) Now() HLC {
	p := c.physical()
	c.mu.Lock()
	defer c.mu.Unlock()
	if p > c.last {
		c.last = p
	} else {
		// Same millisecond or the wall clock went back: bump the counter. A
		// full counter carries into the millisecond field, so the physical
		// part runs ahead of the wall clock by at most a millisecond per 65536
		// timestamps until the wall clock catches up.
		c.last++
	}
	return c.last
}

// Update merges a timestamp seen from a peer, so that every later Now is
// greater than it. A timestamp more than the maximum skew ahead of our
// physical time is refused with an error wrapping ErrClockSkew and leaves the
// clock untouched: accepting it would drag every later timestamp into the
// future along with it.
func (c *Clock) Update(remote HLC) error {
	p := c.physical()
	// Compare in whole milliseconds: a remote stamp near the top of the HLC
	// range would overflow a Duration.
	if ahead := remote.Millis() - p.Millis(); ahead > c.maxSkew.Milliseconds() {
		return fmt.Errorf("%w: %dms ahead of local time, max skew %v", ErrClockSkew, ahead, c.maxSkew)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = max(c.last, remote)
	return nil
}

// Version IDs are 16 lowercase hex digits of ^HLC followed by the origin. The
// complement makes newer versions sort first in byte order, which is the
// order in which S3 lists versions; the fixed width keeps that true across
// all timestamps and lets ParseVersionID find the end of the timestamp.
const versionIDHexLen = 16

// NewVersionID returns the S3 version ID for a version written at h by
// origin, a short string unique to the writer (for example a random string a
// gateway picks at start) so that two writers issuing the same HLC still get
// distinct IDs. Origin should be URL-safe ([0-9A-Za-z_-]) as it appears in
// query strings; it is not validated here.
//
// IDs with different HLCs sort newest first. IDs with equal HLCs sort by
// origin.
func NewVersionID(h HLC, origin string) string {
	const hexdig = "0123456789abcdef"
	var b [versionIDHexLen]byte
	x := ^uint64(h)
	for i := versionIDHexLen - 1; i >= 0; i-- {
		b[i] = hexdig[x&0xf]
		x >>= 4
	}
	return string(b[:]) + origin
}

// ParseVersionID returns the HLC a version ID was made from. The origin
// suffix is not checked. It returns an error wrapping ErrBadVersionID for
// text that is too short, not lowercase hex, or encodes the zero HLC.
func ParseVersionID(id string) (HLC, error) {
	if len(id) < versionIDHexLen {
		return 0, fmt.Errorf("%w: %q too short", ErrBadVersionID, id)
	}
	var x uint64
	for i := range versionIDHexLen {
		c := id[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, fmt.Errorf("%w: %q: bad digit at %d", ErrBadVersionID, id, i)
		}
		x = x<<4 | uint64(d)
	}
	h := HLC(^x)
	if h == 0 {
		return 0, fmt.Errorf("%w: %q: zero timestamp", ErrBadVersionID, id)
	}
	return h, nil
}

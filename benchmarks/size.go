package benchmarks

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax is returned (wrapped) by the parsers of sizes, fault schedules,
// operation mixes and scenario specs when their input is malformed.
var ErrSyntax = errors.New("benchmarks: syntax error")

// Size units accepted by ParseSize. Decimal units (KB, MB) are accepted as
// well, because people type them; they mean powers of 1000.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1000,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1000 * 1000,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1000 * 1000 * 1000,
}

// ParseSize parses a byte size such as "4KiB", "1MiB", "256 MiB", "1.5MiB"
// or "4096". K/M/G alone are binary units, as in dd.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("%w: size %q: want a number and a unit such as 4KiB or 1MiB", ErrSyntax, s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > (1<<62)/mult {
			return 0, fmt.Errorf("%w: size %q: out of range", ErrSyntax, s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("%w: size %q: bad number", ErrSyntax, s)
	}
	return int64(f * float64(mult)), nil
}

// FormatSize formats n bytes the way the tables show them: "4 KiB",
// "1 MiB", "1.5 MiB", "100 B".
func FormatSize(n int64) string {
	units := []struct {
		name string
		v    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if n >= u.v {
			if n%u.v == 0 {
				return fmt.Sprintf("%d %s", n/u.v, u.name)
			}
			f := strconv.FormatFloat(float64(n)/float64(u.v), 'f', 2, 64)
			return strings.TrimRight(strings.TrimRight(f, "0"), ".") + " " + u.name
		}
	}
	return fmt.Sprintf("%d B", n)
}

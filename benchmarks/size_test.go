package benchmarks

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"4096", 4096},
		{"100B", 100},
		{"4KiB", 4 << 10},
		{"4kib", 4 << 10},
		{"4 KiB", 4 << 10},
		{"1MiB", 1 << 20},
		{"256MiB", 256 << 20},
		{"1.5MiB", 3 << 19},
		{"2GiB", 2 << 30},
		{"4K", 4 << 10},
		{"1M", 1 << 20},
		{"1MB", 1000 * 1000},
		{"4KB", 4000},
		{" 16MiB ", 16 << 20},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, nil", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "MiB", "4XiB", "-1KiB", "1.2.3MiB", "abc", "99999999999999999999", "9000000000GiB", "4 Ki B"} {
		if got, err := ParseSize(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseSize(%q) = %d, %v; want ErrSyntax", in, got, err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{100, "100 B"},
		{4 << 10, "4 KiB"},
		{1 << 20, "1 MiB"},
		{3 << 19, "1.5 MiB"},
		{1000, "1000 B"},
		{1025, "1 KiB"},
		{1536, "1.5 KiB"},
		{256 << 20, "256 MiB"},
		{5 << 30, "5 GiB"},
	} {
		if got := FormatSize(tc.in); got != tc.want {
			t.Errorf("FormatSize(%d) = %q; want %q", tc.in, got, tc.want)
		}
	}
	// What FormatSize prints for whole units, ParseSize reads back.
	for _, n := range []int64{4 << 10, 64 << 10, 1 << 20, 16 << 20, 256 << 20} {
		if got, err := ParseSize(FormatSize(n)); err != nil || got != n {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v; want %d", n, got, err, n)
		}
	}
}

func TestParseMix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Mix
	}{
		{"get=45,put=30,head=10,list=5,delete=10", DefaultMix()},
		{"GET=1", Mix{OpGet: 1}},
		{"put=1, get=0", Mix{OpPut: 1, OpGet: 0}},
	} {
		got, err := ParseMix(tc.in)
		if err != nil || got.String() != tc.want.String() {
			t.Errorf("ParseMix(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "get", "get=x", "copy=1", "get=-1", "get=0,put=0"} {
		if got, err := ParseMix(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseMix(%q) = %v, %v; want ErrSyntax", in, got, err)
		}
	}
}

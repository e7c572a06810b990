package s3api

import (
	"strconv"
	"strings"
)

// ParseRange parses a single byte range ("bytes=first-last", "bytes=first-"
// or "bytes=-suffix") of an object of the given size and returns the span
// to send. Like S3, it ignores (ok=false, err=nil) an empty header, one it
// cannot parse, another unit, and several ranges: the whole object is then
// sent with 200. A well-formed range that selects nothing (first >= size,
// a zero suffix, or any range of an empty object) is an InvalidRange error.
func ParseRange(header string, size int64) (start, length int64, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	firstStr, lastStr, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, nil
	}
	firstStr, lastStr = strings.TrimSpace(firstStr), strings.TrimSpace(lastStr)
	unsatisfiable := Errorf(InvalidRange, "The requested range is not satisfiable")
	if firstStr == "" {
		suffix, valid := parseRangeInt(lastStr)
		if !valid {
			return 0, 0, false, nil
		}
		if suffix == 0 || size <= 0 {
			return 0, 0, false, unsatisfiable
		}
		suffix = min(suffix, size)
		return size - suffix, suffix, true, nil
	}
	first, valid := parseRangeInt(firstStr)
	if !valid {
		return 0, 0, false, nil
	}
	last := int64(-1)
	if lastStr != "" {
		if last, valid = parseRangeInt(lastStr); !valid || last < first {
			return 0, 0, false, nil
		}
	}
	if first >= size {
		return 0, 0, false, unsatisfiable
	}
	if last < 0 || last >= size {
		last = size - 1
	}
	return first, last - first + 1, true, nil
}

// parseRangeInt accepts only plain decimal digits: strconv alone would let
// "+5" through.
func parseRangeInt(s string) (int64, bool) {
	if s == "" || !isDigits(s, len(s)) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

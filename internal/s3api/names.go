package s3api

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// MaxKeyLength is the longest object key S3 accepts, in bytes.
const MaxKeyLength = 1024

// ValidateBucketName checks S3's bucket naming rules: 3..63 characters of
// lowercase letters, digits, '.' and '-', starting and ending with a letter
// or digit, no "..", not shaped like an IPv4 address, and none of the
// prefixes and suffixes AWS reserves. It returns an InvalidBucketName error.
func ValidateBucketName(name string) error {
	bad := func(why string) error {
		return &Error{Code: InvalidBucketName, Message: "The specified bucket is not valid: " + why + ".", Resource: name}
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("bucket names must be between 3 and 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return bad("bucket names can consist only of lowercase letters, numbers, dots and hyphens")
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("bucket names must begin and end with a letter or number")
	}
	if strings.Contains(name, "..") {
		return bad("bucket names must not contain two adjacent periods")
	}
	if addr, err := netip.ParseAddr(name); err == nil && addr.Is4() {
		return bad("bucket names must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("bucket names must not start with " + p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad("bucket names must not end with " + s)
		}
	}
	return nil
}

func isAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// ValidateObjectKey checks an object key: non-empty, at most MaxKeyLength
// bytes (KeyTooLongError) and valid UTF-8 (InvalidArgument). Keys are data,
// never paths, so "../x" and the like are legal here.
func ValidateObjectKey(key string) error {
	switch {
	case key == "":
		return Errorf(InvalidArgument, "The object key must not be empty.")
	case len(key) > MaxKeyLength:
		return NewError(KeyTooLongError)
	case !utf8.ValidString(key):
		return Errorf(InvalidArgument, "Object key is not valid UTF-8.")
	}
	return nil
}

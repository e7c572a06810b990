package s3api

import (
	"net/http"
	"strings"
	"time"
)

// etagListMatches reports whether an If-Match / If-None-Match list ("*" or
// comma-separated, quoted or not, W/ ignored) names etag.
func etagListMatches(list, etag string) bool {
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		item = strings.TrimPrefix(item, "W/")
		if item == "*" || strings.Trim(item, `"`) == etag {
			return true
		}
	}
	return false
}

// Preconditions are the four conditional-request headers of a read, or
// their x-amz-copy-source-if-* twins.
type Preconditions struct {
	IfMatch, IfNoneMatch               string
	IfModifiedSince, IfUnmodifiedSince string
}

// ReadPreconditions takes the conditional headers of a GET or HEAD.
func ReadPreconditions(h http.Header) Preconditions {
	return Preconditions{h.Get("If-Match"), h.Get("If-None-Match"), h.Get("If-Modified-Since"), h.Get("If-Unmodified-Since")}
}

// CopySourcePreconditions takes the x-amz-copy-source-if-* headers.
func CopySourcePreconditions(h http.Header) Preconditions {
	return Preconditions{h.Get("X-Amz-Copy-Source-If-Match"), h.Get("X-Amz-Copy-Source-If-None-Match"),
		h.Get("X-Amz-Copy-Source-If-Modified-Since"), h.Get("X-Amz-Copy-Source-If-Unmodified-Since")}
}

// Evaluate decides the preconditions against an object's ETag (unquoted)
// and Last-Modified, as S3 does (RFC 7232 order): a failing If-Match, or
// a failing If-Unmodified-Since without If-Match, is PreconditionFailed; a
// matching If-None-Match, or a passing If-Modified-Since check without
// If-None-Match, is notModified (304 for GET/HEAD). Unparseable dates are
// ignored, as HTTP requires.
func (p Preconditions) Evaluate(etag string, modTime time.Time) (notModified bool, err error) {
	mod := modTime.Truncate(time.Second)
	if p.IfMatch != "" {
		if !etagListMatches(p.IfMatch, etag) {
			return false, NewError(PreconditionFailed)
		}
	} else if t, perr := http.ParseTime(p.IfUnmodifiedSince); p.IfUnmodifiedSince != "" && perr == nil && mod.After(t) {
		return false, NewError(PreconditionFailed)
	}
	if p.IfNoneMatch != "" {
		return etagListMatches(p.IfNoneMatch, etag), nil
	}
	if t, perr := http.ParseTime(p.IfModifiedSince); p.IfModifiedSince != "" && perr == nil && !mod.After(t) {
		return true, nil
	}
	return false, nil
}

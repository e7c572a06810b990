package s3api

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	const size = 100
	cases := []struct {
		h             string
		size          int64
		start, length int64
		ok            bool
		err           ErrorCode
	}{
		{"", size, 0, 0, false, ""},
		{"bytes=0-9", size, 0, 10, true, ""},
		{"bytes=10-10", size, 10, 1, true, ""},
		{"bytes=90-", size, 90, 10, true, ""},
		{"bytes=90-1000", size, 90, 10, true, ""},
		{"bytes=-10", size, 90, 10, true, ""},
		{"bytes=-1000", size, 0, 100, true, ""},
		{"bytes=0-", size, 0, 100, true, ""},
		{"bytes=99-99", size, 99, 1, true, ""},
		{" bytes=1-2 ", size, 1, 2, true, ""},
		{"bytes= 1 - 2", size, 1, 2, true, ""},
		// Unsatisfiable: 416.
		{"bytes=100-", size, 0, 0, false, InvalidRange},
		{"bytes=100-200", size, 0, 0, false, InvalidRange},
		{"bytes=-0", size, 0, 0, false, InvalidRange},
		{"bytes=0-0", 0, 0, 0, false, InvalidRange},
		{"bytes=-5", 0, 0, 0, false, InvalidRange},
		// Syntactically invalid or unsupported: ignored.
		{"bytes=5-2", size, 0, 0, false, ""},
		{"bytes=0-1,3-4", size, 0, 0, false, ""},
		{"bytes=a-b", size, 0, 0, false, ""},
		{"bytes=-", size, 0, 0, false, ""},
		{"bytes=1", size, 0, 0, false, ""},
		{"bytes=+1-2", size, 0, 0, false, ""},
		{"bytes=--1", size, 0, 0, false, ""},
		{"items=0-1", size, 0, 0, false, ""},
		{"bytes 0-1", size, 0, 0, false, ""},
		{"bytes=99999999999999999999-", size, 0, 0, false, ""},
		{"bytes=-99999999999999999999", size, 0, 0, false, ""},
	}
	for _, tc := range cases {
		start, length, ok, err := ParseRange(tc.h, tc.size)
		if start != tc.start || length != tc.length || ok != tc.ok || codeOf(err) != tc.err || (tc.err == "" && err != nil) {
			t.Errorf("ParseRange(%q, %d) = %d, %d, %v, %v; want %d, %d, %v, %q",
				tc.h, tc.size, start, length, ok, err, tc.start, tc.length, tc.ok, tc.err)
		}
	}
	if err := NewError(InvalidRange); err.Status() != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("InvalidRange status = %d; want 416", err.Status())
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=5-", "bytes=0-1,2-3", "bytes=9-1", "bytes= 1 - 2"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		start, length, ok, err := ParseRange(h, size)
		if ok && (err != nil || start < 0 || length <= 0 || start+length > size) {
			t.Fatalf("ParseRange(%q, %d) = %d, %d, %v, %v: span outside the object", h, size, start, length, ok, err)
		}
		if !ok && (start != 0 || length != 0) {
			t.Fatalf("ParseRange(%q, %d) = %d, %d, false: want zero span", h, size, start, length)
		}
		if err != nil && codeOf(err) != InvalidRange {
			t.Fatalf("ParseRange(%q, %d) error %v; want InvalidRange", h, size, err)
		}
	})
}

func TestValidateBucketName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"abc", true},
		{"my-bucket.example-1", true},
		{"1bucket", true},
		{strings.Repeat("a", 63), true},
		{"192.168.5.4x", true},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"MyBucket", false},
		{"my_bucket", false},
		{"-bucket", false},
		{"bucket-", false},
		{".bucket", false},
		{"bucket.", false},
		{"my..bucket", false},
		{"192.168.5.4", false},
		{"xn--bucket", false},
		{"bucket-s3alias", false},
		{"bucket--ol-s3", false},
		{"sthree-bucket", false},
		{"buck et", false},
		{"bücket", false},
	} {
		err := ValidateBucketName(tc.name)
		if (err == nil) != tc.ok || (err != nil && codeOf(err) != InvalidBucketName) {
			t.Errorf("ValidateBucketName(%q) = %v; want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestValidateObjectKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want ErrorCode
	}{
		{"a", ""},
		{"../../etc/passwd", ""},
		{"with\x00nul", ""},
		{strings.Repeat("k", MaxKeyLength), ""},
		{strings.Repeat("k", MaxKeyLength+1), KeyTooLongError},
		{strings.Repeat("é", 513), KeyTooLongError}, // 1026 bytes
		{"", InvalidArgument},
		{"bad\xffutf8", InvalidArgument},
	} {
		if got := codeOf(ValidateObjectKey(tc.key)); got != tc.want {
			t.Errorf("ValidateObjectKey(%.20q…) = %q; want %q", tc.key, got, tc.want)
		}
	}
}

func TestErrorTable(t *testing.T) {
	want := map[ErrorCode]int{
		AccessDenied: 403, InvalidAccessKeyID: 403, SignatureDoesNotMatch: 403, RequestTimeTooSkewed: 403,
		AuthorizationHeaderMalformed: 400, AuthorizationQueryParametersError: 400, MissingSecurityHeader: 400,
		InvalidArgument: 400, InvalidRequest: 400, InvalidDigest: 400, BadDigest: 400, XAmzContentSHA256Mismatch: 400,
		InvalidBucketName: 400, InvalidRange: 416, KeyTooLongError: 400, MalformedXML: 400, EntityTooLarge: 400,
		IncompleteBody: 400, MissingContentLength: 411, NoSuchBucket: 404, NoSuchKey: 404, NotFound: 404,
		BucketAlreadyOwnedByYou: 409, BucketAlreadyExists: 409, BucketNotEmpty: 409, MethodNotAllowed: 405,
		NotImplemented: 501, InternalError: 500, ServiceUnavailable: 503, SlowDown: 503, PreconditionFailed: 412,
		InvalidPart: 400, InvalidPartOrder: 400, NoSuchUpload: 404, EntityTooSmall: 400, NoSuchVersion: 404, NoSuchLifecycleConfiguration: 404,
		InvalidObjectState: 403, InvalidTag: 400, NoSuchUploadOrPart: 404, ConditionalRequestConflict: 409,
		InsufficientStorage: 507,
	}
	for code, status := range want {
		if got := code.Status(); got != status {
			t.Errorf("%s.Status() = %d; want %d", code, got, status)
		}
		if code.Message() == "" || code.Message() == InternalError.Message() && code != InternalError {
			t.Errorf("%s.Message() = %q; want its own message", code, code.Message())
		}
	}
	if len(codes) != len(want) {
		t.Errorf("table has %d codes; test knows %d", len(codes), len(want))
	}
	if got := ErrorCode("Bogus").Status(); got != 500 {
		t.Errorf("unknown code status = %d; want 500", got)
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "http://h/bucket/a%3Cb", nil)
	WriteError(w, r, Errorf(NoSuchKey, "no <such> key"), "REQ123")
	if w.Code != 404 || w.Header().Get("Content-Type") != "application/xml" || w.Header().Get("x-amz-request-id") != "REQ123" {
		t.Errorf("WriteError: status %d, headers %v; want 404 application/xml", w.Code, w.Header())
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>NoSuchKey</Code><Message>no &lt;such&gt; key</Message><Resource>/bucket/a&lt;b</Resource><RequestId>REQ123</RequestId></Error>`
	if got := w.Body.String(); got != want {
		t.Errorf("WriteError body = %s; want %s", got, want)
	}

	w = httptest.NewRecorder()
	WriteError(w, httptest.NewRequest("HEAD", "http://h/bucket/k", nil), NewError(NotFound), "R")
	if w.Code != 404 || w.Body.Len() != 0 {
		t.Errorf("WriteError(HEAD) = %d with %d body bytes; want 404 and none", w.Code, w.Body.Len())
	}

	internal := AsError(http.ErrBodyNotAllowed)
	if internal.Code != InternalError || internal.Unwrap() != http.ErrBodyNotAllowed {
		t.Errorf("AsError(plain) = %v; want InternalError wrapping the cause", internal)
	}
	w = httptest.NewRecorder()
	WriteError(w, r, internal, "R")
	if strings.Contains(w.Body.String(), "body not allowed") {
		t.Errorf("WriteError leaked the internal cause: %s", w.Body.String())
	}
}

func TestListBucketResultXML(t *testing.T) {
	mod := time.Date(2009, 10, 12, 17, 50, 30, 123456789, time.FixedZone("x", 3600))
	res := ListBucketResultV2{
		Name: "bucket", Prefix: "dir one/", Delimiter: "/", MaxKeys: 1000, KeyCount: 2, StartAfter: "a&b",
		Contents:       []Object{{Key: "dir one/ä+b.txt", LastModified: Timestamp(mod), ETag: QuoteETag("abc"), Size: 5, StorageClass: "STANDARD"}},
		CommonPrefixes: []CommonPrefix{{Prefix: "dir one/sub dir/"}},
	}
	res.EncodeURL()
	w := httptest.NewRecorder()
	if err := WriteXML(w, 200, &res); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	for _, want := range []string{
		`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`,
		`<Prefix>dir+one/</Prefix>`,
		`<Key>dir+one/%C3%A4%2Bb.txt</Key>`,
		`<LastModified>2009-10-12T16:50:30.123Z</LastModified>`,
		`<ETag>&#34;abc&#34;</ETag>`,
		`<StartAfter>a%26b</StartAfter>`,
		`<EncodingType>url</EncodingType>`,
		`<KeyCount>2</KeyCount>`,
		`<CommonPrefixes><Prefix>dir+one/sub+dir/</Prefix></CommonPrefixes>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("ListBucketResultV2 XML lacks %s\n%s", want, body)
		}
	}
	if strings.Contains(body, "ContinuationToken") {
		t.Errorf("empty continuation tokens must be omitted:\n%s", body)
	}
	// Every SDK decodes the keys with its query unescaper.
	if k, _ := url.QueryUnescape(res.Contents[0].Key); k != "dir one/ä+b.txt" {
		t.Errorf("QueryUnescape(encoded key) = %q; want the original", k)
	}

	v1 := ListBucketResult{Name: "b", Marker: "m k", NextMarker: "n/k", IsTruncated: true}
	v1.EncodeURL()
	out, _ := xml.Marshal(&v1)
	for _, want := range []string{"<Marker>m+k</Marker>", "<NextMarker>n/k</NextMarker>", "<IsTruncated>true</IsTruncated>"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ListBucketResult XML lacks %s\n%s", want, out)
		}
	}

	all := ListAllMyBucketsResult{Owner: Owner{ID: "id", DisplayName: "me"}, Buckets: []Bucket{{Name: "b1", CreationDate: Timestamp(mod)}}}
	out, _ = xml.Marshal(&all)
	if want := `<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>id</ID><DisplayName>me</DisplayName></Owner><Buckets><Bucket><Name>b1</Name><CreationDate>2009-10-12T16:50:30.123Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>`; string(out) != want {
		t.Errorf("ListAllMyBucketsResult XML = %s; want %s", out, want)
	}
	if err := CheckEncodingType("base64"); codeOf(err) != InvalidArgument {
		t.Errorf("CheckEncodingType(base64) = %v; want InvalidArgument", err)
	}
}

func TestDecodeXML(t *testing.T) {
	for _, tc := range []struct {
		body, want string
		code       ErrorCode
	}{
		{`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`, "eu-west-1", ""},
		{`<CreateBucketConfiguration><LocationConstraint>x</LocationConstraint>`, "", MalformedXML},
		{``, "", MalformedXML},
		{`<Other/>`, "", MalformedXML},
		{`<CreateBucketConfiguration>` + strings.Repeat(" ", 300) + `</CreateBucketConfiguration>`, "", MalformedXML},
	} {
		var c CreateBucketConfiguration
		err := DecodeXML(strings.NewReader(tc.body), 256, &c)
		if codeOf(err) != tc.code || (err == nil && c.LocationConstraint != tc.want) {
			t.Errorf("DecodeXML(%.40q) = %q, %v; want %q, %q", tc.body, c.LocationConstraint, err, tc.want, tc.code)
		}
	}
}

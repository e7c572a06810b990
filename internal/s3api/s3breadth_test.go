package s3api

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestPreconditionsEvaluate(t *testing.T) {
	mod := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	before := mod.Add(-time.Hour).Format(httpTime)
	after := mod.Add(time.Hour).Format(httpTime)
	cases := []struct {
		p      Preconditions
		notMod bool
		failed bool
	}{
		{Preconditions{}, false, false},
		{Preconditions{IfMatch: `"e"`}, false, false},
		{Preconditions{IfMatch: `"x", "e"`}, false, false},
		{Preconditions{IfMatch: "*"}, false, false},
		{Preconditions{IfMatch: `"x"`}, false, true},
		{Preconditions{IfNoneMatch: `"e"`}, true, false},
		{Preconditions{IfNoneMatch: `W/"e"`}, true, false},
		{Preconditions{IfNoneMatch: `"x"`}, false, false},
		{Preconditions{IfModifiedSince: after}, true, false},
		{Preconditions{IfModifiedSince: before}, false, false},
		{Preconditions{IfUnmodifiedSince: before}, false, true},
		{Preconditions{IfUnmodifiedSince: after}, false, false},
		// If-Match wins over a failing If-Unmodified-Since; If-None-Match over If-Modified-Since.
		{Preconditions{IfMatch: `"e"`, IfUnmodifiedSince: before}, false, false},
		{Preconditions{IfNoneMatch: `"x"`, IfModifiedSince: after}, false, false},
		{Preconditions{IfModifiedSince: "garbage"}, false, false},
	}
	for _, tc := range cases {
		notMod, err := tc.p.Evaluate("e", mod)
		if notMod != tc.notMod || (err != nil) != tc.failed {
			t.Errorf("%+v.Evaluate = %v, %v; want %v, failed=%v", tc.p, notMod, err, tc.notMod, tc.failed)
		}
	}
}

const httpTime = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestCompleteValidate(t *testing.T) {
	cases := []struct {
		nums []int
		want ErrorCode
	}{
		{[]int{1, 2, 3}, ""},
		{[]int{1, 5, 10000}, ""},
		{nil, MalformedXML},
		{[]int{2, 1}, InvalidPartOrder},
		{[]int{1, 1}, InvalidPartOrder},
		{[]int{0}, InvalidArgument},
		{[]int{10001}, InvalidArgument},
	}
	for _, tc := range cases {
		var c CompleteMultipartUpload
		for _, n := range tc.nums {
			c.Parts = append(c.Parts, CompletedPart{PartNumber: n, ETag: "x"})
		}
		if got := codeOf(c.Validate()); got != tc.want {
			t.Errorf("Validate(%v) = %q; want %q", tc.nums, got, tc.want)
		}
	}
}

func TestDecodeXMLRefusesDTD(t *testing.T) {
	for _, body := range []string{
		`<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>`,
		`<!DOCTYPE Delete SYSTEM "file:///etc/passwd"><Delete/>`,
	} {
		var d Delete
		if got := codeOf(DecodeXML(strings.NewReader(body), 1<<20, &d)); got != MalformedXML {
			t.Errorf("DecodeXML(%.40q) = %q; want MalformedXML", body, got)
		}
	}
	var d Delete
	if err := DecodeXML(strings.NewReader(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>`), 1<<20, &d); err != nil || !d.Quiet || len(d.Objects) != 1 {
		t.Errorf("DecodeXML(plain Delete) = %+v, %v", d, err)
	}
	big := "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", 1001) + "</Delete>"
	if err := DecodeXML(strings.NewReader(big), 1<<20, &d); err != nil || codeOf(d.Validate()) != MalformedXML {
		t.Errorf("1001 keys: decode %v, validate %v; want MalformedXML from Validate", err, d.Validate())
	}
}

func TestTags(t *testing.T) {
	m, err := ParseTaggingHeader("a=1&b=" + url.QueryEscape("x y"))
	if err != nil || m["a"] != "1" || m["b"] != "x y" {
		t.Errorf("ParseTaggingHeader = %v, %v", m, err)
	}
	if _, err := ParseTaggingHeader("a=1&a=2"); codeOf(err) != InvalidTag {
		t.Errorf("duplicate tag: %v; want InvalidTag", err)
	}
	var many []Tag
	for i := range 11 {
		many = append(many, Tag{Key: strings.Repeat("k", i+1)})
	}
	if _, err := TagMap(many); codeOf(err) != InvalidTag {
		t.Errorf("11 tags: %v; want InvalidTag", err)
	}
	if _, err := TagMap([]Tag{{Key: strings.Repeat("k", 129)}}); codeOf(err) != InvalidTag {
		t.Errorf("long key: %v; want InvalidTag", err)
	}
	if got := TagSet(map[string]string{"b": "2", "a": "1"}); len(got) != 2 || got[0].Key != "a" {
		t.Errorf("TagSet = %v; want sorted", got)
	}
}

func TestDecodeVersioningConfiguration(t *testing.T) {
	for body, ok := range map[string]bool{
		`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`:                                  true,
		`<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`: true,
		`<VersioningConfiguration><Status>On</Status></VersioningConfiguration>`:                                       false,
		`<VersioningConfiguration/>`: false,
	} {
		_, err := DecodeVersioningConfiguration([]byte(body))
		if (err == nil) != ok {
			t.Errorf("DecodeVersioningConfiguration(%q) = %v; want ok=%v", body, err, ok)
		}
	}
}

// FuzzXMLBodies feeds arbitrary bytes to every XML request body decoder.
func FuzzXMLBodies(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v</VersionId></Object></Delete>`))
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`))
	f.Add([]byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><Delete/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c CompleteMultipartUpload
		if DecodeXML(strings.NewReader(string(data)), 1<<20, &c) == nil {
			_ = c.Validate()
		}
		var d Delete
		if DecodeXML(strings.NewReader(string(data)), 1<<20, &d) == nil {
			if d.Validate() == nil && (len(d.Objects) == 0 || len(d.Objects) > MaxDeleteObjects) {
				t.Fatalf("Validate accepted %d objects", len(d.Objects))
			}
		}
		var tg Tagging
		if DecodeXML(strings.NewReader(string(data)), 1<<20, &tg) == nil {
			if m, err := TagMap(tg.TagSet); err == nil && len(m) > MaxTags {
				t.Fatalf("TagMap accepted %d tags", len(m))
			}
		}
		if v, err := DecodeVersioningConfiguration(data); err == nil && v.Status != "Enabled" && v.Status != "Suspended" {
			t.Fatalf("accepted status %q", v.Status)
		}
		if strings.Contains(strings.ToUpper(string(data)), "<!DOCTYPE") {
			if DecodeXML(strings.NewReader(string(data)), 1<<20, &d) == nil {
				t.Fatalf("accepted a DOCTYPE: %q", data)
			}
		}
	})
}

// FuzzPresignedQuery feeds arbitrary query strings to the presigned-URL
// verifier: it must never panic nor accept.
func FuzzPresignedQuery(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=-1")
	f.Add("X-Amz-Signature=&X-Amz-Credential=////")
	f.Fuzz(func(t *testing.T, q string) {
		r := httptestRequest("GET", "http://examplebucket.s3.amazonaws.com/test.txt?"+q)
		if r == nil {
			return
		}
		if _, err := docVerifier().Verify(r); err == nil && !strings.Contains(q, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") {
			t.Fatalf("Verify accepted query %q", q)
		}
	})
}

func httptestRequest(method, u string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		return nil
	}
	return r
}

// FuzzParseTaggingHeader feeds arbitrary x-amz-tagging values: what is
// accepted obeys S3's tag limits and encodes back to the same tags.
func FuzzParseTaggingHeader(f *testing.F) {
	f.Add("a=1&b=" + url.QueryEscape("x y"))
	f.Add("a=1&a=2")
	f.Add("=v&k=%zz")
	f.Fuzz(func(t *testing.T, h string) {
		m, err := ParseTaggingHeader(h)
		if err != nil {
			if c := codeOf(err); c != InvalidTag && c != InvalidArgument {
				t.Fatalf("ParseTaggingHeader(%q) = %v; want InvalidTag or InvalidArgument", h, err)
			}
			return
		}
		if len(m) > MaxTags {
			t.Fatalf("ParseTaggingHeader(%q) accepted %d tags", h, len(m))
		}
		q := url.Values{}
		for k, v := range m {
			if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) ||
				utf8.RuneCountInString(k) > MaxTagKeyLen || utf8.RuneCountInString(v) > MaxTagValueLen {
				t.Fatalf("ParseTaggingHeader(%q) accepted tag %q=%q", h, k, v)
			}
			q.Set(k, v)
		}
		if again, err := ParseTaggingHeader(q.Encode()); err != nil || !maps.Equal(again, m) {
			t.Fatalf("ParseTaggingHeader(%q) = %v, which encodes back as %q = %v, %v", h, m, q.Encode(), again, err)
		}
	})
}

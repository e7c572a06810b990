package s3api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The credentials and clock of the AWS S3 SigV4 documentation examples.
const (
	docAccessKey = "AKIAIOSFODNN7EXAMPLE"
	docSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	docDate      = "20130524T000000Z"
	docCred      = docAccessKey + "/20130524/us-east-1/s3/aws4_request"
)

var docTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func docVerifier() *Verifier {
	return &Verifier{
		Creds: StaticCredentials{docAccessKey: docSecret},
		Now:   func() time.Time { return docTime },
	}
}

func newRequest(method, target string, body io.Reader, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func codeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// TestVerifyS3DocExamples checks the worked examples of "Signature
// Calculations for the Authorization Header" and "sigv4-streaming" in the
// Amazon S3 API reference.
func TestVerifyS3DocExamples(t *testing.T) {
	cases := []struct {
		name, method, target, body string
		headers                    []string
		signed, sig                string
		mode                       PayloadMode
	}{
		{
			name: "GET Object", method: "GET", target: "http://examplebucket.s3.amazonaws.com/test.txt",
			headers: []string{"Range", "bytes=0-9", "X-Amz-Content-Sha256", emptySHA256, "X-Amz-Date", docDate},
			signed:  "host;range;x-amz-content-sha256;x-amz-date",
			sig:     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
			mode:    SignedPayload,
		},
		{
			name: "PUT Object", method: "PUT", target: "http://examplebucket.s3.amazonaws.com/test$file.text",
			body: "Welcome to Amazon S3.",
			headers: []string{"Date", "Fri, 24 May 2013 00:00:00 GMT", "X-Amz-Date", docDate,
				"X-Amz-Storage-Class", "REDUCED_REDUNDANCY",
				"X-Amz-Content-Sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
			signed: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
			sig:    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
			mode:   SignedPayload,
		},
		{
			name: "GET Bucket Lifecycle", method: "GET", target: "http://examplebucket.s3.amazonaws.com/?lifecycle",
			headers: []string{"X-Amz-Date", docDate, "X-Amz-Content-Sha256", emptySHA256},
			signed:  "host;x-amz-content-sha256;x-amz-date",
			sig:     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
			mode:    SignedPayload,
		},
		{
			name: "Get Bucket (List Objects)", method: "GET", target: "http://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J",
			headers: []string{"X-Amz-Date", docDate, "X-Amz-Content-Sha256", emptySHA256},
			signed:  "host;x-amz-content-sha256;x-amz-date",
			sig:     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
			mode:    SignedPayload,
		},
		{
			name: "PUT Object streaming", method: "PUT", target: "http://s3.amazonaws.com/examplebucket/chunkObject.txt",
			body: docStreamingBody(),
			headers: []string{"X-Amz-Date", docDate, "X-Amz-Storage-Class", "REDUCED_REDUNDANCY",
				"X-Amz-Content-Sha256", streamingPayload, "Content-Encoding", "aws-chunked",
				"X-Amz-Decoded-Content-Length", "66560", "Content-Length", "66824"},
			signed: "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
			sig:    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
			mode:   StreamingSigned,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(tc.method, tc.target, strings.NewReader(tc.body), tc.headers...)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+docCred+",SignedHeaders="+tc.signed+",Signature="+tc.sig)
			a, err := docVerifier().Verify(r)
			if err != nil {
				t.Fatalf("Verify(%s) = %v; want success", tc.name, err)
			}
			if a.AccessKey != docAccessKey || a.PayloadMode != tc.mode || a.Scope != "20130524/us-east-1/s3/aws4_request" || !a.Date.Equal(docTime) {
				t.Errorf("Verify(%s) = %+v; want key %s, mode %v", tc.name, a, docAccessKey, tc.mode)
			}
			// The body must pass its own verification too.
			p, err := a.BodyReader(r)
			if err != nil {
				t.Fatalf("BodyReader(%s) = %v", tc.name, err)
			}
			got, err := io.ReadAll(p)
			if err != nil {
				t.Fatalf("read body of %s: %v", tc.name, err)
			}
			want := tc.body
			if tc.mode == StreamingSigned {
				want = strings.Repeat("a", 66560)
			}
			if string(got) != want {
				t.Errorf("body of %s: got %d bytes; want %d", tc.name, len(got), len(want))
			}

			// Any change to a signed element must break the signature.
			r2 := newRequest(tc.method, tc.target+"x", strings.NewReader(tc.body), tc.headers...)
			r2.Header.Set("Authorization", r.Header.Get("Authorization"))
			if _, err := docVerifier().Verify(r2); codeOf(err) != SignatureDoesNotMatch {
				t.Errorf("Verify(%s with altered path) = %v; want SignatureDoesNotMatch", tc.name, err)
			}
		})
	}
}

// docStreamingBody is the aws-chunked body of the sigv4-streaming example:
// 64 KiB and 1 KiB of 'a', then the final chunk.
func docStreamingBody() string {
	return "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" +
		strings.Repeat("a", 65536) + "\r\n" +
		"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" +
		strings.Repeat("a", 1024) + "\r\n" +
		"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
}

func TestVerifyPresignedDocExample(t *testing.T) {
	const url = "http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	for _, tc := range []struct {
		name string
		now  time.Time
		want ErrorCode
	}{
		{"at signing", docTime, ""},
		{"just before expiry", docTime.Add(24 * time.Hour), ""},
		{"expired", docTime.Add(24*time.Hour + time.Second), AccessDenied},
		{"not yet valid", docTime.Add(-time.Hour), AccessDenied},
	} {
		v := docVerifier()
		v.Now = func() time.Time { return tc.now }
		a, err := v.Verify(newRequest("GET", url, nil))
		if codeOf(err) != tc.want || (tc.want == "" && err != nil) {
			t.Errorf("%s: Verify(presigned) = %v; want %q", tc.name, err, tc.want)
			continue
		}
		if err == nil && (!a.Presigned || a.PayloadMode != UnsignedPayload) {
			t.Errorf("%s: Verify(presigned) = %+v; want Presigned, UnsignedPayload", tc.name, a)
		}
	}
	// Tampering with any parameter breaks it.
	r := newRequest("GET", strings.Replace(url, "test.txt", "test.txu", 1), nil)
	if _, err := docVerifier().Verify(r); codeOf(err) != SignatureDoesNotMatch {
		t.Errorf("Verify(tampered presigned) = %v; want SignatureDoesNotMatch", err)
	}
}

// TestSigV4TestSuite runs vectors of the AWS SigV4 test suite (service
// "service", not s3) through our canonicalisation and key derivation.
func TestSigV4TestSuite(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	const scope = "20150830/us-east-1/service/aws4_request"
	cases := []struct {
		name, method, target, body string
		headers                    []string
		signed                     []string
		sig                        string
	}{
		{"get-vanilla", "GET", "/", "", nil, []string{"host", "x-amz-date"},
			"5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", "", nil, []string{"host", "x-amz-date"},
			"b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"get-utf8", "GET", "/%E1%88%B4", "", nil, []string{"host", "x-amz-date"},
			"8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
		{"get-header-key-duplicate", "GET", "/", "", []string{"My-Header1", "value2", "My-Header1", "value2", "My-Header1", "value1"},
			[]string{"host", "my-header1", "x-amz-date"},
			"c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
		{"post-x-www-form-urlencoded", "POST", "/", "Param1=value1", []string{"Content-Type", "application/x-www-form-urlencoded"},
			[]string{"content-type", "host", "x-amz-date"},
			"ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
	}
	for _, tc := range cases {
		r := newRequest(tc.method, "http://example.amazonaws.com"+tc.target, strings.NewReader(tc.body), tc.headers...)
		r.Header.Set("X-Amz-Date", "20150830T123600Z")
		canon := canonicalRequest(r, canonicalURI(r.URL.EscapedPath()), tc.signed, sha256Hex([]byte(tc.body)), false)
		key := deriveSigningKey(secret, "20150830", "us-east-1", "service")
		if got := signature(key, stringToSign("20150830T123600Z", scope, canon)); got != tc.sig {
			t.Errorf("%s: signature = %s; want %s\ncanonical request:\n%s", tc.name, got, tc.sig, canon)
		}
	}
}

func TestCanonicalURI(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/test$file.text", "/test%24file.text"},
		{"/test%24file.text", "/test%24file.text"},
		{"/a%2fb", "/a%2Fb"},
		{"/a//b/./c", "/a//b/./c"},
		{"/a b", "/a%20b"},
		{"/a+b", "/a%2Bb"},
		{"/100%", "/100%25"},
		{"/%zz", "/%25zz"},
		{"/~x-_.", "/~x-_."},
	} {
		if got := canonicalURI(tc.in); got != tc.want {
			t.Errorf("canonicalURI(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, tc := range []struct {
		in        string
		presigned bool
		want      string
	}{
		{"", false, ""},
		{"lifecycle", false, "lifecycle="},
		{"b=2&a=1&a=0", false, "a=0&a=1&b=2"},
		{"prefix=a+b&x=%2f", false, "prefix=a%20b&x=%2F"},
		{"X-Amz-Signature=abc&X-Amz-Date=1", true, "X-Amz-Date=1"},
		{"X-Amz-Signature=abc", false, "X-Amz-Signature=abc"},
		{"&&a=1&", false, "a=1"},
		{"k=%E1%88%B4~", false, "k=%E1%88%B4~"},
	} {
		if got := canonicalQuery(tc.in, tc.presigned); got != tc.want {
			t.Errorf("canonicalQuery(%q, %v) = %q; want %q", tc.in, tc.presigned, got, tc.want)
		}
	}
}

// sdkEscapePath encodes a key the way S3 SDKs put it on the wire: every
// byte but unreserved ones and '/' percent-encoded.
func sdkEscapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			b.WriteByte('/')
		} else {
			writeEscaped(&b, s[i])
		}
	}
	return b.String()
}

var roundTripKeys = []string{
	"plain.txt",
	"with space/and more  spaces",
	"ünïcödé/ключ/鍵😀",
	"plus+sign",
	"percent%25and%",
	"tilde~and-_.",
	"double//slash",
	"dot/./dotdot/../x",
	"query?x=1&y=2#frag",
	"colon:semi;comma,eq=at@bang!star*quote'paren()",
}

func sdkSigner() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// TestVerifySDKRoundTrip signs requests with aws-sdk-go-v2's v4 signer,
// configured as its S3 client configures it, and verifies them.
func TestVerifySDKRoundTrip(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIDCAIRN", SecretAccessKey: "secret/with+odd=chars"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Creds: StaticCredentials{creds.AccessKeyID: creds.SecretAccessKey}, Now: func() time.Time { return now }}
	for _, key := range roundTripKeys {
		for _, region := range []string{"us-east-1", "eu-central-1", "auto"} {
			target := "http://cairn.local:9000/bucket/" + sdkEscapePath(key) + "?prefix=a%20b&delimiter=%2F&list-type=2&empty="
			body := "payload for " + key
			r := newRequest("PUT", target, strings.NewReader(body), "X-Amz-Content-Sha256", sha256Hex([]byte(body)),
				"X-Amz-Meta-Note", "  spaced   value ", "Content-Type", "text/plain")
			if err := sdkSigner().SignHTTP(context.Background(), creds, r, sha256Hex([]byte(body)), "s3", region, now); err != nil {
				t.Fatal(err)
			}
			a, err := v.Verify(r)
			if err != nil {
				t.Errorf("Verify(header-signed %q, %s) = %v; want success", key, region, err)
				continue
			}
			if a.Region != region || a.AccessKey != creds.AccessKeyID {
				t.Errorf("Verify(%q) = region %q key %q; want %q %q", key, a.Region, a.AccessKey, region, creds.AccessKeyID)
			}
			p, _ := a.BodyReader(r)
			if got, err := io.ReadAll(p); err != nil || string(got) != body {
				t.Errorf("body of %q = %q, %v; want %q", key, got, err, body)
			}

			// Presigned GET of the same key.
			pr := newRequest("GET", "http://cairn.local:9000/bucket/"+sdkEscapePath(key), nil)
			q := pr.URL.Query()
			q.Set("X-Amz-Expires", "900")
			pr.URL.RawQuery = q.Encode()
			u, hdr, err := sdkSigner().PresignHTTP(context.Background(), creds, pr, unsignedPayload, "s3", region, now)
			if err != nil {
				t.Fatal(err)
			}
			gr := httptest.NewRequest("GET", u, nil)
			for k, vs := range hdr {
				if !strings.EqualFold(k, "host") {
					gr.Header[k] = vs
				}
			}
			if _, err := v.Verify(gr); err != nil {
				t.Errorf("Verify(presigned %q, %s) = %v; want success\nurl: %s", key, region, err, u)
			}
		}
	}
}

func TestVerifyRegionRestriction(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Creds: StaticCredentials{"AK": "SK"}, Region: "us-east-1", Now: func() time.Time { return now }}
	for _, tc := range []struct {
		region string
		want   ErrorCode
	}{{"us-east-1", ""}, {"eu-west-1", AuthorizationHeaderMalformed}} {
		r := newRequest("GET", "http://h/b/k", nil, "X-Amz-Content-Sha256", emptySHA256)
		if err := sdkSigner().SignHTTP(context.Background(), creds, r, emptySHA256, "s3", tc.region, now); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(r); codeOf(err) != tc.want {
			t.Errorf("Verify(region %s) = %v; want %q", tc.region, err, tc.want)
		}
	}
}

// TestVerifyErrors covers every authentication failure code.
func TestVerifyErrors(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Creds: StaticCredentials{"AK": "SK"}, Now: func() time.Time { return now }}
	signedAt := func(mutate func(r *http.Request), at time.Time, headers ...string) *http.Request {
		r := newRequest("GET", "http://h/b/k", nil, headers...)
		if r.Header.Get("X-Amz-Content-Sha256") == "" {
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		}
		if err := sdkSigner().SignHTTP(context.Background(), creds, r, r.Header.Get("X-Amz-Content-Sha256"), "s3", "us-east-1", at); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	signed := func(mutate func(r *http.Request)) *http.Request { return signedAt(mutate, now) }
	presign := func(q string) *http.Request {
		return newRequest("GET", "http://h/b/k?"+q, nil)
	}
	const goodQ = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260301T120000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=" + emptySHA256
	setAuth := func(s string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", s) }
	}
	replaceAuth := func(old, new string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
		}
	}
	cases := []struct {
		name string
		r    *http.Request
		want ErrorCode
	}{
		{"anonymous", newRequest("GET", "http://h/b/k", nil), AccessDenied},
		{"sigv2 header", signed(setAuth("AWS AK:c2lnbmF0dXJl")), InvalidRequest},
		{"sigv2 query", presign("AWSAccessKeyId=AK&Signature=x&Expires=1"), InvalidRequest},
		{"both mechanisms", signed(func(r *http.Request) { r.URL.RawQuery = goodQ }), InvalidArgument},
		{"unknown algorithm", signed(setAuth("AWS4-HMAC-SHA512 Credential=x")), AuthorizationHeaderMalformed},
		{"missing signature", signed(setAuth("AWS4-HMAC-SHA256 Credential=AK/20260301/us-east-1/s3/aws4_request, SignedHeaders=host")), AuthorizationHeaderMalformed},
		{"short credential", signed(replaceAuth("AK/20260301/us-east-1/s3/aws4_request", "AK/20260301/s3/aws4_request")), AuthorizationHeaderMalformed},
		{"wrong service", signed(replaceAuth("/s3/", "/ec2/")), AuthorizationHeaderMalformed},
		{"wrong terminator", signed(replaceAuth("aws4_request", "aws5_request")), AuthorizationHeaderMalformed},
		{"host not signed", signed(replaceAuth("SignedHeaders=host;", "SignedHeaders=")), AuthorizationHeaderMalformed},
		{"credential date differs", signed(replaceAuth("/20260301/", "/20260302/")), AuthorizationHeaderMalformed},
		{"missing content sha", signed(func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }), InvalidRequest},
		{"bad content sha", signed(func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "abc") }), InvalidArgument},
		{"sigv4a streaming", signed(func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
		}), NotImplemented},
		{"missing date", signed(func(r *http.Request) { r.Header.Del("X-Amz-Date") }), AccessDenied},
		{"bad date", signed(func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }), AccessDenied},
		{"unknown key", signed(replaceAuth("Credential=AK/", "Credential=NOPE/")), InvalidAccessKeyID},
		{"skewed past", signedAt(nil, now.Add(-16*time.Minute)), RequestTimeTooSkewed},
		{"skewed future", signedAt(nil, now.Add(16*time.Minute)), RequestTimeTooSkewed},
		{"tampered header", signedAt(func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "2") }, now, "X-Amz-Meta-A", "1"), SignatureDoesNotMatch},
		{"tampered signature", signed(func(r *http.Request) {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			r.Header.Set("Authorization", a[:len(a)-1]+map[bool]string{true: "1", false: "0"}[last == '0'])
		}), SignatureDoesNotMatch},
		{"presign bad algorithm", presign(strings.Replace(goodQ, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1) + "&X-Amz-Expires=60"), AuthorizationQueryParametersError},
		{"presign missing expires", presign(goodQ), AuthorizationQueryParametersError},
		{"presign expires zero", presign(goodQ + "&X-Amz-Expires=0"), AuthorizationQueryParametersError},
		{"presign expires negative", presign(goodQ + "&X-Amz-Expires=-5"), AuthorizationQueryParametersError},
		{"presign expires too long", presign(goodQ + "&X-Amz-Expires=604801"), AuthorizationQueryParametersError},
		{"presign expires nan", presign(goodQ + "&X-Amz-Expires=soon"), AuthorizationQueryParametersError},
		{"presign bad date", presign(strings.Replace(goodQ, "20260301T120000Z", "2026-03-01", 1) + "&X-Amz-Expires=60"), AuthorizationQueryParametersError},
		{"presign bad credential", presign(strings.Replace(goodQ, "%2Fs3%2F", "%2Fsqs%2F", 1) + "&X-Amz-Expires=60"), AuthorizationQueryParametersError},
		{"presign unknown key", presign(strings.Replace(goodQ, "Credential=AK", "Credential=NOPE", 1) + "&X-Amz-Expires=60"), InvalidAccessKeyID},
		{"presign wrong signature", presign(goodQ + "&X-Amz-Expires=60"), SignatureDoesNotMatch},
	}
	for _, tc := range cases {
		_, err := v.Verify(tc.r)
		if got := codeOf(err); got != tc.want {
			t.Errorf("%s: Verify = %v; want %s", tc.name, err, tc.want)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	const sig = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	good := []string{
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-date,Signature=" + sig,
		"AWS4-HMAC-SHA256 Signature=" + sig + ", SignedHeaders=host;range;x-amz-date, Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
	}
	for _, h := range good {
		a, err := parseAuthorization(h)
		if err != nil {
			t.Errorf("parseAuthorization(%q) = %v; want success", h, err)
			continue
		}
		if a.accessKey != "AKIAIOSFODNN7EXAMPLE" || a.date != "20130524" || a.region != "us-east-1" ||
			strings.Join(a.signedHeaders, ";") != "host;range;x-amz-date" || a.signature != sig {
			t.Errorf("parseAuthorization(%q) = %+v", h, a)
		}
	}
	bad := []string{
		"",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256X Credential=a",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + strings.ToUpper(sig),
		"AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AK/20131324/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AK/20130524//s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;;x, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig + ", Extra=1",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request SignedHeaders=host Signature=" + sig,
	}
	for _, h := range bad {
		if a, err := parseAuthorization(h); err == nil {
			t.Errorf("parseAuthorization(%q) = %+v; want an error", h, a)
		}
	}
}

func TestSigningKeyCache(t *testing.T) {
	v := &Verifier{}
	k1 := v.signingKey(docSecret, "20130524", "us-east-1")
	if want := deriveSigningKey(docSecret, "20130524", "us-east-1", "s3"); string(k1) != string(want) {
		t.Fatalf("signingKey = %x; want %x", k1, want)
	}
	for i := range signingKeyCache * 3 {
		v.signingKey(docSecret, "20130524", "r"+string(rune('a'+i%26))+strings.Repeat("x", i))
	}
	if n := len(v.keys); n > signingKeyCache {
		t.Errorf("cache holds %d keys; want at most %d", n, signingKeyCache)
	}
}

func FuzzAuthorizationHeader(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f,SignedHeaders=;,Signature=")
	f.Add("AWS4-HMAC-SHA256 ,,,=,==")
	f.Add("AWS AK:sig")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if (a == nil) == (err == nil) {
			t.Fatalf("parseAuthorization(%q) = %v, %v; want exactly one of them", h, a, err)
		}
		if a != nil && (a.accessKey == "" || len(a.signature) != 64 || len(a.signedHeaders) == 0) {
			t.Fatalf("parseAuthorization(%q) accepted an incomplete header: %+v", h, a)
		}
		// Verify must not panic either, whatever the header.
		r := httptest.NewRequest("GET", "http://h/b/k", nil)
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		r.Header.Set("X-Amz-Date", docDate)
		if _, err := docVerifier().Verify(r); err == nil {
			t.Fatalf("Verify accepted Authorization %q", h)
		}
	})
}

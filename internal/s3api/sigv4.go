package s3api

import (
	"crypto/hmac"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	sha256 "github.com/minio/sha256-simd"
)

// SigV4 constants from the AWS specification.
const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	sigTerminator = "aws4_request"
	sigService    = "s3"
	iso8601Basic  = "20060102T150405Z"
	yyyymmdd      = "20060102"

	// The x-amz-content-sha256 literals that are not a hex digest.
	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingPayload         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSAPrefix     = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"

	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	maxPresignExpiry = 7 * 24 * 60 * 60 // seconds; AWS's limit for X-Amz-Expires
	defaultMaxSkew   = 15 * time.Minute
	signingKeyCache  = 256 // entries; one per (secret, day, region) actually in use
)

// PayloadMode says how the request body is authenticated, taken from
// x-amz-content-sha256.
type PayloadMode int

// The payload modes. Zero is "unset" so a forgotten assignment is visible.
const (
	SignedPayload            PayloadMode = 1 + iota // hex SHA-256 of the whole body
	UnsignedPayload                                 // UNSIGNED-PAYLOAD
	StreamingSigned                                 // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
	StreamingSignedTrailer                          // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
	StreamingUnsignedTrailer                        // STREAMING-UNSIGNED-PAYLOAD-TRAILER
)

func (m PayloadMode) String() string {
	switch m {
	case SignedPayload:
		return "SignedPayload"
	case UnsignedPayload:
		return "UnsignedPayload"
	case StreamingSigned:
		return "StreamingSigned"
	case StreamingSignedTrailer:
		return "StreamingSignedTrailer"
	case StreamingUnsignedTrailer:
		return "StreamingUnsignedTrailer"
	}
	return "PayloadMode(" + strconv.Itoa(int(m)) + ")"
}

// Streaming reports whether the body is aws-chunked encoded.
func (m PayloadMode) Streaming() bool {
	return m == StreamingSigned || m == StreamingSignedTrailer || m == StreamingUnsignedTrailer
}

// Credentials is one access key pair.
type Credentials struct {
	AccessKey, SecretKey string
}

// CredentialStore finds the secret for an access key. Implementations must
// be safe for concurrent use.
type CredentialStore interface {
	Lookup(accessKey string) (secret string, ok bool)
}

// StaticCredentials is a fixed access key → secret key map. It must not be
// modified while a Verifier uses it.
type StaticCredentials map[string]string

// Lookup implements CredentialStore.
func (s StaticCredentials) Lookup(accessKey string) (string, bool) {
	secret, ok := s[accessKey]
	return secret, ok
}

// Verifier authenticates S3 requests signed with AWS Signature Version 4,
// in the Authorization header or as a presigned URL. A Verifier is safe for
// concurrent use; it must not be copied after first use.
type Verifier struct {
	Creds CredentialStore
	// Region, when set, is the only region a credential scope may name.
	// Empty accepts any region and signs with the one the client scoped,
	// which is what S3-compatible clients configured for "us-east-1",
	// "auto" or a custom name all need.
	Region string
	// MaxSkew bounds |now - request date|; zero means 15 minutes.
	MaxSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	keys map[signingKeyID][]byte
}

type signingKeyID struct {
	secret, date, region string
}

// Auth is what a verified request carries forward: who signed it and what
// is needed to authenticate its body.
type Auth struct {
	AccessKey   string
	PayloadMode PayloadMode
	// SignedPayloadHash is the lowercase hex SHA-256 the client declared,
	// set for SignedPayload only.
	SignedPayloadHash string
	// SigningKey and Signature seed the chunk signature chain of the
	// streaming modes. The caller must not modify SigningKey.
	SigningKey []byte
	Signature  string
	Scope      string // "20130524/us-east-1/s3/aws4_request"
	Region     string
	Date       time.Time
	Presigned  bool
}

// authHeader is the parsed Authorization header or presigned query.
type authHeader struct {
	accessKey     string
	date          string // yyyymmdd from the credential scope
	region        string
	signedHeaders []string
	signature     string
}

func (a *authHeader) scope() string {
	return a.date + "/" + a.region + "/" + sigService + "/" + sigTerminator
}

func malformedAuth(format string, args ...any) *Error {
	return Errorf(AuthorizationHeaderMalformed, format, args...)
}

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>
//
// The three components may come in any order, each exactly once, separated
// by commas with optional spaces.
func parseAuthorization(v string) (*authHeader, *Error) {
	rest, ok := strings.CutPrefix(v, sigAlgorithm)
	if !ok {
		if strings.HasPrefix(v, "AWS ") {
			return nil, Errorf(InvalidRequest, "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
		}
		return nil, malformedAuth("The authorization header is malformed; the authorization mechanism must be %s.", sigAlgorithm)
	}
	if rest == "" || (rest[0] != ' ' && rest[0] != ',') {
		return nil, malformedAuth("The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, found := strings.Cut(part, "=")
		if !found {
			return nil, malformedAuth("The authorization header is malformed; the authorization component %q is malformed.", part)
		}
		switch k {
		case "Credential":
			if haveCred {
				return nil, malformedAuth("The authorization header is malformed; Credential appears twice.")
			}
			cred, haveCred = val, true
		case "SignedHeaders":
			if haveSigned {
				return nil, malformedAuth("The authorization header is malformed; SignedHeaders appears twice.")
			}
			signed, haveSigned = val, true
		case "Signature":
			if haveSig {
				return nil, malformedAuth("The authorization header is malformed; Signature appears twice.")
			}
			sig, haveSig = val, true
		default:
			return nil, malformedAuth("The authorization header is malformed; the authorization component %q is malformed.", part)
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return nil, malformedAuth("The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	a, err := parseCredential(cred)
	if err != nil {
		return nil, malformedAuth("%s", err)
	}
	if a.signedHeaders, err = parseSignedHeaders(signed); err != nil {
		return nil, malformedAuth("%s", err)
	}
	if !isLowerHex(sig, 64) {
		return nil, malformedAuth("The authorization header is malformed; the signature must be 64 lowercase hexadecimal characters.")
	}
	a.signature = sig
	return a, nil
}

type parseError string

func (e parseError) Error() string { return string(e) }

// parseCredential parses AK/yyyymmdd/region/s3/aws4_request. The access key
// is everything before the last four fields.
func parseCredential(c string) (*authHeader, error) {
	f := strings.Split(c, "/")
	if len(f) < 5 {
		return nil, parseError("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"")
	}
	n := len(f)
	a := &authHeader{
		accessKey: strings.Join(f[:n-4], "/"),
		date:      f[n-4],
		region:    f[n-3],
	}
	switch {
	case a.accessKey == "":
		return nil, parseError("the Credential is missing the access key id")
	case !isDigits(a.date, 8):
		return nil, parseError("the Credential date " + strconv.Quote(a.date) + " is not in the format YYYYMMDD")
	case a.region == "":
		return nil, parseError("the Credential is missing the region")
	case f[n-2] != sigService:
		return nil, parseError("the Credential should be scoped to correct service: 's3'")
	case f[n-1] != sigTerminator:
		return nil, parseError("the Credential should be scoped with a valid terminator: 'aws4_request', not " + strconv.Quote(f[n-1]))
	}
	if _, err := time.Parse(yyyymmdd, a.date); err != nil {
		return nil, parseError("the Credential date " + strconv.Quote(a.date) + " is not a valid date")
	}
	return a, nil
}

// parseSignedHeaders splits "host;range;x-amz-date". Names must be
// lowercase, and host must be among them: without it a signature could be
// replayed against another endpoint.
func parseSignedHeaders(s string) ([]string, error) {
	if s == "" {
		return nil, parseError("SignedHeaders is empty")
	}
	names := strings.Split(s, ";")
	host := false
	for _, n := range names {
		if n == "" || n != strings.ToLower(n) || strings.ContainsAny(n, " \t:,") {
			return nil, parseError("SignedHeaders contains the invalid header name " + strconv.Quote(n))
		}
		host = host || n == "host"
	}
	if !host {
		return nil, parseError("SignedHeaders must include the host header")
	}
	return names, nil
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return defaultMaxSkew
}

// Verify authenticates r. Anonymous requests are refused. On failure the
// error is an *Error with the S3 code to send. Verify does not read the
// body; use the returned Auth's BodyReader for that.
func (v *Verifier) Verify(r *http.Request) (*Auth, error) {
	hdr := r.Header.Get("Authorization")
	q := r.URL.Query()
	presigned := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
	switch {
	case hdr != "" && presigned:
		return nil, Errorf(InvalidArgument, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case hdr != "":
		return v.verifyHeader(r, hdr)
	case presigned:
		return v.verifyPresigned(r, q)
	case q.Has("AWSAccessKeyId") && q.Has("Signature"):
		return nil, Errorf(InvalidRequest, "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}
	return nil, NewError(AccessDenied)
}

func (v *Verifier) verifyHeader(r *http.Request, hdr string) (*Auth, error) {
	a, perr := parseAuthorization(hdr)
	if perr != nil {
		return nil, perr
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		return nil, Errorf(InvalidRequest, "Missing required header for this request: x-amz-content-sha256")
	}
	mode, hash, perr := parsePayloadHash(hash)
	if perr != nil {
		return nil, perr
	}
	dateStr := r.Header.Get("X-Amz-Date")
	var date time.Time
	var err error
	if dateStr != "" {
		date, err = time.Parse(iso8601Basic, dateStr)
	} else if d := r.Header.Get("Date"); d != "" {
		date, err = http.ParseTime(d)
		dateStr = date.UTC().Format(iso8601Basic)
	} else {
		return nil, Errorf(AccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if err != nil {
		return nil, Errorf(AccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
	}
	date = date.UTC()
	if date.Format(yyyymmdd) != a.date {
		return nil, malformedAuth("Invalid credential date %q. This date is not the same as X-Amz-Date: %q.", a.date, date.Format(yyyymmdd))
	}
	if err := v.checkRegion(a, AuthorizationHeaderMalformed); err != nil {
		return nil, err
	}
	secret, ok := v.Creds.Lookup(a.accessKey)
	if !ok {
		return nil, NewError(InvalidAccessKeyID)
	}
	if d := v.now().Sub(date); d > v.maxSkew() || d < -v.maxSkew() {
		return nil, NewError(RequestTimeTooSkewed)
	}
	key := v.signingKey(secret, a.date, a.region)
	sig, ok := checkSignature(r, a, key, dateStr, hash, false)
	if !ok {
		return nil, NewError(SignatureDoesNotMatch)
	}
	au := &Auth{
		AccessKey:   a.accessKey,
		PayloadMode: mode,
		SigningKey:  key,
		Signature:   sig,
		Scope:       a.scope(),
		Region:      a.region,
		Date:        date,
	}
	if mode == SignedPayload {
		au.SignedPayloadHash = hash
	}
	return au, nil
}

// parsePayloadHash classifies x-amz-content-sha256 and returns the value
// as it goes into the canonical request (hex digests in lowercase).
func parsePayloadHash(h string) (PayloadMode, string, *Error) {
	switch h {
	case unsignedPayload:
		return UnsignedPayload, h, nil
	case streamingPayload:
		return StreamingSigned, h, nil
	case streamingPayloadTrailer:
		return StreamingSignedTrailer, h, nil
	case streamingUnsignedTrailer:
		return StreamingUnsignedTrailer, h, nil
	}
	if strings.HasPrefix(h, streamingECDSAPrefix) {
		return 0, "", Errorf(NotImplemented, "SigV4a (ECDSA) streaming signatures are not supported")
	}
	if len(h) == 64 {
		if _, err := hex.DecodeString(h); err == nil {
			// The client signed the header value as sent; the canonical request uses it verbatim.
			return SignedPayload, h, nil
		}
	}
	return 0, "", Errorf(InvalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
}

func (v *Verifier) checkRegion(a *authHeader, code ErrorCode) *Error {
	if v.Region != "" && a.region != v.Region {
		return Errorf(code, "The authorization header is malformed; the region '%s' is wrong; expecting '%s'", a.region, v.Region)
	}
	return nil
}

func queryError(format string, args ...any) *Error {
	return Errorf(AuthorizationQueryParametersError, format, args...)
}

func (v *Verifier) verifyPresigned(r *http.Request, q map[string][]string) (*Auth, error) {
	get := func(k string) string {
		if vs := q[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	if alg := get("X-Amz-Algorithm"); alg != sigAlgorithm {
		return nil, queryError("X-Amz-Algorithm only supports \"%s\"", sigAlgorithm)
	}
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		if get(k) == "" {
			return nil, queryError("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	a, err := parseCredential(get("X-Amz-Credential"))
	if err != nil {
		return nil, queryError("Error parsing the X-Amz-Credential parameter; %s", err)
	}
	if a.signedHeaders, err = parseSignedHeaders(get("X-Amz-SignedHeaders")); err != nil {
		return nil, queryError("Error parsing the X-Amz-SignedHeaders parameter; %s", err)
	}
	a.signature = get("X-Amz-Signature")
	if !isLowerHex(a.signature, 64) {
		return nil, queryError("X-Amz-Signature must be 64 lowercase hexadecimal characters")
	}
	dateStr := get("X-Amz-Date")
	date, terr := time.Parse(iso8601Basic, dateStr)
	if terr != nil {
		return nil, queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if date.Format(yyyymmdd) != a.date {
		return nil, queryError("Invalid credential date %q. This date is not the same as X-Amz-Date: %q.", a.date, date.Format(yyyymmdd))
	}
	exp := get("X-Amz-Expires")
	secs, serr := strconv.ParseInt(exp, 10, 64)
	switch {
	case serr != nil || !isDigits(exp, len(exp)):
		return nil, queryError("X-Amz-Expires should be a number")
	case secs < 1:
		return nil, queryError("X-Amz-Expires must be non-negative and not zero")
	case secs > maxPresignExpiry:
		return nil, queryError("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	if err := v.checkRegion(a, AuthorizationQueryParametersError); err != nil {
		return nil, err
	}
	secret, ok := v.Creds.Lookup(a.accessKey)
	if !ok {
		return nil, NewError(InvalidAccessKeyID)
	}
	now := v.now()
	if date.Sub(now) > v.maxSkew() {
		return nil, Errorf(AccessDenied, "Request is not valid yet")
	}
	if now.Sub(date) > time.Duration(secs)*time.Second {
		return nil, Errorf(AccessDenied, "Request has expired")
	}
	// A presigned URL signs no body unless the client chose to sign a
	// header carrying one.
	hash := r.Header.Get("X-Amz-Content-Sha256")
	mode := UnsignedPayload
	if hash == "" || !a.signsHeader("x-amz-content-sha256") {
		hash = unsignedPayload
	} else {
		var perr *Error
		if mode, hash, perr = parsePayloadHash(hash); perr != nil {
			return nil, perr
		}
		if mode.Streaming() {
			return nil, Errorf(InvalidRequest, "Presigned requests cannot use aws-chunked payloads")
		}
	}
	key := v.signingKey(secret, a.date, a.region)
	sig, ok := checkSignature(r, a, key, dateStr, hash, true)
	if !ok {
		return nil, NewError(SignatureDoesNotMatch)
	}
	au := &Auth{
		AccessKey:   a.accessKey,
		PayloadMode: mode,
		SigningKey:  key,
		Signature:   sig,
		Scope:       a.scope(),
		Region:      a.region,
		Date:        date,
		Presigned:   true,
	}
	if mode == SignedPayload {
		au.SignedPayloadHash = hash
	}
	return au, nil
}

// checkSignature computes the request's signature and compares it with the
// client's in constant time. The canonical URI is the path re-encoded with
// SigV4's rules, which is what SDKs sign; if that fails and the client sent
// a path that is not in that form (a literal '+' or '!', say), the path as
// sent is tried too: both name the same key, and some signers sign the
// bytes they put on the wire.
func checkSignature(r *http.Request, a *authHeader, key []byte, date, hash string, presigned bool) (string, bool) {
	escaped := r.URL.EscapedPath()
	uri := canonicalURI(escaped)
	sig := signature(key, stringToSign(date, a.scope(), canonicalRequest(r, uri, a.signedHeaders, hash, presigned)))
	if hmac.Equal([]byte(sig), []byte(a.signature)) {
		return sig, true
	}
	if escaped != "" && escaped != uri {
		sig = signature(key, stringToSign(date, a.scope(), canonicalRequest(r, escaped, a.signedHeaders, hash, presigned)))
		if hmac.Equal([]byte(sig), []byte(a.signature)) {
			return sig, true
		}
	}
	return "", false
}

func (a *authHeader) signsHeader(name string) bool {
	for _, h := range a.signedHeaders {
		if h == name {
			return true
		}
	}
	return false
}

// signingKey derives HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region),
// "s3"), "aws4_request"), caching the result: the derivation is four HMACs
// on every request, and only a handful of (key, day, region) triples are
// live at once.
func (v *Verifier) signingKey(secret, date, region string) []byte {
	id := signingKeyID{secret, date, region}
	v.mu.Lock()
	if k, ok := v.keys[id]; ok {
		v.mu.Unlock()
		return k
	}
	v.mu.Unlock()
	k := deriveSigningKey(secret, date, region, sigService)
	v.mu.Lock()
	if v.keys == nil || len(v.keys) >= signingKeyCache {
		// Dropping everything is crude but bounded; a day rollover or a key
		// flood refills the cache within one request per live triple.
		v.keys = make(map[signingKeyID][]byte)
	}
	v.keys[id] = k
	v.mu.Unlock()
	return k
}

func deriveSigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, sigTerminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func signature(key []byte, sts string) string {
	return hex.EncodeToString(hmacSHA256(key, sts))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func stringToSign(date, scope, canonical string) string {
	return sigAlgorithm + "\n" + date + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
}

// canonicalRequest builds the SigV4 canonical request of r.
func canonicalRequest(r *http.Request, uri string, signedHeaders []string, payloadHash string, presigned bool) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, presigned))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURI re-encodes the path as sent. S3 does not normalise paths
// ("//" and "." stay), and clients encode each byte of the key once, so we
// decode what came on the wire and encode it again with SigV4's rules. An
// encoded slash (%2F) stays encoded: it is part of a segment, not a
// separator.
func canonicalURI(escaped string) string {
	if escaped == "" {
		return "/"
	}
	var b strings.Builder
	b.Grow(len(escaped) + 16)
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		if c == '%' && i+2 < len(escaped) && isHex(escaped[i+1]) && isHex(escaped[i+2]) {
			c = unhex(escaped[i+1])<<4 | unhex(escaped[i+2])
			i += 2
			writeEscaped(&b, c)
			continue
		}
		if c == '/' {
			b.WriteByte('/')
			continue
		}
		writeEscaped(&b, c)
	}
	return b.String()
}

// canonicalQuery sorts the query parameters by encoded name, then value.
// For presigned requests the signature itself is left out.
func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = sigEncode(queryUnescape(k)), sigEncode(queryUnescape(v))
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		params = append(params, kv{k, v})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// queryUnescape decodes %XX and '+' (form encoding of space); a malformed
// escape is kept literally rather than failing, so the signature decides.
func queryUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case c == '+':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func sigEncode(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !isUnreserved(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		writeEscaped(&b, s[i])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

const upperHex = "0123456789ABCDEF"

func writeEscaped(b *strings.Builder, c byte) {
	if isUnreserved(c) {
		b.WriteByte(c)
		return
	}
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&15])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// canonicalHeaderValue returns the trimmed, space-collapsed value of a
// signed header. net/http moves Host, and sometimes Content-Length and
// Transfer-Encoding, out of r.Header, so those come from the request.
func canonicalHeaderValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		vals = r.Header.Values("Transfer-Encoding")
		if len(vals) == 0 {
			vals = r.TransferEncoding
		}
	default:
		vals = r.Header.Values(name)
	}
	switch len(vals) {
	case 0:
		return ""
	case 1:
		return collapseSpaces(vals[0])
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = collapseSpaces(v)
	}
	return strings.Join(out, ",")
}

func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Package nodeauth authenticates internode requests with a cluster secret:
// every gateway→node and node→node request carries an HMAC-SHA256 over
// what it asks for (method, path and query, target node, body length and,
// for small bodies, the body's SHA-256), a timestamp and a random nonce. A
// node accepts a request only if the MAC is right, the timestamp is within
// a short window of its clock, and it has not seen the nonce before.
//
// The package is pure: it never reads the clock or a random source itself.
// Callers pass the time and the nonce; transport/httptransport wraps it as
// an http.RoundTripper (signing) and an http.Handler middleware
// (verifying).
//
// # Threat model
//
// An attacker on the internode network who does not hold the secret can
// neither forge a request nor replay a captured one: not later (the window),
// not twice within the window (the nonce cache), and not to another node (the
// target node ID is signed). A request's method, path and query — for
// shards the bucket, key, version, index and check parameters — and its
// Content-Length are bound, so a captured PutShard cannot be turned into a
// DeleteShard or aimed at another shard. A shard body is a stream and is
// not hashed before it is sent, so an attacker who can intercept and
// rewrite a request in flight (and keep the original from arriving) can
// substitute a body of the same length for the same shard; records, bucket
// calls and other bodies up to MaxHashedBody are hashed and bound too.
// Responses are not authenticated. Confidentiality and full integrity of
// internode traffic need TLS on the node listeners, which is not part of
// this package. The secret never appears in a header, an error or a log
// line: Secret prints as "[redacted]".
package nodeauth

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	sha256 "github.com/minio/sha256-simd"
)

// Header names carried by a signed request.
const (
	HeaderTime      = "X-Cairn-Auth-Time"  // Unix seconds, decimal
	HeaderNonce     = "X-Cairn-Auth-Nonce" // 32 lowercase hex digits
	HeaderBody      = "X-Cairn-Auth-Body"  // hex SHA-256 of the body, when hashed
	HeaderSignature = "X-Cairn-Auth"       // "v1=" + hex HMAC-SHA256
	// HeaderNode names the node a request is meant for. The client sets it
	// on every request, signed or not.
	HeaderNode = "X-Cairn-Node"
)

const (
	sigPrefix = "v1="
	// NonceLen is the length in bytes of a nonce before hex encoding.
	NonceLen = 16
	// MaxHashedBody is the largest body the signer hashes; larger ones (shard
	// streams) are bound by length only.
	MaxHashedBody = 1 << 20
	// DefaultWindow is how far a request's timestamp may be from the
	// verifying node's clock.
	DefaultWindow = 30 * time.Second
	// DefaultMaxNonces bounds the replay cache.
	DefaultMaxNonces = 1 << 19
	// MinSecretLen is the shortest secret New accepts.
	MinSecretLen = 16
	unhashedBody = "UNHASHED"
)

// Errors a Verifier returns. Each says why a request was refused and none
// carries anything secret.
var (
	// ErrUnsigned: the request carries no signature headers at all.
	ErrUnsigned = errors.New("nodeauth: request is not signed")
	// ErrMalformed: a signature header is present but unparsable.
	ErrMalformed = errors.New("nodeauth: malformed signature headers")
	// ErrBadSignature: the MAC does not match; wrong secret or a tampered request.
	ErrBadSignature = errors.New("nodeauth: signature does not match")
	// ErrExpired: the timestamp is outside the validity window.
	ErrExpired = errors.New("nodeauth: timestamp outside the validity window")
	// ErrReplayed: the nonce was already used within the window.
	ErrReplayed = errors.New("nodeauth: replayed request")
	// ErrWrongNode: the request was signed for another node.
	ErrWrongNode = errors.New("nodeauth: request signed for another node")
	// ErrBusy: the replay cache is full; the request is refused rather than
	// accepted unchecked.
	ErrBusy = errors.New("nodeauth: replay cache full")
	// ErrBodyMismatch: a hashed body did not match its signed hash.
	ErrBodyMismatch = errors.New("nodeauth: body does not match its signed hash")
	// ErrShortSecret is returned by ParseSecret and NewVerifier.
	ErrShortSecret = errors.New("nodeauth: cluster secret too short")
)

// Secret is the cluster's shared key. It formats as "[redacted]" with every
// fmt verb, so logging a config that holds one reveals nothing.
type Secret []byte

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return "nodeauth.Secret([redacted])" }

// Format implements fmt.Formatter, so %x and %q do not print the bytes.
func (Secret) Format(f fmt.State, _ rune) { f.Write([]byte("[redacted]")) }

// ParseSecret reads a secret from config: hex when s is valid hex of at
// least MinSecretLen bytes, else the raw bytes of s. Empty means none (nil).
func ParseSecret(s string) (Secret, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < MinSecretLen {
		b = []byte(s)
	}
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrShortSecret, len(b), MinSecretLen)
	}
	return Secret(b), nil
}

// Message is what a signature covers.
type Message struct {
	Method string
	// URI is the request target as sent: escaped path, "?", raw query.
	URI string
	// Node is the target node's ID (HeaderNode); may be empty.
	Node string
	// Length is the Content-Length; -1 when unknown.
	Length int64
	// BodyHash is the hex SHA-256 of the body, or "" when it is not hashed.
	BodyHash string
	// Time is the signing time in Unix seconds.
	Time int64
	// Nonce is NonceLen random bytes, hex.
	Nonce string
}

func (m *Message) stringToSign() string {
	body := m.BodyHash
	if body == "" {
		body = unhashedBody
	}
	var b strings.Builder
	b.Grow(len(m.Method) + len(m.URI) + len(m.Node) + len(body) + len(m.Nonce) + 64)
	for i, f := range []string{"cairn-node-v1", m.Method, m.URI, m.Node,
		strconv.FormatInt(m.Length, 10), body, strconv.FormatInt(m.Time, 10), m.Nonce} {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(f)
	}
	return b.String()
}

// Sign returns the signature header value of m under secret.
func Sign(secret Secret, m *Message) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(m.stringToSign()))
	return sigPrefix + hex.EncodeToString(mac.Sum(nil))
}

// HashBody returns the hex SHA-256 of b, for Message.BodyHash.
func HashBody(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Verifier checks signed requests for one node. It is safe for concurrent
// use.
type Verifier struct {
	secret Secret
	node   string
	window time.Duration
	max    int

	mu sync.Mutex
	// Nonces live in two generations of 2×window each: an accepted
	// timestamp is at most window ahead of now and stays acceptable for
	// window after that, so a nonce must be remembered for 2×window, and
	// one in cur or prev always is.
	cur, prev map[string]struct{}
	rotated   time.Time
}

// Option tunes a Verifier.
type Option func(*Verifier)

// WithWindow sets the validity window (default DefaultWindow).
func WithWindow(d time.Duration) Option { return func(v *Verifier) { v.window = d } }

// WithMaxNonces bounds the replay cache (default DefaultMaxNonces). When a
// generation is full, requests are refused with ErrBusy until it rotates.
func WithMaxNonces(n int) Option { return func(v *Verifier) { v.max = n } }

// NewVerifier returns a Verifier for the node with the given ID; an empty
// ID skips the target check.
func NewVerifier(secret Secret, nodeID string, opts ...Option) (*Verifier, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrShortSecret, len(secret), MinSecretLen)
	}
	v := &Verifier{secret: secret, node: nodeID, window: DefaultWindow, max: DefaultMaxNonces}
	for _, o := range opts {
		o(v)
	}
	if v.window <= 0 {
		v.window = DefaultWindow
	}
	if v.max <= 0 {
		v.max = DefaultMaxNonces
	}
	return v, nil
}

// Headers are the signature headers of a request, as received.
type Headers struct {
	Time, Nonce, Body, Signature string
}

// Verify checks a request made of m's method, URI, node and length and the
// signature headers h, at time now. On success it returns the message with
// Time, Nonce and BodyHash filled in from h; a caller that sees a non-empty
// BodyHash must check the body against it (ErrBodyMismatch). The nonce is
// recorded only when everything else holds, so a forged request cannot
// burn a legitimate nonce.
func (v *Verifier) Verify(m Message, h Headers, now time.Time) (Message, error) {
	if h.Time == "" && h.Nonce == "" && h.Signature == "" {
		return m, ErrUnsigned
	}
	ts, err := strconv.ParseInt(h.Time, 10, 64)
	if err != nil || len(h.Nonce) != 2*NonceLen || !isLowerHex(h.Nonce) ||
		!strings.HasPrefix(h.Signature, sigPrefix) || (h.Body != "" && (len(h.Body) != 64 || !isLowerHex(h.Body))) {
		return m, ErrMalformed
	}
	m.Time, m.Nonce, m.BodyHash = ts, h.Nonce, h.Body
	want := Sign(v.secret, &m)
	if !hmac.Equal([]byte(want), []byte(h.Signature)) {
		return m, ErrBadSignature
	}
	if v.node != "" && m.Node != v.node {
		return m, ErrWrongNode
	}
	if d := now.Sub(time.Unix(ts, 0)); d > v.window || d < -v.window {
		return m, ErrExpired
	}
	return m, v.remember(h.Nonce, now)
}

func (v *Verifier) remember(nonce string, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	gen := 2 * v.window
	if v.cur == nil || now.Sub(v.rotated) >= gen {
		if v.cur != nil && now.Sub(v.rotated) < 2*gen {
			v.prev = v.cur
		} else {
			v.prev = nil // idle for two generations: nothing in prev matters
		}
		v.cur = make(map[string]struct{})
		v.rotated = now
	}
	if _, ok := v.cur[nonce]; ok {
		return ErrReplayed
	}
	if _, ok := v.prev[nonce]; ok {
		return ErrReplayed
	}
	if len(v.cur) >= v.max {
		return ErrBusy
	}
	v.cur[nonce] = struct{}{}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

package httptransport

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	sha256 "github.com/minio/sha256-simd"

	"cairn/internal/nodeauth"
	"cairn/transport"
)

// SignRequests wraps next so that every request it carries is signed with
// the cluster secret (internal/nodeauth): a timestamp, a fresh random
// nonce and an HMAC over the method, the request URI, the target node
// (the X-Cairn-Node header that Client sets), the body length and, for
// bodies up to nodeauth.MaxHashedBody that can be read twice, the body's
// SHA-256. A nil secret returns next unchanged: authentication off.
func SignRequests(next http.RoundTripper, secret nodeauth.Secret) http.RoundTripper {
	if secret == nil {
		return next
	}
	return &signer{next: next, secret: secret}
}

type signer struct {
	next   http.RoundTripper
	secret nodeauth.Secret
}

func (s *signer) RoundTrip(req *http.Request) (*http.Response, error) {
	var nonce [nodeauth.NonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		closeBody(req)
		return nil, fmt.Errorf("httptransport: sign request: nonce: %w", err)
	}
	m := nodeauth.Message{
		Method: req.Method,
		URI:    req.URL.RequestURI(),
		Node:   req.Header.Get(nodeauth.HeaderNode),
		Length: outgoingLength(req),
		Time:   time.Now().Unix(),
		Nonce:  hex.EncodeToString(nonce[:]),
	}
	if req.GetBody != nil && m.Length > 0 && m.Length <= nodeauth.MaxHashedBody {
		sum, err := hashBody(req)
		if err != nil {
			closeBody(req)
			return nil, fmt.Errorf("httptransport: sign request: %w", err)
		}
		m.BodyHash = sum
	}
	// A RoundTripper must not modify its request.
	r := req.Clone(req.Context())
	r.Header.Set(nodeauth.HeaderTime, strconv.FormatInt(m.Time, 10))
	r.Header.Set(nodeauth.HeaderNonce, m.Nonce)
	if m.BodyHash != "" {
		r.Header.Set(nodeauth.HeaderBody, m.BodyHash)
	}
	r.Header.Set(nodeauth.HeaderSignature, nodeauth.Sign(s.secret, &m))
	return s.next.RoundTrip(r)
}

// outgoingLength is the length net/http will announce for req: 0 without
// a body, -1 (chunked) for a body of unknown length.
func outgoingLength(req *http.Request) int64 {
	if req.Body == nil || req.Body == http.NoBody {
		return 0
	}
	if req.ContentLength != 0 {
		return req.ContentLength
	}
	return -1
}

func hashBody(req *http.Request) (string, error) {
	body, err := req.GetBody()
	if err != nil {
		return "", err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(body, nodeauth.MaxHashedBody+1))
	if err != nil {
		return "", err
	}
	if n != req.ContentLength {
		return "", fmt.Errorf("body is %d bytes, Content-Length says %d", n, req.ContentLength)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// Authenticate wraps a node's handler so that it serves only requests
// signed with secret for the node nodeID (see SignRequests). Unsigned,
// badly signed, expired (outside ±nodeauth.DefaultWindow unless opts say
// otherwise), replayed or misdirected requests get 401 with
// transport.CodeUnauthorized, which Client turns into an error wrapping
// transport.ErrUnauthorized. Refusals are logged at Warn with the reason,
// never with a header value. A nil secret returns h unchanged.
func Authenticate(h http.Handler, secret nodeauth.Secret, nodeID string, log *slog.Logger, opts ...nodeauth.Option) (http.Handler, error) {
	if secret == nil {
		return h, nil
	}
	v, err := nodeauth.NewVerifier(secret, nodeID, opts...)
	if err != nil {
		return nil, fmt.Errorf("httptransport: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &authHandler{next: h, v: v, log: log}, nil
}

type authHandler struct {
	next http.Handler
	v    *nodeauth.Verifier
	log  *slog.Logger
}

func (a *authHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := nodeauth.Message{
		Method: r.Method,
		URI:    r.RequestURI,
		Node:   r.Header.Get(nodeauth.HeaderNode),
		Length: r.ContentLength,
	}
	hdr := nodeauth.Headers{
		Time:      r.Header.Get(nodeauth.HeaderTime),
		Nonce:     r.Header.Get(nodeauth.HeaderNonce),
		Body:      r.Header.Get(nodeauth.HeaderBody),
		Signature: r.Header.Get(nodeauth.HeaderSignature),
	}
	m, err := a.v.Verify(m, hdr, time.Now())
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	if m.BodyHash != "" {
		r.Body = &hashedBody{r: r.Body, h: sha256.New(), want: m.BodyHash}
	}
	a.next.ServeHTTP(w, r)
}

func (a *authHandler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusUnauthorized, transport.CodeUnauthorized
	if errors.Is(err, nodeauth.ErrBusy) {
		status, code = http.StatusServiceUnavailable, transport.CodeUnavailable
	}
	// The reason and where the request came from help an operator find a
	// mismatched secret or a skewed clock; nothing here is secret.
	a.log.Warn("internode request refused", "reason", err, "remote", r.RemoteAddr,
		"method", r.Method, "path", r.URL.Path, "request_id", r.Header.Get(transport.HeaderRequestID))
	w.Header().Set(headerError, strconv.Itoa(int(code)))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// The request may still be streaming a shard body; don't keep the
	// connection to read it.
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	io.WriteString(w, "unauthorized: "+err.Error())
}

// hashedBody checks a body against its signed SHA-256 as it is read: the
// final Read returns an error instead of io.EOF when they differ, so a
// handler that reads to the end (every record handler does) never acts on
// a substituted body.
type hashedBody struct {
	r    io.ReadCloser
	h    hash.Hash
	want string
	err  error
}

func (b *hashedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(b.h.Sum(nil)) != b.want {
		b.err = errors.Join(transport.ErrUnauthorized, nodeauth.ErrBodyMismatch)
		return n, b.err
	}
	return n, err
}

func (b *hashedBody) Close() error { return b.r.Close() }

package httptransport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/internal/nodeauth"
	"cairn/metadata"
	"cairn/transport"
)

const authSecret = "test-cluster-secret-0123456789"

// authNode records what reached it.
type authNode struct {
	transport.NodeClient // only the methods below are called
	mu                   sync.Mutex
	calls                int
	versions             []string
	shard                []byte
}

func (n *authNode) GetVersion(ctx context.Context, key metadata.ObjectKey) (*metadata.Version, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	return &metadata.Version{Bucket: key.Bucket, Key: key.Key, VersionID: "v1"}, nil
}

func (n *authNode) PutVersion(ctx context.Context, v *metadata.Version) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	n.versions = append(n.versions, v.Key)
	return nil
}

func (n *authNode) PutShard(ctx context.Context, ref transport.ShardRef, r io.Reader, size int64) error {
	b, err := io.ReadAll(r)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	if err != nil {
		return errors.Join(transport.ErrInvalid, err)
	}
	n.shard = b
	return nil
}

func (n *authNode) callCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls
}

// recorder keeps a copy of every request it carries, headers and body.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []recorded
	drop bool // capture without sending, as an interceptor would
}

type recorded struct {
	method, uri string
	header      http.Header
	body        []byte
}

func (rc *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{r.Method, r.URL.RequestURI(), r.Header.Clone(), body})
	rc.mu.Unlock()
	if rc.drop {
		return nil, errors.New("dropped")
	}
	return rc.next.RoundTrip(r)
}

// resend sends a recorded request again, byte for byte, or with body.
func resend(t *testing.T, base string, rq recorded, body []byte) *http.Response {
	t.Helper()
	if body == nil {
		body = rq.body
	}
	req, err := http.NewRequest(rq.method, base+rq.uri, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = rq.header.Clone()
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type authServer struct {
	node *authNode
	url  string
	addr string
	logs *bytes.Buffer
}

func startAuthServer(t *testing.T, nodeID string) *authServer {
	t.Helper()
	secret, err := nodeauth.ParseSecret(authSecret)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n := &authNode{}
	h, err := Authenticate(NewHandler(n, log), secret, nodeID, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &authServer{node: n, url: srv.URL, addr: strings.TrimPrefix(srv.URL, "http://"), logs: &logs}
}

func signedHC(t *testing.T, secret string, rec *recorder) *http.Client {
	t.Helper()
	s, err := nodeauth.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	var rt http.RoundTripper = NewTransport()
	if rec != nil {
		rec.next = rt
		rt = rec
	}
	return &http.Client{Transport: SignRequests(rt, s)}
}

func TestAuthSignedRoundTrip(t *testing.T) {
	srv := startAuthServer(t, "n1")
	c := NewClient("n1", srv.addr, signedHC(t, authSecret, nil))
	ctx := t.Context()
	if _, err := c.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"}); err != nil {
		t.Fatalf("GetVersion signed = %v; want nil", err)
	}
	if err := c.PutVersion(ctx, &metadata.Version{Bucket: "b", Key: "k", VersionID: "v1"}); err != nil {
		t.Fatalf("PutVersion signed = %v; want nil", err)
	}
	// A streamed body (not replayable, so not hashed) of several MiB.
	shard := bytes.Repeat([]byte("shard!"), 1<<20)
	if err := c.PutShard(ctx, transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1"}, io.MultiReader(bytes.NewReader(shard)), int64(len(shard))); err != nil {
		t.Fatalf("PutShard signed = %v; want nil", err)
	}
	if !bytes.Equal(srv.node.shard, shard) {
		t.Errorf("node got %d shard bytes; want %d", len(srv.node.shard), len(shard))
	}
}

func TestAuthRefusals(t *testing.T) {
	tests := []struct {
		name   string
		hc     func(t *testing.T) *http.Client
		nodeID string // the client's idea of the node
	}{
		{"unsigned", func(t *testing.T) *http.Client { return &http.Client{Transport: NewTransport()} }, "n1"},
		{"wrong secret", func(t *testing.T) *http.Client { return signedHC(t, "another-secret-0123456789", nil) }, "n1"},
		{"other node", func(t *testing.T) *http.Client { return signedHC(t, authSecret, nil) }, "n2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startAuthServer(t, "n1")
			c := NewClient(tc.nodeID, srv.addr, tc.hc(t))
			_, err := c.GetVersion(t.Context(), metadata.ObjectKey{Bucket: "b", Key: "k"})
			if !errors.Is(err, transport.ErrUnauthorized) {
				t.Errorf("GetVersion(%s) = %v; want ErrUnauthorized", tc.name, err)
			}
			err = c.PutShard(t.Context(), transport.ShardRef{Bucket: "b", Key: "k"}, strings.NewReader("data"), 4)
			if !errors.Is(err, transport.ErrUnauthorized) {
				t.Errorf("PutShard(%s) = %v; want ErrUnauthorized", tc.name, err)
			}
			if n := srv.node.callCount(); n != 0 {
				t.Errorf("node served %d calls of a refused client; want 0", n)
			}
			checkNoSecret(t, srv.logs.String(), err)
		})
	}
}

func TestAuthReplayAndTamper(t *testing.T) {
	srv := startAuthServer(t, "n1")
	rec := &recorder{}
	c := NewClient("n1", srv.addr, signedHC(t, authSecret, rec))
	if err := c.PutVersion(t.Context(), &metadata.Version{Bucket: "b", Key: "k", VersionID: "v1"}); err != nil {
		t.Fatalf("PutVersion = %v", err)
	}
	if len(rec.reqs) != 1 {
		t.Fatalf("recorded %d requests; want 1", len(rec.reqs))
	}
	orig := rec.reqs[0]
	if orig.header.Get(nodeauth.HeaderBody) == "" {
		t.Errorf("a record body was not hashed")
	}
	resp := resend(t, srv.url, orig, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(headerError) != strconv.Itoa(int(transport.CodeUnauthorized)) {
		t.Errorf("replay: status %d, code %q, body %q; want 401 with CodeUnauthorized", resp.StatusCode, resp.Header.Get(headerError), body)
	}
	if !strings.Contains(string(body), "replayed") {
		t.Errorf("replay refusal body %q; want it to say replayed", body)
	}

	// An interceptor that holds a signed request back and sends it with
	// another body of the same length gets nothing stored.
	rec.drop = true
	c.PutVersion(t.Context(), &metadata.Version{Bucket: "b", Key: "good", VersionID: "v1"})
	held := rec.reqs[len(rec.reqs)-1]
	forged, err := (&metadata.Version{Bucket: "b", Key: "evil", VersionID: "v1"}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(forged) != len(held.body) {
		t.Fatalf("forged record is %d bytes; want %d", len(forged), len(held.body))
	}
	resp = resend(t, srv.url, held, forged)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 400 || !strings.Contains(string(body), "body does not match") {
		t.Errorf("substituted body: status %d, body %q; want a refusal naming the body", resp.StatusCode, body)
	}
	if got := srv.node.versions; len(got) != 1 || got[0] != "k" {
		t.Errorf("node stored versions %v; want only [k]", got)
	}

	// A held-back request with a timestamp beyond the window is refused
	// even with a fresh nonce, since the nonce is signed.
	old := held
	old.header = held.header.Clone()
	m := nodeauth.Message{Method: old.method, URI: old.uri, Node: "n1", Length: int64(len(old.body)),
		BodyHash: old.header.Get(nodeauth.HeaderBody), Time: time.Now().Add(-time.Minute).Unix(), Nonce: strings.Repeat("5a", nodeauth.NonceLen)}
	secret, _ := nodeauth.ParseSecret(authSecret)
	old.header.Set(nodeauth.HeaderTime, strconv.FormatInt(m.Time, 10))
	old.header.Set(nodeauth.HeaderNonce, m.Nonce)
	old.header.Set(nodeauth.HeaderSignature, nodeauth.Sign(secret, &m))
	resp = resend(t, srv.url, old, nil)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "window") {
		t.Errorf("expired request: status %d, body %q; want 401 naming the window", resp.StatusCode, body)
	}
	checkNoSecret(t, srv.logs.String(), nil)
}

func checkNoSecret(t *testing.T, logs string, err error) {
	t.Helper()
	secret, _ := nodeauth.ParseSecret(authSecret)
	for _, s := range []string{authSecret, string(secret)} {
		if strings.Contains(logs, s) {
			t.Errorf("node log reveals the cluster secret: %q", logs)
		}
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error %q reveals the cluster secret", err)
		}
	}
	if !strings.Contains(logs, "internode request refused") && err != nil {
		t.Errorf("node log %q does not record the refusal", logs)
	}
}

func TestSignRequestsNilSecret(t *testing.T) {
	rt := NewTransport()
	if got := SignRequests(rt, nil); got != http.RoundTripper(rt) {
		t.Errorf("SignRequests(rt, nil) = %T; want rt itself", got)
	}
}

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/adminapi"
	"cairn/internal/clustertest"
	"cairn/internal/nodeauth"
	"cairn/internal/objctl"
	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
	"cairn/transport/httptransport"
)

const (
	secClusterSecret = "e2e-cluster-secret-do-not-leak-0123"
	secReaderSecret  = "reader-secret-key-do-not-leak"
	secScopedSecret  = "scoped-secret-key-do-not-leak"
)

// syncBuffer is a log sink shared by every goroutine of a cluster.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type secureCluster struct {
	*clustertest.Cluster
	logs   *syncBuffer
	secret nodeauth.Secret
}

// startSecure starts a cluster with internode authentication on, a
// read-only key for "photos" and a key scoped to bucket "bucket-a", logging at
// debug level into a buffer the test searches for secrets.
func startSecure(t *testing.T) *secureCluster {
	t.Helper()
	secret, err := nodeauth.ParseSecret(secClusterSecret)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	c := clustertest.Start(t, clustertest.Options{
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ClusterSecret: secret,
		Credentials: []s3api.AccessKey{
			{AccessKey: "reader", SecretKey: secReaderSecret, Buckets: s3api.Grants{"photos": s3api.PermRead}},
			{AccessKey: "scoped", SecretKey: secScopedSecret, Buckets: s3api.Grants{"bucket-a": s3api.PermReadWrite}},
		},
	})
	return &secureCluster{Cluster: c, logs: logs, secret: secret}
}

// checkNoSecrets fails t if any secret shows up in the cluster's logs or
// in the given texts (error bodies, error strings).
func (sc *secureCluster) checkNoSecrets(t *testing.T, texts ...string) {
	t.Helper()
	all := append([]string{sc.logs.String()}, texts...)
	for _, s := range []string{secClusterSecret, secReaderSecret, secScopedSecret, clustertest.SecretKey} {
		for _, txt := range all {
			if strings.Contains(txt, s) {
				t.Errorf("secret %q… revealed in %.200q", s[:6], txt)
			}
		}
	}
}

func denied(t *testing.T, what string, err error) {
	t.Helper()
	if code := errorCode(err); code != "AccessDenied" {
		t.Errorf("%s: err %v (code %q); want AccessDenied", what, err, code)
	}
}

func bucketNames(t *testing.T, cl *s3.Client) []string {
	t.Helper()
	out, err := cl.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	return names
}

func TestSecurityPermissions(t *testing.T) {
	sc := startSecure(t)
	ctx := t.Context()
	admin := sdkClient(t, sc.Cluster)
	for _, b := range []string{"bucket-a", "bucket-b", "photos"} {
		mustCreateBucket(t, admin, b)
	}
	data := randomBytes(7, 300<<10) // sharded, so shards cross signed links
	put(t, admin, "photos", "cat.jpg", data)
	put(t, admin, "bucket-b", "secret.txt", []byte("b's data"))

	reader := sdkClientWith(sc.Endpoint, "reader", secReaderSecret, withHTTP(newRequestIDCheck(t, nil)))
	scoped := sdkClientWith(sc.Endpoint, "scoped", secScopedSecret, withHTTP(newRequestIDCheck(t, nil)))

	t.Run("read-only key", func(t *testing.T) {
		got, _ := get(t, reader, "photos", "cat.jpg", nil)
		sameBytes(t, "reader GET photos/cat.jpg", got, data)
		if _, err := reader.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("cat.jpg")}); err != nil {
			t.Errorf("reader HEAD: %v", err)
		}
		if _, err := reader.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("photos")}); err != nil {
			t.Errorf("reader ListObjectsV2: %v", err)
		}
		_, err := reader.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("dog.jpg"), Body: bytes.NewReader([]byte("woof"))})
		denied(t, "reader PUT photos/dog.jpg", err)
		_, err = reader.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("cat.jpg")})
		denied(t, "reader DELETE photos/cat.jpg", err)
		_, err = reader.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("photos"),
			Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("cat.jpg")}}}})
		denied(t, "reader DeleteObjects photos", err)
		_, err = reader.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("photos"), Key: aws.String("big")})
		denied(t, "reader CreateMultipartUpload photos", err)
		_, err = reader.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-b"), Key: aws.String("secret.txt")})
		denied(t, "reader GET b/secret.txt", err)
		if got := bucketNames(t, reader); !slices.Equal(got, []string{"photos"}) {
			t.Errorf("reader ListBuckets = %v; want [photos]", got)
		}
		// The object is untouched.
		got, _ = get(t, admin, "photos", "cat.jpg", nil)
		sameBytes(t, "photos/cat.jpg after denied writes", got, data)
	})

	t.Run("bucket-scoped key", func(t *testing.T) {
		put(t, scoped, "bucket-a", "k", []byte("mine"))
		if got, _ := get(t, scoped, "bucket-a", "k", nil); string(got) != "mine" {
			t.Errorf("scoped GET a/k = %q; want mine", got)
		}
		_, err := scoped.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-b"), Key: aws.String("secret.txt")})
		denied(t, "scoped GET b/secret.txt", err)
		_, err = scoped.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket-b"), Key: aws.String("x"), Body: bytes.NewReader([]byte("x"))})
		denied(t, "scoped PUT b/x", err)
		_, err = scoped.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket-b")})
		denied(t, "scoped ListObjectsV2 b", err)
		_, err = scoped.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("bucket-b")})
		if err == nil {
			t.Errorf("scoped HeadBucket b succeeded; want 403")
		}
		_, err = scoped.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("bucket-b")})
		denied(t, "scoped DeleteBucket b", err)
		_, err = scoped.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bucket-c")})
		denied(t, "scoped CreateBucket c", err)
		// Copying needs read on the source: b's data must not leak into a.
		_, err = scoped.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("stolen"),
			CopySource: aws.String("bucket-b/secret.txt")})
		denied(t, "scoped CopyObject b→a", err)
		if got := bucketNames(t, scoped); !slices.Equal(got, []string{"bucket-a"}) {
			t.Errorf("scoped ListBuckets = %v; want [bucket-a]", got)
		}
		if got := bucketNames(t, admin); !slices.Equal(got, []string{"bucket-a", "bucket-b", "photos"}) {
			t.Errorf("admin ListBuckets = %v; want [bucket-a bucket-b photos]", got)
		}
	})

	// An unknown key is refused by authentication, before authorization.
	stranger := sdkClientWith(sc.Endpoint, "stranger", "whatever-secret")
	_, err := stranger.ListBuckets(ctx, &s3.ListBucketsInput{})
	if code := errorCode(err); code != "InvalidAccessKeyId" {
		t.Errorf("unknown key ListBuckets: code %q; want InvalidAccessKeyId", code)
	}

	// A raw denied request's body says AccessDenied and carries no secret.
	resp, body := rawRequest{method: http.MethodPut, path: "/photos/raw", body: []byte("x"),
		access: "reader", secret: secReaderSecret}.do(t, sc.Endpoint)
	wantError(t, "raw reader PUT", resp, body, http.StatusForbidden, "AccessDenied")
	sc.checkNoSecrets(t, string(body))
}

// nodeReq sends a raw request straight to a node, as anyone on the
// internode network could.
func nodeReq(t *testing.T, method, url string, body []byte, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if hdr != nil {
		req.Header = hdr.Clone()
	}
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func wantRefused(t *testing.T, what string, resp *http.Response, body, reason string) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Errorf("%s: status %d; want 401 or 403", what, resp.StatusCode)
	}
	if got, want := resp.Header.Get("X-Cairn-Error"), strconv.Itoa(int(transport.CodeUnauthorized)); got != want {
		t.Errorf("%s: X-Cairn-Error %q; want %q", what, got, want)
	}
	if !strings.Contains(body, reason) {
		t.Errorf("%s: body %q; want it to say %q", what, body, reason)
	}
}

func TestSecurityNodesRefuseUnsigned(t *testing.T) {
	sc := startSecure(t)
	admin := sdkClient(t, sc.Cluster)
	mustCreateBucket(t, admin, "photos")
	put(t, admin, "photos", "cat.jpg", randomBytes(3, 200<<10))
	n := sc.Nodes[0]
	var bodies []string
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/v1/buckets"},
		{http.MethodGet, "/v1/version?b=photos&k=cat.jpg"},
		{http.MethodPut, "/v1/shard?b=photos&k=evil&v=1&i=0"},
		{http.MethodDelete, "/v1/shard?b=photos&k=cat.jpg&v=1&i=0"},
	} {
		resp, body := nodeReq(t, tc.method, "http://"+n.Addr+tc.path, []byte("junk"), nil)
		wantRefused(t, "unsigned "+tc.method+" "+tc.path, resp, body, "not signed")
		bodies = append(bodies, body)
	}
	// Signed with the wrong secret.
	wrong := &http.Client{Transport: httptransport.SignRequests(httptransport.NewTransport(), nodeauth.Secret("a-wrong-cluster-secret-000"))}
	_, err := httptransport.NewClient(n.ID, n.Addr, wrong).Buckets(t.Context())
	if !errors.Is(err, transport.ErrUnauthorized) {
		t.Errorf("Buckets with the wrong secret = %v; want ErrUnauthorized", err)
	}
	// Signed for another node and sent to this one.
	right := &http.Client{Transport: httptransport.SignRequests(httptransport.NewTransport(), sc.secret)}
	_, err = httptransport.NewClient(sc.Nodes[1].ID, n.Addr, right).Buckets(t.Context())
	if !errors.Is(err, transport.ErrUnauthorized) {
		t.Errorf("Buckets signed for %s sent to %s = %v; want ErrUnauthorized", sc.Nodes[1].ID, n.ID, err)
	}
	// The right secret works.
	if _, err := httptransport.NewClient(n.ID, n.Addr, right).Buckets(t.Context()); err != nil {
		t.Errorf("Buckets signed correctly = %v", err)
	}
	evil := transport.ShardRef{Bucket: "photos", Key: "evil", VersionID: "1", Index: 0}
	for _, n := range sc.Nodes {
		if ext, ok := shardExtent(t, n, evil); ok {
			t.Errorf("an unsigned PUT stored shard %s on %s (%+v)", evil, n.ID, ext)
		}
	}
	if !strings.Contains(sc.logs.String(), "internode request refused") {
		t.Errorf("no refusal was logged")
	}
	sc.checkNoSecrets(t, append(bodies, err2s(err))...)
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// capture keeps a copy of every request a signed client sends.
type capture struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	c.mu.Lock()
	c.reqs, c.body = append(c.reqs, r.Clone(context.Background())), append(c.body, b)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func TestSecurityReplayRefused(t *testing.T) {
	sc := startSecure(t)
	admin := sdkClient(t, sc.Cluster)
	mustCreateBucket(t, admin, "photos")
	n := sc.Nodes[0]
	cp := &capture{}
	cl := httptransport.NewClient(n.ID, n.Addr, &http.Client{Transport: httptransport.SignRequests(cp, sc.secret)})
	put(t, admin, "photos", "cat.jpg", []byte("meow"))
	if _, err := cl.GetVersion(t.Context(), metadata.ObjectKey{Bucket: "photos", Key: "cat.jpg"}); err != nil {
		t.Fatalf("signed GetVersion: %v", err)
	}
	if _, err := cl.Buckets(t.Context()); err != nil {
		t.Fatalf("signed Buckets: %v", err)
	}
	// A write: deleting a shard nobody has is harmless, and accepted.
	if err := cl.DeleteShard(t.Context(), transport.ShardRef{Bucket: "photos", Key: "none", VersionID: "v0"}); errors.Is(err, transport.ErrUnauthorized) {
		t.Fatalf("signed DeleteShard: %v", err)
	}
	if len(cp.reqs) != 3 {
		t.Fatalf("captured %d requests; want 3", len(cp.reqs))
	}
	var bodies []string
	for i, r := range cp.reqs {
		resp, body := nodeReq(t, r.Method, "http://"+n.Addr+r.URL.RequestURI(), cp.body[i], r.Header)
		wantRefused(t, "replayed "+r.Method+" "+r.URL.Path, resp, body, "replayed")
		bodies = append(bodies, body)
	}
	// The replayed request is refused on every other node too: it names
	// its target.
	r := cp.reqs[1]
	resp, body := nodeReq(t, r.Method, "http://"+sc.Nodes[2].Addr+r.URL.RequestURI(), nil, r.Header)
	wantRefused(t, "request for n1 replayed to n3", resp, body, "another node")
	sc.checkNoSecrets(t, append(bodies, body)...)
}

// selfSigned returns a TLS server config for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cairn test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion: tls.VersionTLS12}, pool
}

func TestSecurityTLSGateway(t *testing.T) {
	sc := startSecure(t)
	srvTLS, pool := selfSigned(t)
	_, endpoint := sc.AddGateway(clustertest.GatewayOptions{TLS: srvTLS})
	if !strings.HasPrefix(endpoint, "https://") {
		t.Fatalf("TLS gateway endpoint %q; want https://", endpoint)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	cl := sdkClientWith(endpoint, clustertest.AccessKey, clustertest.SecretKey, withHTTP(newRequestIDCheck(t, tr)))
	mustCreateBucket(t, cl, "tls")
	data := randomBytes(11, 1<<20+17)
	put(t, cl, "tls", "obj", data)
	got, _ := get(t, cl, "tls", "obj", nil)
	sameBytes(t, "GET over TLS", got, data)

	// A client that does not trust the certificate gets nowhere.
	untrusted := sdkClientWith(endpoint, clustertest.AccessKey, clustertest.SecretKey)
	if _, err := untrusted.ListBuckets(t.Context(), &s3.ListBucketsInput{}); err == nil {
		t.Errorf("ListBuckets without the CA succeeded; want a certificate error")
	}
	// Plain HTTP to the TLS port is not served.
	resp, err := http.Get("http://" + strings.TrimPrefix(endpoint, "https://") + "/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP to the TLS listener: status %d; want an error", resp.StatusCode)
		}
	}
}

// The admin API answers only requests signed by an admin key: not an
// unsigned request, not a bucket key, not a wrong secret, not a body that
// differs from the one signed; and its refusals reveal no secret.
func TestSecurityAdminAPI(t *testing.T) {
	t.Parallel()
	sc := startSecure(t)
	admin := httptest.NewServer(sc.Gateway.AdminHandler())
	t.Cleanup(admin.Close)
	var bodies []string
	refused := func(what string, resp *http.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies = append(bodies, string(b))
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: HTTP %d %s; want 403", what, resp.StatusCode, b)
		}
	}
	resp, err := http.Get(admin.URL + "/admin/v1/status")
	refused("unsigned status", resp, err)

	for _, k := range []struct{ name, access, secret string }{
		{"bucket key", "reader", secReaderSecret},
		{"wrong secret", clustertest.AccessKey, "not-the-secret"},
	} {
		ctl, err := objctl.NewClient(admin.URL, k.access, k.secret, clustertest.Region, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ctl.Status(t.Context())
		var ae *objctl.APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status: %v; want 403", k.name, err)
		} else {
			bodies = append(bodies, ae.Message)
		}
	}

	// A signed stage request whose body was swapped after signing.
	ctl, err := objctl.NewClient(admin.URL, clustertest.AccessKey, clustertest.SecretKey, clustertest.Region,
		&http.Client{Transport: swapBody{http.DefaultTransport, `{"op":"drain","node":"n1"}`}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ctl.Stage(t.Context(), adminapi.LayoutChange{Op: "add-node", Node: "n9"})
	var ae *objctl.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden {
		t.Errorf("stage with a swapped body: %v; want 403", err)
	}
	if got := sc.Gateway.Layout(); len(got.Nodes) != 6 || got.Nodes[0].State != placement.Active {
		t.Errorf("a refused request changed the layout: %+v", got.Nodes)
	}
	ok, err := objctl.NewClient(admin.URL, clustertest.AccessKey, clustertest.SecretKey, clustertest.Region, nil)
	if err != nil {
		t.Fatal(err)
	}
	if view, err := ok.Layout(t.Context()); err != nil || view.Staged != nil {
		t.Errorf("admin key: layout %+v, %v; want nothing staged", view, err)
	}
	sc.checkNoSecrets(t, bodies...)
}

// swapBody replaces a request's body after it was signed.
type swapBody struct {
	rt   http.RoundTripper
	body string
}

func (s swapBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(strings.NewReader(s.body))
		r.ContentLength = int64(len(s.body))
	}
	return s.rt.RoundTrip(r)
}

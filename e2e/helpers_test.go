package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/clustertest"
	"cairn/metadata"
	"cairn/node"
	"cairn/transport"
	"cairn/transport/httptransport"
)

// sdkClient returns an aws-sdk-go-v2 S3 client for the cluster, path style,
// that fails t on any response without x-amz-request-id.
func sdkClient(t testing.TB, c *clustertest.Cluster, opts ...func(*s3.Options)) *s3.Client {
	t.Helper()
	opts = append([]func(*s3.Options){withHTTP(newRequestIDCheck(t, nil))}, opts...)
	return sdkClientWith(c.Endpoint, clustertest.AccessKey, clustertest.SecretKey, opts...)
}

func sdkClientWith(endpoint, access, secret string, opts ...func(*s3.Options)) *s3.Client {
	base := func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Region = clustertest.Region
		o.UsePathStyle = true
		o.Credentials = credentials.NewStaticCredentialsProvider(access, secret, "")
		o.RetryMaxAttempts = 1
	}
	return s3.New(s3.Options{}, append([]func(*s3.Options){base}, opts...)...)
}

func minioClient(t testing.TB, c *clustertest.Cluster) *minio.Client {
	t.Helper()
	mc, err := minio.New(c.Endpoint[len("http://"):], &minio.Options{
		Creds:        miniocreds.NewStaticV4(clustertest.AccessKey, clustertest.SecretKey, ""),
		Secure:       false,
		Region:       clustertest.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatalf("minio.New: %v", err)
	}
	return mc
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustCreateBucket(t testing.TB, cl *s3.Client, name string) {
	t.Helper()
	if _, err := cl.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
}

func put(t testing.TB, cl *s3.Client, bucket, key string, data []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := cl.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("PutObject(%s/%s, %d bytes): %v", bucket, key, len(data), err)
	}
	return out
}

func get(t testing.TB, cl *s3.Client, bucket, key string, rng *string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: rng})
	if err != nil {
		t.Fatalf("GetObject(%s/%s): %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject(%s/%s) body: %v", bucket, key, err)
	}
	return b, out
}

// sameBytes compares by digest so a failure does not print megabytes.
func sameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes (sha256 %x), want %d bytes (sha256 %x)", what, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

// errorCode returns the S3 error code of an SDK error, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// requestIDCheck is an http.RoundTripper that fails the test when a
// response arrives without x-amz-request-id: S3 sends one with every
// answer, errors included, and clients log it for support. It also keeps
// the x-amz-content-sha256 of each PUT, so tests can tell which payload
// mode a client really used.
type requestIDCheck struct {
	t    testing.TB
	base http.RoundTripper

	mu    sync.Mutex
	modes []string // x-amz-content-sha256 of PUT requests, in order
}

func (rc *requestIDCheck) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		rc.mu.Lock()
		rc.modes = append(rc.modes, r.Header.Get("X-Amz-Content-Sha256"))
		rc.mu.Unlock()
	}
	resp, err := rc.base.RoundTrip(r)
	if err == nil && resp.Header.Get("X-Amz-Request-Id") == "" {
		rc.t.Errorf("%s %s: %d response without x-amz-request-id", r.Method, r.URL, resp.StatusCode)
	}
	return resp, err
}

// lastMode returns the x-amz-content-sha256 of the last PUT sent.
func (rc *requestIDCheck) lastMode() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.modes) == 0 {
		return ""
	}
	return rc.modes[len(rc.modes)-1]
}

func newRequestIDCheck(t testing.TB, base http.RoundTripper) *requestIDCheck {
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		base = tr
	}
	return &requestIDCheck{t: t, base: base}
}

// withHTTP makes an SDK client send through rt.
func withHTTP(rt http.RoundTripper) func(*s3.Options) {
	return func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: rt} }
}

// minioClientWith returns a minio-go client for the cluster whose requests
// go through rt, with opts applied over the test defaults.
func minioClientWith(t testing.TB, endpoint string, rt http.RoundTripper, opts func(*minio.Options)) *minio.Client {
	t.Helper()
	o := &minio.Options{
		Creds:        miniocreds.NewStaticV4(clustertest.AccessKey, clustertest.SecretKey, ""),
		Region:       clustertest.Region,
		BucketLookup: minio.BucketLookupPath,
		Transport:    rt,
		MaxRetries:   1,
	}
	if opts != nil {
		opts(o)
	}
	mc, err := minio.New(strings.TrimPrefix(endpoint, "http://"), o)
	if err != nil {
		t.Fatalf("minio.New: %v", err)
	}
	return mc
}

// The x-amz-content-sha256 values of the payload modes.
const (
	modeUnsigned         = "UNSIGNED-PAYLOAD"
	modeStreaming        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	modeStreamingTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	modeUnsignedTrailer  = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	modeSignedHash       = "<sha256 hex>" // stands for any 64-hex-digit payload hash
)

// modeOf classifies an x-amz-content-sha256 value.
func modeOf(h string) string {
	if len(h) == 64 && strings.Trim(h, "0123456789abcdef") == "" {
		return modeSignedHash
	}
	return h
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func md5Base64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// rawRequest is one hand-made S3 request, signed with SigV4 unless
// anonymous.
type rawRequest struct {
	method string
	path   string // escaped path and query, e.g. "/bucket/key?list-type=2"
	host   string // Host header; default the gateway's address
	header http.Header
	body   []byte

	anonymous      bool
	access, secret string    // default the cluster's credentials
	at             time.Time // signing time; default now
	payloadHash    string    // x-amz-content-sha256; default the body's SHA-256
	chunked        bool      // send the body with Transfer-Encoding: chunked, no Content-Length
}

// do sends req to the gateway at endpoint and returns the response with
// its body read.
func (req rawRequest) do(t testing.TB, endpoint string) (*http.Response, []byte) {
	t.Helper()
	r, err := http.NewRequest(req.method, endpoint+req.path, bytes.NewReader(req.body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if req.host != "" {
		r.Host = req.host
	}
	if req.chunked {
		r.ContentLength = -1
		r.Body = io.NopCloser(bytes.NewReader(req.body))
	}
	maps.Copy(r.Header, req.header)
	if !req.anonymous {
		req.sign(t, r)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.method, req.path, err)
	}
	return resp, b
}

// sign signs r as req says, the way S3 clients do: the payload hash goes in
// x-amz-content-sha256 and the path is not escaped twice.
func (req rawRequest) sign(t testing.TB, r *http.Request) {
	t.Helper()
	access, secret := cmp.Or(req.access, clustertest.AccessKey), cmp.Or(req.secret, clustertest.SecretKey)
	at := req.at
	if at.IsZero() {
		at = time.Now()
	}
	hash := cmp.Or(req.payloadHash, sha256Hex(req.body))
	r.Header.Set("X-Amz-Content-Sha256", hash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: access, SecretAccessKey: secret}
	if err := signer.SignHTTP(context.Background(), creds, r, hash, "s3", clustertest.Region, at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// s3Error is the S3 error document.
type s3Error struct {
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
}

// wantError checks that resp is the S3 error code with status, and that
// its XML names the same request ID as the header.
func wantError(t testing.TB, what string, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d; want %d (body %q)", what, resp.StatusCode, status, body)
	}
	id := resp.Header.Get("X-Amz-Request-Id")
	if id == "" {
		t.Errorf("%s: no x-amz-request-id header", what)
	}
	if code == "" { // HEAD: no body to check
		return
	}
	var e s3Error
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: error body %q: %v", what, body, err)
		return
	}
	if e.Code != code {
		t.Errorf("%s: Code %q; want %q (message %q)", what, e.Code, code, e.Message)
	}
	if e.RequestID == "" || e.RequestID != id {
		t.Errorf("%s: RequestId %q; want the header's %q", what, e.RequestID, id)
	}
}

// eventually polls cond until it holds or the deadline passes; cond
// returns what is still wrong, or "" when done.
func eventually(t testing.TB, within time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still after %v: %s", within, why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// storedShards lists the shards every node of c holds, from the nodes'
// shard indexes: a shard exists once its index entry does, whatever
// bytes a failed write left in a segment.
func storedShards(t testing.TB, c *clustertest.Cluster) []node.StoredShard {
	t.Helper()
	var all []node.StoredShard
	for _, n := range c.Nodes {
		s, err := n.StoredShards(context.Background())
		if err != nil {
			t.Fatalf("%s: stored shards: %v", n.ID, err)
		}
		all = append(all, s...)
	}
	return all
}

// segmentBytes is the size of every node's segment files: what the nodes
// have written, indexed or not.
func segmentBytes(t testing.TB, c *clustertest.Cluster) int64 {
	t.Helper()
	var total int64
	for _, n := range c.Nodes {
		root := filepath.Join(n.Dir, "segments")
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // compaction removed a segment while we walk
			}
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			total += info.Size()
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	return total
}

// versionHash is how the documented layout names a version in the shard
// index: hex SHA-256 of bucket, key and version ID joined by zero bytes.
func versionHash(bucket, key, versionID string) string {
	return sha256Hex([]byte(bucket + "\x00" + key + "\x00" + versionID))
}

// shardExtent returns where node n keeps ref's bytes, and false when it
// holds no such shard: asked of the node while it runs, read from its
// shard index while it is stopped.
func shardExtent(t testing.TB, n *clustertest.Node, ref transport.ShardRef) (node.ShardExtent, bool) {
	t.Helper()
	ext, err := n.ShardExtent(ref)
	if errors.Is(err, transport.ErrNotFound) {
		return node.ShardExtent{}, false
	}
	if err != nil {
		t.Fatalf("%s: shard %s: %v", n.ID, ref, err)
	}
	return ext, true
}

// mustShardExtent is shardExtent for a shard the test knows is there.
func mustShardExtent(t testing.TB, n *clustertest.Node, ref transport.ShardRef) node.ShardExtent {
	t.Helper()
	ext, ok := shardExtent(t, n, ref)
	if !ok {
		t.Fatalf("%s holds no shard %s", n.ID, ref)
	}
	return ext
}

// readExtent returns a shard's bytes, read from its segment file.
func readExtent(t testing.TB, ext node.ShardExtent) []byte {
	t.Helper()
	f, err := os.Open(ext.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, ext.Size)
	if _, err := f.ReadAt(b, ext.Offset); err != nil {
		t.Fatalf("read %d bytes at %d of %s: %v", ext.Size, ext.Offset, ext.Path, err)
	}
	return b
}

// flip XORs byte off of a shard, in place in its segment file, as bit rot
// would: the index still names the bytes.
func flip(t testing.TB, ext node.ShardExtent, off int64) {
	t.Helper()
	if off < 0 || off >= ext.Size {
		t.Fatalf("flip at %d of a %d-byte shard", off, ext.Size)
	}
	f, err := os.OpenFile(ext.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, ext.Offset+off); err != nil {
		t.Fatalf("read %s at %d: %v", ext.Path, ext.Offset+off, err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, ext.Offset+off); err != nil {
		t.Fatalf("write %s at %d: %v", ext.Path, ext.Offset+off, err)
	}
}

// waitReplicated waits until every home of bucket/key holds the record
// of the version with etag and, for sharded objects, its shard. A PUT is acknowledged at a quorum, before the last home has
// finished, and tests that take nodes down need all homes to be there.
func waitReplicated(t testing.TB, c *clustertest.Cluster, bucket, key, etag string, sharded bool) {
	t.Helper()
	hc := &http.Client{Transport: httptransport.NewTransport()}
	okey := metadata.ObjectKey{Bucket: bucket, Key: key}
	eventually(t, 10*time.Second, func() string {
		for _, n := range c.Nodes {
			v, err := httptransport.NewClient(n.ID, n.Addr, hc).GetVersion(context.Background(), okey)
			if err != nil {
				return fmt.Sprintf("%s: GetVersion(%s): %v", n.ID, okey, err)
			}
			if v.ETag != etag {
				return fmt.Sprintf("%s: %s has ETag %s; want %s", n.ID, okey, v.ETag, etag)
			}
			if !sharded {
				continue
			}
			i := slices.Index(v.Shards, n.ID)
			if i < 0 {
				return fmt.Sprintf("%s: not a home of %s (%v)", n.ID, okey, v.Shards)
			}
			ref := transport.ShardRef{Bucket: bucket, Key: key, VersionID: v.VersionID, Index: i}
			if _, ok := shardExtent(t, n, ref); !ok {
				return fmt.Sprintf("%s: shard %d of %s not stored yet", n.ID, i, okey)
			}
		}
		return ""
	})
}

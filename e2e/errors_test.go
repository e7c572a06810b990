package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
)

// TestErrors sends requests that must fail and checks each answer: the
// HTTP status, the S3 error code in the XML, its RequestId, and that the
// failed request changed nothing.
func TestErrors(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "errs")
	mustCreateBucket(t, cl, "full")
	old := []byte("the version before")
	put(t, cl, "errs", "obj", old)
	put(t, cl, "full", "k", []byte("x"))
	big := randomBytes(3, 1<<20+1)
	now := time.Now()

	tests := []struct {
		name   string
		req    rawRequest
		status int
		code   string // "" for HEAD, which has no body
		// unchanged, if set, is a key of bucket errs and what GET must
		// still return after the request; nil means the key must not exist.
		unchanged *string
		want      []byte
	}{
		{name: "create bucket twice", req: rawRequest{method: "PUT", path: "/errs"}, status: 409, code: "BucketAlreadyOwnedByYou"},
		{name: "bucket name with capitals", req: rawRequest{method: "PUT", path: "/Bad_Bucket"}, status: 400, code: "InvalidBucketName"},
		{name: "bucket name too short", req: rawRequest{method: "PUT", path: "/ab"}, status: 400, code: "InvalidBucketName"},
		{name: "bucket name like an IP", req: rawRequest{method: "PUT", path: "/192.168.1.1"}, status: 400, code: "InvalidBucketName"},
		{name: "bucket name with ..", req: rawRequest{method: "PUT", path: "/a..b"}, status: 400, code: "InvalidBucketName"},
		{name: "get from a missing bucket", req: rawRequest{method: "GET", path: "/nobucket/key"}, status: 404, code: "NoSuchBucket"},
		{name: "put into a missing bucket", req: rawRequest{method: "PUT", path: "/nobucket/key", body: []byte("x")}, status: 404, code: "NoSuchBucket"},
		{name: "list a missing bucket", req: rawRequest{method: "GET", path: "/nobucket?list-type=2"}, status: 404, code: "NoSuchBucket"},
		{name: "delete a missing bucket", req: rawRequest{method: "DELETE", path: "/nobucket"}, status: 404, code: "NoSuchBucket"},
		{name: "head a missing bucket", req: rawRequest{method: "HEAD", path: "/nobucket"}, status: 404},
		{name: "delete a bucket with keys", req: rawRequest{method: "DELETE", path: "/full"}, status: 409, code: "BucketNotEmpty"},
		{name: "get a missing key", req: rawRequest{method: "GET", path: "/errs/missing"}, status: 404, code: "NoSuchKey"},
		{name: "head a missing key", req: rawRequest{method: "HEAD", path: "/errs/missing"}, status: 404},
		{name: "range past the end", req: rawRequest{method: "GET", path: "/errs/obj", header: http.Header{"Range": {"bytes=100-200"}}}, status: 416, code: "InvalidRange"},
		{
			name:   "wrong Content-MD5 over an old version",
			req:    rawRequest{method: "PUT", path: "/errs/obj", body: []byte("new body"), header: http.Header{"Content-Md5": {md5Base64([]byte("other"))}}},
			status: 400, code: "BadDigest", unchanged: aws.String("obj"), want: old,
		},
		{
			name:   "wrong Content-MD5 on a new key",
			req:    rawRequest{method: "PUT", path: "/errs/bad-md5", body: []byte("new body"), header: http.Header{"Content-Md5": {md5Base64([]byte("other"))}}},
			status: 400, code: "BadDigest", unchanged: aws.String("bad-md5"),
		},
		{
			name:   "wrong Content-MD5 on a sharded object",
			req:    rawRequest{method: "PUT", path: "/errs/bad-md5-big", body: big, header: http.Header{"Content-Md5": {md5Base64(big[1:])}}},
			status: 400, code: "BadDigest", unchanged: aws.String("bad-md5-big"),
		},
		{
			name:   "Content-MD5 that is no MD5",
			req:    rawRequest{method: "PUT", path: "/errs/obj", body: []byte("new body"), header: http.Header{"Content-Md5": {"bm90IGFuIG1kNQ=="}}},
			status: 400, code: "InvalidDigest", unchanged: aws.String("obj"), want: old,
		},
		{
			name:   "wrong secret",
			req:    rawRequest{method: "PUT", path: "/errs/obj", body: []byte("new body"), secret: "not-the-secret"},
			status: 403, code: "SignatureDoesNotMatch", unchanged: aws.String("obj"), want: old,
		},
		{name: "wrong secret on GET", req: rawRequest{method: "GET", path: "/errs/obj", secret: "not-the-secret"}, status: 403, code: "SignatureDoesNotMatch"},
		{name: "unknown access key", req: rawRequest{method: "GET", path: "/errs/obj", access: "AKIDNOBODY"}, status: 403, code: "InvalidAccessKeyId"},
		{name: "no authentication", req: rawRequest{method: "GET", path: "/errs/obj", anonymous: true}, status: 403, code: "AccessDenied"},
		{name: "no authentication, list buckets", req: rawRequest{method: "GET", path: "/", anonymous: true}, status: 403, code: "AccessDenied"},
		{
			name:   "no authentication, put",
			req:    rawRequest{method: "PUT", path: "/errs/anon", body: []byte("x"), anonymous: true},
			status: 403, code: "AccessDenied", unchanged: aws.String("anon"),
		},
		{name: "clock 20 minutes slow", req: rawRequest{method: "GET", path: "/errs/obj", at: now.Add(-20 * time.Minute)}, status: 403, code: "RequestTimeTooSkewed"},
		{
			name:   "clock 20 minutes fast",
			req:    rawRequest{method: "PUT", path: "/errs/obj", body: []byte("new body"), at: now.Add(20 * time.Minute)},
			status: 403, code: "RequestTimeTooSkewed", unchanged: aws.String("obj"), want: old,
		},
		{
			name:   "payload hash of another body",
			req:    rawRequest{method: "PUT", path: "/errs/obj", body: []byte("new body"), payloadHash: sha256Hex([]byte("other body"))},
			status: 400, code: "XAmzContentSHA256Mismatch", unchanged: aws.String("obj"), want: old,
		},
		{
			name:   "payload hash of another body, sharded",
			req:    rawRequest{method: "PUT", path: "/errs/sha-big", body: big, payloadHash: sha256Hex(big[:len(big)-1])},
			status: 400, code: "XAmzContentSHA256Mismatch", unchanged: aws.String("sha-big"),
		},
		{
			name:   "no Content-Length",
			req:    rawRequest{method: "PUT", path: "/errs/chunked", body: []byte("chunked body"), payloadHash: modeUnsigned, chunked: true},
			status: 411, code: "MissingContentLength", unchanged: aws.String("chunked"),
		},
	}
	t.Run("raw", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				resp, body := tc.req.do(t, c.Endpoint)
				wantError(t, tc.name, resp, body, tc.status, tc.code)
				if tc.unchanged == nil {
					return
				}
				key := *tc.unchanged
				out, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("errs"), Key: aws.String(key)})
				if tc.want == nil {
					if code := errorCode(err); code != "NoSuchKey" {
						t.Errorf("GET %s after the failed request = %v (code %q); want NoSuchKey", key, err, code)
					}
					return
				}
				if err != nil {
					t.Fatalf("GET %s after the failed request: %v", key, err)
				}
				got, err := io.ReadAll(out.Body)
				out.Body.Close()
				if err != nil {
					t.Fatalf("GET %s body: %v", key, err)
				}
				sameBytes(t, "GET "+key+" after the failed request", got, tc.want)
			})
		}
	})

	// The same failures seen through the SDK, which reads the code from
	// the XML (or, for HEAD, makes it up from the status).
	ctx := context.Background()
	sdkTests := []struct {
		name string
		call func() error
		code string
	}{
		{"CreateBucket twice", func() error {
			_, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("errs")})
			return err
		}, "BucketAlreadyOwnedByYou"},
		{"GetObject missing key", func() error {
			_, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("errs"), Key: aws.String("missing")})
			return err
		}, "NoSuchKey"},
		{"HeadObject missing key", func() error {
			_, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("errs"), Key: aws.String("missing")})
			return err
		}, "NotFound"},
		{"ListObjectsV2 missing bucket", func() error {
			_, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nobucket")})
			return err
		}, "NoSuchBucket"},
		{"DeleteBucket not empty", func() error {
			_, err := cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("full")})
			return err
		}, "BucketNotEmpty"},
		{"wrong secret", func() error {
			_, err := sdkClient(t, c, func(o *s3.Options) {
				o.Credentials = aws.NewCredentialsCache(staticCreds{clustertest.AccessKey, "wrong"})
			}).ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		}, "SignatureDoesNotMatch"},
		{"unknown access key", func() error {
			_, err := sdkClient(t, c, func(o *s3.Options) {
				o.Credentials = aws.NewCredentialsCache(staticCreds{"AKIDNOBODY", clustertest.SecretKey})
			}).ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		}, "InvalidAccessKeyId"},
	}
	t.Run("sdk", func(t *testing.T) {
		for _, tc := range sdkTests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				if err := tc.call(); errorCode(err) != tc.code {
					t.Errorf("%s = %v (code %q); want %s", tc.name, err, errorCode(err), tc.code)
				}
			})
		}
	})

	// Every object this test stores is inline, so any stored shard is one
	// a failed PUT of a sharded object left behind. (The bytes such a PUT
	// wrote stay in a segment, unnamed, until compaction.)
	eventually(t, 10*time.Second, func() string {
		if s := storedShards(t, c); len(s) > 0 {
			return fmt.Sprintf("%d shards left by failed PUTs: %+v", len(s), s)
		}
		return ""
	})
}

type staticCreds struct{ access, secret string }

func (s staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: s.access, SecretAccessKey: s.secret, Source: "e2e"}, nil
}

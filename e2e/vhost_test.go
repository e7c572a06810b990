package e2e

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"

	"cairn/internal/clustertest"
)

// hostRecorder remembers the Host of every request.
type hostRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Host)
	h.mu.Unlock()
	return h.base.RoundTrip(r)
}

// vhostTransport dials the gateway whatever the host name, so that
// "<bucket>.localhost" reaches it without a resolver that knows the name.
func vhostTransport(t *testing.T, c *clustertest.Cluster) (*hostRecorder, http.RoundTripper) {
	addr := strings.TrimPrefix(c.Endpoint, "http://")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	rec := &hostRecorder{base: tr}
	return rec, newRequestIDCheck(t, rec)
}

// TestVirtualHost addresses buckets by host name, "<bucket>.localhost",
// with both clients, for bucket and object calls.
func TestVirtualHost(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	_, port, _ := strings.Cut(strings.TrimPrefix(c.Endpoint, "http://"), ":")
	ctx := context.Background()

	t.Run("sdk", func(t *testing.T) {
		t.Parallel()
		rec, rt := vhostTransport(t, c)
		cl := sdkClientWith("http://localhost:"+port, clustertest.AccessKey, clustertest.SecretKey, withHTTP(rt),
			func(o *s3.Options) { o.UsePathStyle = false })
		const bucket = "vhost-sdk"
		mustCreateBucket(t, cl, bucket)
		data := randomBytes(11, 1<<20+1)
		put(t, cl, bucket, "dir/obj", data)
		put(t, cl, bucket, "small", []byte("small"))
		got, _ := get(t, cl, bucket, "dir/obj", nil)
		sameBytes(t, "GET virtual-host style", got, data)
		got, _ = get(t, cl, bucket, "dir/obj", aws.String("bytes=1048570-1048576"))
		sameBytes(t, "GET Range virtual-host style", got, data[1048570:])
		if _, err := cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Errorf("HeadBucket: %v", err)
		}
		out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Delimiter: aws.String("/")})
		if err != nil {
			t.Fatalf("ListObjectsV2: %v", err)
		}
		if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "small" ||
			len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "dir/" {
			t.Errorf("ListObjectsV2 virtual-host style: %d keys, %d prefixes; want [small] and [dir/]", len(out.Contents), len(out.CommonPrefixes))
		}
		loc, err := cl.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Errorf("GetBucketLocation: %v", err)
		} else if loc.LocationConstraint != "" {
			t.Errorf("GetBucketLocation: %q; want \"\" (us-east-1)", loc.LocationConstraint)
		}
		if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("small")}); err != nil {
			t.Errorf("DeleteObject: %v", err)
		}
		_, err = cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("small")})
		if code := errorCode(err); code != "NotFound" {
			t.Errorf("HeadObject after delete = %v; want NotFound", err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, h := range rec.hosts {
			if h != bucket+".localhost:"+port {
				t.Errorf("request sent to host %q; want %s.localhost:%s", h, bucket, port)
			}
		}
	})

	t.Run("minio", func(t *testing.T) {
		t.Parallel()
		rec, rt := vhostTransport(t, c)
		mc := minioClientWith(t, "localhost:"+port, rt, func(o *minio.Options) { o.BucketLookup = minio.BucketLookupDNS })
		const bucket = "vhost-minio"
		if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatalf("MakeBucket: %v", err)
		}
		obj := newObject("a/b", 300<<10, "minio-vhost")
		since := time.Now()
		if _, err := mc.PutObject(ctx, bucket, obj.key, strings.NewReader(string(obj.data)), int64(len(obj.data)),
			minio.PutObjectOptions{ContentType: obj.contentType, UserMetadata: obj.meta}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		checkMinio(t, mc, bucket, obj, since)
		var keys []string
		for o := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				t.Fatalf("ListObjects: %v", o.Err)
			}
			keys = append(keys, o.Key)
		}
		if len(keys) != 1 || keys[0] != obj.key {
			t.Errorf("ListObjects virtual-host style: %q; want [%q]", keys, obj.key)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		vhost := 0
		for _, h := range rec.hosts {
			if h == bucket+".localhost:"+port {
				vhost++
			} else if h != "localhost:"+port { // minio-go asks for the bucket's region at the root
				t.Errorf("request sent to host %q", h)
			}
		}
		if vhost < 3 {
			t.Errorf("%d of %d requests were virtual-host style; want PUT, GET, HEAD and LIST", vhost, len(rec.hosts))
		}
	})

	t.Run("path and host agree", func(t *testing.T) {
		t.Parallel()
		// One object, written path style and read virtual-host style.
		cl := sdkClient(t, c)
		mustCreateBucket(t, cl, "both")
		put(t, cl, "both", "k", []byte("hello"))
		resp, body := rawRequest{method: "GET", path: "/k", host: "both.localhost:" + port}.do(t, c.Endpoint)
		if resp.StatusCode != http.StatusOK || string(body) != "hello" {
			t.Errorf("GET http://both.localhost:%s/k = %d %q; want 200 \"hello\"", port, resp.StatusCode, body)
		}
		resp, body = rawRequest{method: "GET", path: "/k", host: "nobucket.localhost:" + port}.do(t, c.Endpoint)
		wantError(t, "GET from a missing bucket by host", resp, body, http.StatusNotFound, "NoSuchBucket")
	})
}

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"

	"cairn/internal/clustertest"
)

// TestRanges reads parts of objects with Range: first-last, open-ended and
// suffix forms, inside one block, across 1 MiB block boundaries and on
// inline objects, checking the 206 status, Content-Range and the bytes.
func TestRanges(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	const bucket = "ranges"
	mustCreateBucket(t, cl, bucket)
	const mib = 1 << 20
	big := randomBytes(5, 5*mib+123) // six blocks, the last one short
	small := randomBytes(6, 100<<10) // inline
	put(t, cl, bucket, "big", big)
	put(t, cl, bucket, "small", small)

	tests := []struct {
		key        string
		rng        string
		start, end int64 // inclusive, as Content-Range says
	}{
		{"big", "bytes=0-0", 0, 0},
		{"big", "bytes=0-99", 0, 99},
		{"big", "bytes=1000-1999", 1000, 1999},
		{"big", fmt.Sprintf("bytes=%d-%d", mib-1, mib), mib - 1, mib},                       // the first block boundary
		{"big", fmt.Sprintf("bytes=%d-%d", mib-10, 3*mib+10), mib - 10, 3*mib + 10},         // three boundaries
		{"big", fmt.Sprintf("bytes=%d-%d", 2*mib, 3*mib-1), 2 * mib, 3*mib - 1},             // exactly one block
		{"big", fmt.Sprintf("bytes=%d-%d", 4*mib+7, 5*mib+122), 4*mib + 7, 5*mib + 122},     // into the short block
		{"big", fmt.Sprintf("bytes=%d-", 3*mib-5), 3*mib - 5, 5*mib + 122},                  // open-ended
		{"big", "bytes=-200", 5*mib + 123 - 200, 5*mib + 122},                               // suffix in the last block
		{"big", fmt.Sprintf("bytes=-%d", mib+200), 4*mib - 77, 5*mib + 122},                 // suffix across a boundary
		{"big", fmt.Sprintf("bytes=%d-%d", 5*mib, 9*mib), 5 * mib, 5*mib + 122},             // end past the size is clamped
		{"big", fmt.Sprintf("bytes=-%d", 10*mib), 0, 5*mib + 122},                           // suffix longer than the object
		{"big", fmt.Sprintf("bytes=%d-%d", 5*mib+122, 5*mib+122), 5*mib + 122, 5*mib + 122}, // the last byte
		{"small", "bytes=0-0", 0, 0},
		{"small", "bytes=50000-60000", 50000, 60000},
		{"small", "bytes=-1", 100<<10 - 1, 100<<10 - 1},
		{"small", "bytes=100000-", 100000, 100<<10 - 1},
	}
	for _, tc := range tests {
		t.Run(tc.key+"/"+tc.rng, func(t *testing.T) {
			t.Parallel()
			data := big
			if tc.key == "small" {
				data = small
			}
			got, out := get(t, cl, bucket, tc.key, aws.String(tc.rng))
			sameBytes(t, "GET Range: "+tc.rng, got, data[tc.start:tc.end+1])
			wantCR := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, len(data))
			if cr := aws.ToString(out.ContentRange); cr != wantCR {
				t.Errorf("GET Range: %s: Content-Range %q; want %q", tc.rng, cr, wantCR)
			}
			if n := aws.ToInt64(out.ContentLength); n != tc.end-tc.start+1 {
				t.Errorf("GET Range: %s: Content-Length %d; want %d", tc.rng, n, tc.end-tc.start+1)
			}
			// The SDK hides the status; a raw request shows it.
			resp, body := rawRequest{method: http.MethodGet, path: "/" + bucket + "/" + tc.key,
				header: http.Header{"Range": {tc.rng}}}.do(t, c.Endpoint)
			if resp.StatusCode != http.StatusPartialContent {
				t.Errorf("raw GET Range: %s: status %d; want 206", tc.rng, resp.StatusCode)
			}
			if cr := resp.Header.Get("Content-Range"); cr != wantCR {
				t.Errorf("raw GET Range: %s: Content-Range %q; want %q", tc.rng, cr, wantCR)
			}
			sameBytes(t, "raw GET Range: "+tc.rng, body, data[tc.start:tc.end+1])
		})
	}

	t.Run("minio", func(t *testing.T) {
		t.Parallel()
		mc := minioClient(t, c)
		opts := minio.GetObjectOptions{}
		if err := opts.SetRange(mib-3, 2*mib+3); err != nil {
			t.Fatal(err)
		}
		r, err := mc.GetObject(context.Background(), bucket, "big", opts)
		if err != nil {
			t.Fatalf("minio GetObject: %v", err)
		}
		defer r.Close()
		got := make([]byte, mib+7+1)
		n, err := r.Read(got)
		for err == nil && n < len(got) {
			var m int
			m, err = r.Read(got[n:])
			n += m
		}
		sameBytes(t, "minio range", got[:n], big[mib-3:2*mib+4])
	})

	// Ranges S3 ignores: the whole object comes with 200.
	ignored := []string{"bytes=5-2", "bytes=0-1,5-6", "items=0-5", "bytes=abc", "bytes=+1-2"}
	for _, rng := range ignored {
		t.Run("ignored/"+rng, func(t *testing.T) {
			t.Parallel()
			resp, body := rawRequest{method: http.MethodGet, path: "/" + bucket + "/small",
				header: http.Header{"Range": {rng}}}.do(t, c.Endpoint)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Range") != "" {
				t.Errorf("GET Range: %s: status %d, Content-Range %q; want 200 without", rng, resp.StatusCode, resp.Header.Get("Content-Range"))
			}
			sameBytes(t, "GET Range: "+rng, body, small)
		})
	}

	put(t, cl, bucket, "empty", nil)
	unsatisfiable := []struct{ key, rng string }{
		{"big", fmt.Sprintf("bytes=%d-", 5*mib+123)},
		{"big", fmt.Sprintf("bytes=%d-%d", 6*mib, 7*mib)},
		{"big", "bytes=-0"},
		{"small", "bytes=200000-300000"},
		{"empty", "bytes=0-0"},
		{"empty", "bytes=-1"},
	}
	for _, tc := range unsatisfiable {
		t.Run("unsatisfiable/"+tc.key+"/"+tc.rng, func(t *testing.T) {
			t.Parallel()
			_, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(tc.key), Range: aws.String(tc.rng)})
			if code := errorCode(err); code != "InvalidRange" {
				t.Errorf("GetObject(Range: %s) = %v (code %q); want InvalidRange", tc.rng, err, code)
			}
			resp, body := rawRequest{method: http.MethodGet, path: "/" + bucket + "/" + tc.key,
				header: http.Header{"Range": {tc.rng}}}.do(t, c.Endpoint)
			wantError(t, "GET Range: "+tc.rng, resp, body, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
		})
	}
}

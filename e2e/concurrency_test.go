package e2e

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
)

// TestConcurrentOverwrite has writers replace one key with bodies of
// different sizes while readers GET it: every GET must succeed and return
// one whole body, with the ETag and length of that body, never a mix of
// versions.
func TestConcurrentOverwrite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		writers, rewrite int
	}{
		{name: "one writer", writers: 1, rewrite: 12},
		{name: "six writers", writers: 6, rewrite: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			concurrentOverwrite(t, tc.writers, tc.rewrite)
		})
	}
}

func concurrentOverwrite(t *testing.T, writers, rewrite int) {
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	const bucket, key = "hot", "key"
	mustCreateBucket(t, cl, bucket)
	sizes := []int{1, 100 << 10, 1<<20 + 3, 2<<20 + 7, 3 << 20}
	bodies := make(map[string][]byte) // by MD5
	var all [][]byte
	for i, n := range sizes {
		b := randomBytes(uint64(500+i), n)
		bodies[md5Hex(b)] = b
		all = append(all, b)
	}
	put(t, cl, bucket, key, all[0])

	var writersWG, readers sync.WaitGroup
	var done atomic.Bool
	var reads atomic.Int64
	for w := range writers {
		writersWG.Go(func() {
			for i := range rewrite {
				put(t, cl, bucket, key, all[(w+i)%len(all)])
			}
		})
	}
	for range 4 {
		readers.Go(func() {
			for !done.Load() {
				out, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				if err != nil {
					t.Errorf("GET during overwrites: %v", err)
					return
				}
				got, err := io.ReadAll(out.Body)
				out.Body.Close()
				if err != nil {
					t.Errorf("GET body during overwrites: %v", err)
					return
				}
				reads.Add(1)
				etag := aws.ToString(out.ETag)
				want, ok := bodies[md5Hex(got)]
				switch {
				case !ok:
					t.Errorf("GET during overwrites returned %d bytes that are none of the bodies (ETag %s)", len(got), etag)
				case etag != `"`+md5Hex(want)+`"`:
					t.Errorf("GET during overwrites: ETag %s for a body with MD5 %s", etag, md5Hex(want))
				case aws.ToInt64(out.ContentLength) != int64(len(want)):
					t.Errorf("GET during overwrites: Content-Length %d for a %d-byte body", aws.ToInt64(out.ContentLength), len(want))
				}
			}
		})
	}
	writersWG.Wait()
	done.Store(true)
	readers.Wait()
	if reads.Load() == 0 {
		t.Errorf("no GET completed during the overwrites")
	}
	got, _ := get(t, cl, bucket, key, nil)
	if _, ok := bodies[md5Hex(got)]; !ok {
		t.Errorf("final GET: %d bytes that are none of the bodies", len(got))
	}
	out, err := cl.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].ETag) != `"`+md5Hex(got)+`"` || aws.ToInt64(out.Contents[0].Size) != int64(len(got)) {
		t.Errorf("listing after overwrites: %+v; want one entry with the final body's ETag and size", out.Contents)
	}
}

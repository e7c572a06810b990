package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/internal/clustertest"
)

// sdkClient returns an aws-sdk-go-v2 S3 client for the cluster, path style.
func sdkClient(t testing.TB, c *clustertest.Cluster, opts ...func(*s3.Options)) *s3.Client {
	t.Helper()
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

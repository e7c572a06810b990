package s3api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestSDKPutObject sends PutObject with the real aws-sdk-go-v2 S3 client,
// over TLS (where it streams STREAMING-UNSIGNED-PAYLOAD-TRAILER with a
// checksum trailer) and over plain HTTP (where it signs the payload hash).
func TestSDKPutObject(t *testing.T) {
	v := &Verifier{Creds: StaticCredentials{"AK": "SK"}}
	type result struct {
		mode PayloadMode
		body []byte
		sums map[string]string
		err  error
	}
	results := make(chan result, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := v.Verify(r)
		if err != nil {
			WriteError(w, r, AsError(err), "T")
			results <- result{err: err}
			return
		}
		p, err := a.BodyReader(r)
		if err != nil {
			WriteError(w, r, AsError(err), "T")
			results <- result{err: err}
			return
		}
		body, err := io.ReadAll(p)
		if err != nil {
			WriteError(w, r, AsError(err), "T")
			results <- result{err: err}
			return
		}
		w.Header().Set("ETag", QuoteETag("x"))
		results <- result{mode: a.PayloadMode, body: body, sums: p.Checksums()}
	})
	for _, tc := range []struct {
		name string
		srv  *httptest.Server
	}{{"tls", httptest.NewTLSServer(handler)}, {"http", httptest.NewServer(handler)}} {
		defer tc.srv.Close()
		client := s3.New(s3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(tc.srv.URL),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider("AK", "SK", ""),
			HTTPClient:   tc.srv.Client(),
			Retryer:      aws.NopRetryer{},
		})
		algos := []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
			types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256}
		for i, key := range roundTripKeys {
			data := testData(100_000 + len(key))
			algo := algos[i%len(algos)]
			_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String("bucket"), Key: aws.String(key), Body: bytes.NewReader(data),
				ChecksumAlgorithm: algo,
			})
			res := <-results
			if err != nil || res.err != nil {
				t.Errorf("%s: PutObject(%q) = %v; server: %v", tc.name, key, err, res.err)
				continue
			}
			if !bytes.Equal(res.body, data) {
				t.Errorf("%s: PutObject(%q) stored %d bytes; want %d", tc.name, key, len(res.body), len(data))
			}
			if algo != "" && res.sums[string(algo)] != checksumOf(ChecksumAlgorithm(algo), data) {
				t.Errorf("%s: PutObject(%q, %s) verified checksums %v; want %s", tc.name, key, algo, res.sums, checksumOf(ChecksumAlgorithm(algo), data))
			}
			t.Logf("%s: %s mode %v, checksums %v", tc.name, algo, res.mode, res.sums)
		}
	}
}

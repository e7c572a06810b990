package benchmarks

import (
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ClientOptions describe the S3 endpoint and how to talk to it.
type ClientOptions struct {
	Endpoint  string // base URL, e.g. http://127.0.0.1:9000
	Region    string // default us-east-1
	AccessKey string
	SecretKey string
	// Concurrency sizes the connection pool so that every worker keeps its
	// connection alive between requests.
	Concurrency int
	// UnsignedPayload sends UNSIGNED-PAYLOAD instead of the body's SHA-256.
	// Over plain http the SDK signs payloads by default, which costs the
	// client one SHA-256 pass per body (and the server one to check it).
	UnsignedPayload bool
}

// NewClient returns an S3 client tuned for load generation and for fair
// comparison between servers: path-style addressing, a connection pool as
// large as the concurrency, no retries (a failure counts as a failure), no
// client-side rate limiting, and no optional request or response
// checksums (the runner verifies bodies itself).
func NewClient(o ClientOptions) *s3.Client {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	conns := max(o.Concurrency, 1)*2 + 8
	tr := &http.Transport{
		Proxy:                 nil, // never an environment proxy: we measure the server
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}
	opts := s3.Options{
		Region:                     o.Region,
		BaseEndpoint:               aws.String(o.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, ""),
		HTTPClient:                 &http.Client{Transport: tr},
		RetryMaxAttempts:           1,
		Retryer:                    aws.NopRetryer{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if o.UnsignedPayload {
		opts.APIOptions = append(opts.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
	return s3.New(opts)
}

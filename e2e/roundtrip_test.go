package e2e

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/crc64nvme"
	"github.com/minio/minio-go/v7"

	"cairn/internal/clustertest"
)

// object is what a round trip must keep: the bytes and the headers S3
// stores with them.
type object struct {
	key         string
	data        []byte
	contentType string
	meta        map[string]string // as sent; S3 returns the names lower-case
}

// roundTripSizes straddle the inline threshold (128 KiB) and the 1 MiB
// block size, and end with an object of many blocks.
var roundTripSizes = []int{0, 1, 128 << 10, 1<<20 - 1, 1 << 20, 1<<20 + 1, 37 << 20}

// modeSizes are enough to cover each payload mode on inline, one-block
// and multi-block objects without sending 37 MiB through every mode.
var modeSizes = []int{0, 1, 128 << 10, 1<<20 + 1, 3<<20 + 7}

func newObject(key string, size int, mode string) object {
	return object{
		key:         key,
		data:        randomBytes(uint64(size)*31+uint64(len(key)), size),
		contentType: "application/x-cairn-" + strings.ToLower(strings.ReplaceAll(mode, "/", "-")),
		meta:        map[string]string{"Color": "blue", "Client-Mode": mode},
	}
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// checkSDK reads obj back with GET and HEAD through an aws-sdk-go-v2
// client and checks every stored attribute.
func checkSDK(t *testing.T, cl *s3.Client, bucket string, obj object, since time.Time) {
	t.Helper()
	ctx := context.Background()
	got, out := get(t, cl, bucket, obj.key, nil)
	sameBytes(t, "GET "+obj.key, got, obj.data)
	if id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata); id == "" {
		t.Errorf("GET %s: no request ID in the SDK's response metadata", obj.key)
	}
	head, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj.key)})
	if err != nil {
		t.Fatalf("HeadObject(%s): %v", obj.key, err)
	}
	for _, h := range []struct {
		op                        string
		size                      *int64
		etag, ctype, acceptRanges *string
		lastModified              *time.Time
		meta                      map[string]string
	}{
		{"GET", out.ContentLength, out.ETag, out.ContentType, out.AcceptRanges, out.LastModified, out.Metadata},
		{"HEAD", head.ContentLength, head.ETag, head.ContentType, head.AcceptRanges, head.LastModified, head.Metadata},
	} {
		if n := aws.ToInt64(h.size); n != int64(len(obj.data)) {
			t.Errorf("%s %s: Content-Length %d; want %d", h.op, obj.key, n, len(obj.data))
		}
		if e, want := aws.ToString(h.etag), `"`+md5Hex(obj.data)+`"`; e != want {
			t.Errorf("%s %s: ETag %s; want %s", h.op, obj.key, e, want)
		}
		if ct := aws.ToString(h.ctype); ct != obj.contentType {
			t.Errorf("%s %s: Content-Type %q; want %q", h.op, obj.key, ct, obj.contentType)
		}
		if ar := aws.ToString(h.acceptRanges); ar != "bytes" {
			t.Errorf("%s %s: Accept-Ranges %q; want bytes", h.op, obj.key, ar)
		}
		checkLastModified(t, h.op+" "+obj.key, aws.ToTime(h.lastModified), since)
		if want := lowerKeys(obj.meta); !maps.Equal(lowerKeys(h.meta), want) {
			t.Errorf("%s %s: metadata %v; want %v", h.op, obj.key, h.meta, want)
		}
	}
}

// checkMinio is checkSDK through minio-go. ObjectInfo leaves out
// Accept-Ranges and x-amz-request-id; checkSDK and the client's
// requestIDCheck cover those.
func checkMinio(t *testing.T, mc *minio.Client, bucket string, obj object, since time.Time) {
	t.Helper()
	ctx := context.Background()
	r, err := mc.GetObject(ctx, bucket, obj.key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("minio GetObject(%s): %v", obj.key, err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatalf("minio GetObject(%s) body: %v", obj.key, err)
	}
	sameBytes(t, "minio GET "+obj.key, got, obj.data)
	info, err := mc.StatObject(ctx, bucket, obj.key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("minio StatObject(%s): %v", obj.key, err)
	}
	if info.Size != int64(len(obj.data)) {
		t.Errorf("minio HEAD %s: size %d; want %d", obj.key, info.Size, len(obj.data))
	}
	if want := md5Hex(obj.data); info.ETag != want {
		t.Errorf("minio HEAD %s: ETag %s; want %s", obj.key, info.ETag, want)
	}
	if info.ContentType != obj.contentType {
		t.Errorf("minio HEAD %s: Content-Type %q; want %q", obj.key, info.ContentType, obj.contentType)
	}
	checkLastModified(t, "minio HEAD "+obj.key, info.LastModified, since)
	if got, want := lowerKeys(info.UserMetadata), lowerKeys(obj.meta); !maps.Equal(got, want) {
		t.Errorf("minio HEAD %s: metadata %v; want %v", obj.key, info.UserMetadata, want)
	}
}

// checkLastModified wants a time between the PUT's start (Last-Modified
// has whole seconds) and now.
func checkLastModified(t *testing.T, what string, lm, since time.Time) {
	t.Helper()
	if lm.Before(since.Truncate(time.Second)) || lm.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: Last-Modified %v; want between %v and now", what, lm, since)
	}
}

// checksumOf is the base64 x-amz-checksum-<algo> value of b.
func checksumOf(algo string, b []byte) string {
	var h hash.Hash
	switch strings.ToUpper(algo) {
	case "CRC32":
		h = crc32.NewIEEE()
	case "CRC32C":
		h = crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "CRC64NVME":
		h = crc64nvme.New()
	case "SHA1":
		h = sha1.New()
	case "SHA256":
		h = sha256.New()
	default:
		panic("unknown checksum " + algo)
	}
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// sdkTLS serves the cluster's gateway over TLS too: there, and only there,
// aws-sdk-go-v2 sends STREAMING-UNSIGNED-PAYLOAD-TRAILER bodies with a
// checksum trailer. The same gateway handler answers, on the same nodes.
func sdkTLS(t *testing.T, c *clustertest.Cluster, opts ...func(*s3.Options)) (*s3.Client, *requestIDCheck) {
	srv := httptest.NewTLSServer(c.Gateway)
	t.Cleanup(srv.Close)
	rc := newRequestIDCheck(t, srv.Client().Transport)
	opts = append([]func(*s3.Options){withHTTP(rc)}, opts...)
	return sdkClientWith(srv.URL, clustertest.AccessKey, clustertest.SecretKey, opts...), rc
}

// clientMode is one client in one payload mode: how it PUTs, how the
// object is read back, and which x-amz-content-sha256 the PUT must carry.
type clientMode struct {
	name  string
	sizes []int
	// wantMode is the x-amz-content-sha256 expected on PUTs of non-empty
	// bodies (clients choose differently for empty ones).
	wantMode string
	rc       *requestIDCheck
	// put stores obj and returns the ETag and checksum headers answered.
	put   func(t *testing.T, obj object) (etag string, sums map[string]string)
	check func(t *testing.T, obj object, since time.Time)
	// algo is the checksum the PUT sends, if any.
	algo string
}

func sdkMode(name, want string, sizes []int, cl *s3.Client, rc *requestIDCheck, bucket string, algo types.ChecksumAlgorithm) clientMode {
	return clientMode{
		name: name, sizes: sizes, wantMode: want, rc: rc, algo: string(algo),
		put: func(t *testing.T, obj object) (string, map[string]string) {
			t.Helper()
			out, err := cl.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(obj.key), Body: bytes.NewReader(obj.data),
				ContentType: aws.String(obj.contentType), Metadata: obj.meta, ChecksumAlgorithm: algo,
			})
			if err != nil {
				t.Fatalf("%s: PutObject(%s, %d bytes): %v", name, obj.key, len(obj.data), err)
			}
			sums := map[string]string{"CRC32": aws.ToString(out.ChecksumCRC32), "CRC32C": aws.ToString(out.ChecksumCRC32C),
				"CRC64NVME": aws.ToString(out.ChecksumCRC64NVME), "SHA1": aws.ToString(out.ChecksumSHA1), "SHA256": aws.ToString(out.ChecksumSHA256)}
			return strings.Trim(aws.ToString(out.ETag), `"`), sums
		},
		check: func(t *testing.T, obj object, since time.Time) { checkSDK(t, cl, bucket, obj, since) },
	}
}

func minioMode(name, want string, sizes []int, mc *minio.Client, rc *requestIDCheck, bucket string, opts minio.PutObjectOptions) clientMode {
	algo := ""
	if opts.Checksum.IsSet() {
		algo = opts.Checksum.String()
	}
	return clientMode{
		name: name, sizes: sizes, wantMode: want, rc: rc, algo: algo,
		put: func(t *testing.T, obj object) (string, map[string]string) {
			t.Helper()
			o := opts
			o.ContentType = obj.contentType
			o.UserMetadata = maps.Clone(obj.meta)
			// Multipart upload is later work; one PUT carries any size.
			o.DisableMultipart = true
			info, err := mc.PutObject(context.Background(), bucket, obj.key, bytes.NewReader(obj.data), int64(len(obj.data)), o)
			if err != nil {
				t.Fatalf("%s: PutObject(%s, %d bytes): %v", name, obj.key, len(obj.data), err)
			}
			sums := map[string]string{"CRC32": info.ChecksumCRC32, "CRC32C": info.ChecksumCRC32C,
				"CRC64NVME": info.ChecksumCRC64NVME, "SHA1": info.ChecksumSHA1, "SHA256": info.ChecksumSHA256}
			return info.ETag, sums
		},
		check: func(t *testing.T, obj object, since time.Time) { checkMinio(t, mc, bucket, obj, since) },
	}
}

// runModes PUTs every size through every mode and reads each object back.
func runModes(t *testing.T, modes []clientMode) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range m.sizes {
				obj := newObject(fmt.Sprintf("%s/%d", m.name, size), size, m.name)
				since := time.Now()
				etag, sums := m.put(t, obj)
				if want := md5Hex(obj.data); etag != want {
					t.Errorf("PUT %s: ETag %s; want %s", obj.key, etag, want)
				}
				if got := modeOf(m.rc.lastMode()); size > 0 && got != m.wantMode {
					t.Errorf("PUT %s sent x-amz-content-sha256 %q; want %q", obj.key, got, m.wantMode)
				}
				if m.algo != "" && size > 0 {
					if got, want := sums[strings.ToUpper(m.algo)], checksumOf(m.algo, obj.data); got != want {
						t.Errorf("PUT %s: x-amz-checksum-%s %q; want %q", obj.key, strings.ToLower(m.algo), got, want)
					}
				}
				m.check(t, obj, since)
			}
		})
	}
}

// TestRoundTripSizes stores objects around every size boundary, up to
// 37 MiB, with both S3 clients in their default payload modes and reads
// them back with GET and HEAD.
func TestRoundTripSizes(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	rc := newRequestIDCheck(t, nil)
	cl := sdkClient(t, c, withHTTP(rc))
	mustCreateBucket(t, cl, "sizes")
	mrc := newRequestIDCheck(t, nil)
	mc := minioClientWith(t, c.Endpoint, mrc, nil)
	runModes(t, []clientMode{
		// Over plain HTTP the SDK signs the payload's SHA-256.
		sdkMode("sdk", modeSignedHash, roundTripSizes, cl, rc, "sizes", ""),
		// minio-go signs every chunk (aws-chunked) over plain HTTP.
		minioMode("minio", modeStreaming, roundTripSizes, mc, mrc, "sizes", minio.PutObjectOptions{}),
	})
}

// TestPayloadModes covers every way a client may authenticate a PUT body:
// a signed SHA-256, UNSIGNED-PAYLOAD, aws-chunked with chunk signatures,
// and aws-chunked with a checksum trailer, signed and unsigned, with each
// checksum algorithm.
func TestPayloadModes(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	const bucket = "modes"
	mustCreateBucket(t, sdkClient(t, c), bucket)

	var modes []clientMode
	{
		rc := newRequestIDCheck(t, nil)
		cl := sdkClient(t, c, withHTTP(rc), s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
		modes = append(modes, sdkMode("sdk-unsigned", modeUnsigned, modeSizes, cl, rc, bucket, ""))
	}
	{
		rc := newRequestIDCheck(t, nil)
		cl := sdkClient(t, c, withHTTP(rc), func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported })
		modes = append(modes, sdkMode("sdk-signed-crc32-header", modeSignedHash, modeSizes, cl, rc, bucket, types.ChecksumAlgorithmCrc32))
	}
	for _, algo := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
		types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		cl, rc := sdkTLS(t, c, func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported })
		modes = append(modes, sdkMode("sdk-tls-trailer-"+strings.ToLower(string(algo)), modeUnsignedTrailer, modeSizes, cl, rc, bucket, algo))
	}
	{
		rc := newRequestIDCheck(t, nil)
		mc := minioClientWith(t, c.Endpoint, rc, nil)
		modes = append(modes,
			minioMode("minio-unsigned", modeUnsigned, modeSizes, mc, rc, bucket, minio.PutObjectOptions{DisableContentSha256: true}),
		)
	}
	{
		rc := newRequestIDCheck(t, nil)
		mc := minioClientWith(t, c.Endpoint, rc, nil)
		modes = append(modes,
			minioMode("minio-content-md5", modeStreaming, modeSizes, mc, rc, bucket, minio.PutObjectOptions{SendContentMd5: true}),
		)
	}
	for _, algo := range []minio.ChecksumType{minio.ChecksumCRC32, minio.ChecksumCRC32C, minio.ChecksumCRC64NVME, minio.ChecksumSHA1, minio.ChecksumSHA256} {
		name := strings.ToLower(algo.String())
		rc := newRequestIDCheck(t, nil)
		mc := minioClientWith(t, c.Endpoint, rc, func(o *minio.Options) { o.TrailingHeaders = true })
		modes = append(modes,
			minioMode("minio-unsigned-trailer-"+name, modeUnsignedTrailer, modeSizes, mc, rc, bucket,
				minio.PutObjectOptions{DisableContentSha256: true, Checksum: algo}),
		)
		rc2 := newRequestIDCheck(t, nil)
		mc2 := minioClientWith(t, c.Endpoint, rc2, func(o *minio.Options) { o.TrailingHeaders = true })
		modes = append(modes,
			minioMode("minio-signed-trailer-"+name, modeStreamingTrailer, modeSizes, mc2, rc2, bucket,
				minio.PutObjectOptions{Checksum: algo}),
		)
	}
	runModes(t, modes)
}

// corruptingTransport flips one byte of each request body at offset at,
// as a bad NIC or proxy would, after the client has computed its checksums.
type corruptingTransport struct {
	base http.RoundTripper
	at   int64
}

func (ct corruptingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.Body != nil && r.ContentLength > ct.at {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body[ct.at] ^= 0x20
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return ct.base.RoundTrip(r)
}

// TestTrailerChecksumMismatch sends aws-chunked bodies whose checksum
// trailer does not match the data: each must fail with BadDigest and
// leave the key as it was.
func TestTrailerChecksumMismatch(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	const bucket = "trailers"
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, bucket)

	algos := []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
		types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256}
	t.Run("put", func(t *testing.T) { trailerMismatches(t, c, cl, bucket, algos) })
	// No shard of the failed PUTs is stored: only the shards of the
	// objects that were accepted (the 1 MiB+1 raw ones, 6 shards each).
	want := 6 * len(algos)
	eventually(t, 10*time.Second, func() string {
		if n := len(storedShards(t, c)); n != want {
			return fmt.Sprintf("%d stored shards; want %d", n, want)
		}
		return ""
	})
}

func trailerMismatches(t *testing.T, c *clustertest.Cluster, cl *s3.Client, bucket string, algos []types.ChecksumAlgorithm) {
	for _, size := range []int{1000, 1<<20 + 1} {
		for _, algo := range algos {
			name := fmt.Sprintf("%s/%d", strings.ToLower(string(algo)), size)
			t.Run("sdk-corrupted-body/"+name, func(t *testing.T) {
				t.Parallel()
				// Offset 200 is inside the first chunk's data: the chunk
				// header is a hex size and CRLF.
				srv := httptest.NewTLSServer(c.Gateway)
				defer srv.Close()
				bad := sdkClientWith(srv.URL, clustertest.AccessKey, clustertest.SecretKey,
					withHTTP(corruptingTransport{base: newRequestIDCheck(t, srv.Client().Transport), at: 200}))
				key := "corrupt/" + name
				old := randomBytes(7, 100)
				put(t, cl, bucket, key, old)
				_, err := bad.PutObject(context.Background(), &s3.PutObjectInput{
					Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(randomBytes(uint64(size), size)),
					ChecksumAlgorithm: algo,
				})
				if code := errorCode(err); code != "BadDigest" {
					t.Fatalf("PutObject with a corrupted body = %v (code %q); want BadDigest", err, code)
				}
				got, _ := get(t, cl, bucket, key, nil)
				sameBytes(t, "the version before the failed PUT", got, old)
			})
			t.Run("raw-wrong-trailer/"+name, func(t *testing.T) {
				t.Parallel()
				key := "raw/" + name
				data := randomBytes(uint64(size)+1, size)
				wrong := checksumOf(string(algo), append([]byte{1}, data...))
				resp, body := unsignedTrailerPut(t, c.Endpoint, "/"+bucket+"/"+key, data, string(algo), wrong)
				wantError(t, "PUT with a wrong trailer", resp, body, http.StatusBadRequest, "BadDigest")
				_, err := cl.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				if code := errorCode(err); code != "NotFound" {
					t.Errorf("HEAD after a failed PUT = %v (code %q); want NotFound", err, code)
				}
				// The same body with the right trailer is accepted, so the
				// failure above was the checksum's.
				resp, body = unsignedTrailerPut(t, c.Endpoint, "/"+bucket+"/"+key, data, string(algo), checksumOf(string(algo), data))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("PUT with the right trailer: %d %s", resp.StatusCode, body)
				}
				got, _ := get(t, cl, bucket, key, nil)
				sameBytes(t, "GET after the right trailer", got, data)
			})
		}
	}
}

// unsignedTrailerPut sends data as a STREAMING-UNSIGNED-PAYLOAD-TRAILER
// body, in 64 KiB chunks, ending with the trailer x-amz-checksum-<algo>.
func unsignedTrailerPut(t *testing.T, endpoint, path string, data []byte, algo, sum string) (*http.Response, []byte) {
	t.Helper()
	name := "x-amz-checksum-" + strings.ToLower(algo)
	var body bytes.Buffer
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 64<<10)
		fmt.Fprintf(&body, "%x\r\n", n)
		body.Write(rest[:n])
		body.WriteString("\r\n")
		rest = rest[n:]
	}
	fmt.Fprintf(&body, "0\r\n%s:%s\r\n\r\n", name, sum)
	return rawRequest{
		method: http.MethodPut, path: path, body: body.Bytes(), payloadHash: modeUnsignedTrailer,
		header: http.Header{
			"Content-Encoding":             {"aws-chunked"},
			"X-Amz-Decoded-Content-Length": {fmt.Sprint(len(data))},
			"X-Amz-Trailer":                {name},
		},
	}.do(t, endpoint)
}

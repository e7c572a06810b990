package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	stdsha256 "crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// checksumOf computes an S3 checksum with implementations independent of
// the ones under test where the standard library has them.
func checksumOf(algo ChecksumAlgorithm, data []byte) string {
	var sum []byte
	switch algo {
	case ChecksumCRC32:
		sum = binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	case ChecksumCRC32C:
		sum = binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	case ChecksumCRC64NVME:
		h := ChecksumCRC64NVME.newHash()
		h.Write(data)
		sum = h.Sum(nil)
	case ChecksumSHA1:
		h := ChecksumSHA1.newHash()
		h.Write(data)
		sum = h.Sum(nil)
	case ChecksumSHA256:
		s := stdsha256.Sum256(data)
		sum = s[:]
	}
	return base64.StdEncoding.EncodeToString(sum)
}

func TestChecksumKnownValues(t *testing.T) {
	// The "check" values of the CRC catalogue, over "123456789".
	for _, tc := range []struct {
		algo ChecksumAlgorithm
		want string // hex
	}{
		{ChecksumCRC32, "cbf43926"},
		{ChecksumCRC32C, "e3069283"},
		{ChecksumCRC64NVME, "ae8b14860a799888"},
		{ChecksumSHA1, "f7c3bc1d808e04732adf679965ccc34ca7ae3441"},
		{ChecksumSHA256, "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"},
	} {
		raw, _ := hex.DecodeString(tc.want)
		v, err := NewChecksumVerifier(tc.algo, base64.StdEncoding.EncodeToString(raw))
		if err != nil {
			t.Fatalf("NewChecksumVerifier(%s) = %v", tc.algo, err)
		}
		v.Write([]byte("12345"))
		v.Write([]byte("6789"))
		if err := v.Verify(); err != nil {
			t.Errorf("%s(123456789) = %s; want %s (%v)", tc.algo, v.Sum(), tc.want, err)
		}
		v.Write([]byte("0"))
		if err := v.Verify(); codeOf(err) != BadDigest {
			t.Errorf("%s verify after extra byte = %v; want BadDigest", tc.algo, err)
		}
		if _, err := NewChecksumVerifier(tc.algo, "AAAA"); codeOf(err) != InvalidRequest && tc.algo != ChecksumCRC32 && tc.algo != ChecksumCRC32C {
			t.Errorf("NewChecksumVerifier(%s, short) = %v; want InvalidRequest", tc.algo, err)
		}
		if _, err := NewChecksumVerifier(tc.algo, "!!notbase64"); codeOf(err) != InvalidRequest {
			t.Errorf("NewChecksumVerifier(%s, garbage) = %v; want InvalidRequest", tc.algo, err)
		}
	}
	if _, err := NewChecksumVerifier("MD4", ""); codeOf(err) != InvalidRequest {
		t.Errorf("NewChecksumVerifier(MD4) = %v; want InvalidRequest", err)
	}
}

var testChunkTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testAuth(mode PayloadMode) *Auth {
	return &Auth{
		AccessKey:   "AK",
		PayloadMode: mode,
		SigningKey:  deriveSigningKey("SK", "20260301", "us-east-1", "s3"),
		Signature:   strings.Repeat("ab", 32),
		Scope:       "20260301/us-east-1/s3/aws4_request",
		Region:      "us-east-1",
		Date:        testChunkTime,
	}
}

// encodeChunked frames data as aws-chunked for a's mode, the way the AWS
// documentation shows it.
func encodeChunked(a *Auth, data []byte, chunk int, trailers [][2]string) []byte {
	var b bytes.Buffer
	prev := a.Signature
	signed := a.PayloadMode != StreamingUnsignedTrailer
	date := a.Date.Format(iso8601Basic)
	writeChunk := func(p []byte) {
		b.WriteString(strconv.FormatInt(int64(len(p)), 16))
		if signed {
			sts := chunkSigPrefix + "\n" + date + "\n" + a.Scope + "\n" + prev + "\n" + emptySHA256 + "\n" + sha256Hex(p)
			prev = signature(a.SigningKey, sts)
			b.WriteString(";chunk-signature=" + prev)
		}
		b.WriteString("\r\n")
		b.Write(p)
		if len(p) > 0 {
			b.WriteString("\r\n")
		}
	}
	for off := 0; off < len(data); off += chunk {
		writeChunk(data[off:min(off+chunk, len(data))])
	}
	writeChunk(nil)
	if a.PayloadMode == StreamingSigned {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	var signedPart strings.Builder
	for _, t := range trailers {
		b.WriteString(t[0] + ":" + t[1] + "\r\n")
		signedPart.WriteString(t[0] + ":" + t[1] + "\n")
	}
	if signed {
		sts := trailerSigPrefix + "\n" + date + "\n" + a.Scope + "\n" + prev + "\n" + sha256Hex([]byte(signedPart.String()))
		b.WriteString(trailerSigName + ":" + signature(a.SigningKey, sts) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func chunkedRequest(body []byte, decoded int64, headers ...string) *http.Request {
	r := httptest.NewRequest("PUT", "http://h/b/k", bytes.NewReader(body))
	if decoded >= 0 {
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(decoded, 10))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

func readPayload(a *Auth, r *http.Request) ([]byte, *Payload, error) {
	p, err := a.BodyReader(r)
	if err != nil {
		return nil, nil, err
	}
	got, err := io.ReadAll(p)
	return got, p, err
}

func testData(n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestChunkedRoundTrip(t *testing.T) {
	for _, mode := range []PayloadMode{StreamingSigned, StreamingSignedTrailer, StreamingUnsignedTrailer} {
		for _, size := range []int{0, 1, 8192, 65536, 100_000} {
			algos := ChecksumAlgorithms
			if mode == StreamingSigned {
				algos = []ChecksumAlgorithm{""}
			}
			for _, algo := range algos {
				a := testAuth(mode)
				data := testData(size)
				var trailers [][2]string
				var headers []string
				if algo != "" {
					trailers = [][2]string{{algo.HeaderName(), checksumOf(algo, data)}}
					headers = []string{"X-Amz-Trailer", algo.HeaderName()}
				}
				body := encodeChunked(a, data, 8192, trailers)
				got, p, err := readPayload(a, chunkedRequest(body, int64(size), headers...))
				name := fmt.Sprintf("%v/%d/%s", mode, size, algo)
				if err != nil {
					t.Errorf("%s: read = %v; want success", name, err)
					continue
				}
				if !bytes.Equal(got, data) {
					t.Errorf("%s: decoded %d bytes; want %d identical", name, len(got), size)
				}
				if algo != "" {
					if sums := p.Checksums(); sums[string(algo)] != checksumOf(algo, data) {
						t.Errorf("%s: Checksums() = %v; want %s", name, sums, checksumOf(algo, data))
					}
				}
				if md := stdMD5(data); !bytes.Equal(p.MD5(), md) {
					t.Errorf("%s: MD5() = %x; want %x", name, p.MD5(), md)
				}
			}
		}
	}
}

func TestChunkedErrors(t *testing.T) {
	data := testData(20000)
	crc := ChecksumCRC32C.HeaderName()
	good := func(mode PayloadMode) []byte {
		var tr [][2]string
		if mode != StreamingSigned {
			tr = [][2]string{{crc, checksumOf(ChecksumCRC32C, data)}}
		}
		return encodeChunked(testAuth(mode), data, 8192, tr)
	}
	trailerHdr := []string{"X-Amz-Trailer", crc}
	flipAt := func(b []byte, marker string, delta int) []byte {
		b = bytes.Clone(b)
		i := bytes.Index(b, []byte(marker)) + len(marker) + delta
		b[i] ^= 1
		return b
	}
	cases := []struct {
		name    string
		mode    PayloadMode
		body    []byte
		decoded int64
		headers []string
		want    ErrorCode
	}{
		{"bad first chunk signature", StreamingSigned, flipAt(good(StreamingSigned), "chunk-signature=", 3), 20000, nil, SignatureDoesNotMatch},
		{"bad chunk data", StreamingSigned, flipAt(good(StreamingSigned), "\r\n", 100), 20000, nil, SignatureDoesNotMatch},
		{"bad final chunk signature", StreamingSigned, func() []byte {
			b := good(StreamingSigned)
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + 20
			b[i] ^= 1
			return b
		}(), 20000, nil, SignatureDoesNotMatch},
		{"bad trailer signature", StreamingSignedTrailer, flipAt(good(StreamingSignedTrailer), trailerSigName+":", 5), 20000, trailerHdr, SignatureDoesNotMatch},
		{"tampered trailer value", StreamingSignedTrailer, bytes.Replace(good(StreamingSignedTrailer), []byte(checksumOf(ChecksumCRC32C, data)), []byte(checksumOf(ChecksumCRC32C, nil)), 1), 20000, trailerHdr, SignatureDoesNotMatch},
		{"bad checksum", StreamingUnsignedTrailer, encodeChunked(testAuth(StreamingUnsignedTrailer), data, 8192, [][2]string{{crc, checksumOf(ChecksumCRC32C, data[1:])}}), 20000, trailerHdr, BadDigest},
		{"bad checksum signed", StreamingSignedTrailer, encodeChunked(testAuth(StreamingSignedTrailer), data, 8192, [][2]string{{crc, checksumOf(ChecksumCRC32C, data[1:])}}), 20000, trailerHdr, BadDigest},
		{"malformed checksum", StreamingUnsignedTrailer, encodeChunked(testAuth(StreamingUnsignedTrailer), data, 8192, [][2]string{{crc, "AAAAAAAA"}}), 20000, trailerHdr, InvalidRequest},
		{"undeclared trailer", StreamingUnsignedTrailer, good(StreamingUnsignedTrailer), 20000, nil, InvalidRequest},
		{"declared trailer missing", StreamingUnsignedTrailer, encodeChunked(testAuth(StreamingUnsignedTrailer), data, 8192, nil), 20000, trailerHdr, IncompleteBody},
		{"missing trailer signature", StreamingSignedTrailer, bytes.Split(good(StreamingSignedTrailer), []byte(trailerSigName))[0], 20000, trailerHdr, IncompleteBody},
		{"decoded length too small", StreamingSigned, good(StreamingSigned), 19999, nil, IncompleteBody},
		{"decoded length too large", StreamingSigned, good(StreamingSigned), 20001, nil, IncompleteBody},
		{"missing decoded length", StreamingSigned, good(StreamingSigned), -1, nil, MissingContentLength},
		{"bad decoded length", StreamingSigned, good(StreamingSigned), -1, []string{"X-Amz-Decoded-Content-Length", "+5"}, InvalidArgument},
		{"trailer header in signed mode", StreamingSigned, good(StreamingSigned), 20000, trailerHdr, InvalidRequest},
		{"unsupported trailer", StreamingUnsignedTrailer, good(StreamingUnsignedTrailer), 20000, []string{"X-Amz-Trailer", "x-amz-meta-a"}, InvalidRequest},
		{"two checksum trailers", StreamingUnsignedTrailer, good(StreamingUnsignedTrailer), 20000, []string{"X-Amz-Trailer", "x-amz-checksum-crc32,x-amz-checksum-crc32c"}, InvalidRequest},
		{"junk after final chunk", StreamingSigned, append(good(StreamingSigned), "junk"...), 20000, nil, IncompleteBody},
		{"missing chunk signature", StreamingSigned, []byte("0\r\n\r\n"), 0, nil, IncompleteBody},
		{"chunk too large", StreamingUnsignedTrailer, []byte("1000001\r\n"), 20000, nil, InvalidRequest},
		{"bad chunk size", StreamingUnsignedTrailer, []byte("zz\r\n"), 20000, nil, IncompleteBody},
		{"empty chunk size", StreamingUnsignedTrailer, []byte(";x=y\r\n"), 20000, nil, IncompleteBody},
		{"header line too long", StreamingUnsignedTrailer, []byte("1;" + strings.Repeat("x", maxChunkLine) + "\r\n"), 20000, nil, IncompleteBody},
		{"LF only header", StreamingUnsignedTrailer, []byte("0\n\r\n"), 0, nil, IncompleteBody},
		{"data not followed by CRLF", StreamingUnsignedTrailer, []byte("2\r\nabXY0\r\n\r\n"), 2, nil, IncompleteBody},
		{"oversized trailer", StreamingUnsignedTrailer, []byte("0\r\n" + strings.Repeat("\r\n", maxTrailerBytes)), 0, nil, IncompleteBody},
	}
	for _, tc := range cases {
		a := testAuth(tc.mode)
		_, _, err := readPayload(a, chunkedRequest(tc.body, tc.decoded, tc.headers...))
		if got := codeOf(err); got != tc.want {
			t.Errorf("%s: read = %v; want %s", tc.name, err, tc.want)
		}
	}

	// Every truncation of a valid body must fail, never yield a short payload.
	for _, mode := range []PayloadMode{StreamingSigned, StreamingSignedTrailer, StreamingUnsignedTrailer} {
		body := good(mode)
		for cut := 0; cut < len(body); cut += 1 + cut/3 {
			var h []string
			if mode != StreamingSigned {
				h = trailerHdr
			}
			_, _, err := readPayload(testAuth(mode), chunkedRequest(body[:cut], 20000, h...))
			if err == nil {
				t.Errorf("%v: body truncated to %d of %d bytes read without error", mode, cut, len(body))
			}
		}
	}
}

// TestPayloadWithholdsUnverifiedEnd checks that a caller reading exactly
// the declared length still gets the verification error.
func TestPayloadWithholdsUnverifiedEnd(t *testing.T) {
	data := testData(10000)
	crc := ChecksumCRC32.HeaderName()
	for _, tc := range []struct {
		name string
		a    *Auth
		r    *http.Request
		want ErrorCode
	}{
		{"bad trailer checksum", testAuth(StreamingUnsignedTrailer),
			chunkedRequest(encodeChunked(testAuth(StreamingUnsignedTrailer), data, 4096, [][2]string{{crc, checksumOf(ChecksumCRC32, nil)}}), 10000, "X-Amz-Trailer", crc),
			BadDigest},
		{"bad final signature", testAuth(StreamingSigned),
			chunkedRequest(func() []byte {
				b := encodeChunked(testAuth(StreamingSigned), data, 4096, nil)
				i := bytes.LastIndex(b, []byte("chunk-signature=")) + len("chunk-signature=")
				b[i] = "10"[b[i]&1] // a different hex digit
				return b
			}(), 10000),
			SignatureDoesNotMatch},
		{"bad sha256", &Auth{PayloadMode: SignedPayload, SignedPayloadHash: emptySHA256},
			httptest.NewRequest("PUT", "http://h/b/k", bytes.NewReader(data)), XAmzContentSHA256Mismatch},
		{"bad header checksum", &Auth{PayloadMode: UnsignedPayload},
			chunkedRequest(data, -1, crc, checksumOf(ChecksumCRC32, nil)), BadDigest},
	} {
		p, err := tc.a.BodyReader(tc.r)
		if err != nil {
			t.Fatalf("%s: BodyReader = %v", tc.name, err)
		}
		buf := make([]byte, p.Size())
		n, err := io.ReadFull(p, buf)
		if codeOf(err) != tc.want {
			t.Errorf("%s: ReadFull(%d) = %d, %v; want %s", tc.name, len(buf), n, err, tc.want)
		}
	}
}

func TestPayloadNonChunked(t *testing.T) {
	body := []byte("Welcome to Amazon S3.")
	md5b64 := base64.StdEncoding.EncodeToString(stdMD5(body))
	crcHdr := ChecksumCRC32.HeaderName()
	cases := []struct {
		name    string
		a       *Auth
		body    []byte
		headers []string
		want    ErrorCode
		sums    map[string]string
	}{
		{"unsigned", &Auth{PayloadMode: UnsignedPayload}, body, nil, "", nil},
		{"signed ok", &Auth{PayloadMode: SignedPayload, SignedPayloadHash: sha256Hex(body)}, body, nil, "", nil},
		{"signed uppercase hex", &Auth{PayloadMode: SignedPayload, SignedPayloadHash: strings.ToUpper(sha256Hex(body))}, body, nil, "", nil},
		{"signed mismatch", &Auth{PayloadMode: SignedPayload, SignedPayloadHash: sha256Hex(body[1:])}, body, nil, XAmzContentSHA256Mismatch, nil},
		{"content-md5 ok", &Auth{PayloadMode: UnsignedPayload}, body, []string{"Content-Md5", md5b64}, "", nil},
		{"content-md5 mismatch", &Auth{PayloadMode: UnsignedPayload}, body[1:], []string{"Content-Md5", md5b64}, BadDigest, nil},
		{"content-md5 malformed", &Auth{PayloadMode: UnsignedPayload}, body, []string{"Content-Md5", "xyz"}, InvalidDigest, nil},
		{"checksum ok", &Auth{PayloadMode: UnsignedPayload}, body, []string{crcHdr, checksumOf(ChecksumCRC32, body)}, "", map[string]string{"CRC32": checksumOf(ChecksumCRC32, body)}},
		{"checksum mismatch", &Auth{PayloadMode: UnsignedPayload}, body, []string{crcHdr, checksumOf(ChecksumCRC32, nil)}, BadDigest, nil},
		{"checksum malformed", &Auth{PayloadMode: UnsignedPayload}, body, []string{crcHdr, "AAAAAAAAAAA="}, InvalidRequest, nil},
		{"two checksums", &Auth{PayloadMode: UnsignedPayload}, body, []string{crcHdr, checksumOf(ChecksumCRC32, body), "X-Amz-Checksum-Sha1", checksumOf(ChecksumSHA1, body)}, InvalidRequest, nil},
		{"sdk algorithm only", &Auth{PayloadMode: UnsignedPayload}, body, []string{"X-Amz-Sdk-Checksum-Algorithm", "sha256"}, "", map[string]string{"SHA256": checksumOf(ChecksumSHA256, body)}},
		{"sdk algorithm disagrees", &Auth{PayloadMode: UnsignedPayload}, body, []string{crcHdr, checksumOf(ChecksumCRC32, body), "X-Amz-Sdk-Checksum-Algorithm", "SHA1"}, InvalidRequest, nil},
		{"sdk algorithm unknown", &Auth{PayloadMode: UnsignedPayload}, body, []string{"X-Amz-Sdk-Checksum-Algorithm", "MD5"}, InvalidRequest, nil},
		{"trailer without chunking", &Auth{PayloadMode: UnsignedPayload}, body, []string{"X-Amz-Trailer", crcHdr}, InvalidRequest, nil},
	}
	for _, tc := range cases {
		r := chunkedRequest(tc.body, -1, tc.headers...)
		got, p, err := readPayload(tc.a, r)
		if codeOf(err) != tc.want {
			t.Errorf("%s: read = %v; want %q", tc.name, err, tc.want)
			continue
		}
		if tc.want != "" {
			if p != nil && (p.Checksums() != nil || p.MD5() != nil) {
				t.Errorf("%s: failed payload still reports checksums %v / MD5 %x", tc.name, p.Checksums(), p.MD5())
			}
			continue
		}
		if !bytes.Equal(got, tc.body) {
			t.Errorf("%s: body = %q; want %q", tc.name, got, tc.body)
		}
		if sums := p.Checksums(); fmt.Sprint(sums) != fmt.Sprint(tc.sums) {
			t.Errorf("%s: Checksums() = %v; want %v", tc.name, sums, tc.sums)
		}
	}

	// A body shorter than its Content-Length is IncompleteBody.
	r := httptest.NewRequest("PUT", "http://h/b/k", bytes.NewReader(body))
	r.ContentLength = int64(len(body) + 5)
	if _, _, err := readPayload(&Auth{PayloadMode: UnsignedPayload}, r); codeOf(err) != IncompleteBody {
		t.Errorf("short body: read = %v; want IncompleteBody", err)
	}
}

func stdMD5(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

type sha256Hasher struct{ hashCloser }

type hashCloser interface {
	io.Writer
	Sum([]byte) []byte
	Reset()
	Size() int
	BlockSize() int
}

func (sha256Hasher) Close() {}

// TestChunkedMinioGo decodes bodies framed and signed by minio-go, an
// independent aws-chunked implementation, including its signed trailers
// (which end the trailer line with "\n\r\n").
func TestChunkedMinioGo(t *testing.T) {
	const ak, sk = "minioAK", "minio/SK+secret"
	v := &Verifier{Creds: StaticCredentials{ak: sk}, Now: func() time.Time { return testChunkTime }}
	for _, size := range []int{1, 65536, 65537, 200_000} { // minio-go never streams an empty body
		for _, algo := range append([]ChecksumAlgorithm{""}, ChecksumAlgorithms...) {
			data := testData(size)
			req, _ := http.NewRequestWithContext(context.Background(), "PUT", "http://cairn.local:9000/bucket/dir/key%20with%2Bplus", bytes.NewReader(data))
			if algo != "" {
				req.Trailer = http.Header{algo.HeaderName(): {checksumOf(algo, data)}}
			}
			req = signer.StreamingSignV4(req, ak, sk, "", "us-east-1", int64(size), testChunkTime, sha256Hasher{stdsha256.New()})
			wire, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(wire)) != req.ContentLength {
				t.Fatalf("minio-go framed %d bytes; announced %d", len(wire), req.ContentLength)
			}
			sr := httptest.NewRequest("PUT", req.URL.String(), bytes.NewReader(wire))
			sr.Header = req.Header.Clone()
			sr.Host = req.URL.Host
			name := fmt.Sprintf("minio-go/%d/%s", size, algo)
			a, err := v.Verify(sr)
			if err != nil {
				t.Errorf("%s: Verify = %v", name, err)
				continue
			}
			got, p, err := readPayload(a, sr)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s: read = %d bytes, %v; want %d bytes", name, len(got), err, size)
				continue
			}
			if algo != "" && p.Checksums()[string(algo)] != checksumOf(algo, data) {
				t.Errorf("%s: Checksums() = %v", name, p.Checksums())
			}
		}
	}
}

func FuzzChunkedReader(f *testing.F) {
	data := testData(300)
	f.Add(encodeChunked(testAuth(StreamingUnsignedTrailer), data, 100, [][2]string{{"x-amz-checksum-crc32", checksumOf(ChecksumCRC32, data)}}), uint16(300), false)
	f.Add(encodeChunked(testAuth(StreamingSigned), data, 128, nil), uint16(300), true)
	f.Add([]byte("0\r\n\r\n"), uint16(0), false)
	f.Add([]byte("5;a=b;c\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\n\r\n\r\n"), uint16(5), false)
	f.Fuzz(func(t *testing.T, body []byte, decoded uint16, signed bool) {
		mode := StreamingUnsignedTrailer
		if signed {
			mode = StreamingSigned
		}
		r := chunkedRequest(body, int64(decoded))
		if !signed {
			r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		}
		p, err := testAuth(mode).BodyReader(r)
		if err != nil {
			t.Fatalf("BodyReader = %v", err)
		}
		got, err := io.ReadAll(p)
		if err == nil && len(got) != int(decoded) {
			t.Fatalf("decoded %d bytes without error; declared %d", len(got), decoded)
		}
		if err == nil && !signed && p.Checksums()["CRC32"] != checksumOf(ChecksumCRC32, got) {
			t.Fatalf("accepted payload with checksums %v; want CRC32 %s", p.Checksums(), checksumOf(ChecksumCRC32, got))
		}
	})
}

func BenchmarkPayload(b *testing.B) {
	data := testData(4 << 20)
	for _, tc := range []struct {
		name string
		mode PayloadMode
	}{{"signed-sha256", SignedPayload}, {"aws-chunked-signed", StreamingSigned}, {"aws-chunked-unsigned-crc32c", StreamingUnsignedTrailer}} {
		a := testAuth(tc.mode)
		a.SignedPayloadHash = sha256Hex(data)
		body := data
		var headers []string
		if tc.mode.Streaming() {
			var tr [][2]string
			if tc.mode == StreamingUnsignedTrailer {
				tr = [][2]string{{ChecksumCRC32C.HeaderName(), checksumOf(ChecksumCRC32C, data)}}
				headers = []string{"X-Amz-Trailer", ChecksumCRC32C.HeaderName()}
			}
			body = encodeChunked(a, data, 64<<10, tr)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			buf := make([]byte, 32<<10)
			for b.Loop() {
				decoded := int64(-1)
				if tc.mode.Streaming() {
					decoded = int64(len(data))
				}
				p, err := a.BodyReader(chunkedRequest(body, decoded, headers...))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, p, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	sha256 "github.com/minio/sha256-simd"
)

// Payload is a request body being authenticated and checked as it is read.
// It verifies, as the request's headers demand: the declared SHA-256
// (SignedPayload), the aws-chunked framing and chunk signatures (streaming
// modes), Content-MD5, and one x-amz-checksum-* value from a header or a
// trailer. It always computes the MD5 (the S3 ETag of a single-part
// object), with crypto/md5 on the reading goroutine: md5-simd, which hashes
// up to 16 streams in the SIMD lanes of one server goroutine, was measured
// against it on this project's 2-core machines with the benchmark's PUTs
// (1, 4 and 16 MiB objects, 8 to 64 at once) and delivered fewer MiB/s in
// every case, each upload's hashing waiting its turn in the one goroutine;
// it saved the gateway CPU per byte only at 16 MiB (benchmarks/README.md).
//
// A verification failure is returned by the Read that would have delivered
// the final bytes, in place of them, so a caller that reads exactly Size()
// bytes with io.ReadFull still sees the error. A caller must not commit an
// object unless it read the whole payload without error. A Payload is not
// safe for concurrent use.
type Payload struct {
	src  io.Reader
	size int64 // decoded length; -1 when unknown

	sha     hash.Hash // SignedPayload only
	wantSHA string
	md5     hash.Hash
	md5Sum  []byte // set once the payload is verified
	wantMD5 []byte
	sum     *ChecksumVerifier
	chunked *chunkedReader // streaming modes only

	n    int64
	done bool
	err  error
}

// BodyReader returns a reader of r's decoded, verified body. It checks the
// body-related headers up front (x-amz-decoded-content-length,
// x-amz-trailer, Content-MD5, x-amz-checksum-*) and returns an *Error if
// they are invalid.
func (a *Auth) BodyReader(r *http.Request) (*Payload, error) {
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	p := &Payload{src: body, size: r.ContentLength}
	p.md5 = md5.New()
	h := r.Header
	if a.PayloadMode == SignedPayload {
		p.sha, p.wantSHA = sha256.New(), strings.ToLower(a.SignedPayloadHash)
	}
	if cm := h.Get("Content-Md5"); cm != "" {
		raw, err := base64.StdEncoding.DecodeString(cm)
		if err != nil || len(raw) != md5.Size {
			return nil, NewError(InvalidDigest)
		}
		p.wantMD5 = raw
	}
	var err error
	if p.sum, err = headerChecksum(h); err != nil {
		return nil, err
	}
	if !a.PayloadMode.Streaming() {
		if h.Get("X-Amz-Trailer") != "" {
			return nil, Errorf(InvalidRequest, "x-amz-trailer requires an aws-chunked trailer payload (x-amz-content-sha256: %s or %s).", streamingPayloadTrailer, streamingUnsignedTrailer)
		}
		return p, nil
	}

	dl := h.Get("X-Amz-Decoded-Content-Length")
	if dl == "" {
		return nil, Errorf(MissingContentLength, "aws-chunked uploads must send x-amz-decoded-content-length.")
	}
	decoded, perr := strconv.ParseInt(dl, 10, 64)
	if perr != nil || decoded < 0 || !isDigits(dl, len(dl)) {
		return nil, Errorf(InvalidArgument, "x-amz-decoded-content-length %q is not a valid length.", dl)
	}
	p.size = decoded
	declared := make(map[string]bool)
	if t := h.Get("X-Amz-Trailer"); t != "" {
		if a.PayloadMode == StreamingSigned {
			return nil, Errorf(InvalidRequest, "x-amz-trailer requires an aws-chunked trailer payload (x-amz-content-sha256: %s or %s).", streamingPayloadTrailer, streamingUnsignedTrailer)
		}
		for name := range strings.SplitSeq(t, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			algo, ok := checksumFromHeaderName(name)
			if !ok {
				return nil, Errorf(InvalidRequest, "The trailer %q is not supported; only x-amz-checksum-* trailers are.", name)
			}
			if p.sum != nil || len(declared) > 0 {
				return nil, Errorf(InvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			declared[name] = true
			if p.sum, err = NewChecksumVerifier(algo, ""); err != nil {
				return nil, err
			}
		}
	}
	p.chunked = newChunkedReader(body, a, declared, decoded)
	p.src = p.chunked
	return p, nil
}

// headerChecksum builds the verifier for an x-amz-checksum-<algo> header,
// or a compute-only one when x-amz-sdk-checksum-algorithm names an
// algorithm without a value (its value then comes from a trailer, or the
// gateway stores the computed one).
func headerChecksum(h http.Header) (*ChecksumVerifier, error) {
	var v *ChecksumVerifier
	for name, vals := range h {
		algo, ok := checksumFromHeaderName(name)
		if !ok || len(vals) == 0 {
			continue
		}
		if v != nil || len(vals) > 1 {
			return nil, Errorf(InvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		var err error
		if v, err = NewChecksumVerifier(algo, vals[0]); err != nil {
			return nil, err
		}
	}
	if s := h.Get("X-Amz-Sdk-Checksum-Algorithm"); s != "" {
		algo, ok := ParseChecksumAlgorithm(s)
		if !ok {
			return nil, Errorf(InvalidRequest, "Checksum algorithm %q is not supported.", s)
		}
		if v != nil && v.Algorithm != algo {
			return nil, Errorf(InvalidRequest, "Value for x-amz-sdk-checksum-algorithm header is invalid.")
		}
		if v == nil && h.Get("X-Amz-Trailer") == "" {
			v, _ = NewChecksumVerifier(algo, "")
		}
	}
	return v, nil
}

// Size is the decoded length of the payload, -1 when unknown.
func (p *Payload) Size() int64 { return p.size }

// Read implements io.Reader.
func (p *Payload) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.done {
		return 0, io.EOF
	}
	n, err := p.src.Read(b)
	if n > 0 {
		p.n += int64(n)
		if p.size >= 0 && p.n > p.size {
			return p.fail(Errorf(IncompleteBody, "The body is longer than its declared length %d.", p.size))
		}
		p.md5.Write(b[:n])
		if p.sha != nil {
			p.sha.Write(b[:n])
		}
		if p.sum != nil {
			p.sum.Write(b[:n])
		}
	}
	switch {
	case err == io.EOF || (err == nil && p.size >= 0 && p.n == p.size):
		// Verify as soon as the declared length is in, not at the next
		// Read: callers that read exactly Size() bytes never make it.
		if ferr := p.finish(); ferr != nil {
			return p.fail(ferr)
		}
		p.done = true
		return n, nil
	case err != nil:
		return p.fail(truncated(err))
	}
	return n, nil
}

func (p *Payload) fail(err error) (int, error) {
	p.err = err
	return 0, err
}

func (p *Payload) finish() error {
	if p.size >= 0 && p.n != p.size {
		return NewError(IncompleteBody)
	}
	if p.chunked != nil {
		// The chunked reader verified framing, signatures and length
		// before releasing the last byte; make sure it actually got there.
		if !p.chunked.done {
			if _, err := p.chunked.Read(nil); err != nil && err != io.EOF {
				return err
			}
			if !p.chunked.done {
				return NewError(IncompleteBody)
			}
		}
		if p.sum != nil {
			if v, ok := p.chunked.trailers[p.sum.Algorithm.HeaderName()]; ok {
				if err := p.sum.SetExpected(v); err != nil {
					return err
				}
			}
		}
	}
	if p.sha != nil && hex.EncodeToString(p.sha.Sum(nil)) != p.wantSHA {
		return NewError(XAmzContentSHA256Mismatch)
	}
	p.md5Sum = p.md5.Sum(nil)
	if p.wantMD5 != nil && !bytes.Equal(p.md5Sum, p.wantMD5) {
		return NewError(BadDigest)
	}
	if p.sum != nil {
		return p.sum.Verify()
	}
	return nil
}

// Checksums returns the verified x-amz-checksum-* values, algorithm →
// base64, for the gateway to store. It is valid once Read has returned
// io.EOF (or delivered Size() bytes without error), and nil before.
func (p *Payload) Checksums() map[string]string {
	if !p.done || p.err != nil || p.sum == nil {
		return nil
	}
	return map[string]string{string(p.sum.Algorithm): p.sum.Sum()}
}

// MD5 returns the MD5 digest of the payload, valid under the same
// conditions as Checksums.
func (p *Payload) MD5() []byte {
	if !p.done || p.err != nil {
		return nil
	}
	return p.md5Sum
}

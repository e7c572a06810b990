package s3api

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"strings"

	"github.com/minio/crc64nvme"
	sha256 "github.com/minio/sha256-simd"
)

// ChecksumAlgorithm is an S3 additional-checksum algorithm, spelled as in
// x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm.
type ChecksumAlgorithm string

// The additional checksums S3 defines.
const (
	ChecksumCRC32     ChecksumAlgorithm = "CRC32"
	ChecksumCRC32C    ChecksumAlgorithm = "CRC32C"
	ChecksumCRC64NVME ChecksumAlgorithm = "CRC64NVME"
	ChecksumSHA1      ChecksumAlgorithm = "SHA1"
	ChecksumSHA256    ChecksumAlgorithm = "SHA256"
)

// ChecksumAlgorithms lists every algorithm, in a fixed order.
var ChecksumAlgorithms = []ChecksumAlgorithm{ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ParseChecksumAlgorithm parses an algorithm name, case-insensitively.
func ParseChecksumAlgorithm(s string) (ChecksumAlgorithm, bool) {
	a := ChecksumAlgorithm(strings.ToUpper(s))
	return a, a.valid()
}

func (a ChecksumAlgorithm) valid() bool {
	switch a {
	case ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256:
		return true
	}
	return false
}

// HeaderName is the lowercase header (or trailer) that carries a's value,
// e.g. "x-amz-checksum-crc32".
func (a ChecksumAlgorithm) HeaderName() string {
	return checksumHeaderPrefix + strings.ToLower(string(a))
}

const checksumHeaderPrefix = "x-amz-checksum-"

// checksumFromHeaderName maps "x-amz-checksum-crc32c" (any case) to its
// algorithm.
func checksumFromHeaderName(name string) (ChecksumAlgorithm, bool) {
	name = strings.ToLower(name)
	rest, ok := strings.CutPrefix(name, checksumHeaderPrefix)
	if !ok {
		return "", false
	}
	return ParseChecksumAlgorithm(rest)
}

func (a ChecksumAlgorithm) newHash() hash.Hash {
	switch a {
	case ChecksumCRC32:
		return crc32.NewIEEE()
	case ChecksumCRC32C:
		return crc32.New(castagnoli)
	case ChecksumCRC64NVME:
		return crc64nvme.New()
	case ChecksumSHA1:
		return sha1.New()
	case ChecksumSHA256:
		return sha256.New()
	}
	return nil
}

func (a ChecksumAlgorithm) size() int {
	switch a {
	case ChecksumCRC32, ChecksumCRC32C:
		return 4
	case ChecksumCRC64NVME:
		return 8
	case ChecksumSHA1:
		return 20
	case ChecksumSHA256:
		return 32
	}
	return 0
}

// ChecksumVerifier computes one checksum over what is written to it and
// compares it with the value the client declared. hash.Hash's Sum on a CRC
// is the big-endian digest, which is exactly what S3 base64-encodes.
type ChecksumVerifier struct {
	Algorithm ChecksumAlgorithm
	h         hash.Hash
	want      []byte // nil: compute only
}

// NewChecksumVerifier returns a verifier for algo expecting expectedBase64;
// an empty expectation computes without verifying (see SetExpected). A
// malformed expectation is an InvalidRequest error.
func NewChecksumVerifier(algo ChecksumAlgorithm, expectedBase64 string) (*ChecksumVerifier, error) {
	if !algo.valid() {
		return nil, Errorf(InvalidRequest, "Checksum algorithm %q is not supported.", string(algo))
	}
	v := &ChecksumVerifier{Algorithm: algo, h: algo.newHash()}
	if expectedBase64 != "" {
		if err := v.SetExpected(expectedBase64); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// SetExpected sets the declared value, for checksums that arrive in a
// trailer after the data.
func (v *ChecksumVerifier) SetExpected(b64 string) error {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != v.Algorithm.size() {
		return Errorf(InvalidRequest, "Value for %s header is invalid.", v.Algorithm.HeaderName())
	}
	v.want = raw
	return nil
}

// Write implements io.Writer; it never fails.
func (v *ChecksumVerifier) Write(p []byte) (int, error) { return v.h.Write(p) }

// Sum is the base64 checksum of everything written so far.
func (v *ChecksumVerifier) Sum() string {
	return base64.StdEncoding.EncodeToString(v.h.Sum(nil))
}

// Verify compares the checksum with the expectation: BadDigest on a
// mismatch, nil when they agree or nothing was declared.
func (v *ChecksumVerifier) Verify() error {
	if v.want == nil {
		return nil
	}
	if !bytes.Equal(v.h.Sum(nil), v.want) {
		return Errorf(BadDigest, "The %s you specified did not match the calculated checksum.", string(v.Algorithm))
	}
	return nil
}

package s3api

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strings"

	sha256 "github.com/minio/sha256-simd"
)

// Limits on aws-chunked framing. Real clients send chunk headers of ~90
// bytes and chunks of 8 KiB..1 MiB; anything far beyond is an attack or a
// broken client.
const (
	maxChunkLine    = 4 << 10  // one chunk header line
	maxChunkSize    = 16 << 20 // one chunk's data
	maxTrailerBytes = 16 << 10 // everything after the final chunk header
	chunkReadBuffer = 64 << 10
)

const (
	chunkSigPrefix   = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerSigPrefix = "AWS4-HMAC-SHA256-TRAILER"
	trailerSigName   = "x-amz-trailer-signature"
)

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=<64 hex>]\r\n<data>\r\n ... 0[;chunk-signature=...]\r\n
//
// followed by "\r\n" (no trailer) or trailer lines "name:value\r\n", the
// signed-trailer mode ending with "x-amz-trailer-signature:<hex>\r\n", and a
// final "\r\n". It streams chunk data while hashing it, but withholds the
// last bytes of each chunk until the chunk's signature has been checked and
// the next chunk header read; the final data bytes are released only after
// the trailer is verified. So a caller that stops reading after exactly the
// decoded length still never sees an unverified byte.
type chunkedReader struct {
	r      *bufio.Reader
	signed bool // chunk signatures present and verified
	trail  bool // a trailer section follows the final chunk

	key     []byte
	date    string // ISO 8601 basic, as in the seed string-to-sign
	scope   string
	prevSig string

	declared map[string]bool // trailer names from x-amz-trailer
	trailers map[string]string

	want     int64 // x-amz-decoded-content-length
	total    int64
	left     int64  // data bytes left in the current chunk
	chunkSig string // declared signature of the current chunk
	h        hash.Hash
	started  bool
	done     bool
	err      error
}

func newChunkedReader(body io.Reader, a *Auth, declared map[string]bool, decodedLen int64) *chunkedReader {
	c := &chunkedReader{
		r:        bufio.NewReaderSize(body, chunkReadBuffer),
		signed:   a.PayloadMode == StreamingSigned || a.PayloadMode == StreamingSignedTrailer,
		trail:    a.PayloadMode == StreamingSignedTrailer || a.PayloadMode == StreamingUnsignedTrailer,
		key:      a.SigningKey,
		date:     a.Date.UTC().Format(iso8601Basic),
		scope:    a.Scope,
		prevSig:  a.Signature,
		declared: declared,
		want:     decodedLen,
	}
	if c.signed {
		c.h = sha256.New()
	}
	return c
}

func (c *chunkedReader) fail(err error) (int, error) {
	c.err = err
	return 0, err
}

func framing(format string, args ...any) *Error {
	return Errorf(IncompleteBody, "aws-chunked body is malformed: "+format, args...)
}

// Read implements io.Reader.
func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if !c.started {
		c.started = true
		if err := c.nextChunk(); err != nil {
			return c.fail(err)
		}
	}
	if c.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	if n == 0 {
		if err == nil {
			return 0, nil
		}
		return c.fail(truncated(err))
	}
	if c.signed {
		c.h.Write(p[:n])
	}
	c.left -= int64(n)
	c.total += int64(n)
	if c.total > c.want {
		return c.fail(Errorf(IncompleteBody, "The aws-chunked body holds more than the %d bytes of x-amz-decoded-content-length.", c.want))
	}
	if c.left == 0 {
		if err := c.endChunk(); err != nil {
			return c.fail(err)
		}
		if err := c.nextChunk(); err != nil {
			return c.fail(err)
		}
	}
	return n, nil
}

// truncated turns an early end of the body into IncompleteBody and passes
// other I/O errors through.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Code: IncompleteBody, Err: err}
	}
	return err
}

// endChunk consumes the CRLF after a chunk's data and checks its signature.
func (c *chunkedReader) endChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.r, crlf[:]); err != nil {
		return truncated(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return framing("chunk data is not followed by CRLF")
	}
	return c.checkChunkSig()
}

func (c *chunkedReader) checkChunkSig() error {
	if !c.signed {
		return nil
	}
	sts := chunkSigPrefix + "\n" + c.date + "\n" + c.scope + "\n" + c.prevSig + "\n" + emptySHA256 + "\n" + hex.EncodeToString(c.h.Sum(nil))
	c.h.Reset()
	sig := signature(c.key, sts)
	if !hmac.Equal([]byte(sig), []byte(c.chunkSig)) {
		return NewError(SignatureDoesNotMatch)
	}
	c.prevSig = sig
	return nil
}

// nextChunk reads a chunk header; on the final (zero-size) chunk it also
// reads and verifies everything after it.
func (c *chunkedReader) nextChunk() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	size, sig, perr := parseChunkHeader(line, c.signed)
	if perr != nil {
		return perr
	}
	c.left, c.chunkSig = size, sig
	if size > 0 {
		return nil
	}
	if err := c.checkChunkSig(); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	c.done = true
	return nil
}

// readLine reads one CRLF-terminated line of at most maxChunkLine bytes,
// without the CRLF.
func (c *chunkedReader) readLine() (string, error) {
	var b []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxChunkLine {
			return "", framing("chunk header line exceeds %d bytes", maxChunkLine)
		}
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			return "", truncated(err)
		}
	}
	if len(b) < 2 || b[len(b)-2] != '\r' {
		return "", framing("chunk header is not terminated by CRLF")
	}
	return string(b[:len(b)-2]), nil
}

// parseChunkHeader parses "hex-size[;chunk-signature=sig][;other=ext]".
func parseChunkHeader(line string, signed bool) (int64, string, *Error) {
	sizeStr, exts, _ := strings.Cut(line, ";")
	if sizeStr == "" || len(sizeStr) > 8 {
		return 0, "", framing("invalid chunk size %q", sizeStr)
	}
	var size int64
	for i := 0; i < len(sizeStr); i++ {
		if !isHex(sizeStr[i]) {
			return 0, "", framing("invalid chunk size %q", sizeStr)
		}
		size = size<<4 | int64(unhex(sizeStr[i]))
	}
	if size > maxChunkSize {
		return 0, "", Errorf(InvalidRequest, "aws-chunked chunk of %d bytes exceeds the limit of %d", size, maxChunkSize)
	}
	var sig string
	for exts != "" {
		var ext string
		ext, exts, _ = strings.Cut(exts, ";")
		if v, ok := strings.CutPrefix(ext, "chunk-signature="); ok {
			sig = v
		}
	}
	if signed && !isLowerHex(sig, 64) {
		return 0, "", framing("chunk header %q lacks a valid chunk-signature", line)
	}
	return size, sig, nil
}

// finish reads what follows the final chunk header up to the end of the
// body: a bare CRLF, or the trailer section. Clients differ in the line
// ends they put around trailers (minio-go writes "name:value\n\r\n"), so
// lines split on LF with an optional CR, and blank lines are skipped.
func (c *chunkedReader) finish() error {
	rest, err := io.ReadAll(io.LimitReader(c.r, maxTrailerBytes+1))
	if err != nil {
		return truncated(err)
	}
	if len(rest) > maxTrailerBytes {
		return framing("trailer section exceeds %d bytes", maxTrailerBytes)
	}
	if !c.trail {
		if len(bytes.Trim(rest, "\r\n")) != 0 || !bytes.HasPrefix(rest, []byte("\r\n")) {
			return framing("unexpected bytes after the final chunk")
		}
		return c.checkLength()
	}
	var signedPart strings.Builder
	var trailerSig string
	c.trailers = make(map[string]string)
	for raw := range bytes.SplitSeq(rest, []byte("\n")) {
		line := string(bytes.TrimSuffix(raw, []byte("\r")))
		if line == "" {
			continue
		}
		if trailerSig != "" {
			return framing("trailer after %s", trailerSigName)
		}
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			return framing("malformed trailer line %q", line)
		}
		lname := strings.ToLower(strings.TrimSpace(name))
		if lname == trailerSigName {
			if !c.signed {
				return framing("%s in an unsigned payload", trailerSigName)
			}
			trailerSig = strings.TrimSpace(val)
			if trailerSig == "" {
				return framing("empty %s", trailerSigName)
			}
			continue
		}
		if !c.declared[lname] {
			return Errorf(InvalidRequest, "The trailer %q was not declared in x-amz-trailer.", lname)
		}
		if _, dup := c.trailers[lname]; dup {
			return Errorf(InvalidRequest, "The trailer %q appears twice.", lname)
		}
		c.trailers[lname] = strings.TrimSpace(val)
		signedPart.WriteString(line)
		signedPart.WriteByte('\n')
	}
	if c.signed {
		if trailerSig == "" {
			return framing("missing %s", trailerSigName)
		}
		sts := trailerSigPrefix + "\n" + c.date + "\n" + c.scope + "\n" + c.prevSig + "\n" + sha256Hex([]byte(signedPart.String()))
		if !hmac.Equal([]byte(signature(c.key, sts)), []byte(trailerSig)) {
			return NewError(SignatureDoesNotMatch)
		}
	}
	for name := range c.declared {
		if _, ok := c.trailers[name]; !ok {
			return Errorf(IncompleteBody, "The trailer %q declared in x-amz-trailer was not sent.", name)
		}
	}
	return c.checkLength()
}

func (c *chunkedReader) checkLength() error {
	if c.total != c.want {
		return Errorf(IncompleteBody, "The aws-chunked body holds %d bytes; x-amz-decoded-content-length says %d.", c.total, c.want)
	}
	return nil
}

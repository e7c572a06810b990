package httptransport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"

	"cairn/metadata"
	"cairn/transport"
)

// A batch of version records travels as, per record, a flags byte (1:
// unless newer), the record's length as a uvarint and the record; the
// answer as, per record, the newer HLC, the error code (0: stored) and the
// error message's length as uvarints, then the message.
//
// A shard probe travels as, per shard, the lengths and bytes of bucket,
// key and version ID and the shard index as a uvarint; the answer as a
// byte per shard, 1 when the node holds it.
//
// Item answers with an error code (appendAnswer) are the code and a length
// as uvarints, then that many bytes: the result, or the error message.
//
// A batch of record reads travels as, per key, the bucket's and the key's
// lengths as uvarints, each followed by its bytes; the answer as, per key,
// the error code (0: found) and a length as uvarints, followed by that
// many bytes of the record, or of the error message.
const (
	pathVersionBatch     = "/v1/version/batch"
	pathVersionReadBatch = "/v1/version/read-batch"
	pathShardProbe       = "/v1/shard/probe"

	batchUnlessNewer = 1

	// maxBatchBody bounds a batch request: a gateway batch holds a few
	// dozen items, records up to maxRecordBody each, but far fewer bytes
	// in practice (small objects' records).
	maxBatchBody = 64 << 20

	// maxFailureMessage bounds the message of one item's failure.
	maxFailureMessage = 1 << 16
)

var (
	_ transport.BatchWriter = (*Client)(nil)
	_ transport.BatchReader = (*Client)(nil)
	_ transport.ShardProber = (*Client)(nil)
)

// PutVersions implements transport.BatchWriter.
func (c *Client) PutVersions(ctx context.Context, writes []transport.VersionWrite) ([]transport.VersionWriteResult, error) {
	var body []byte
	for _, w := range writes {
		rec, err := w.V.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("put versions on node %s: %w", c.node, err)
		}
		var flags byte
		if w.UnlessNewer {
			flags |= batchUnlessNewer
		}
		body = append(body, flags)
		body = binary.AppendUvarint(body, uint64(len(rec)))
		body = append(body, rec...)
	}
	resp, err := c.do(ctx, "put versions", http.MethodPut, c.url(pathVersionBatch, nil), bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	results := make([]transport.VersionWriteResult, len(writes))
	for i := range results {
		newer, err := binary.ReadUvarint(br)
		var failure error
		if err == nil {
			_, failure, err = c.readAnswer(br, "put version")
		}
		if err != nil {
			return nil, fmt.Errorf("put versions on node %s: %w: answer %d of %d: %v", c.node, transport.ErrUnavailable, i, len(writes), err)
		}
		results[i] = transport.VersionWriteResult{Newer: metadata.HLC(newer), Err: failure}
	}
	return results, nil
}

func (h *Handler) registerBatch() {
	if bw, ok := h.node.(transport.BatchWriter); ok {
		serveBatch(h, "PUT "+pathVersionBatch, "put versions", readBatch, bw.PutVersions,
			func(out []byte, r *http.Request, res transport.VersionWriteResult) []byte {
				out = binary.AppendUvarint(out, uint64(res.Newer))
				return h.appendFailure(out, r, "put versions", res.Err)
			})
	}
	if br, ok := h.node.(transport.BatchReader); ok {
		serveBatch(h, "POST "+pathVersionReadBatch, "get versions", readKeys, br.GetVersions,
			func(out []byte, r *http.Request, res transport.VersionReadResult) []byte {
				err := res.Err
				if err == nil {
					var rec []byte
					if rec, err = res.V.MarshalBinary(); err == nil {
						return appendAnswer(out, 0, rec)
					}
				}
				return h.appendFailure(out, r, "get versions", err)
			})
	}
	if sp, ok := h.node.(transport.ShardProber); ok {
		serveBatch(h, "POST "+pathShardProbe, "probe shards", readRefs, sp.HasShards,
			func(out []byte, _ *http.Request, has bool) []byte {
				if has {
					return append(out, 1)
				}
				return append(out, 0)
			})
	}
}

// serveBatch serves a batch route: decode the items, run them, and answer
// each in order with encode.
func serveBatch[Q, A any](h *Handler, pattern, op string, decode func(io.Reader) ([]Q, error),
	run func(context.Context, []Q) ([]A, error), encode func([]byte, *http.Request, A) []byte) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		items, err := decode(http.MaxBytesReader(nil, r.Body, maxBatchBody))
		if err != nil {
			h.fail(w, r, op, err)
			return
		}
		answers, err := run(r.Context(), items)
		if err == nil && len(answers) != len(items) {
			err = fmt.Errorf("%s: %d answers for %d items", op, len(answers), len(items))
		}
		if err != nil {
			h.fail(w, r, op, err)
			return
		}
		var out []byte
		for _, a := range answers {
			out = encode(out, r, a)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(out)
	})
}

// appendFailure appends an item's error code and message (code 0 and no
// message for success), logging what has no code of its own.
func (h *Handler) appendFailure(out []byte, r *http.Request, op string, err error) []byte {
	if err == nil {
		return appendAnswer(out, 0, nil)
	}
	code := transport.CodeOf(err)
	if code == transport.CodeInternal {
		h.log.Error("node request failed", "op", op, "request_id", transport.RequestIDFrom(r.Context()), "err", err)
	}
	msg := err.Error()
	if len(msg) > maxFailureMessage {
		msg = msg[:maxFailureMessage]
	}
	return appendAnswer(out, code, []byte(msg))
}

// appendAnswer appends one item's answer: its error code (0 for success)
// and a length-prefixed payload, the result or the error message.
func appendAnswer(out []byte, code transport.Code, payload []byte) []byte {
	out = binary.AppendUvarint(out, uint64(code))
	out = binary.AppendUvarint(out, uint64(len(payload)))
	return append(out, payload...)
}

// readAnswer reads what appendAnswer wrote: the payload of a success, or
// the node's failure for that item as a *transport.Error. err is for the
// exchange.
func (c *Client) readAnswer(br *bufio.Reader, op string) (payload []byte, failure, err error) {
	code, err1 := binary.ReadUvarint(br)
	n, err2 := binary.ReadUvarint(br)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, err
	}
	if n > maxRecordBody {
		return nil, nil, fmt.Errorf("answer of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		return nil, nil, err
	}
	if code != 0 {
		return nil, &transport.Error{Node: c.node, Op: op, Code: transport.Code(code), Message: string(payload)}, nil
	}
	return payload, nil, nil
}

// readBatch decodes a batch request body.
func readBatch(r io.Reader) ([]transport.VersionWrite, error) {
	br := bufio.NewReader(r)
	var writes []transport.VersionWrite
	for {
		flags, err := br.ReadByte()
		if err == io.EOF {
			return writes, nil
		}
		if err != nil {
			return nil, errors.Join(transport.ErrInvalid, err)
		}
		n, err := binary.ReadUvarint(br)
		if err != nil || n > maxRecordBody {
			return nil, fmt.Errorf("%w: record %d: bad length", transport.ErrInvalid, len(writes))
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(br, rec); err != nil {
			return nil, errors.Join(transport.ErrInvalid, err)
		}
		v := new(metadata.Version)
		if err := v.UnmarshalBinary(rec); err != nil {
			return nil, errors.Join(transport.ErrInvalid, err)
		}
		writes = append(writes, transport.VersionWrite{V: v, UnlessNewer: flags&batchUnlessNewer != 0})
	}
}

// GetVersions implements transport.BatchReader.
func (c *Client) GetVersions(ctx context.Context, keys []metadata.ObjectKey) ([]transport.VersionReadResult, error) {
	body := encodeKeys(keys)
	resp, err := c.do(ctx, "get versions", http.MethodPost, c.url(pathVersionReadBatch, nil), bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	results := make([]transport.VersionReadResult, len(keys))
	for i := range results {
		b, failure, err := c.readAnswer(br, "get version")
		if err != nil {
			return nil, fmt.Errorf("get versions on node %s: %w: answer %d of %d: %v", c.node, transport.ErrUnavailable, i, len(keys), err)
		}
		if failure != nil {
			results[i].Err = failure
			continue
		}
		v := new(metadata.Version)
		if err := v.UnmarshalBinary(b); err != nil {
			results[i].Err = fmt.Errorf("get version on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
			continue
		}
		results[i].V = v
	}
	return results, nil
}

// encodeKeys encodes a read batch's request body, as readKeys decodes it.
func encodeKeys(keys []metadata.ObjectKey) []byte {
	var body []byte
	for _, k := range keys {
		body = appendString(appendString(body, k.Bucket), k.Key)
	}
	return body
}

// readKeys decodes a read batch's request body.
func readKeys(r io.Reader) ([]metadata.ObjectKey, error) {
	return readEach(r, func(br *bufio.Reader) (metadata.ObjectKey, error) {
		bucket, err := readString(br)
		if err != nil {
			return metadata.ObjectKey{}, err
		}
		key, err := readString(br)
		return metadata.ObjectKey{Bucket: bucket, Key: key}, err
	})
}

// readEach decodes a request body of items one after another, each read
// by one, until the body ends.
func readEach[T any](r io.Reader, one func(*bufio.Reader) (T, error)) ([]T, error) {
	br := bufio.NewReader(r)
	var items []T
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return items, nil
		}
		item, err := one(br)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
}

// HasShards implements transport.ShardProber.
func (c *Client) HasShards(ctx context.Context, refs []transport.ShardRef) ([]bool, error) {
	body := encodeRefs(refs)
	resp, err := c.do(ctx, "probe shards", http.MethodPost, c.url(pathShardProbe, nil), bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	ans := make([]byte, len(refs))
	if _, err := io.ReadFull(resp.Body, ans); err != nil {
		return nil, fmt.Errorf("probe shards on node %s: %w: %v", c.node, transport.ErrUnavailable, err)
	}
	has := make([]bool, len(refs))
	for i, b := range ans {
		has[i] = b == 1
	}
	return has, nil
}

// encodeRefs encodes a shard probe's request body, as readRefs decodes it.
func encodeRefs(refs []transport.ShardRef) []byte {
	var body []byte
	for _, ref := range refs {
		body = appendString(appendString(appendString(body, ref.Bucket), ref.Key), ref.VersionID)
		body = binary.AppendUvarint(body, uint64(ref.Index))
	}
	return body
}

// readRefs decodes a shard probe's request body.
func readRefs(r io.Reader) ([]transport.ShardRef, error) {
	return readEach(r, func(br *bufio.Reader) (transport.ShardRef, error) {
		var f [3]string
		for i := range f {
			s, err := readString(br)
			if err != nil {
				return transport.ShardRef{}, err
			}
			f[i] = s
		}
		index, err := binary.ReadUvarint(br)
		if err != nil || index > 1<<16 {
			return transport.ShardRef{}, fmt.Errorf("%w: bad shard index", transport.ErrInvalid)
		}
		return transport.ShardRef{Bucket: f[0], Key: f[1], VersionID: f[2], Index: int(index)}, nil
	})
}

// appendString appends s's length as a uvarint and s, as readString reads.
func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// readString reads a uvarint length and that many bytes.
func readString(br *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil || n > 4096 {
		return "", fmt.Errorf("%w: bad length", transport.ErrInvalid)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return "", errors.Join(transport.ErrInvalid, err)
	}
	return string(b), nil
}

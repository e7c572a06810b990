package httptransport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"cairn/metadata"
	"cairn/transport"
)

// Routes of the optional node interfaces (transport.UploadStore,
// ConditionalWriter, TagWriter, OrderedWriter).
const (
	pathUpload       = "/v1/upload"
	pathUploadFinish = "/v1/upload/finish"
	pathUploads      = "/v1/uploads"
	pathPart         = "/v1/part"
	pathParts        = "/v1/parts"
	pathVersionIf    = "/v1/version/if"
	pathVersionFresh = "/v1/version/fresh"
	pathResolve      = "/v1/version/resolve"
	pathTags         = "/v1/tags"
)

var (
	_ transport.UploadStore       = (*Client)(nil)
	_ transport.ConditionalWriter = (*Client)(nil)
	_ transport.TagWriter         = (*Client)(nil)
	_ transport.OrderedWriter     = (*Client)(nil)
)

func uploadQuery(bucket, key, uploadID string) url.Values {
	return url.Values{"b": {bucket}, "k": {key}, "u": {uploadID}}
}

// frame appends a uvarint length and b.
func frame(out, b []byte) []byte {
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

// unframe splits a sequence of frames.
func unframe(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, fmt.Errorf("%w: framing", transport.ErrCorrupt)
		}
		out = append(out, b[w:w+int(n)])
		b = b[w+int(n):]
	}
	return out, nil
}

func encodeTags(tags map[string]string) []byte {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []byte
	for _, k := range keys {
		out = frame(out, []byte(k))
		out = frame(out, []byte(tags[k]))
	}
	return out
}

func decodeTags(b []byte) (map[string]string, error) {
	fs, err := unframe(b)
	if err != nil || len(fs)%2 != 0 {
		return nil, fmt.Errorf("%w: tags", transport.ErrInvalid)
	}
	if len(fs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(fs)/2)
	for i := 0; i < len(fs); i += 2 {
		m[string(fs[i])] = string(fs[i+1])
	}
	return m, nil
}

// PutUpload implements transport.UploadStore.
func (c *Client) PutUpload(ctx context.Context, u *metadata.Upload) error {
	rec, err := u.MarshalBinary()
	if err != nil {
		return fmt.Errorf("put upload on node %s: %w", c.node, err)
	}
	return c.doNoBody(ctx, "put upload", http.MethodPut, c.url(pathUpload, nil), rec)
}

// GetUpload implements transport.UploadStore.
func (c *Client) GetUpload(ctx context.Context, bucket, key, uploadID string) (*metadata.Upload, error) {
	b, err := c.readAll(ctx, "get upload", c.url(pathUpload, uploadQuery(bucket, key, uploadID)))
	if err != nil {
		return nil, err
	}
	u := new(metadata.Upload)
	if err := u.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("get upload on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
	}
	return u, nil
}

// PutPart implements transport.UploadStore.
func (c *Client) PutPart(ctx context.Context, bucket, key, uploadID string, p *metadata.UploadPart) error {
	rec, err := p.MarshalBinary()
	if err != nil {
		return fmt.Errorf("put part on node %s: %w", c.node, err)
	}
	return c.doNoBody(ctx, "put part", http.MethodPut, c.url(pathPart, uploadQuery(bucket, key, uploadID)), rec)
}

// Parts implements transport.UploadStore.
func (c *Client) Parts(ctx context.Context, bucket, key, uploadID string) ([]metadata.UploadPart, error) {
	b, err := c.readAll(ctx, "parts", c.url(pathParts, uploadQuery(bucket, key, uploadID)))
	if err != nil {
		return nil, err
	}
	fs, err := unframe(b)
	if err != nil {
		return nil, fmt.Errorf("parts on node %s: %w", c.node, err)
	}
	out := make([]metadata.UploadPart, len(fs))
	for i, f := range fs {
		if err := out[i].UnmarshalBinary(f); err != nil {
			return nil, fmt.Errorf("parts on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
		}
	}
	return out, nil
}

// FinishUpload implements transport.UploadStore.
func (c *Client) FinishUpload(ctx context.Context, bucket, key, uploadID string, keep []string) error {
	q := uploadQuery(bucket, key, uploadID)
	var body []byte
	for _, s := range keep {
		body = frame(body, []byte(s))
	}
	return c.doNoBody(ctx, "finish upload", http.MethodPost, c.url(pathUploadFinish, q), body)
}

// ListUploads implements transport.UploadStore.
func (c *Client) ListUploads(ctx context.Context, req transport.UploadListRequest) (*transport.UploadPage, error) {
	q := url.Values{"b": {req.Bucket}, "p": {req.Prefix}, "km": {req.KeyMarker}, "um": {req.UploadIDMarker}, "l": {strconv.Itoa(req.Limit)}}
	b, err := c.readAll(ctx, "list uploads", c.url(pathUploads, q))
	if err != nil {
		return nil, err
	}
	if len(b) < 1 {
		return nil, fmt.Errorf("list uploads on node %s: %w: empty page", c.node, transport.ErrCorrupt)
	}
	fs, err := unframe(b[1:])
	if err != nil {
		return nil, fmt.Errorf("list uploads on node %s: %w", c.node, err)
	}
	page := &transport.UploadPage{Truncated: b[0] == 1, Uploads: make([]metadata.Upload, len(fs))}
	for i, f := range fs {
		if err := page.Uploads[i].UnmarshalBinary(f); err != nil {
			return nil, fmt.Errorf("list uploads on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
		}
	}
	return page, nil
}

// PutVersionIf implements transport.ConditionalWriter.
func (c *Client) PutVersionIf(ctx context.Context, v *metadata.Version, cond transport.Condition) (bool, error) {
	rec, err := v.MarshalBinary()
	if err != nil {
		return false, fmt.Errorf("put version if on node %s: %w", c.node, err)
	}
	q := url.Values{"mv": {cond.MatchVersionID}, "mh": {strconv.FormatUint(uint64(cond.MatchHLC), 10)}}
	if cond.MustNotExist {
		q.Set("nx", "1")
	}
	resp, err := c.do(ctx, "put version if", http.MethodPut, c.url(pathVersionIf, q), bytes.NewReader(rec), int64(len(rec)))
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var ans [1]byte
	if _, err := io.ReadFull(resp.Body, ans[:]); err != nil {
		return false, fmt.Errorf("put version if on node %s: %w: no decision", c.node, transport.ErrUnavailable)
	}
	return ans[0] == '1', nil
}

// PutVersionUnlessNewer implements transport.OrderedWriter.
func (c *Client) PutVersionUnlessNewer(ctx context.Context, v *metadata.Version) (metadata.HLC, error) {
	rec, err := v.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("put fresh version on node %s: %w", c.node, err)
	}
	resp, err := c.do(ctx, "put fresh version", http.MethodPut, c.url(pathVersionFresh, nil), bytes.NewReader(rec), int64(len(rec)))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ans [8]byte
	if _, err := io.ReadFull(resp.Body, ans[:]); err != nil {
		return 0, fmt.Errorf("put fresh version on node %s: %w: no decision", c.node, transport.ErrUnavailable)
	}
	return metadata.HLC(binary.BigEndian.Uint64(ans[:])), nil
}

// ResolveVersion implements transport.ConditionalWriter.
func (c *Client) ResolveVersion(ctx context.Context, key metadata.ObjectKey, versionID string, commit bool) error {
	q := url.Values{"b": {key.Bucket}, "k": {key.Key}, "v": {versionID}}
	if commit {
		q.Set("commit", "1")
	}
	return c.doNoBody(ctx, "resolve version", http.MethodPost, c.url(pathResolve, q), []byte{})
}

// SetTags implements transport.TagWriter.
func (c *Client) SetTags(ctx context.Context, key metadata.ObjectKey, versionID string, tags map[string]string, at metadata.HLC) error {
	q := url.Values{"b": {key.Bucket}, "k": {key.Key}, "v": {versionID}, "at": {strconv.FormatUint(uint64(at), 10)}}
	return c.doNoBody(ctx, "set tags", http.MethodPut, c.url(pathTags, q), encodeTags(tags))
}

// registerS3Ops adds the routes of the optional interfaces the node
// implements.
func (h *Handler) registerS3Ops() {
	if us, ok := h.node.(transport.UploadStore); ok {
		h.mux.HandleFunc("PUT "+pathUpload, func(w http.ResponseWriter, r *http.Request) {
			rec, err := readRecord(r)
			u := new(metadata.Upload)
			if err == nil {
				if derr := u.UnmarshalBinary(rec); derr != nil {
					err = errors.Join(transport.ErrInvalid, derr)
				}
			}
			if err == nil {
				err = us.PutUpload(r.Context(), u)
			}
			h.noContent(w, r, "put upload", err)
		})
		h.mux.HandleFunc("GET "+pathUpload, func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			u, err := us.GetUpload(r.Context(), q.Get("b"), q.Get("k"), q.Get("u"))
			var rec []byte
			if err == nil {
				rec, err = u.MarshalBinary()
			}
			h.reply(w, r, "get upload", rec, err)
		})
		h.mux.HandleFunc("PUT "+pathPart, func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			rec, err := readRecord(r)
			p := new(metadata.UploadPart)
			if err == nil {
				if derr := p.UnmarshalBinary(rec); derr != nil {
					err = errors.Join(transport.ErrInvalid, derr)
				}
			}
			if err == nil {
				err = us.PutPart(r.Context(), q.Get("b"), q.Get("k"), q.Get("u"), p)
			}
			h.noContent(w, r, "put part", err)
		})
		h.mux.HandleFunc("GET "+pathParts, func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			parts, err := us.Parts(r.Context(), q.Get("b"), q.Get("k"), q.Get("u"))
			var out []byte
			for i := 0; err == nil && i < len(parts); i++ {
				var rec []byte
				if rec, err = parts[i].MarshalBinary(); err == nil {
					out = frame(out, rec)
				}
			}
			h.reply(w, r, "parts", out, err)
		})
		h.mux.HandleFunc("POST "+pathUploadFinish, func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			body, err := readRecord(r)
			var keep []string
			if err == nil {
				var fs [][]byte
				if fs, err = unframe(body); err == nil {
					for _, f := range fs {
						keep = append(keep, string(f))
					}
				} else {
					err = errors.Join(transport.ErrInvalid, err)
				}
			}
			if err == nil {
				err = us.FinishUpload(r.Context(), q.Get("b"), q.Get("k"), q.Get("u"), keep)
			}
			h.noContent(w, r, "finish upload", err)
		})
		h.mux.HandleFunc("GET "+pathUploads, func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			limit, err := strconv.Atoi(q.Get("l"))
			if err != nil {
				h.fail(w, r, "list uploads", transport.ErrInvalid)
				return
			}
			page, err := us.ListUploads(r.Context(), transport.UploadListRequest{Bucket: q.Get("b"), Prefix: q.Get("p"),
				KeyMarker: q.Get("km"), UploadIDMarker: q.Get("um"), Limit: limit})
			out := []byte{0}
			if err == nil {
				if page.Truncated {
					out[0] = 1
				}
				for i := 0; err == nil && i < len(page.Uploads); i++ {
					var rec []byte
					if rec, err = page.Uploads[i].MarshalBinary(); err == nil {
						out = frame(out, rec)
					}
				}
			}
			h.reply(w, r, "list uploads", out, err)
		})
	}
	if cw, ok := h.node.(transport.ConditionalWriter); ok {
		h.mux.HandleFunc("PUT "+pathVersionIf, func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			rec, err := readRecord(r)
			v := new(metadata.Version)
			if err == nil {
				if derr := v.UnmarshalBinary(rec); derr != nil {
					err = errors.Join(transport.ErrInvalid, derr)
				}
			}
			mh, perr := strconv.ParseUint(q.Get("mh"), 10, 64)
			if err == nil && perr != nil {
				err = transport.ErrInvalid
			}
			accepted := false
			if err == nil {
				cond := transport.Condition{MustNotExist: q.Get("nx") == "1", MatchVersionID: q.Get("mv"), MatchHLC: metadata.HLC(mh)}
				accepted, err = cw.PutVersionIf(r.Context(), v, cond)
			}
			ans := []byte{'0'}
			if accepted {
				ans[0] = '1'
			}
			h.reply(w, r, "put version if", ans, err)
		})
		h.mux.HandleFunc("POST "+pathResolve, func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			err := cw.ResolveVersion(r.Context(), metadata.ObjectKey{Bucket: q.Get("b"), Key: q.Get("k")}, q.Get("v"), q.Get("commit") == "1")
			h.noContent(w, r, "resolve version", err)
		})
	}
	if ow, ok := h.node.(transport.OrderedWriter); ok {
		h.mux.HandleFunc("PUT "+pathVersionFresh, func(w http.ResponseWriter, r *http.Request) {
			rec, err := readRecord(r)
			v := new(metadata.Version)
			if err == nil {
				if derr := v.UnmarshalBinary(rec); derr != nil {
					err = errors.Join(transport.ErrInvalid, derr)
				}
			}
			var newer metadata.HLC
			if err == nil {
				newer, err = ow.PutVersionUnlessNewer(r.Context(), v)
			}
			h.reply(w, r, "put fresh version", binary.BigEndian.AppendUint64(nil, uint64(newer)), err)
		})
	}
	if tw, ok := h.node.(transport.TagWriter); ok {
		h.mux.HandleFunc("PUT "+pathTags, func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			body, err := readRecord(r)
			var tags map[string]string
			if err == nil {
				tags, err = decodeTags(body)
			}
			var at uint64
			if err == nil {
				at, err = strconv.ParseUint(q.Get("at"), 10, 64)
			}
			if err == nil {
				err = tw.SetTags(r.Context(), metadata.ObjectKey{Bucket: q.Get("b"), Key: q.Get("k")}, q.Get("v"), tags, metadata.HLC(at))
			} else {
				err = errors.Join(transport.ErrInvalid, err)
			}
			h.noContent(w, r, "set tags", err)
		})
	}
}

func (h *Handler) noContent(w http.ResponseWriter, r *http.Request, op string, err error) {
	if err != nil {
		h.fail(w, r, op, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) reply(w http.ResponseWriter, r *http.Request, op string, body []byte, err error) {
	if err != nil {
		h.fail(w, r, op, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(body)
}

package httptransport

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"cairn/metadata"
	"cairn/transport"
)

// Handler serves one node's transport.NodeClient over HTTP.
type Handler struct {
	node transport.NodeClient
	log  *slog.Logger
	mux  *http.ServeMux
}

// NewHandler returns a handler serving node. A nil logger discards.
func NewHandler(node transport.NodeClient, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{node: node, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("PUT "+pathShard, h.putShard)
	h.mux.HandleFunc("GET "+pathShard, h.readShard)
	h.mux.HandleFunc("DELETE "+pathShard, h.deleteShard)
	h.mux.HandleFunc("PUT "+pathVersion, h.putVersion)
	h.mux.HandleFunc("GET "+pathVersion, h.getVersion)
	h.mux.HandleFunc("GET "+pathList, h.list)
	h.mux.HandleFunc("PUT "+pathBucket, h.putBucket)
	h.mux.HandleFunc("GET "+pathBuckets, h.buckets)
	h.registerS3Ops()
	h.registerRebalance()
	h.registerAntiEntropy()
	h.registerVersions()
	h.registerPrefixList()
	h.registerAdmin()
	h.registerBatch()
	if hinter, ok := node.(transport.Hinter); ok {
		h.mux.HandleFunc("PUT "+pathShardHint, func(w http.ResponseWriter, r *http.Request) { h.putShardHint(w, r, hinter) })
		h.mux.HandleFunc("PUT "+pathVersionHint, func(w http.ResponseWriter, r *http.Request) { h.putVersionHint(w, r, hinter) })
	}
	return h
}

func (h *Handler) putShardHint(w http.ResponseWriter, r *http.Request, hinter transport.Hinter) {
	q := r.URL.Query()
	ref, err := parseRef(q)
	if err != nil {
		h.fail(w, r, "put shard hint", err)
		return
	}
	if r.ContentLength < 0 {
		h.fail(w, r, "put shard hint", errors.Join(transport.ErrInvalid, errors.New("missing content length")))
		return
	}
	if err := hinter.PutShardHint(r.Context(), q.Get("home"), ref, r.Body, r.ContentLength); err != nil {
		h.fail(w, r, "put shard hint", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) putVersionHint(w http.ResponseWriter, r *http.Request, hinter transport.Hinter) {
	rec, err := readRecord(r)
	if err != nil {
		h.fail(w, r, "put version hint", err)
		return
	}
	v := new(metadata.Version)
	if err := v.UnmarshalBinary(rec); err != nil {
		h.fail(w, r, "put version hint", errors.Join(transport.ErrInvalid, err))
		return
	}
	if err := hinter.PutVersionHint(r.Context(), r.URL.Query().Get("home"), v); err != nil {
		h.fail(w, r, "put version hint", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ServeHTTP implements http.Handler. The gateway's S3 request ID, when the
// request carries one, goes into the request's context for the node's own
// logging (transport.RequestIDFrom).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id := r.Header.Get(transport.HeaderRequestID); id != "" {
		r = r.WithContext(transport.WithRequestID(r.Context(), id))
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	code := transport.CodeOf(err)
	status := http.StatusInternalServerError
	switch code {
	case transport.CodeNotFound:
		status = http.StatusNotFound
	case transport.CodeInvalid:
		status = http.StatusBadRequest
	case transport.CodeUnavailable, transport.CodeHintRefused:
		status = http.StatusServiceUnavailable
	case transport.CodeNoSpace:
		status = http.StatusInsufficientStorage
	default:
		h.log.Error("node request failed", "op", op, "request_id", transport.RequestIDFrom(r.Context()), "err", err)
	}
	w.Header().Set(headerError, strconv.Itoa(int(code)))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, err.Error())
}

func (h *Handler) putShard(w http.ResponseWriter, r *http.Request) {
	ref, err := parseRef(r.URL.Query())
	if err != nil {
		h.fail(w, r, "put shard", err)
		return
	}
	if r.ContentLength < 0 {
		h.fail(w, r, "put shard", errors.Join(transport.ErrInvalid, errors.New("missing content length")))
		return
	}
	if err := h.node.PutShard(r.Context(), ref, r.Body, r.ContentLength); err != nil {
		h.fail(w, r, "put shard", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) readShard(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref, err := parseRef(q)
	if err != nil {
		h.fail(w, r, "read shard", err)
		return
	}
	off, err1 := strconv.ParseInt(q.Get("off"), 10, 64)
	n, err2 := strconv.ParseInt(q.Get("n"), 10, 64)
	if err1 != nil || err2 != nil {
		h.fail(w, r, "read shard", transport.ErrInvalid)
		return
	}
	rc, err := h.node.ReadShard(r.Context(), ref, off, n)
	if err != nil {
		h.fail(w, r, "read shard", err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	if sized, ok := rc.(interface{ Size() int64 }); ok {
		// Without a length the body would go out chunked.
		w.Header().Set("Content-Length", strconv.FormatInt(sized.Size(), 10))
	}
	sendShard(w, rc)
}

// sendShard writes a shard's bytes as the rest of the response body.
func sendShard(w http.ResponseWriter, rc io.Reader) {
	var err error
	if wt, ok := rc.(io.WriterTo); ok {
		// A node's shard file goes out by sendfile (node.shardRange).
		_, err = wt.WriteTo(w)
	} else {
		_, err = copyBody(w, rc)
	}
	if err != nil {
		// Headers are gone; cutting the connection is the only way to
		// tell the client the body is incomplete.
		panic(http.ErrAbortHandler)
	}
}

func (h *Handler) deleteShard(w http.ResponseWriter, r *http.Request) {
	ref, err := parseRef(r.URL.Query())
	if err != nil {
		h.fail(w, r, "delete shard", err)
		return
	}
	if err := h.node.DeleteShard(r.Context(), ref); err != nil {
		h.fail(w, r, "delete shard", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func readRecord(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRecordBody))
	if err != nil {
		return nil, errors.Join(transport.ErrInvalid, err)
	}
	return b, nil
}

func (h *Handler) putVersion(w http.ResponseWriter, r *http.Request) {
	rec, err := readRecord(r)
	if err != nil {
		h.fail(w, r, "put version", err)
		return
	}
	v := new(metadata.Version)
	if err := v.UnmarshalBinary(rec); err != nil {
		h.fail(w, r, "put version", errors.Join(transport.ErrInvalid, err))
		return
	}
	if err := h.node.PutVersion(r.Context(), v); err != nil {
		h.fail(w, r, "put version", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getVersion answers with the record; asked for a shard up to a size (the
// "shard" parameter) by a node that can prefetch, with the record followed
// by the node's shard of it, its index and the record's length in headers.
func (h *Handler) getVersion(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := metadata.ObjectKey{Bucket: q.Get("b"), Key: q.Get("k")}
	var (
		v     *metadata.Version
		index = -1
		shard io.ReadCloser
		err   error
	)
	if sp, ok := h.node.(transport.ShardPrefetcher); ok && q.Has("shard") {
		maxSize, perr := strconv.ParseInt(q.Get("shard"), 10, 64)
		if perr != nil {
			h.fail(w, r, "get version", transport.ErrInvalid)
			return
		}
		v, index, shard, err = sp.GetVersionWithShard(r.Context(), key, maxSize)
	} else {
		v, err = h.node.GetVersion(r.Context(), key)
	}
	if err != nil {
		h.fail(w, r, "get version", err)
		return
	}
	if shard != nil {
		defer shard.Close()
	}
	rec, err := v.MarshalBinary()
	if err != nil {
		h.fail(w, r, "get version", err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	sized, ok := shard.(interface{ Size() int64 })
	if shard == nil || !ok {
		w.Write(rec)
		return
	}
	w.Header().Set(headerShardIndex, strconv.Itoa(index))
	w.Header().Set(headerRecordLength, strconv.Itoa(len(rec)))
	w.Header().Set("Content-Length", strconv.FormatInt(int64(len(rec))+sized.Size(), 10))
	w.Write(rec)
	sendShard(w, shard)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("l"))
	if err != nil {
		h.fail(w, r, "list", transport.ErrInvalid)
		return
	}
	page, err := h.node.List(r.Context(), transport.ListRequest{Bucket: q.Get("b"), Prefix: q.Get("p"), After: q.Get("a"), Limit: limit})
	if err != nil {
		h.fail(w, r, "list", err)
		return
	}
	body, err := metadata.EncodeListPage(page.Entries, page.Truncated)
	if err != nil {
		h.fail(w, r, "list", err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(body)
}

func (h *Handler) putBucket(w http.ResponseWriter, r *http.Request) {
	rec, err := readRecord(r)
	if err != nil {
		h.fail(w, r, "put bucket", err)
		return
	}
	b := new(metadata.Bucket)
	if err := b.UnmarshalBinary(rec); err != nil {
		h.fail(w, r, "put bucket", errors.Join(transport.ErrInvalid, err))
		return
	}
	if err := h.node.PutBucket(r.Context(), b); err != nil {
		h.fail(w, r, "put bucket", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) buckets(w http.ResponseWriter, r *http.Request) {
	bs, err := h.node.Buckets(r.Context())
	if err != nil {
		h.fail(w, r, "buckets", err)
		return
	}
	body, err := encodeBuckets(bs)
	if err != nil {
		h.fail(w, r, "buckets", err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(body)
}

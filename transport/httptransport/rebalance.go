package httptransport

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"cairn/metadata"
	"cairn/transport"
)

const pathRelocate = "/v1/relocate"

var _ transport.Relocator = (*Client)(nil)

// RelocateShard implements transport.Relocator.
func (c *Client) RelocateShard(ctx context.Context, r transport.Relocation) error {
	q := url.Values{"b": {r.Key.Bucket}, "k": {r.Key.Key}, "v": {r.VersionID},
		"i": {strconv.Itoa(r.Index)}, "from": {r.From}, "to": {r.To}}
	return c.doNoBody(ctx, "relocate shard", http.MethodPost, c.url(pathRelocate, q), nil)
}

func (h *Handler) registerRebalance() {
	rl, ok := h.node.(transport.Relocator)
	if !ok {
		return
	}
	h.mux.HandleFunc("POST "+pathRelocate, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		i, err := strconv.Atoi(q.Get("i"))
		if err == nil {
			err = rl.RelocateShard(r.Context(), transport.Relocation{Key: metadata.ObjectKey{Bucket: q.Get("b"), Key: q.Get("k")},
				VersionID: q.Get("v"), Index: i, From: q.Get("from"), To: q.Get("to")})
		} else {
			err = errors.Join(transport.ErrInvalid, err)
		}
		h.noContent(w, r, "relocate shard", err)
	})
}

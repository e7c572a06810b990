package httptransport

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"cairn/metadata"
	"cairn/transport"
)

// pathListPrefixes is the route of transport.PrefixLister: the query of
// pathList plus "d", the delimiter; the answer is a list page, as for
// pathList.
const pathListPrefixes = "/v1/list/prefixes"

var _ transport.PrefixLister = (*Client)(nil)

// ListPrefixes implements transport.PrefixLister.
func (c *Client) ListPrefixes(ctx context.Context, req transport.PrefixListRequest) (*transport.ListPage, error) {
	q := url.Values{"b": {req.Bucket}, "p": {req.Prefix}, "a": {req.After}, "l": {strconv.Itoa(req.Limit)}, "d": {req.Delimiter}}
	b, err := c.readAll(ctx, "list prefixes", c.url(pathListPrefixes, q))
	if err != nil {
		return nil, err
	}
	entries, truncated, err := metadata.DecodeListPage(b)
	if err != nil {
		return nil, fmt.Errorf("list prefixes on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
	}
	return &transport.ListPage{Entries: entries, Truncated: truncated}, nil
}

// registerPrefixList adds the PrefixLister route if the node has it.
func (h *Handler) registerPrefixList() {
	pl, ok := h.node.(transport.PrefixLister)
	if !ok {
		return
	}
	h.mux.HandleFunc("GET "+pathListPrefixes, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, err := strconv.Atoi(q.Get("l"))
		if err != nil {
			h.fail(w, r, "list prefixes", transport.ErrInvalid)
			return
		}
		page, err := pl.ListPrefixes(r.Context(), transport.PrefixListRequest{
			ListRequest: transport.ListRequest{Bucket: q.Get("b"), Prefix: q.Get("p"), After: q.Get("a"), Limit: limit},
			Delimiter:   q.Get("d")})
		var out []byte
		if err == nil {
			out, err = metadata.EncodeListPage(page.Entries, page.Truncated)
		}
		h.reply(w, r, "list prefixes", out, err)
	})
}

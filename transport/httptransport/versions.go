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

// Routes of transport.VersionStore. A version page travels like a page of
// anti-entropy records: truncated:1 byte, then uvarint length + record.
const (
	pathVersionByID = "/v1/version/id"
	pathVersions    = "/v1/versions"
)

var _ transport.VersionStore = (*Client)(nil)

// GetVersionByID implements transport.VersionStore.
func (c *Client) GetVersionByID(ctx context.Context, key metadata.ObjectKey, versionID string) (*metadata.Version, error) {
	b, err := c.readAll(ctx, "get version by id", c.url(pathVersionByID, url.Values{"b": {key.Bucket}, "k": {key.Key}, "v": {versionID}}))
	if err != nil {
		return nil, err
	}
	v := new(metadata.Version)
	if err := v.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("get version by id on node %s: %w: %v", c.node, transport.ErrCorrupt, err)
	}
	return v, nil
}

func versionListQuery(req transport.VersionListRequest) url.Values {
	return url.Values{"b": {req.Bucket}, "p": {req.Prefix}, "f": {req.From}, "km": {req.KeyMarker},
		"vm": {req.VersionIDMarker}, "mh": {strconv.FormatUint(uint64(req.MarkerHLC), 10)}, "l": {strconv.Itoa(req.Limit)}}
}

func parseVersionList(q url.Values) (transport.VersionListRequest, error) {
	limit, err1 := strconv.Atoi(q.Get("l"))
	mh, err2 := strconv.ParseUint(q.Get("mh"), 10, 64)
	if err1 != nil || err2 != nil {
		return transport.VersionListRequest{}, fmt.Errorf("%w: version list query", transport.ErrInvalid)
	}
	return transport.VersionListRequest{Bucket: q.Get("b"), Prefix: q.Get("p"), From: q.Get("f"), KeyMarker: q.Get("km"),
		VersionIDMarker: q.Get("vm"), MarkerHLC: metadata.HLC(mh), Limit: limit}, nil
}

// ListVersions implements transport.VersionStore.
func (c *Client) ListVersions(ctx context.Context, req transport.VersionListRequest) (*transport.VersionPage, error) {
	b, err := c.readAll(ctx, "list versions", c.url(pathVersions, versionListQuery(req)))
	if err != nil {
		return nil, err
	}
	page, err := decodePGRecords(b)
	if err != nil {
		return nil, fmt.Errorf("list versions on node %s: %w", c.node, err)
	}
	return &transport.VersionPage{Versions: page.Records, Truncated: page.Truncated}, nil
}

// registerVersions adds the VersionStore routes if the node has them.
func (h *Handler) registerVersions() {
	vs, ok := h.node.(transport.VersionStore)
	if !ok {
		return
	}
	h.mux.HandleFunc("GET "+pathVersionByID, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		v, err := vs.GetVersionByID(r.Context(), metadata.ObjectKey{Bucket: q.Get("b"), Key: q.Get("k")}, q.Get("v"))
		var out []byte
		if err == nil {
			out, err = v.MarshalBinary()
		}
		h.reply(w, r, "get version by id", out, err)
	})
	h.mux.HandleFunc("GET "+pathVersions, func(w http.ResponseWriter, r *http.Request) {
		req, err := parseVersionList(r.URL.Query())
		if err != nil {
			h.fail(w, r, "list versions", err)
			return
		}
		page, err := vs.ListVersions(r.Context(), req)
		var out []byte
		if err == nil {
			out, err = encodePGRecords(&transport.PGRecordsPage{Records: page.Versions, Truncated: page.Truncated})
		}
		h.reply(w, r, "list versions", out, err)
	})
}

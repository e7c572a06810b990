package httptransport

import (
	"context"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"cairn/metadata"
	"cairn/transport"
)

// prefixNode answers ListPrefixes with a fixed page and records the request.
type prefixNode struct {
	transport.NodeClient
	got  transport.PrefixListRequest
	page transport.ListPage
}

func (p *prefixNode) ListPrefixes(_ context.Context, req transport.PrefixListRequest) (*transport.ListPage, error) {
	p.got = req
	return &p.page, nil
}

func TestListPrefixesRoundTrip(t *testing.T) {
	t.Parallel()
	node := &prefixNode{page: transport.ListPage{Truncated: true, Entries: []metadata.ListEntry{
		{Key: "a/1", VersionID: "v", HLC: 3, Size: 1, ETag: "e"},
		{Key: "a/", Prefix: true},
	}}}
	srv := httptest.NewServer(NewHandler(node, nil))
	defer srv.Close()
	c := NewClient("n1", strings.TrimPrefix(srv.URL, "http://"), srv.Client())
	req := transport.PrefixListRequest{Delimiter: "/", ListRequest: transport.ListRequest{Bucket: "b", Prefix: "p", After: "a/\xff", Limit: 7}}
	page, err := c.ListPrefixes(t.Context(), req)
	if err != nil {
		t.Fatalf("ListPrefixes: %v", err)
	}
	if !reflect.DeepEqual(node.got, req) {
		t.Errorf("node got %+v; want %+v", node.got, req)
	}
	if !page.Truncated || !reflect.DeepEqual(page.Entries, node.page.Entries) {
		t.Errorf("ListPrefixes(%+v) = %+v; want %+v", req, page, node.page)
	}
}

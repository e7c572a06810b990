package httptransport

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cairn/metadata"
	"cairn/transport"
)

// idNode records the request ID each call's context carries and fails,
// so the handler logs the failure.
type idNode struct {
	transport.NodeClient // only GetVersion is called
	seen                 string
}

func (n *idNode) GetVersion(ctx context.Context, key metadata.ObjectKey) (*metadata.Version, error) {
	n.seen = transport.RequestIDFrom(ctx)
	return nil, &transport.Error{Code: transport.CodeInternal, Message: "disk on fire"}
}

func TestRequestIDCrossesTheWire(t *testing.T) {
	tests := []struct{ name, id string }{
		{"with id", "00C0FFEE000000000042"},
		{"without id", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			n := &idNode{}
			srv := httptest.NewServer(NewHandler(n, slog.New(slog.NewTextHandler(&logs, nil))))
			defer srv.Close()
			c := NewClient("n1", strings.TrimPrefix(srv.URL, "http://"), &http.Client{})
			ctx := t.Context()
			if tc.id != "" {
				ctx = transport.WithRequestID(ctx, tc.id)
			}
			if _, err := c.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"}); err == nil {
				t.Fatal("GetVersion succeeded; want the node's error")
			}
			if n.seen != tc.id {
				t.Errorf("node saw request ID %q; want %q", n.seen, tc.id)
			}
			if want := "request_id=" + tc.id; !strings.Contains(logs.String(), want) {
				t.Errorf("node log %q lacks %q", logs.String(), want)
			}
		})
	}
}

package objctl

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"cairn/internal/adminapi"
)

func TestClientSignsEveryRequest(t *testing.T) {
	t.Parallel()
	srv := newSignedServer(t, func(c call) (int, any) {
		switch c.path {
		case "/prefix/admin/v1/status":
			return http.StatusOK, adminapi.Status{Gateway: "gw9", DataShards: 4, ParityShards: 2}
		case "/prefix/admin/v1/layout/stage":
			var ch adminapi.LayoutChange
			if err := json.Unmarshal(c.body, &ch); err != nil {
				return http.StatusBadRequest, adminapi.Error{Error: err.Error()}
			}
			return http.StatusOK, adminapi.LayoutView{Epoch: 4, Staged: []adminapi.LayoutNode{{ID: ch.Node, Zone: ch.Zone, Weight: ch.Weight}}}
		case "/prefix/admin/v1/heal":
			return http.StatusOK, adminapi.Status{Gateway: "healed " + c.query}
		case "/prefix/admin/v1/durability":
			return http.StatusOK, adminapi.Durability{DataShards: 4, ParityShards: 2, AFR: 0.05}
		}
		return http.StatusNotFound, adminapi.Error{Error: "no route " + c.path}
	})
	c, err := NewClient(srv.URL+"/prefix/", testAccess, testSecret, testRegion, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || st.Gateway != "gw9" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	v, err := c.Stage(ctx, adminapi.LayoutChange{Op: "add-node", Node: "n7", Zone: "z <2>", Weight: 1.5})
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if want := (adminapi.LayoutNode{ID: "n7", Zone: "z <2>", Weight: 1.5}); len(v.Staged) != 1 || v.Staged[0] != want {
		t.Errorf("Stage echoed %+v, want %+v", v.Staged, want)
	}
	if st, err := c.Heal(ctx, "my bucket"); err != nil || st.Gateway != "healed bucket=my%20bucket" {
		t.Errorf("Heal = %+v, %v", st, err)
	}
	if d, err := c.Durability(ctx, 0.05); err != nil || d.AFR != 0.05 {
		t.Errorf("Durability = %+v, %v", d, err)
	}
	want := []string{"GET /prefix/admin/v1/status", "POST /prefix/admin/v1/layout/stage",
		"POST /prefix/admin/v1/heal?bucket=my%20bucket", "GET /prefix/admin/v1/durability?afr=0.05"}
	if got := srv.callList(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	for _, cl := range srv.calls {
		if cl.accessKey != testAccess {
			t.Errorf("%s signed by %q", cl, cl.accessKey)
		}
	}
}

func TestClientRefusedSignatures(t *testing.T) {
	t.Parallel()
	srv := newSignedServer(t, func(c call) (int, any) { return http.StatusOK, adminapi.Status{} })
	tests := []struct {
		name          string
		access, sec   string
		region        string
		skew          time.Duration
		wantInMessage string
	}{
		{"wrong secret", testAccess, "not-the-secret", testRegion, 0, "SignatureDoesNotMatch"},
		{"unknown key", "someone", testSecret, testRegion, 0, "InvalidAccessKeyId"},
		{"wrong region", testAccess, testSecret, "us-east-1", 0, "region"},
		{"clock an hour off", testAccess, testSecret, testRegion, time.Hour, "RequestTimeTooSkewed"},
	}
	for _, tc := range tests {
		c, err := NewClient(srv.URL, tc.access, tc.sec, tc.region, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.now = func() time.Time { return time.Now().Add(tc.skew) }
		_, err = c.Status(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden || !strings.Contains(ae.Message, tc.wantInMessage) {
			t.Errorf("%s: err %v, want a 403 mentioning %q", tc.name, err, tc.wantInMessage)
		}
	}
	if n := len(srv.callList()); n != 0 {
		t.Errorf("the server accepted %d badly signed requests", n)
	}
}

func TestClientReplyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		reply    any
		wantCode int
		wantMsg  string
		wantProb []string
	}{
		{"refused change", http.StatusConflict,
			adminapi.Error{Error: "layout change refused", Problems: []string{"node n2 is active: drain it before removing it"}},
			409, "layout change refused", []string{"node n2 is active: drain it before removing it"}},
		{"not the admin listener", http.StatusNotFound, "404 page not found", 404, "no admin API here", nil},
		{"proxy page", http.StatusBadGateway, "<html>bad gateway</html>", 502, "<html>bad gateway</html>", nil},
		{"too few nodes", http.StatusServiceUnavailable, adminapi.Error{Error: "no node answered"}, 503, "no node answered", nil},
	}
	for _, tc := range tests {
		srv := newSignedServer(t, func(call) (int, any) { return tc.status, tc.reply })
		c, err := NewClient(srv.URL, testAccess, testSecret, testRegion, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Apply(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Errorf("%s: err %v, want an *APIError", tc.name, err)
			continue
		}
		if ae.StatusCode != tc.wantCode || !strings.HasPrefix(ae.Message, tc.wantMsg) || !slices.Equal(ae.Problems, tc.wantProb) {
			t.Errorf("%s: got %+v, want %d %q %q", tc.name, ae, tc.wantCode, tc.wantMsg, tc.wantProb)
		}
		for _, p := range tc.wantProb {
			if !strings.Contains(err.Error(), "\n  - "+p) {
				t.Errorf("%s: the error text %q does not list %q", tc.name, err, p)
			}
		}
	}

	srv := newSignedServer(t, func(call) (int, any) { return http.StatusOK, "{not json" })
	c, _ := NewClient(srv.URL, testAccess, testSecret, testRegion, nil)
	if _, err := c.Status(context.Background()); err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Errorf("a garbled reply gave %v", err)
	}
}

func TestNewClientChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		endpoint, access, secret, region string
		want                             string
	}{
		{"127.0.0.1:9001", "a", "s", "r", "want http://host:port"},
		{"ftp://h:1", "a", "s", "r", "want http://host:port"},
		{"http://h:1/?x=1", "a", "s", "r", "no query"},
		{"http://h:1", "", "s", "r", "no credentials"},
		{"http://h:1", "a", "", "r", "no credentials"},
		{"http://h:1", "a", "s", "", "no region"},
	}
	for _, tc := range tests {
		_, err := NewClient(tc.endpoint, tc.access, tc.secret, tc.region, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClient(%q, %q, %q, %q) = %v, want %q", tc.endpoint, tc.access, tc.secret, tc.region, err, tc.want)
		}
	}
	if _, err := NewClient("https://gw.example:9001", "a", "s", "r", nil); err != nil {
		t.Errorf("a good endpoint: %v", err)
	}
}

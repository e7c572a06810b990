package membership

import (
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	tests := []meta{
		{Version: metaVersion, Role: RoleNode, Addr: "10.0.0.1:7070"},
		{Version: metaVersion, Role: RoleGateway, Addr: "[::1]:9000", Zone: "rack \"2\"", AdminAddr: "a:1", Leaving: true},
	}
	for _, want := range tests {
		b, err := encodeMeta(want)
		if err != nil {
			t.Fatalf("encodeMeta(%+v) = %v", want, err)
		}
		got, err := decodeMeta(b)
		if err != nil || got != want {
			t.Errorf("decodeMeta(encodeMeta(%+v)) = %+v, %v; want the input, nil", want, got, err)
		}
	}
}

func TestMetaCompact(t *testing.T) {
	b, err := encodeMeta(meta{Version: 1, Role: RoleNode, Addr: "h:1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":1,"r":"node","a":"h:1"}`; string(b) != want {
		t.Errorf("encodeMeta = %s; want %s", b, want)
	}
}

func TestDecodeMeta(t *testing.T) {
	tests := []struct {
		in      string
		want    meta
		wantErr string
	}{
		{`{"v":1,"r":"node","a":"h:1"}`, meta{Version: 1, Role: RoleNode, Addr: "h:1"}, ""},
		// A newer member may add fields; older readers keep what they know.
		{`{"v":2,"r":"gateway","a":"h:2","new":[1,2]}`, meta{Version: 2, Role: RoleGateway, Addr: "h:2"}, ""},
		{``, meta{}, "no metadata"},
		{`{"r":"node","a":"h:1"}`, meta{}, "version 0"},
		{`{"v":1,`, meta{}, "decode metadata"},
		{"\x00\x01", meta{}, "decode metadata"},
		{`{"v":"1"}`, meta{}, "decode metadata"},
	}
	for _, tc := range tests {
		got, err := decodeMeta([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("decodeMeta(%q) = %+v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("decodeMeta(%q) = %+v, %v; want %+v, nil", tc.in, got, err, tc.want)
		}
	}
}

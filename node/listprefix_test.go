package node

import (
	"fmt"
	"strings"
	"testing"

	"cairn/metadata"
	"cairn/transport"
)

// entryString shows a page entry: "p/*" for a Prefix entry, "k-" for a
// tombstone, "k" for a live key.
func entryString(e metadata.ListEntry) string {
	switch {
	case e.Prefix:
		return e.Key + "*"
	case e.Deleted:
		return e.Key + "-"
	}
	return e.Key
}

func TestListPrefixes(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	// a/: live from the start. b/: a tombstone before its first live key.
	// c/: tombstones only. d/e/: nested.
	var vs []*metadata.Version
	for i, k := range []string{"a/1", "a/2", "a/3", "b/1", "b/2", "b/3", "c/1", "c/2", "d/e/1", "d/f", "z"} {
		v := version(k, fmt.Sprint("v", i), metadata.HLC(i+1))
		v.Deleted = k == "b/1" || strings.HasPrefix(k, "c/")
		vs = append(vs, v)
	}
	if err := n.ImportVersions(ctx, vs); err != nil {
		t.Fatalf("ImportVersions: %v", err)
	}
	for _, tc := range []struct {
		prefix, after, delimiter string
		limit                    int
		want                     string
		truncated                bool
	}{
		{"", "", "/", 100, "a/1 a/* b/1- b/2 b/* c/1- c/2- d/e/1 d/* z", false},
		{"", "", "", 100, "a/1 a/2 a/3 b/1- b/2 b/3 c/1- c/2- d/e/1 d/f z", false},
		// A page may end one past Limit, never between a witness and its
		// Prefix entry.
		{"", "", "/", 1, "a/1 a/*", true},
		{"", "a/\xff", "/", 2, "b/1- b/2 b/*", true},
		{"", "b/\xff", "/", 2, "c/1- c/2-", true},
		// Resuming inside a prefix after a witness.
		{"", "a/1", "/", 100, "a/2 a/* b/1- b/2 b/* c/1- c/2- d/e/1 d/* z", false},
		{"d/", "", "/", 100, "d/e/1 d/e/* d/f", false},
		{"", "", "e/", 100, "a/1 a/2 a/3 b/1- b/2 b/3 c/1- c/2- d/e/1 d/e/* d/f z", false},
		{"", "z", "/", 100, "", false},
	} {
		page, err := n.ListPrefixes(ctx, transport.PrefixListRequest{Delimiter: tc.delimiter,
			ListRequest: transport.ListRequest{Bucket: "b", Prefix: tc.prefix, After: tc.after, Limit: tc.limit}})
		if err != nil {
			t.Fatalf("ListPrefixes(%q, %q, %q, %d): %v", tc.prefix, tc.after, tc.delimiter, tc.limit, err)
		}
		var got []string
		for _, e := range page.Entries {
			got = append(got, entryString(e))
		}
		if g := strings.Join(got, " "); g != tc.want || page.Truncated != tc.truncated {
			t.Errorf("ListPrefixes(%q, %q, %q, %d) = %q truncated=%v; want %q truncated=%v",
				tc.prefix, tc.after, tc.delimiter, tc.limit, g, page.Truncated, tc.want, tc.truncated)
		}
	}
}

func TestImportVersions(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	if err := n.PutVersion(ctx, version("old", "v1", 10)); err != nil {
		t.Fatal(err)
	}
	// "old" already has a record: the import goes through PutVersion, where
	// the newer record wins; a retried import changes nothing.
	vs := []*metadata.Version{version("new", "v2", 5), version("old", "v3", 20)}
	for range 2 {
		if err := n.ImportVersions(ctx, vs); err != nil {
			t.Fatalf("ImportVersions: %v", err)
		}
	}
	for _, tc := range []struct{ key, want string }{{"new", "v2"}, {"old", "v3"}} {
		v, err := n.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: tc.key})
		if err != nil || v.VersionID != tc.want {
			t.Errorf("GetVersion(%s) = %v, %v; want version %s", tc.key, v, err, tc.want)
		}
	}
	bad := version("x", "", 1)
	if err := n.ImportVersions(ctx, []*metadata.Version{bad}); err == nil {
		t.Errorf("ImportVersions(no version ID) = nil; want error")
	}
}

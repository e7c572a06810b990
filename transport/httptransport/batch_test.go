package httptransport

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"cairn/metadata"
	"cairn/node"
	"cairn/transport"
)

func servedNode(t *testing.T) (*node.Node, *Client) {
	t.Helper()
	nd, err := node.Open(node.Config{ID: "n1", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Close() })
	srv := httptest.NewServer(NewHandler(nd, nil))
	t.Cleanup(srv.Close)
	return nd, NewClient("n1", strings.TrimPrefix(srv.URL, "http://"), &http.Client{})
}

func record(key, id string, hlc metadata.HLC) *metadata.Version {
	return &metadata.Version{
		Bucket: "b", Key: key, VersionID: id, HLC: hlc, Size: 3, ETag: "e",
		ModTime: time.Unix(1700000000, 0).UTC(),
		EC:      metadata.ErasureInfo{DataShards: 1, BlockSize: 1 << 20, Checksum: metadata.HighwayHash256},
		Shards:  []string{"n1"},
	}
}

// A batch of records crosses the wire with an answer per record: stored,
// refused for a newer one, or refused as invalid, without the others
// failing with it.
func TestPutVersionsRoundTrip(t *testing.T) {
	t.Parallel()
	nd, c := servedNode(t)
	ctx := t.Context()
	if err := nd.PutVersion(ctx, record("old", "v9", 9)); err != nil {
		t.Fatal(err)
	}
	invalid := record("bad", "v1", 0) // no HLC
	results, err := c.PutVersions(ctx, []transport.VersionWrite{
		{V: record("a", "v1", 1)},
		{V: record("old", "v5", 5), UnlessNewer: true},
		{V: invalid},
		{V: record("b", "v2", 2), UnlessNewer: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("%d answers for 4 records", len(results))
	}
	if results[0].Err != nil || results[0].Newer != 0 {
		t.Errorf("plain write: %+v", results[0])
	}
	if results[1].Err != nil || results[1].Newer != 9 {
		t.Errorf("older write unless newer: %+v; want refused for HLC 9", results[1])
	}
	if !errors.Is(results[2].Err, transport.ErrInvalid) {
		t.Errorf("record without an HLC: %+v; want ErrInvalid", results[2])
	}
	if results[3].Err != nil || results[3].Newer != 0 {
		t.Errorf("new key unless newer: %+v", results[3])
	}
	for key, want := range map[string]string{"a": "v1", "old": "v9", "b": "v2"} {
		v, err := nd.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: key})
		if err != nil || v.VersionID != want {
			t.Errorf("after the batch, %s is %v (%v); want %s", key, v, err, want)
		}
	}
}

// A record asked for with its shard arrives with it, read from the rest of
// the answer; a record the node holds no shard of arrives alone.
func TestGetVersionWithShardRoundTrip(t *testing.T) {
	t.Parallel()
	nd, c := servedNode(t)
	ctx := t.Context()
	stored := strings.Repeat("x", 32+3)
	v := record("k", "v1", 1)
	ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1"}
	if err := nd.PutShard(ctx, ref, strings.NewReader(stored), int64(len(stored))); err != nil {
		t.Fatal(err)
	}
	if err := nd.PutVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	got, index, shard, err := c.GetVersionWithShard(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"}, 1<<20)
	if err != nil || got.VersionID != "v1" || index != 0 || shard == nil {
		t.Fatalf("GetVersionWithShard = %v, %d, shard %v, %v", got, index, shard != nil, err)
	}
	b, err := io.ReadAll(shard)
	shard.Close()
	if err != nil || string(b) != stored {
		t.Errorf("shard read %q, %v; want %q", b, err, stored)
	}
	got, index, shard, err = c.GetVersionWithShard(ctx, metadata.ObjectKey{Bucket: "b", Key: "k"}, 2)
	if err != nil || got.VersionID != "v1" || index != -1 || shard != nil {
		t.Errorf("GetVersionWithShard over the size asked = %v, %d, shard %v, %v; want the record alone", got, index, shard != nil, err)
	}
	if _, _, _, err := c.GetVersionWithShard(ctx, metadata.ObjectKey{Bucket: "b", Key: "none"}, 1<<20); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("missing key: %v; want ErrNotFound", err)
	}
}

// A batch of record reads answers each key: its record, or not found.
func TestGetVersionsRoundTrip(t *testing.T) {
	t.Parallel()
	nd, c := servedNode(t)
	ctx := t.Context()
	v := record("k/with/slashes", "v1", 1)
	v.Inline = []byte("inline bytes")
	if err := nd.PutVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	keys := []metadata.ObjectKey{{Bucket: "b", Key: "none"}, {Bucket: "b", Key: "k/with/slashes"}, {Bucket: "b", Key: ""}}
	results, err := c.GetVersions(ctx, keys)
	if err != nil || len(results) != len(keys) {
		t.Fatalf("GetVersions = %d answers, %v", len(results), err)
	}
	if !errors.Is(results[0].Err, transport.ErrNotFound) {
		t.Errorf("missing key: %+v; want ErrNotFound", results[0])
	}
	if got := results[1].V; results[1].Err != nil || got.VersionID != "v1" || string(got.Inline) != "inline bytes" {
		t.Errorf("stored key: %+v", results[1])
	}
	if !errors.Is(results[2].Err, transport.ErrNotFound) {
		t.Errorf("empty key: %+v; want ErrNotFound", results[2])
	}
}

// A shard probe answers for each shard: stored, inline in the record, or
// neither.
func TestHasShardsRoundTrip(t *testing.T) {
	t.Parallel()
	nd, c := servedNode(t)
	ctx := t.Context()
	stored := strings.Repeat("x", 32+3)
	ref := transport.ShardRef{Bucket: "b", Key: "streamed", VersionID: "v1"}
	if err := nd.PutShard(ctx, ref, strings.NewReader(stored), int64(len(stored))); err != nil {
		t.Fatal(err)
	}
	if err := nd.PutVersion(ctx, record("streamed", "v1", 1)); err != nil {
		t.Fatal(err)
	}
	inline := record("inline", "v1", 1)
	inline.Inline = []byte(stored)
	if err := nd.PutVersion(ctx, inline); err != nil {
		t.Fatal(err)
	}
	refs := []transport.ShardRef{
		ref,
		{Bucket: "b", Key: "inline", VersionID: "v1"},
		{Bucket: "b", Key: "streamed", VersionID: "v2"},
		{Bucket: "b", Key: "none", VersionID: "v1", Index: 3},
	}
	has, err := c.HasShards(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, false, false}; !slices.Equal(has, want) {
		t.Errorf("HasShards = %v; want %v", has, want)
	}
}

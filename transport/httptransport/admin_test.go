package httptransport

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"cairn/erasure"
	"cairn/internal/nodeauth"
	"cairn/metadata"
	"cairn/node"
	"cairn/transport"
)

// A real node's stats and scan requests cross the wire intact, signed like
// every internode call.
func TestNodeAdminRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	nd, err := node.Open(node.Config{ID: "n1", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Close() })
	// One object, 1+1, whose other home (n2) this node cannot reach: its
	// census counts it with no shard to spare.
	codec, err := erasure.New(1, 1, erasure.WithBlockSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	shards, err := codec.EncodeAll([]byte(strings.Repeat("cairn", 1000)))
	if err != nil {
		t.Fatal(err)
	}
	v := &metadata.Version{Bucket: "b", Key: "k", VersionID: "v1", HLC: metadata.NewHLC(time.Now().UnixMilli(), 0), Size: 5000,
		ModTime: time.Unix(1700000000, 0).UTC(), Shards: []string{"n1", "n2"},
		EC: metadata.ErasureInfo{DataShards: 1, ParityShards: 1, BlockSize: 4096, Checksum: metadata.HighwayHash256}}
	ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1", Index: 0}
	if err := nd.PutShard(ctx, ref, bytes.NewReader(shards[0]), int64(len(shards[0]))); err != nil {
		t.Fatal(err)
	}
	if err := nd.PutVersion(ctx, v); err != nil {
		t.Fatal(err)
	}

	secret, err := nodeauth.ParseSecret(authSecret)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Authenticate(NewHandler(nd, nil), secret, "n1", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := NewClient("n1", addr, &http.Client{Transport: SignRequests(http.DefaultTransport, secret)})

	if err := c.StartScan(ctx); err != nil {
		t.Fatalf("StartScan: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for nd.ScannerStats().Passes < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no scanner pass a minute after StartScan")
		}
		time.Sleep(5 * time.Millisecond)
	}

	got, err := c.NodeStats(ctx)
	if err != nil {
		t.Fatalf("NodeStats: %v", err)
	}
	want, err := nd.NodeStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := transport.RedundancyCounts{Objects: []int64{1, 0}, Bytes: []int64{5000, 0}}
	if !reflect.DeepEqual(got.Redundancy, map[string]transport.RedundancyCounts{"b": wantCounts}) ||
		got.Shards != 1 || got.ShardBytes != int64(len(shards[0])) || got.LastScan.IsZero() {
		t.Errorf("NodeStats = %+v; want one shard of %d bytes, a scan, and bucket b at %+v", got, len(shards[0]), wantCounts)
	}
	// Free bytes move with whatever else the machine writes.
	if got.FreeBytes == 0 || got.CapacityBytes < got.FreeBytes {
		t.Errorf("capacity, free = %d, %d; want the file system's", got.CapacityBytes, got.FreeBytes)
	}
	if !got.LastScan.Equal(want.LastScan) {
		t.Errorf("LastScan = %v; want %v", got.LastScan, want.LastScan)
	}
	got.FreeBytes, want.FreeBytes = 0, 0
	got.LastScan, want.LastScan = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NodeStats over HTTP = %+v; want the node's %+v", got, want)
	}

	unsigned := NewClient("n1", addr, srv.Client())
	if _, err := unsigned.NodeStats(ctx); !errors.Is(err, transport.ErrUnauthorized) {
		t.Errorf("unsigned NodeStats = %v; want ErrUnauthorized", err)
	}
	if err := unsigned.StartScan(ctx); !errors.Is(err, transport.ErrUnauthorized) {
		t.Errorf("unsigned StartScan = %v; want ErrUnauthorized", err)
	}
}

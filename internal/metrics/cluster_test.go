package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"cairn/gateway"
	"cairn/internal/metrics"
	"cairn/internal/s3api"
	"cairn/node"
	"cairn/placement"
	"cairn/transport"
)

// miniCluster is six nodes and a gateway in this process, all exporting to
// one registry, with the gateway's and nodes' admin handlers as a process
// would serve them.
type miniCluster struct {
	reg   *prometheus.Registry
	nodes []*node.Node
	gw    *gateway.Gateway
	s3    *s3.Client
	admin *httptest.Server // the gateway's
	mu    sync.Mutex
	down  map[string]bool
}

func (c *miniCluster) alive(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.down[id]
}

func (c *miniCluster) setDown(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = map[string]bool{}
	for _, id := range ids {
		c.down[id] = true
	}
}

func startMini(t *testing.T) *miniCluster {
	t.Helper()
	c := &miniCluster{reg: metrics.NewRegistry()}
	layout := &placement.Layout{Version: 1, PGCount: placement.DefaultPGCount}
	dialer := transport.StaticDialer{}
	for i := range 6 {
		id := fmt.Sprintf("n%d", i+1)
		layout.Nodes = append(layout.Nodes, placement.Node{ID: placement.NodeID(id), Addr: id, Zone: fmt.Sprintf("z%d", i%3), Weight: 1, State: placement.Active})
		n, err := node.Open(node.Config{ID: id, Dir: t.TempDir(), Alive: c.alive, Metrics: c.reg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		c.nodes = append(c.nodes, n)
		dialer[id] = n
	}
	gw, err := gateway.New(gateway.Config{
		Layout:          layout,
		Dialer:          dialer,
		Credentials:     s3api.StaticCredentials{"ak": "sk"},
		Alive:           c.alive,
		InlineThreshold: 1024,
		Metrics:         c.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.gw = gw
	t.Cleanup(func() { gw.Close() })
	s3srv := httptest.NewServer(gw)
	t.Cleanup(s3srv.Close)
	c.admin = httptest.NewServer(metrics.NewAdminMux(c.reg, nil, func(context.Context) error { return gw.Ready() }))
	t.Cleanup(c.admin.Close)
	c.s3 = s3.New(s3.Options{
		BaseEndpoint:     aws.String(s3srv.URL),
		Region:           "us-east-1",
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider("ak", "sk", ""),
		RetryMaxAttempts: 1,
	})
	return c
}

func TestGatewayAndNodeMetrics(t *testing.T) {
	c := startMini(t)
	ctx := t.Context()
	body := bytes.Repeat([]byte("cairn"), 300_000) // 1.5 MB: two blocks, shard files
	if _, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, body) {
		t.Fatalf("GetObject returned %d bytes; want %d", len(got), len(body))
	}
	if _, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")}); err == nil {
		t.Fatal("GetObject(missing) succeeded")
	}
	if _, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}

	exact := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cairn_gateway_requests_total", map[string]string{"op": "CreateBucket", "status": "200"}, 1},
		{"cairn_gateway_requests_total", map[string]string{"op": "PutObject", "status": "200"}, 1},
		{"cairn_gateway_requests_total", map[string]string{"op": "GetObject", "status": "200"}, 1},
		{"cairn_gateway_requests_total", map[string]string{"op": "GetObject", "status": "404"}, 1},
		{"cairn_gateway_requests_total", map[string]string{"op": "ListObjectsV2", "status": "200"}, 1},
		{"cairn_gateway_request_duration_seconds", map[string]string{"op": "GetObject"}, 2},
		{"cairn_gateway_shard_writes_total", nil, 6},
		{"cairn_gateway_shard_write_failures_total", nil, 0},
		{"cairn_gateway_checksum_failures_total", nil, 0},
		{"cairn_gateway_nodes_alive", nil, 6},
		{"cairn_gateway_write_quorum_nodes", nil, 4},
	}
	for _, m := range exact {
		if v := gathered(t, c.reg, m.name, m.labels); v != m.want {
			t.Errorf("%s%v = %v; want %v", m.name, m.labels, v, m.want)
		}
	}
	atLeast := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cairn_gateway_received_bytes_total", map[string]string{"op": "PutObject"}, float64(len(body))},
		{"cairn_gateway_sent_bytes_total", map[string]string{"op": "GetObject"}, float64(len(body))},
		{"cairn_disk_capacity_bytes", map[string]string{"node": "n3"}, 1},
	}
	for _, m := range atLeast {
		if v := gathered(t, c.reg, m.name, m.labels); v < m.want {
			t.Errorf("%s%v = %v; want ≥ %v", m.name, m.labels, v, m.want)
		}
	}
	// A small object's GET takes the shards that come with the records it
	// reads; others it reads on their own.
	if read, prefetched := gathered(t, c.reg, "cairn_gateway_shard_reads_total", nil),
		gathered(t, c.reg, "cairn_gateway_prefetched_shards_total", nil); read+prefetched < 4 {
		t.Errorf("cairn_gateway_shard_reads_total %v + cairn_gateway_prefetched_shards_total %v; want ≥ 4 (k)", read, prefetched)
	}
	if _, ok := find(t, c.reg, "cairn_node_scanner_passes_total", map[string]string{"node": "n1"}); !ok {
		t.Errorf("no cairn_node_scanner_passes_total for n1")
	}
	// The scrape itself, as Prometheus sees it.
	text := get(t, c.admin.URL+"/metrics")
	for _, want := range []string{
		`cairn_gateway_requests_total{op="PutObject",status="200"} 1`,
		`cairn_gateway_request_duration_seconds_bucket{op="PutObject",le="+Inf"} 1`,
		`cairn_disk_used_bytes{node="n6"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// With n6 down, a PUT hints n6's shard and record to a fallback: the
	// fallback exports the debt for home n6, and no node holds any other.
	c.setDown("n6")
	for i := range 4 {
		key := fmt.Sprintf("hinted-%d", i)
		if _, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	var hints, hintBytes float64
	for _, n := range c.nodes {
		if v, ok := find(t, c.reg, "cairn_node_hints", map[string]string{"node": n.ID(), "home": "n6"}); ok {
			hints += v
			hintBytes += gathered(t, c.reg, "cairn_node_hint_bytes", map[string]string{"node": n.ID(), "home": "n6"})
			if age := gathered(t, c.reg, "cairn_node_hint_oldest_age_seconds", map[string]string{"node": n.ID(), "home": "n6"}); age < 0 {
				t.Errorf("hint age on %s = %v; want ≥ 0", n.ID(), age)
			}
		}
	}
	if hints < 4 || hintBytes <= 0 {
		t.Errorf("hints for n6 = %v (%v bytes); want ≥ 4 hints and some bytes", hints, hintBytes)
	}
	if v := gathered(t, c.reg, "cairn_gateway_nodes_alive", nil); v != 5 {
		t.Errorf("cairn_gateway_nodes_alive with n6 down = %v; want 5", v)
	}
}

func TestReadiness(t *testing.T) {
	c := startMini(t)
	tests := []struct {
		down      []string
		wantReady bool
	}{
		{nil, true},
		{[]string{"n1"}, true},
		{[]string{"n1", "n2"}, true}, // 4 of 6: the metadata write quorum
		{[]string{"n1", "n2", "n3"}, false},
		{nil, true},
	}
	for _, tc := range tests {
		c.setDown(tc.down...)
		err := c.gw.Ready()
		if (err == nil) != tc.wantReady {
			t.Errorf("Ready() with %v down = %v; want ready %v", tc.down, err, tc.wantReady)
		}
		resp, err := httptestGet(c.admin.URL + "/health/ready")
		if err != nil {
			t.Fatal(err)
		}
		if (resp == 200) != tc.wantReady {
			t.Errorf("GET /health/ready with %v down = %d; want ready %v", tc.down, resp, tc.wantReady)
		}
	}

	n := c.nodes[0]
	if err := n.Ready(); err != nil {
		t.Errorf("node Ready() = %v; want nil", err)
	}
	before := countSeries(t, c.reg, "cairn_disk_capacity_bytes")
	n.Close()
	if err := n.Ready(); !errors.Is(err, node.ErrClosed) {
		t.Errorf("node Ready() after Close = %v; want node.ErrClosed", err)
	}
	// Close unregisters the node's collector: one node fewer exports disk use.
	if after := countSeries(t, c.reg, "cairn_disk_capacity_bytes"); after != before-1 {
		t.Errorf("cairn_disk_capacity_bytes series after closing a node = %d; want %d", after, before-1)
	}
}

// countSeries counts the series of the metric named name.
func countSeries(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

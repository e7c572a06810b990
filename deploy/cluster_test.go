// Package deploy holds the deployment files (Dockerfile, compose.yaml,
// k8s/, systemd/) and TestCluster, the check `make cluster-test` runs
// against the compose cluster. Without CAIRN_CLUSTER_TEST=1 it skips, so
// `go test ./...` never needs Docker.
package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/objctl"
)

// env returns the variable or def.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type gw struct {
	name, s3, admin string
	client          *s3.Client
}

// TestCluster drives the compose cluster (deploy/cluster-test.sh starts
// it and always tears it down): PUT, GET and LIST through both gateways,
// then the same with one node container stopped, then with it back.
func TestCluster(t *testing.T) {
	if os.Getenv("CAIRN_CLUSTER_TEST") != "1" {
		t.Skip("set CAIRN_CLUSTER_TEST=1 and start deploy/compose.yaml (make cluster-test)")
	}
	compose := strings.Fields(env("CAIRN_COMPOSE", "docker-compose -p cairn-clustertest -f compose.yaml"))
	victim := env("CAIRN_VICTIM", "n3")
	gws := []*gw{
		{name: "gw1", s3: "http://127.0.0.1:" + env("CAIRN_GW1_PORT", "19000"), admin: "http://127.0.0.1:" + env("CAIRN_GW1_ADMIN_PORT", "19001")},
		{name: "gw2", s3: "http://127.0.0.1:" + env("CAIRN_GW2_PORT", "19010"), admin: "http://127.0.0.1:" + env("CAIRN_GW2_ADMIN_PORT", "19011")},
	}
	for _, g := range gws {
		g.client = s3.New(s3.Options{
			BaseEndpoint:     aws.String(g.s3),
			Region:           "us-east-1",
			UsePathStyle:     true,
			Credentials:      credentials.NewStaticCredentialsProvider(env("CAIRN_ACCESS_KEY", "cairnadmin"), env("CAIRN_SECRET_KEY", "cairnadmin"), ""),
			RetryMaxAttempts: 1,
		})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	step := func(format string, args ...any) {
		fmt.Printf("cluster-test %6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	// Up: both gateways ready and gossip has seen all six nodes.
	for _, g := range gws {
		waitUntil(t, ctx, g.name+" ready with 6 nodes alive", 90*time.Second, func() error {
			if err := httpOK(ctx, g.admin+"/health/ready"); err != nil {
				return err
			}
			return gaugeIs(ctx, g.admin, "cairn_gateway_nodes_alive", 6)
		})
	}
	step("both gateways ready, 6/6 nodes alive")
	bucket := fmt.Sprintf("clustertest-%d", time.Now().Unix())
	waitUntil(t, ctx, "create bucket", 30*time.Second, func() error {
		_, err := gws[0].client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
		return err
	})
	want := map[string][]byte{}
	put := func(phase string) {
		for i, g := range gws {
			for _, size := range []int{1 << 10, 3<<20 + 7} { // inline and erasure-coded shard files
				key := fmt.Sprintf("%s/%s-%d-%d", phase, g.name, i, size)
				body := bytes.Repeat([]byte(key), size/len(key)+1)[:size]
				if _, err := g.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
					t.Fatalf("%s: PUT %s through %s: %v", phase, key, g.name, err)
				}
				want[key] = body
			}
		}
	}
	check := func(phase string) {
		for _, g := range gws {
			for key, body := range want {
				out, err := g.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
				if err != nil {
					t.Fatalf("%s: GET %s through %s: %v", phase, key, g.name, err)
				}
				got, err := io.ReadAll(out.Body)
				out.Body.Close()
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("%s: GET %s through %s: %d bytes, %v; want %d bytes", phase, key, g.name, len(got), err, len(body))
				}
			}
			var keys []string
			p := s3.NewListObjectsV2Paginator(g.client, &s3.ListObjectsV2Input{Bucket: &bucket})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("%s: LIST through %s: %v", phase, g.name, err)
				}
				for _, o := range page.Contents {
					keys = append(keys, *o.Key)
				}
			}
			var wantKeys []string
			for k := range want {
				wantKeys = append(wantKeys, k)
			}
			slices.Sort(wantKeys)
			if !slices.Equal(keys, wantKeys) {
				t.Fatalf("%s: LIST through %s = %q; want %q", phase, g.name, keys, wantKeys)
			}
		}
		step("%s: %d objects read back and listed through both gateways", phase, len(want))
	}

	put("healthy")
	check("healthy")

	run(t, append(compose, "stop", "-t", "5", victim)...)
	step("stopped node container %s", victim)
	put("degraded")
	check("degraded")
	for _, g := range gws {
		waitUntil(t, ctx, g.name+" sees "+victim+" dead", 60*time.Second, func() error {
			return gaugeIs(ctx, g.admin, "cairn_gateway_nodes_alive", 5)
		})
		if err := httpOK(ctx, g.admin+"/health/ready"); err != nil {
			t.Errorf("%s not ready with one node down: %v", g.name, err)
		}
	}
	step("gateways see 5/6 nodes alive and stay ready")

	run(t, append(compose, "start", victim)...)
	for _, g := range gws {
		waitUntil(t, ctx, g.name+" sees "+victim+" back", 60*time.Second, func() error {
			return gaugeIs(ctx, g.admin, "cairn_gateway_nodes_alive", 6)
		})
	}
	step("restarted %s; gateways see 6/6 nodes alive", victim)
	put("recovered")
	check("recovered")

	for _, g := range gws {
		n, err := counterSum(ctx, g.admin, `cairn_gateway_requests_total{op="PutObject",status="200"}`)
		if err != nil || n < 6 {
			t.Errorf("%s PutObject 200 count = %v, %v; want ≥ 6", g.name, n, err)
		}
		step("%s /metrics: %v successful PutObject", g.name, n)
	}

	// The admin API through objctl itself: heal --wait starts a pass on
	// every node and returns once a histogram counted after the heal shows
	// every object of the bucket at full redundancy and no debt is left.
	keys := map[string]string{"CAIRN_ACCESS_KEY": env("CAIRN_ACCESS_KEY", "cairnadmin"), "CAIRN_SECRET_KEY": env("CAIRN_SECRET_KEY", "cairnadmin")}
	var out bytes.Buffer
	err := objctl.Run(ctx, []string{"--endpoint", gws[0].admin, "--timeout", "90s", "heal", "--bucket", bucket, "--wait"}, objctl.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out,
		Lookup: func(k string) (string, bool) { v, ok := keys[k]; return v, ok },
	})
	if err != nil {
		t.Fatalf("objctl heal --bucket %s --wait: %v\n%s", bucket, err, out.String())
	}
	ctl, err := objctl.NewClient(gws[0].admin, keys["CAIRN_ACCESS_KEY"], keys["CAIRN_SECRET_KEY"], "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if !n.Alive || !n.Reported {
			t.Errorf("node %s after the heal: alive %v, reported %v", n.ID, n.Alive, n.Reported)
		}
	}
	if b := st.Buckets[bucket]; len(b.Objects) != 3 || b.Objects[2] != int64(len(want)) {
		t.Fatalf("bucket %s histogram after the heal %+v; want %d objects at redundancy 2", bucket, b, len(want))
	}
	step("admin API (objctl) via gw1: %d/%d nodes reported, layout epoch %d, %d objects at full redundancy",
		len(st.Nodes), len(st.Nodes), st.LayoutEpoch, st.Buckets[bucket].Objects[2])
}

func run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func waitUntil(t *testing.T, ctx context.Context, what string, limit time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: gave up after %v: %v", what, limit, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func fetch(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func httpOK(ctx context.Context, url string) error {
	code, body, err := fetch(ctx, url)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, code, strings.TrimSpace(body))
	}
	return nil
}

// counterSum returns the value of the series whose text starts with
// prefix ("name{labels}") on a gateway's /metrics.
func counterSum(ctx context.Context, admin, prefix string) (float64, error) {
	_, body, err := fetch(ctx, admin+"/metrics")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
			var v float64
			_, err := fmt.Sscan(rest, &v)
			return v, err
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", prefix)
}

func gaugeIs(ctx context.Context, admin, name string, want float64) error {
	v, err := counterSum(ctx, admin, name)
	if err != nil {
		return err
	}
	if v != want {
		return fmt.Errorf("%s = %v; want %v", name, v, want)
	}
	return nil
}

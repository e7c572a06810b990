package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
	"cairn/internal/objctl"
	"cairn/node"
)

// fullNode makes node id's disk full as it would look to the node: it
// keeps more space free than any disk has, so the real free-space check
// refuses its object data.
func fullNode(id string) func(*node.Config) {
	return func(cfg *node.Config) {
		if cfg.ID == id {
			cfg.MinFreeBytes = 1 << 62
		}
	}
}

// A node whose disk is full refuses shards and inline records; the
// gateway places them on other nodes as hints, every one of them, so PUTs
// succeed whole and read back, and deletes still work on the full node.
func TestFullNodeWritesGoAround(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{InlineThreshold: 1024, NodeConfig: fullNode("n1")})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "full")
	objects := map[string][]byte{}
	sharded := 0
	// Inline objects' data travels in the records; a 1 MiB shard stream is
	// longer than what a refusing node's connection takes before its 507.
	for i, size := range []int{1 << 20, 500, 300 << 10, 1 << 20, 500, 1 << 20} {
		key := fmt.Sprintf("k%d", i)
		objects[key] = randomBytes(uint64(i), size)
		put(t, cl, "full", key, objects[key])
		if size > 1024 {
			sharded++
		}
	}
	for key, want := range objects {
		got, _ := get(t, cl, "full", key, nil)
		sameBytes(t, "GET "+key, got, want)
	}
	// Every object has a home on each of the six nodes: n1's shards were
	// placed elsewhere.
	if s, err := c.Nodes[0].StoredShards(context.Background()); err != nil || len(s) != 0 {
		t.Errorf("the full node holds %d shards (err %v); want none", len(s), err)
	}
	if s := storedShards(t, c); len(s) != sharded*6 {
		t.Errorf("%d shards stored for %d objects of 6 shards; want every one", len(s), sharded)
	}
	if _, err := cl.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("full"), Key: aws.String("k0")}); err != nil {
		t.Fatalf("DeleteObject on a cluster with a full node: %v", err)
	}
	// The operator sees which node it is.
	admin := httptest.NewServer(c.Gateway.AdminHandler())
	t.Cleanup(admin.Close)
	ctl, err := objctl.NewClient(admin.URL, clustertest.AccessKey, clustertest.SecretKey, clustertest.Region, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ctl.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Full != (n.ID == "n1") {
			t.Errorf("status of %s: full = %v", n.ID, n.Full)
		}
	}
	if _, err := cl.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("full"), Key: aws.String("k0")}); errorCode(err) != "NotFound" {
		t.Errorf("HEAD after delete = %v; want NotFound", err)
	}
}

// When every node is full a PUT fails with 507 InsufficientStorage, which
// the SDKs do not retry, and leaves nothing behind; deletes still work.
func TestEveryNodeFullRefusesWrites(t *testing.T) {
	t.Parallel()
	var full atomic.Bool
	c := clustertest.Start(t, clustertest.Options{InlineThreshold: 1024, NodeConfig: func(cfg *node.Config) {
		if full.Load() {
			cfg.MinFreeBytes = 1 << 62
		}
	}})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "full")
	put(t, cl, "full", "before", randomBytes(1, 300<<10))
	for _, n := range c.Nodes {
		if err := n.Stop(); err != nil {
			t.Fatalf("stop %s: %v", n.ID, err)
		}
	}
	full.Store(true)
	for _, n := range c.Nodes {
		if err := n.Restart(); err != nil {
			t.Fatalf("restart %s: %v", n.ID, err)
		}
	}
	// The second sharded PUT comes while the gateway remembers the nodes
	// as full and sends them nothing: it must say so all the same.
	for i, size := range []int{300 << 10, 300 << 10, 500} {
		key := fmt.Sprintf("k%d", i)
		_, err := cl.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("full"), Key: aws.String(key), Body: bytes.NewReader(randomBytes(2, size))})
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInsufficientStorage || errorCode(err) != "InsufficientStorage" {
			t.Errorf("PUT of %d bytes with every disk full = %v; want 507 InsufficientStorage", size, err)
		}
		if _, err := cl.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("full"), Key: aws.String(key)}); errorCode(err) != "NotFound" {
			t.Errorf("HEAD of the refused %s = %v; want NotFound", key, err)
		}
	}
	if _, err := cl.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("full"), Key: aws.String("before")}); err != nil {
		t.Fatalf("DeleteObject with every disk full: %v", err)
	}
	if _, err := cl.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("full"), Key: aws.String("before")}); errorCode(err) != "NotFound" {
		t.Errorf("HEAD after delete = %v; want NotFound", err)
	}
}

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"cairn/erasure"
	"cairn/internal/clustertest"
	"cairn/metadata"
	"cairn/transport"
)

// durabilityHeader returns the x-cairn-durability header of a PUT.
func durabilityHeader(md middleware.Metadata) string {
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		return raw.Header.Get("X-Cairn-Durability")
	}
	return ""
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, deadline time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > deadline {
			t.Fatalf("%s: not done after %v", what, deadline)
		}
		<-tick.C
	}
	return time.Since(start)
}

// waitHintsDrained waits until no node holds a hint, and says how long it took.
func waitHintsDrained(t *testing.T, c *clustertest.Cluster) time.Duration {
	t.Helper()
	return waitFor(t, "hints drain", 30*time.Second, func() bool {
		for _, n := range c.Nodes {
			nd := n.Node()
			if nd == nil {
				continue
			}
			for _, st := range nd.HintStats() {
				if st.Count > 0 {
					return false
				}
			}
		}
		return true
	})
}

// homeComplete checks, on the nodes themselves, that every home holds its
// record of obj and, unless obj is inline, a shard that verifies.
func homeComplete(ctx context.Context, c *clustertest.Cluster, bucket, key string, size int64) error {
	byID := map[string]*clustertest.Node{}
	for _, n := range c.Nodes {
		byID[n.ID] = n
	}
	var want *metadata.Version
	for _, n := range c.Nodes {
		v, err := n.Node().GetVersion(ctx, metadata.ObjectKey{Bucket: bucket, Key: key})
		if err == nil && (want == nil || v.Newer(want)) {
			want = v
		}
	}
	if want == nil {
		return fmt.Errorf("%s: no node has a record", key)
	}
	codec, err := erasure.New(want.EC.DataShards, want.EC.ParityShards, erasure.WithBlockSize(want.EC.BlockSize))
	if err != nil {
		return err
	}
	for i, home := range want.Shards {
		nd := byID[home].Node()
		v, err := nd.GetVersion(ctx, metadata.ObjectKey{Bucket: bucket, Key: key})
		if err != nil || v.VersionID != want.VersionID {
			return fmt.Errorf("%s: home %s of shard %d has record %v, %v; want version %s", key, home, i, v, err, want.VersionID)
		}
		ref := transport.ShardRef{Bucket: bucket, Key: key, VersionID: want.VersionID, Index: i}
		rc, err := nd.ReadShard(ctx, ref, 0, -1)
		if err != nil {
			return fmt.Errorf("%s: shard %d missing on its home %s: %v", key, i, home, err)
		}
		err = codec.VerifyShard(rc, size)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: shard %d on %s: %v", key, i, home, err)
		}
	}
	return nil
}

// Two of six nodes down: every PUT is acknowledged with all six shards
// written (two as hints), reads are byte-exact, and once the nodes return
// the hints drain and every shard is back on its home.
func TestSloppyQuorumAndHandoff(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	ctx := t.Context()
	mustCreateBucket(t, cl, "sloppy")
	down := []*clustertest.Node{c.Nodes[1], c.Nodes[4]}
	for _, n := range down {
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	sizes := []int{0, 1, 100 << 10, 1<<20 + 1, 3<<20 + 5}
	objects := map[string][]byte{}
	for i := range 20 {
		key := fmt.Sprintf("obj-%02d", i)
		data := randomBytes(uint64(i+100), sizes[i%len(sizes)])
		out, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sloppy"), Key: aws.String(key), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatalf("PutObject(%s, %d bytes) with 2 nodes down: %v", key, len(data), err)
		}
		if got := durabilityHeader(out.ResultMetadata); got != "6/6 shards, 2 hinted" {
			t.Errorf("PutObject(%s, %d bytes): durability %q; want %q", key, len(data), got, "6/6 shards, 2 hinted")
		}
		objects[key] = data
	}
	for key, data := range objects {
		got, _ := get(t, cl, "sloppy", key, nil)
		sameBytes(t, "read with 2 nodes down: "+key, got, data)
	}
	// A client may insist on shards at home: with two homes down, 5 can't be had.
	_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sloppy"), Key: aws.String("strict"), Body: bytes.NewReader(make([]byte, 2<<20))},
		s3.WithAPIOptions(smithyhttp.AddHeaderValue("X-Cairn-Min-Home-Shards", "5")))
	if code := errorCode(err); code != "ServiceUnavailable" {
		t.Errorf("PUT asking 5 home shards with 2 homes down: err %v (code %q); want ServiceUnavailable", err, code)
	}

	restarted := time.Now()
	for _, n := range down {
		if err := n.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	drained := waitHintsDrained(t, c)
	for key, data := range objects {
		if err := homeComplete(ctx, c, "sloppy", key, int64(len(data))); err != nil {
			t.Error(err)
		}
	}
	if _, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sloppy"), Key: aws.String("strict")}); errorCode(err) != "NotFound" {
		t.Errorf("HEAD of the refused PUT: %v; want NotFound", err)
	}
	t.Logf("hints drained %v after restart; full redundancy %v after restart", drained, time.Since(restarted))
	// Hint debt reports what was handed back, and how fast.
	var replayed int64
	for _, n := range c.Nodes {
		for home, st := range n.Node().HintStats() {
			if st.ReplayedBytes > 0 {
				replayed += st.ReplayedBytes
				if st.ReplayRate <= 0 {
					t.Errorf("node %s replayed %d bytes to %s but reports no replay rate", n.ID, st.ReplayedBytes, home)
				}
				t.Logf("node %s → %s: %d bytes replayed at %.1f MiB/s", n.ID, home, st.ReplayedBytes, st.ReplayRate/(1<<20))
			}
		}
	}
	if replayed == 0 {
		t.Errorf("no node reports replayed hint bytes")
	}
	// With the two returned nodes now holding their shards, any other two
	// may go: everything still reads.
	for _, n := range []*clustertest.Node{c.Nodes[0], c.Nodes[2]} {
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	for key, data := range objects {
		got, _ := get(t, cl, "sloppy", key, nil)
		sameBytes(t, "read after handoff with two other nodes down: "+key, got, data)
	}
}

// A DELETE while a home is down stays deleted once the home and the hints
// come back.
func TestDeleteWhileHomeDown(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	ctx := t.Context()
	mustCreateBucket(t, cl, "del")
	for _, size := range []int{10, 2 << 20} {
		key := fmt.Sprintf("k%d", size)
		put(t, cl, "del", key, randomBytes(7, size))
		if err := c.Nodes[3].Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("del"), Key: aws.String(key)}); err != nil {
			t.Fatalf("DeleteObject(%s) with a home down: %v", key, err)
		}
		if err := c.Nodes[3].Restart(); err != nil {
			t.Fatal(err)
		}
		waitHintsDrained(t, c)
		// Every node, the returned one included, now has the tombstone.
		for _, n := range c.Nodes {
			v, err := n.Node().GetVersion(ctx, metadata.ObjectKey{Bucket: "del", Key: key})
			if err != nil || !v.Deleted {
				t.Errorf("node %s: record of deleted %s = %+v, %v; want a tombstone", n.ID, key, v, err)
			}
		}
		_, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("del"), Key: aws.String(key)})
		var nsk interface{ ErrorCode() string }
		if !errors.As(err, &nsk) || nsk.ErrorCode() != "NoSuchKey" {
			t.Errorf("GET %s after delete and handoff: %v; want NoSuchKey", key, err)
		}
	}
}

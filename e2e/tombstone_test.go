package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
	"cairn/metadata"
	"cairn/transport"
)

// A home is down while a key is deleted. Tombstone GC must wait for it:
// only once it is back and has the tombstone (from its hint) do the homes
// collect the tombstone, and a hint of the old version replayed after
// that is refused by the watermark the tombstone left, not resurrected.
func TestTombstoneGCWaitsForEveryHome(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	ctx := context.Background()
	mustCreateBucket(t, cl, "tomb")
	put(t, cl, "tomb", "k", []byte("soon deleted"))
	okey := metadata.ObjectKey{Bucket: "tomb", Key: "k"}
	eventually(t, 5*time.Second, func() string {
		for _, cn := range c.Nodes {
			if _, err := cn.Node().GetVersion(ctx, okey); err != nil {
				return cn.ID + ": " + err.Error()
			}
		}
		return ""
	})
	down, holder := c.Nodes[2], c.Nodes[0]
	old, err := holder.Node().GetVersion(ctx, okey)
	if err != nil {
		t.Fatal(err)
	}
	if err := down.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("tomb"), Key: aws.String("k")}); err != nil {
		t.Fatalf("DELETE with a home down: %v", err)
	}
	// Two days on, past the grace: the down home blocks phase 1.
	later := time.Now().Add(48 * time.Hour)
	for _, cn := range c.Nodes {
		if n := cn.Node(); n != nil {
			if err := n.CollectTombstones(ctx, later); err != nil {
				t.Fatalf("CollectTombstones on %s: %v", cn.ID, err)
			}
			if st := n.TombstoneStats(); st.Confirmed != 0 || st.Blocked == 0 {
				t.Errorf("%s with %s down: %+v; want blocked, none confirmed", cn.ID, down.ID, st)
			}
		}
	}
	if err := down.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() string {
		v, err := down.Node().GetVersion(ctx, okey)
		if err != nil || !v.Deleted {
			return "the returned home has no tombstone yet"
		}
		return ""
	})
	// Phase 1 everywhere, then phase 2 a grace later.
	for _, at := range []time.Time{later, later.Add(48 * time.Hour)} {
		for _, cn := range c.Nodes {
			if err := cn.Node().CollectTombstones(ctx, at); err != nil {
				t.Fatalf("CollectTombstones on %s: %v", cn.ID, err)
			}
		}
	}
	for _, cn := range c.Nodes {
		if _, err := cn.Node().GetVersion(ctx, okey); !errors.Is(err, transport.ErrNotFound) {
			t.Errorf("%s after GC: %v; want the tombstone collected", cn.ID, err)
		}
		if st := cn.Node().TombstoneStats(); st.Collected != 1 {
			t.Errorf("%s: collected %d tombstones; want 1", cn.ID, st.Collected)
		}
	}
	// A hint of the old version, held since before the delete, arrives now.
	if err := holder.Node().PutVersionHint(ctx, down.ID, old); err != nil {
		t.Fatal(err)
	}
	if err := holder.Node().ReplayHints(ctx, down.ID); err != nil {
		t.Fatal(err)
	}
	if v, err := down.Node().GetVersion(ctx, okey); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("late hint after GC: %v, %v; want it refused", v, err)
	}
	if st := down.Node().TombstoneStats(); st.Refused == 0 {
		t.Errorf("%s: %+v; want the late record counted as refused", down.ID, st)
	}
	if _, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tomb"), Key: aws.String("k")}); errorCode(err) != "NoSuchKey" {
		t.Errorf("GET after GC and a late hint: %v; want NoSuchKey", err)
	}
}

// A gateway whose clock runs an hour ahead cannot make its writes win for
// that hour: the nodes refuse its records and the client gets a clear
// error; a correct gateway's writes go on.
func TestGatewayClockAheadRefused(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "fast")
	put(t, cl, "fast", "k", []byte("correct"))
	ahead := time.Hour
	_, url := c.AddGateway(clustertest.GatewayOptions{Now: func() time.Time { return time.Now().Add(ahead) }})
	// The client's clock agrees with the gateway's, so SigV4 passes.
	resp, body := rawRequest{method: http.MethodPut, path: "/fast/k", body: []byte("from the future"),
		at: time.Now().Add(ahead)}.do(t, url)
	wantError(t, "PUT through a gateway an hour ahead", resp, body, http.StatusForbidden, "RequestTimeTooSkewed")
	resp, body = rawRequest{method: http.MethodDelete, path: "/fast/k", at: time.Now().Add(ahead)}.do(t, url)
	wantError(t, "DELETE through a gateway an hour ahead", resp, body, http.StatusForbidden, "RequestTimeTooSkewed")
	got, _ := get(t, cl, "fast", "k", nil)
	sameBytes(t, "GET after the refused writes", got, []byte("correct"))
	put(t, cl, "fast", "k", []byte("later"))
	got, _ = get(t, cl, "fast", "k", nil)
	sameBytes(t, "GET after a correct write", got, []byte("later"))
}

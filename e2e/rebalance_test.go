package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/adminapi"
	"cairn/internal/clustertest"
	"cairn/internal/objctl"
	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
	"cairn/transport/httptransport"
)

// TestRebalance adds a seventh node while a mixed load runs, then drains
// and removes another: only the placement groups that change move, in the
// background; no request fails; every object reads back whole during and
// after; afterwards every shard is on its home under the new layout and
// the nodes that lost a group keep nothing of it.
func TestRebalance(t *testing.T) {
	if testing.Short() {
		t.Skip("moves data between seven nodes")
	}
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{
		ScanInterval:  300 * time.Millisecond,
		RetireGrace:   200 * time.Millisecond,
		RebalanceRate: 32 << 20,
	})
	cl := sdkClient(t, c)
	ctx := t.Context()
	admin := httptest.NewServer(c.Gateway.AdminHandler())
	t.Cleanup(admin.Close)
	ctl, err := objctl.NewClient(admin.URL, clustertest.AccessKey, clustertest.SecretKey, clustertest.Region, nil)
	if err != nil {
		t.Fatal(err)
	}

	mustCreateBucket(t, cl, "move")
	mustCreateBucket(t, cl, "kept")
	if _, err := cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("kept"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	objects := &objectSet{want: map[string][]byte{}}
	sizes := []int{700, 40 << 10, 300 << 10, 1<<20 + 12345}
	for i := range 48 {
		key := fmt.Sprintf("before/%03d", i)
		data := randomBytes(uint64(i), sizes[i%len(sizes)])
		put(t, cl, "move", key, data)
		objects.add("move/"+key, data)
	}
	// Two versions of each key in the versioned bucket: the older one
	// moves too.
	for i := range 8 {
		key := fmt.Sprintf("v/%d", i)
		put(t, cl, "kept", key, randomBytes(uint64(1000+i), 200<<10))
		data := randomBytes(uint64(2000+i), 150<<10)
		put(t, cl, "kept", key, data)
		objects.add("kept/"+key, data)
	}

	// The mixed load: PUTs of new keys, GETs of known ones checked byte
	// for byte, listings. Every failure is a test failure.
	load := startLoad(t, cl, objects)

	// The preview's bytes come from each node's last scanner pass: wait
	// for one that saw every object written above.
	written := time.Now()
	if _, err := ctl.Heal(ctx, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, func() string {
		st, err := ctl.Status(ctx)
		if err != nil {
			return err.Error()
		}
		for _, n := range st.Nodes {
			if !n.Reported || !n.LastScan.After(written) {
				return fmt.Sprintf("node %s has not ended a scan since the objects were written", n.ID)
			}
		}
		return ""
	})
	n7 := c.AddNode("z1")
	view, err := ctl.Stage(ctx, adminapi.LayoutChange{Op: "add-node", Node: n7.ID})
	if err != nil {
		t.Fatal(err)
	}
	p := view.Preview
	if p == nil || len(p.Problems) > 0 || p.PGsMoved == 0 || p.ShardsMoved != p.PGsMoved || p.BytesMoved == 0 ||
		p.RedundancyDuringMove != 1 || p.In[n7.ID] != p.ShardsMoved {
		t.Fatalf("preview of adding %s: %+v", n7.ID, p)
	}
	t.Logf("preview: %d of %d PGs move one shard each to %s, ~%d KiB, redundancy during the move %d",
		p.PGsMoved, view.PGCount, n7.ID, p.BytesMoved>>10, p.RedundancyDuringMove)
	before := c.Gateway.Layout()
	start := time.Now()
	if _, err := ctl.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	after := c.Gateway.Layout()
	moves := placement.Moves(before, after, 6)
	if len(moves) != p.ShardsMoved {
		t.Fatalf("apply moved %d shards, the preview said %d", len(moves), p.ShardsMoved)
	}
	st := waitRebalanced(t, ctl, 90*time.Second)
	took := time.Since(start)
	load.stop()
	t.Logf("rebalance after adding %s: %d shards (%d KiB) moved in %v under load (%.1f MiB/s); load meanwhile: %d PUTs, %d GETs, %d LISTs, 0 failed",
		n7.ID, st.Rebalance.Moved, st.Rebalance.MovedBytes>>10, took.Round(time.Millisecond),
		float64(st.Rebalance.MovedBytes)/(1<<20)/took.Seconds(), load.puts.Load(), load.gets.Load(), load.lists.Load())
	if st.Rebalance.Moved == 0 || st.Rebalance.Moved > int64(objects.len()) {
		t.Errorf("%d shards moved for %d objects", st.Rebalance.Moved, objects.len())
	}
	objects.readAll(t, cl)
	checkPlaced(t, c, after, objects.keys())

	// Removing a node drains it first: remove refuses while it is active.
	if _, err := ctl.Stage(ctx, adminapi.LayoutChange{Op: "remove-node", Node: "n3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Apply(ctx); !isRefused(err) {
		t.Fatalf("removing active n3: %v, want a refusal", err)
	}
	if _, err := ctl.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Stage(ctx, adminapi.LayoutChange{Op: "drain", Node: "n3"}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := ctl.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	drained := waitRebalanced(t, ctl, 90*time.Second)
	t.Logf("drain of n3: %d shards moved in %v", drained.Rebalance.Moved-st.Rebalance.Moved, time.Since(start).Round(time.Millisecond))
	// n3 has ended a pass that handed over all it held, but its Shards
	// are from that pass's census, taken before the handover: the next
	// census shows it empty.
	eventually(t, 90*time.Second, func() string {
		st, err := ctl.Status(ctx)
		if err != nil {
			return err.Error()
		}
		for _, n := range st.Nodes {
			if n.ID == "n3" && (n.Shards > 0 || n.Misplaced > 0 || !n.Reported) {
				return fmt.Sprintf("n3 still holds %d shards (%d misplaced)", n.Shards, n.Misplaced)
			}
		}
		return ""
	})
	if _, err := ctl.Stage(ctx, adminapi.LayoutChange{Op: "remove-node", Node: "n3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Apply(ctx); err != nil {
		t.Fatalf("removing drained n3: %v", err)
	}
	final := c.Gateway.Layout()
	if _, in := final.Node("n3"); in || len(final.Nodes) != 6 {
		t.Fatalf("layout after removing n3: %+v", final.Nodes)
	}
	if err := c.Nodes[2].Stop(); err != nil {
		t.Fatal(err)
	}
	objects.readAll(t, cl)
	checkPlaced(t, c, final, objects.keys())

	// Six nodes are what 4+2 needs: draining one more must be refused.
	if _, err := ctl.Stage(ctx, adminapi.LayoutChange{Op: "drain", Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Apply(ctx); !isRefused(err) {
		t.Fatalf("draining a sixth node of 4+2: %v, want a refusal", err)
	}
}

func isRefused(err error) bool {
	var ae *objctl.APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusConflict && len(ae.Problems) > 0
}

// waitRebalanced waits until every live node has ended a scanner pass
// begun after it held the layout in force and no node reports a misplaced
// shard, and returns the status that said so. It gives up once stall
// passes with no shard moved: how long a rebalance takes depends on how
// loaded the machine is, whether it is stuck does not.
//
// A node's Misplaced is as of the rebalance step of its last pass: until
// the node has run one under the new layout it reports the old layout's
// figure, 0 once an earlier rebalance is over. A pass publishes its
// census (CensusStarted) before that step and sets LastScan when it
// ends, so a LastScan after a CensusStarted that is after the layout
// arrived marks a pass whose rebalance step saw the new layout.
func waitRebalanced(t *testing.T, ctl *objctl.Client, stall time.Duration) *adminapi.Status {
	t.Helper()
	eventually(t, stall, func() string {
		st, err := ctl.Status(t.Context())
		if err != nil {
			return err.Error()
		}
		for _, n := range st.Nodes {
			if n.Alive && (!n.Reported || n.LayoutEpoch != st.LayoutEpoch) {
				return fmt.Sprintf("node %s has not reported layout epoch %d", n.ID, st.LayoutEpoch)
			}
		}
		return ""
	})
	// Ask for the passes rather than wait for each node's scan interval;
	// a node in the middle of a pass runs another after it.
	since := time.Now()
	if _, err := ctl.Heal(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	var passes adminapi.PassWatch
	var st *adminapi.Status
	whileMoving(t, stall, func() (string, int64) {
		var err error
		if st, err = ctl.Status(t.Context()); err != nil {
			return err.Error(), -1
		}
		moved := st.Rebalance.Moved
		for _, n := range st.Nodes {
			if !n.Alive {
				continue
			}
			if !n.Reported || n.LayoutEpoch != st.LayoutEpoch {
				return fmt.Sprintf("node %s has not reported layout epoch %d", n.ID, st.LayoutEpoch), moved
			}
			if !passes.Ended(n, since) {
				return fmt.Sprintf("node %s has not ended a scanner pass begun under layout epoch %d (%d shards misplaced, %d moved)",
					n.ID, st.LayoutEpoch, n.Misplaced, n.Moved), moved
			}
		}
		if st.Rebalance.Misplaced > 0 || moved == 0 {
			return fmt.Sprintf("%d shards still misplaced, %d moved", st.Rebalance.Misplaced, moved), moved
		}
		return "", moved
	})
	return st
}

// whileMoving calls cond until it returns "", as eventually does, but
// gives up only once stall has passed without the count of moved shards
// cond also returns going up.
func whileMoving(t *testing.T, stall time.Duration, cond func() (why string, moved int64)) {
	t.Helper()
	last, progressed := int64(-1), time.Now()
	for {
		why, moved := cond()
		if why == "" {
			return
		}
		if moved > last {
			last, progressed = moved, time.Now()
		}
		if time.Since(progressed) > stall {
			t.Fatalf("no shard moved for %v: %s", stall, why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkPlaced checks that every home of each object under l holds its
// record with the shard index the layout gives it, and that shard, and
// that no other node keeps a record of it.
func checkPlaced(t *testing.T, c *clustertest.Cluster, l *placement.Layout, keys []string) {
	t.Helper()
	hc := &http.Client{Transport: httptransport.NewTransport()}
	eventually(t, 90*time.Second, func() string {
		for _, bk := range keys {
			bucket, key, _ := strings.Cut(bk, "/")
			plan, err := placement.Place(l, bucket, key, 6)
			if err != nil {
				return err.Error()
			}
			okey := metadata.ObjectKey{Bucket: bucket, Key: key}
			for _, n := range c.Nodes {
				if n.Node() == nil {
					continue
				}
				v, err := httptransport.NewClient(n.ID, n.Addr, hc).GetVersion(context.Background(), okey)
				i := slices.Index(plan.Homes, placement.NodeID(n.ID))
				if i < 0 {
					if err == nil {
						return fmt.Sprintf("%s keeps a record of %s, which it is no home of", n.ID, bk)
					}
					continue
				}
				if err != nil {
					return fmt.Sprintf("home %s of %s: %v", n.ID, bk, err)
				}
				if v.Shards[i] != n.ID {
					return fmt.Sprintf("home %s (index %d) of %s: record says shard %d is on %s", n.ID, i, bk, i, v.Shards[i])
				}
				// A multipart object's shards are stored by part, not
				// by its version.
				if !v.IsInline() && len(v.Parts) == 0 {
					ref := transport.ShardRef{Bucket: bucket, Key: key, VersionID: v.VersionID, Index: i}
					if _, ok := shardExtent(t, n, ref); !ok {
						return fmt.Sprintf("home %s of %s: shard %d not stored", n.ID, bk, i)
					}
				}
			}
		}
		return ""
	})
}

// objectSet is what the test has written and expects to read back.
type objectSet struct {
	mu   sync.Mutex
	want map[string][]byte // "bucket/key" → body
}

func (o *objectSet) add(bk string, data []byte) {
	o.mu.Lock()
	o.want[bk] = data
	o.mu.Unlock()
}

func (o *objectSet) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.want)
}

func (o *objectSet) keys() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := make([]string, 0, len(o.want))
	for k := range o.want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (o *objectSet) pick(r *rand.Rand) (string, []byte) {
	keys := o.keys()
	k := keys[r.IntN(len(keys))]
	o.mu.Lock()
	defer o.mu.Unlock()
	return k, o.want[k]
}

func (o *objectSet) readAll(t *testing.T, cl *s3.Client) {
	t.Helper()
	for _, bk := range o.keys() {
		bucket, key, _ := strings.Cut(bk, "/")
		got, _ := get(t, cl, bucket, key, nil)
		o.mu.Lock()
		want := o.want[bk]
		o.mu.Unlock()
		sameBytes(t, bk, got, want)
	}
}

type loadRun struct {
	cancel            context.CancelFunc
	wg                sync.WaitGroup
	puts, gets, lists atomic.Int64
}

func (l *loadRun) stop() {
	l.cancel()
	l.wg.Wait()
}

// startLoad runs four clients: 30 % PUTs of new keys, 60 % GETs of known
// keys checked byte for byte, 10 % listings, until stopped.
func startLoad(t *testing.T, cl *s3.Client, objects *objectSet) *loadRun {
	ctx, cancel := context.WithCancel(t.Context())
	l := &loadRun{cancel: cancel}
	t.Cleanup(l.stop)
	for w := range 4 {
		l.wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for seq := 0; ctx.Err() == nil; seq++ {
				switch x := r.IntN(10); {
				case x < 3:
					key := fmt.Sprintf("during/%d/%04d", w, seq)
					data := randomBytes(uint64(w<<20|seq), 1+r.IntN(400<<10))
					_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("move"), Key: aws.String(key), Body: bytes.NewReader(data)})
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						t.Errorf("PUT %s during the rebalance: %v", key, err)
						return
					}
					objects.add("move/"+key, data)
					l.puts.Add(1)
				case x < 9:
					bk, want := objects.pick(r)
					bucket, key, _ := strings.Cut(bk, "/")
					out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
					var got bytes.Buffer
					if err == nil {
						_, err = got.ReadFrom(out.Body)
						out.Body.Close()
					}
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						t.Errorf("GET %s during the rebalance: %v", bk, err)
						return
					}
					if !bytes.Equal(got.Bytes(), want) {
						t.Errorf("GET %s during the rebalance: %d bytes differ from the %d written", bk, got.Len(), len(want))
						return
					}
					l.gets.Add(1)
				default:
					_, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("move"), Prefix: aws.String("before/")})
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						t.Errorf("LIST during the rebalance: %v", err)
						return
					}
					l.lists.Add(1)
				}
			}
		})
	}
	return l
}

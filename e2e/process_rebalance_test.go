package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/adminapi"
	"cairn/layoutstore"
	"cairn/placement"
)

// TestProcessAddAndRemoveNode grows a cluster of real processes by a node
// that joins by gossip, then shrinks it by another, all through the objctl
// binary: the layout goes from the gateway to every node by gossip alone,
// every node saves it, a restarted gateway catches up before it serves,
// and no request of a load running meanwhile fails.
func TestProcessAddAndRemoveNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	t.Parallel()
	// A short scanner interval so that a move a pass could not finish is
	// retried within seconds, not at the next minute.
	pc := startProcClusterWith(t, 6, "--scan-interval", "2s")
	ctl := procObjctl{t: t, pc: pc}
	cl := sdkClientWith(pc.endpoint, "cairnadmin", "cairnadmin")
	const bucket = "grow"
	mustCreateBucket(t, cl, bucket)
	objects := &objectSet{want: map[string][]byte{}}
	for i := range 40 {
		key := fmt.Sprintf("before/%03d", i)
		data := randomBytes(uint64(i)+5000, procSizes[i%len(procSizes)])
		put(t, cl, bucket, key, data)
		objects.add(bucket+"/"+key, data)
	}

	// n7 is in nobody's --nodes: it must show up through gossip alone.
	n7 := pc.addNode("n7")
	waitFor(t, "n7 listed as unassigned and alive", 30*time.Second, func() bool {
		st, err := ctl.status()
		if err != nil {
			return false
		}
		n := findStatusNode(st, n7.id)
		return n != nil && n.State == "unassigned" && n.Alive
	})

	load := startProcLoad(t, cl, bucket, objects)
	ctl.must("layout", "add-node", n7.id, "--zone", "default")
	show := ctl.must("layout", "show")
	m := regexp.MustCompile(`Preview: (\d+) placement groups get a new home; (\d+) shard moves`).FindStringSubmatch(show)
	if m == nil {
		t.Fatalf("layout show has no preview of moves:\n%s", show)
	}
	if pgs, _ := strconv.Atoi(m[1]); pgs == 0 {
		t.Fatalf("layout show: no PG moves to %s:\n%s", n7.id, show)
	}
	start := time.Now()
	ctl.must("layout", "apply", "--yes", "--wait", "--timeout", "3m")
	applyTook := time.Since(start)
	load.stop()
	if n := load.failed.Load(); n > 0 {
		t.Errorf("%d load requests failed during the rebalance", n)
	}
	objects.readAll(t, cl)

	st, err := ctl.status()
	if err != nil {
		t.Fatal(err)
	}
	epoch := st.LayoutEpoch
	if st.Rebalance.Misplaced != 0 || st.Rebalance.Moved == 0 {
		t.Errorf("after apply --wait: %d shards misplaced, %d moved; want 0 and some", st.Rebalance.Misplaced, st.Rebalance.Moved)
	}
	for _, n := range st.Nodes {
		if n.State != "active" || !n.Alive || !n.Reported || n.LayoutEpoch != epoch {
			t.Errorf("node %s after the rebalance: %s, alive %v, reported %v, layout epoch %d; want active, alive, reporting epoch %d",
				n.ID, n.State, n.Alive, n.Reported, n.LayoutEpoch, epoch)
		}
	}
	// Shard counts are as of each node's last pass, and n7's may have
	// ended before the others handed it anything: wait for a later one.
	var n7Status *adminapi.NodeStatus
	waitFor(t, "a scanner pass on n7 after the rebalance", 30*time.Second, func() bool {
		later, err := ctl.status()
		if err != nil {
			return false
		}
		n7Status = findStatusNode(later, n7.id)
		return n7Status != nil && n7Status.LastScan.After(st.Time)
	})
	if n := n7Status; n.Shards == 0 {
		t.Errorf("%s holds no shards after the rebalance: %+v", n7.id, n)
	} else {
		t.Logf("added %s: preview %s PGs / %s shard moves; apply --wait took %v under load (%d PUTs, %d GETs, none failed); "+
			"%d shards (%d KiB) moved; %s now holds %d shards (%d KiB)",
			n7.id, m[1], m[2], applyTook.Round(time.Millisecond), load.puts.Load(), load.gets.Load(),
			st.Rebalance.Moved, st.Rebalance.MovedBytes>>10, n7.id, n.Shards, n.ShardBytes>>10)
	}
	// Every node saved the document it got by gossip.
	for _, nd := range pc.nodes {
		if err := checkSavedLayout(nd, epoch, n7.id, true); err != nil {
			t.Error(err)
		}
	}

	// A restarted gateway starts from --nodes (epoch 1): it must hold the
	// cluster's layout before it answers anything.
	pc.restartGateway()
	var restarted *adminapi.Status
	waitFor(t, "restarted gateway answers", 30*time.Second, func() bool {
		restarted, err = ctl.status()
		return err == nil
	})
	if restarted.LayoutEpoch != epoch {
		t.Fatalf("restarted gateway serves layout epoch %d; the cluster is at %d", restarted.LayoutEpoch, epoch)
	}
	objects.readAll(t, cl)
	after := randomBytes(9999, 300<<10)
	put(t, cl, bucket, "after-restart", after)
	objects.add(bucket+"/after-restart", after)

	// remove-node drains n2 first, waits until it holds nothing, then
	// removes it.
	n2 := pc.nodes[1]
	start = time.Now()
	removeOut := ctl.must("layout", "remove-node", n2.id, "--timeout", "3m")
	removeTook := time.Since(start)
	var view adminapi.LayoutView
	if err := json.Unmarshal([]byte(ctl.must("layout", "show", "--json")), &view); err != nil {
		t.Fatal(err)
	}
	if view.Staged != nil || len(view.Nodes) != 6 {
		t.Fatalf("layout after removing %s: %d nodes, staged %v:\n%s", n2.id, len(view.Nodes), view.Staged, removeOut)
	}
	for _, n := range view.Nodes {
		if n.ID == n2.id {
			t.Fatalf("layout epoch %d still has %s", view.Epoch, n2.id)
		}
	}
	st, err = ctl.status()
	if err != nil {
		t.Fatal(err)
	}
	if n := findStatusNode(st, n2.id); n == nil || !n.Reported || n.Shards != 0 || n.Misplaced != 0 {
		t.Errorf("%s after its removal: %+v; want it reporting 0 shards", n2.id, n)
	} else {
		t.Logf("removed %s: drain and removal took %v; it handed over %d shards (%d KiB)",
			n2.id, removeTook.Round(time.Millisecond), n.Moved, n.MovedBytes>>10)
	}
	waitFor(t, "every other node saves the layout without "+n2.id, 30*time.Second, func() bool {
		for _, nd := range pc.nodes {
			if nd != n2 && checkSavedLayout(nd, view.Epoch, n2.id, false) != nil {
				return false
			}
		}
		return true
	})
	pc.kill(n2)
	objects.readAll(t, cl)
	t.Logf("%d objects read back byte-exact with %s gone", objects.len(), n2.id)
}

// procSizes are the object sizes the test writes: inline, one block,
// several blocks, and multi-MiB objects.
var procSizes = []int{1 << 10, 37 << 10, 300 << 10, 1 << 20, 2 << 20}

// checkSavedLayout reads the layout document nd keeps in its data
// directory: it must be at epoch and have (or not have) node id.
func checkSavedLayout(nd *procNode, epoch uint64, id string, want bool) error {
	b, err := os.ReadFile(filepath.Join(nd.dir, layoutstore.FileName))
	if err != nil {
		return fmt.Errorf("%s: %v", nd.id, err)
	}
	d, err := layoutstore.Decode(b)
	if err != nil {
		return fmt.Errorf("%s: %v", nd.id, err)
	}
	if d.Epoch != epoch {
		return fmt.Errorf("%s saved layout epoch %d, want %d", nd.id, d.Epoch, epoch)
	}
	if _, has := d.Layout.Node(placement.NodeID(id)); has != want {
		return fmt.Errorf("%s saved layout epoch %d: has %s = %v, want %v", nd.id, d.Epoch, id, has, want)
	}
	return nil
}

func findStatusNode(st *adminapi.Status, id string) *adminapi.NodeStatus {
	for i := range st.Nodes {
		if st.Nodes[i].ID == id {
			return &st.Nodes[i]
		}
	}
	return nil
}

// procObjctl runs the objctl binary against the cluster's gateway, as an
// operator would, with the endpoint and keys in the environment.
type procObjctl struct {
	t  *testing.T
	pc *procCluster
}

func (c procObjctl) run(args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(c.t.Context(), filepath.Join(c.pc.bin, "objctl"), args...)
	cmd.Env = append(os.Environ(), "CAIRN_ADMIN_ENDPOINT=http://"+c.pc.admin,
		"CAIRN_ACCESS_KEY=cairnadmin", "CAIRN_SECRET_KEY=cairnadmin")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// must runs objctl and fails the test unless it exits 0.
func (c procObjctl) must(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("objctl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func (c procObjctl) status() (*adminapi.Status, error) {
	out, errOut, err := c.run("status", "--json")
	if err != nil {
		return nil, fmt.Errorf("objctl status: %v: %s", err, errOut)
	}
	var st adminapi.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("objctl status --json: %v", err)
	}
	return &st, nil
}

// procLoad is two clients alternating PUTs of new keys and GETs of known
// ones, checked byte for byte, until stopped. Failures are test errors.
type procLoad struct {
	cancel             context.CancelFunc
	wg                 sync.WaitGroup
	puts, gets, failed atomic.Int64
}

func (l *procLoad) stop() {
	l.cancel()
	l.wg.Wait()
}

func startProcLoad(t *testing.T, cl *s3.Client, bucket string, objects *objectSet) *procLoad {
	ctx, cancel := context.WithCancel(t.Context())
	l := &procLoad{cancel: cancel}
	t.Cleanup(l.stop)
	fail := func(format string, args ...any) {
		l.failed.Add(1)
		t.Errorf(format, args...)
	}
	for w := range 2 {
		l.wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for seq := 0; ctx.Err() == nil; seq++ {
				if seq%2 == 0 {
					key := fmt.Sprintf("during/%d/%04d", w, seq)
					data := randomBytes(uint64(w<<20|seq), procSizes[r.IntN(len(procSizes))])
					_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						fail("PUT %s during the rebalance: %v", key, err)
						continue
					}
					objects.add(bucket+"/"+key, data)
					l.puts.Add(1)
					continue
				}
				bk, want := objects.pick(r)
				b, key, _ := strings.Cut(bk, "/")
				out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
				var got bytes.Buffer
				if err == nil {
					_, err = got.ReadFrom(out.Body)
					out.Body.Close()
				}
				if ctx.Err() != nil {
					return
				}
				switch {
				case err != nil:
					fail("GET %s during the rebalance: %v", bk, err)
				case !bytes.Equal(got.Bytes(), want):
					fail("GET %s during the rebalance: %d bytes differ from the %d written", bk, got.Len(), len(want))
				default:
					l.gets.Add(1)
				}
			}
		})
	}
	return l
}

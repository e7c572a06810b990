package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/erasure"
	"cairn/internal/freeport"
	"cairn/metadata"
	"cairn/transport"
	"cairn/transport/httptransport"
)

// procCluster is a cluster of real objnode and objgw processes on loopback.
type procCluster struct {
	t        *testing.T
	bin, dir string
	spec     string
	seeds    string
	nodes    []*procNode
	gw       *exec.Cmd
	endpoint string
	admin    string   // the gateway's admin listener (objctl)
	gwArgs   []string // to start the gateway again with the same addresses
	gwStarts int
	nodeArgs []string // more flags for every objnode
}

type procNode struct {
	id, addr, gossip, dir string
	admin                 string // metrics, health and /admin/hints
	cmd                   *exec.Cmd
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func buildBinaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "cairn-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+"/", "cairn/cmd/objnode", "cairn/cmd/objgw", "cairn/cmd/objctl").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func startProcCluster(t *testing.T, n int) *procCluster {
	return startProcClusterWith(t, n)
}

// startProcClusterWith starts n nodes, each with nodeArgs besides the
// harness's own flags, and a gateway.
// procClusters lets one process cluster run at a time. Their ports are
// picked free and then released, and their members share IDs (n1…n6) and
// gossip unencrypted: two starting side by side could take each other's
// ports or join each other's pool.
var procClusters sync.Mutex

func startProcClusterWith(t *testing.T, n int, nodeArgs ...string) *procCluster {
	procClusters.Lock()
	t.Cleanup(procClusters.Unlock) // first registered, so it runs after the cluster is gone
	pc := &procCluster{t: t, bin: buildBinaries(t), dir: t.TempDir(), nodeArgs: nodeArgs}
	gwGossip := freeAddr(t)
	seeds := []string{gwGossip}
	var spec []string
	for i := range n {
		nd := &procNode{id: fmt.Sprintf("n%d", i+1), addr: freeAddr(t), gossip: freeAddr(t), admin: freeAddr(t), dir: filepath.Join(pc.dir, fmt.Sprintf("n%d", i+1))}
		pc.nodes = append(pc.nodes, nd)
		spec = append(spec, nd.id+"="+nd.addr)
		seeds = append(seeds, nd.gossip)
	}
	pc.spec, pc.seeds = strings.Join(spec, ","), strings.Join(seeds, ",")
	for _, nd := range pc.nodes {
		pc.startNode(nd)
	}
	gwAddr := freeAddr(t)
	pc.endpoint, pc.admin = "http://"+gwAddr, freeAddr(t)
	pc.gwArgs = []string{"--listen", gwAddr, "--admin", pc.admin, "--nodes", pc.spec,
		"--gossip", gwGossip, "--seeds", pc.seeds, "--gossip-profile", "local"}
	pc.startGateway()
	t.Cleanup(func() {
		for _, nd := range pc.nodes {
			if nd.cmd != nil {
				nd.cmd.Process.Kill()
				nd.cmd.Wait()
			}
		}
		pc.gw.Process.Kill()
		pc.gw.Wait()
	})
	t.Cleanup(func() {
		if t.Failed() {
			pc.logTails(20)
		}
	})
	cl := sdkClientWith(pc.endpoint, "cairnadmin", "cairnadmin")
	// Generous: under the race detector the tests running beside this one
	// slow process start-up several times over.
	waitFor(t, "cluster answers", time.Minute, func() bool {
		if _, err := pc.hintCount(); err != nil {
			return false
		}
		_, err := cl.ListBuckets(context.Background(), &s3.ListBucketsInput{})
		return err == nil
	})
	return pc
}

// logTails logs the last n lines of every process's log: what a failed
// test needs to tell a process that never came up from a slow one.
func (pc *procCluster) logTails(n int) {
	logs, _ := filepath.Glob(filepath.Join(pc.dir, "*.log"))
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		pc.t.Logf("last lines of %s:\n%s", filepath.Base(p), strings.Join(lines[max(0, len(lines)-n):], "\n"))
	}
}

func (pc *procCluster) command(name, path string, args ...string) *exec.Cmd {
	log, err := os.Create(filepath.Join(pc.dir, name+".log"))
	if err != nil {
		pc.t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "CAIRN_ACCESS_KEY=cairnadmin", "CAIRN_SECRET_KEY=cairnadmin")
	if err := cmd.Start(); err != nil {
		pc.t.Fatal(err)
	}
	return cmd
}

func (pc *procCluster) startNode(nd *procNode) {
	args := []string{"--id", nd.id, "--data", nd.dir, "--listen", nd.addr,
		"--admin", nd.admin, "--nodes", pc.spec, "--gossip", nd.gossip, "--seeds", pc.seeds, "--gossip-profile", "local"}
	nd.cmd = pc.command(nd.id, filepath.Join(pc.bin, "objnode"), append(args, pc.nodeArgs...)...)
}

// addNode starts one more node that the others' --nodes does not name: it
// starts from the same layout and joins by gossip, as an operator adds a
// machine before adding it to the layout.
func (pc *procCluster) addNode(id string) *procNode {
	nd := &procNode{id: id, addr: freeAddr(pc.t), gossip: freeAddr(pc.t), admin: freeAddr(pc.t), dir: filepath.Join(pc.dir, id)}
	pc.nodes = append(pc.nodes, nd)
	pc.startNode(nd)
	return nd
}

func (pc *procCluster) startGateway() {
	pc.gwStarts++
	pc.gw = pc.command(fmt.Sprintf("gateway-%d", pc.gwStarts), filepath.Join(pc.bin, "objgw"), pc.gwArgs...)
}

// restartGateway kills the gateway and starts it again on the same
// addresses; it does not wait for it to answer.
func (pc *procCluster) restartGateway() {
	pc.gw.Process.Signal(syscall.SIGKILL)
	pc.gw.Wait()
	pc.startGateway()
}

func (pc *procCluster) kill(nd *procNode) {
	nd.cmd.Process.Signal(syscall.SIGKILL)
	nd.cmd.Wait()
	nd.cmd = nil
}

// hintCount asks every node's admin endpoint for the hints it holds.
func (pc *procCluster) hintCount() (int, error) {
	total := 0
	for _, nd := range pc.nodes {
		resp, err := http.Get("http://" + nd.admin + "/admin/hints")
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return 0, fmt.Errorf("%s /admin/hints: %s", nd.id, resp.Status)
		}
		var stats map[string]struct{ Count int }
		err = json.NewDecoder(resp.Body).Decode(&stats)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		for _, s := range stats {
			total += s.Count
		}
	}
	return total, nil
}

// checkHomes walks the nodes' stores through their transport: every home
// of the object holds the newest record and a shard that verifies.
func (pc *procCluster) checkHomes(ctx context.Context, bucket, key string, size int64) error {
	hc := &http.Client{}
	clients := map[string]*httptransport.Client{}
	for _, nd := range pc.nodes {
		clients[nd.id] = httptransport.NewClient(nd.id, nd.addr, hc)
	}
	var newest *metadata.Version
	for _, c := range clients {
		if v, err := c.GetVersion(ctx, metadata.ObjectKey{Bucket: bucket, Key: key}); err == nil && (newest == nil || v.Newer(newest)) {
			newest = v
		}
	}
	if newest == nil {
		return fmt.Errorf("%s: no record anywhere", key)
	}
	codec, err := erasure.New(newest.EC.DataShards, newest.EC.ParityShards, erasure.WithBlockSize(newest.EC.BlockSize))
	if err != nil {
		return err
	}
	for i, home := range newest.Shards {
		c := clients[home]
		v, err := c.GetVersion(ctx, metadata.ObjectKey{Bucket: bucket, Key: key})
		if err != nil || v.VersionID != newest.VersionID {
			return fmt.Errorf("%s: home %s lacks the record (%v)", key, home, err)
		}
		rc, err := c.ReadShard(ctx, transport.ShardRef{Bucket: bucket, Key: key, VersionID: newest.VersionID, Index: i}, 0, -1)
		if err != nil {
			return fmt.Errorf("%s: shard %d not on its home %s: %v", key, i, home, err)
		}
		err = codec.VerifyShard(rc, size)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: shard %d on %s: %v", key, i, home, err)
		}
	}
	return nil
}

// Two of six real node processes are killed with SIGKILL during a burst of
// PUTs: every PUT is acknowledged and reads back byte-exact; once they are
// restarted, every hint drains and every shard is on its home.
func TestKillTwoNodesDuringPutBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	t.Parallel()
	pc := startProcCluster(t, 6)
	ctx := t.Context()
	cl := sdkClientWith(pc.endpoint, "cairnadmin", "cairnadmin")
	mustCreateBucket(t, cl, "burst")

	const total, workers = 120, 4
	sizes := []int{0, 1000, 100 << 10, 1 << 20, 2<<20 + 3}
	objects := make([][]byte, total)
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, total)
	for range workers {
		wg.Go(func() {
			for i := range next {
				data := randomBytes(uint64(i)+1000, sizes[i%len(sizes)])
				objects[i] = data
				_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("burst"), Key: aws.String(fmt.Sprintf("k%03d", i)), Body: bytes.NewReader(data)})
				if err != nil {
					errs <- fmt.Errorf("PUT k%03d (%d bytes): %w", i, len(data), err)
				}
			}
		})
	}
	killed := []*procNode{pc.nodes[2], pc.nodes[4]}
	burst := time.Now()
	for i := range total {
		if i == total/3 {
			pc.kill(killed[0])
		}
		if i == total/3+5 {
			pc.kill(killed[1])
		}
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	t.Logf("burst of %d PUTs with two nodes killed took %v", total, time.Since(burst))
	for err := range errs {
		t.Error(err)
	}
	for i, data := range objects {
		got, _ := get(t, cl, "burst", fmt.Sprintf("k%03d", i), nil)
		sameBytes(t, fmt.Sprintf("k%03d with two nodes dead", i), got, data)
	}

	restarted := time.Now()
	for _, nd := range killed {
		pc.startNode(nd)
	}
	waitFor(t, "hints drain", 60*time.Second, func() bool {
		n, err := pc.hintCount()
		return err == nil && n == 0
	})
	for i, data := range objects {
		if err := pc.checkHomes(ctx, "burst", fmt.Sprintf("k%03d", i), int64(len(data))); err != nil {
			t.Error(err)
		}
	}
	t.Logf("time to full redundancy after restart: %v", time.Since(restarted))
}

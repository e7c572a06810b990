package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cairn/internal/freeport"
	"cairn/internal/objctl"
)

// LocalOptions shape a local cluster; zero values take defaults.
type LocalOptions struct {
	BinDir string // where objnode and objgw are; default ./bin
	Nodes  int    // default 6
	EC     string // data+parity, default 4+2
	// DataDir holds one directory per node and the logs; default a fresh
	// temporary directory that Close removes (unless Keep).
	DataDir string
	Keep    bool
	// GatewayAddr is objgw's listen address; default a free loopback port.
	GatewayAddr string
	// BasePort is node 1's port, node i's is BasePort+i-1; 0 picks free ports.
	BasePort  int
	AccessKey string // default cairnadmin
	SecretKey string // default cairnadmin
	// SlowNodes get a delaying TCP proxy in front (the gateway talks to
	// the proxy), so that Slow works on them.
	SlowNodes []int
	Logger    *slog.Logger
}

// LocalCluster is a cluster of objnode processes and one objgw started
// by StartLocal. It is a FaultTarget and a RedundancyTarget. Close stops
// it.
type LocalCluster struct {
	Endpoint string // http://host:port of the gateway
	// AdminURL is the gateway's admin listener (the admin API objctl
	// uses); "" when objgw is too old to have one.
	AdminURL  string
	DataDir   string
	AccessKey string
	SecretKey string
	opts      LocalOptions
	log       *slog.Logger

	mu    sync.Mutex
	nodes []*localNode
	gw    *proc
}

type localNode struct {
	id, dir, addr string
	args          []string // objnode's flags, kept for restarts
	p             *proc
	paused        bool
	proxy         *delayProxy
	slow          time.Duration
}

// proc is one child process. done is closed when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// ErrNoSlowProxy is returned by Slow for a node started without a proxy
// (see LocalOptions.SlowNodes).
var ErrNoSlowProxy = errors.New("benchmarks: node has no slow proxy")

// StartLocal starts opts.Nodes objnode processes and an objgw in front of
// them, and waits until all of them accept connections.
func StartLocal(ctx context.Context, opts LocalOptions) (*LocalCluster, error) {
	if opts.BinDir == "" {
		opts.BinDir = "./bin"
	}
	if opts.Nodes == 0 {
		opts.Nodes = 6
	}
	if opts.EC == "" {
		opts.EC = "4+2"
	}
	if opts.AccessKey == "" {
		opts.AccessKey = "cairnadmin"
	}
	if opts.SecretKey == "" {
		opts.SecretKey = "cairnadmin"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for _, b := range []string{"objnode", "objgw"} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, b)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (run make build)", b, err))
		}
	}
	for _, n := range opts.SlowNodes {
		if n < 1 || n > opts.Nodes {
			errs = append(errs, fmt.Errorf("slow node %d: want 1..%d", n, opts.Nodes))
		}
	}
	if opts.Nodes < 1 {
		errs = append(errs, fmt.Errorf("nodes %d: want ≥ 1", opts.Nodes))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("benchmarks: local cluster: %w", err)
	}
	c := &LocalCluster{opts: opts, log: opts.Logger, AccessKey: opts.AccessKey, SecretKey: opts.SecretKey}
	if opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "cairnbench-")
		if err != nil {
			return nil, err
		}
		c.DataDir = dir
	} else {
		c.DataDir = opts.DataDir
		c.opts.Keep = true // never delete a directory we did not make
	}
	if err := c.start(ctx); err != nil {
		c.opts.Keep = true // the logs say why
		c.Close()
		return nil, fmt.Errorf("%w (data and logs kept in %s)", err, c.DataDir)
	}
	return c, nil
}

func (c *LocalCluster) start(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(c.DataDir, "logs"), 0o755); err != nil {
		return err
	}
	// Builds from before gossip have no --gossip; newer ones need a port
	// each (they would all default to the same one) and the seed list.
	nodeFlags := helpFlags(filepath.Join(c.opts.BinDir, "objnode"))
	gwFlags := helpFlags(filepath.Join(c.opts.BinDir, "objgw"))
	var spec, seeds []string
	gossip := map[string]string{}
	for i := 1; i <= c.opts.Nodes; i++ {
		n := &localNode{id: fmt.Sprintf("n%d", i), dir: filepath.Join(c.DataDir, fmt.Sprintf("n%d", i))}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return err
		}
		if c.opts.BasePort > 0 {
			n.addr = "127.0.0.1:" + strconv.Itoa(c.opts.BasePort+i-1)
		} else {
			addr, err := freeport.Addr()
			if err != nil {
				return err
			}
			n.addr = addr
		}
		c.nodes = append(c.nodes, n)
		gwAddr := n.addr
		if slices.Contains(c.opts.SlowNodes, i) {
			p, err := newDelayProxy("127.0.0.1:0", n.addr)
			if err != nil {
				return err
			}
			n.proxy, gwAddr = p, p.Addr()
		}
		spec = append(spec, n.id+"="+gwAddr)
	}
	for _, id := range append([]string{"gateway"}, nodeIDs(c.nodes)...) {
		addr, err := freeport.Addr()
		if err != nil {
			return err
		}
		gossip[id] = addr
		seeds = append(seeds, addr)
	}
	for _, n := range c.nodes {
		n.args = []string{"--id", n.id, "--data", n.dir, "--listen", n.addr}
		if nodeFlags["gossip"] {
			n.args = append(n.args, "--gossip", gossip[n.id], "--seeds", strings.Join(seeds, ","))
		}
		if nodeFlags["nodes"] {
			n.args = append(n.args, "--nodes", strings.Join(spec, ","))
		}
		// Start every process before waiting for any: a node with gossip
		// listens only after it has joined the others.
		p, err := c.spawnNode(n)
		if err != nil {
			return err
		}
		n.p = p
	}
	gwAddr := c.opts.GatewayAddr
	if gwAddr == "" {
		addr, err := freeport.Addr()
		if err != nil {
			return err
		}
		gwAddr = addr
	}
	args := []string{"--listen", gwAddr, "--nodes", strings.Join(spec, ","), "--ec", c.opts.EC}
	if gwFlags["gossip"] {
		args = append(args, "--gossip", gossip["gateway"], "--seeds", strings.Join(seeds, ","))
	}
	adminAddr := ""
	if gwFlags["admin"] {
		addr, err := freeport.Addr()
		if err != nil {
			return err
		}
		adminAddr = addr
		args = append(args, "--admin", addr)
	}
	p, err := c.spawn("gateway", filepath.Join(c.opts.BinDir, "objgw"), nil, args...)
	if err != nil {
		return err
	}
	c.gw = p
	for _, n := range c.nodes {
		if err := waitListening(ctx, n.addr, n.p); err != nil {
			return fmt.Errorf("objnode %s: %w (see %s)", n.id, err, n.p.log.Name())
		}
	}
	if err := waitListening(ctx, gwAddr, p); err != nil {
		return fmt.Errorf("objgw: %w (see %s)", err, p.log.Name())
	}
	c.Endpoint = "http://" + gwAddr
	if adminAddr != "" {
		c.AdminURL = "http://" + adminAddr
	}
	return nil
}

func nodeIDs(nodes []*localNode) []string {
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.id)
	}
	return ids
}

// helpFlags returns the flag names a binary's -help lists.
func helpFlags(bin string) map[string]bool {
	out, _ := exec.Command(bin, "-help").CombinedOutput() // exits 0 or 2; the text is what counts
	flags := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(line, "  -") {
			flags[strings.TrimLeft(f[0], "-")] = true
		}
	}
	return flags
}

func (c *LocalCluster) startNode(ctx context.Context, n *localNode) error {
	p, err := c.spawnNode(n)
	if err != nil {
		return err
	}
	n.p, n.paused = p, false
	if err := waitListening(ctx, n.addr, p); err != nil {
		return fmt.Errorf("objnode %s: %w (see %s)", n.id, err, p.log.Name())
	}
	return nil
}

// spawnNode starts n's objnode with its share of the machine's cores.
func (c *LocalCluster) spawnNode(n *localNode) (*proc, error) {
	var env []string
	if procs, ok := nodeProcs(c.opts.Nodes, runtime.NumCPU(), os.Getenv("GOMAXPROCS")); ok {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	return c.spawn(n.id, filepath.Join(c.opts.BinDir, "objnode"), env, n.args...)
}

// nodeProcs is the GOMAXPROCS of each of nodes objnode processes sharing
// cpus cores: their share, at least one. Each Go runtime sizes itself for
// the whole machine otherwise, and six nodes on two cores each kept two
// Ps busy: the nodes spent about a sixth of their CPU in sysmon and the
// scheduler handing Ps around their fdatasyncs (perf, 1 MiB PUTs), and a
// node's CPU per PUT fell by 5-40 % with one P each (benchmarks/README.md).
// A GOMAXPROCS the user set wins (ok false).
func nodeProcs(nodes, cpus int, userSet string) (procs int, ok bool) {
	if userSet != "" || nodes <= 0 {
		return 0, false
	}
	return max(1, cpus/nodes), true
}

func (c *LocalCluster) spawn(name, bin string, env []string, args ...string) (*proc, error) {
	logf, err := os.OpenFile(filepath.Join(c.DataDir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The local gossip profile detects failures on one machine in about a
	// second instead of the LAN profile's several.
	cmd.Env = append(os.Environ(), "CAIRN_ACCESS_KEY="+c.opts.AccessKey, "CAIRN_SECRET_KEY="+c.opts.SecretKey, "CAIRN_GOSSIP_PROFILE=local")
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: logf}
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	c.log.Info("started", "proc", name, "pid", cmd.Process.Pid)
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitListening waits until addr accepts a connection or p exits.
func waitListening(ctx context.Context, addr string, p *proc) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			conn.Close()
			return nil
		}
		if p.exited() {
			return errors.New("exited during startup")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("not listening on %s after 30s", addr)
}

// Describe says what the cluster is, for reports.
func (c *LocalCluster) Describe() string {
	return fmt.Sprintf("cairn local cluster: %d objnode + 1 objgw processes, EC %s, data in %s", c.opts.Nodes, c.opts.EC, c.DataDir)
}

// Nodes is the number of storage nodes.
func (c *LocalCluster) Nodes() int { return len(c.nodes) }

func (c *LocalCluster) node(i int) (*localNode, error) {
	if i < 1 || i > len(c.nodes) {
		return nil, fmt.Errorf("benchmarks: node %d: cluster has nodes 1..%d", i, len(c.nodes))
	}
	return c.nodes[i-1], nil
}

// Kill sends SIGKILL to node i and waits until it has exited.
func (c *LocalCluster) Kill(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if n.p == nil || n.p.exited() {
		return fmt.Errorf("benchmarks: kill n%d: not running", i)
	}
	if err := n.p.cmd.Process.Kill(); err != nil {
		return err
	}
	<-n.p.done
	n.paused = false
	c.log.Info("killed", "node", n.id)
	return nil
}

// Restart starts a killed node i again on its address and data, and
// waits until it listens.
func (c *LocalCluster) Restart(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if n.p != nil && !n.p.exited() {
		return fmt.Errorf("benchmarks: restart n%d: still running", i)
	}
	return c.startNode(context.Background(), n)
}

// Pause sends SIGSTOP to node i: it stops answering but keeps its
// connections open, which is harder on a client than a crash.
func (c *LocalCluster) Pause(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if n.p == nil || n.p.exited() {
		return fmt.Errorf("benchmarks: pause n%d: not running", i)
	}
	if err := stopProcess(n.p.cmd.Process); err != nil {
		return err
	}
	n.paused = true
	return nil
}

// Resume sends SIGCONT to node i.
func (c *LocalCluster) Resume(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if n.p == nil || n.p.exited() {
		return fmt.Errorf("benchmarks: resume n%d: not running", i)
	}
	if err := continueProcess(n.p.cmd.Process); err != nil {
		return err
	}
	n.paused = false
	return nil
}

// Slow delays node i's traffic by d in both directions; 0 undoes it.
func (c *LocalCluster) Slow(i int, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if n.proxy == nil {
		return fmt.Errorf("%w: n%d (start the cluster with it among the slow nodes)", ErrNoSlowProxy, i)
	}
	n.proxy.SetDelay(d)
	n.slow = d
	return nil
}

// Heal resumes paused nodes, removes delays and restarts dead nodes.
func (c *LocalCluster) Heal() ([]FaultEvent, error) {
	var did []FaultEvent
	var errs []error
	for i := 1; i <= len(c.nodes); i++ {
		n := c.nodes[i-1]
		c.mu.Lock()
		paused, slow, dead := n.paused, n.slow, n.p == nil || n.p.exited()
		c.mu.Unlock()
		do := func(e FaultEvent, err error) {
			did = append(did, e)
			errs = append(errs, err)
		}
		if paused && !dead {
			do(FaultEvent{Action: FaultResume, Node: i}, c.Resume(i))
		}
		if slow > 0 {
			do(FaultEvent{Action: FaultSlow, Node: i}, c.Slow(i, 0))
		}
		if dead {
			do(FaultEvent{Action: FaultRestart, Node: i}, c.Restart(i))
		}
	}
	return did, errors.Join(errs...)
}

// Close stops every process (SIGCONT first, then SIGTERM, SIGKILL after
// 5s), closes the proxies and removes the data directory unless it is
// kept.
func (c *LocalCluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var procs []*proc
	if c.gw != nil {
		procs = append(procs, c.gw)
	}
	for _, n := range c.nodes {
		if n.p != nil {
			procs = append(procs, n.p)
		}
	}
	for _, p := range procs {
		if !p.exited() {
			continueProcess(p.cmd.Process)
			terminateProcess(p.cmd.Process)
		}
	}
	timeout := time.After(5 * time.Second)
	for _, p := range procs {
		select {
		case <-p.done:
		case <-timeout:
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	var errs []error
	for _, n := range c.nodes {
		if n.proxy != nil {
			errs = append(errs, n.proxy.Close())
		}
	}
	if !c.opts.Keep && c.DataDir != "" {
		errs = append(errs, os.RemoveAll(c.DataDir))
	}
	return errors.Join(errs...)
}

// localRegion is the region objgw signs for when not told otherwise, as
// StartLocal leaves it.
const localRegion = "us-east-1"

// FullRedundancy implements RedundancyTarget through the gateway's admin
// API.
func (c *LocalCluster) FullRedundancy(ctx context.Context, bucket string, since time.Time) (RedundancyState, error) {
	if c.AdminURL == "" {
		return RedundancyState{}, errors.New("benchmarks: this objgw has no admin listener (--admin)")
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	api, err := objctl.NewClient(c.AdminURL, c.AccessKey, c.SecretKey, localRegion, hc)
	if err != nil {
		return RedundancyState{}, err
	}
	return watchRedundancy(ctx, api, bucket, since)
}

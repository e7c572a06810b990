// Package clustertest starts a whole Cairn cluster inside a test process:
// storage nodes on pebble in temporary directories, each served over real
// HTTP on loopback, and a gateway in front of them. Nodes can be stopped and
// started again to exercise failures.
package clustertest

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"cairn/gateway"
	"cairn/internal/nodeauth"
	"cairn/internal/s3api"
	"cairn/layoutstore"
	"cairn/node"
	"cairn/placement"
	"cairn/transport"
	"cairn/transport/faulttransport"
	"cairn/transport/httptransport"
)

// Default credentials of a test cluster.
const (
	AccessKey = "cairntest"
	SecretKey = "cairntestsecret"
	Region    = "us-east-1"
)

// Options shape a test cluster; zero values take defaults.
type Options struct {
	Nodes        int // default 6
	DataShards   int // default 4
	ParityShards int // default 2
	BlockSize    int // default erasure default
	// InlineThreshold as in gateway.Config.
	InlineThreshold int64
	Logger          *slog.Logger
	// HandoffInterval is how often nodes look for hints to hand back;
	// default 100 ms so tests see handoff quickly.
	HandoffInterval time.Duration
	// ScanInterval, OrphanGrace and HintWindow are passed to every node
	// (node.Config); zero keeps the node's default, except ScanInterval,
	// which defaults to an hour so that no pass heals what a test broke on
	// purpose. Tests of repair call node.Node.ScanNow or set it short.
	ScanInterval time.Duration
	OrphanGrace  time.Duration
	HintWindow   time.Duration
	// ReplayRate bounds each node's hint replay in bytes per second; zero
	// keeps the node's default.
	ReplayRate int64
	// RebalanceRate is passed to every node (node.Config.RebalanceRate);
	// zero keeps the default.
	RebalanceRate int64
	// RetireGrace is passed to every node (node.Config.RetireGrace): how
	// long the shards of a replaced version stay; zero keeps the default.
	RetireGrace time.Duration
	// GatewayFaults, when set, sits between the gateway and the nodes, so a
	// test can cut or slow nodes as the gateway sees them while the nodes
	// still reach each other.
	GatewayFaults *faulttransport.Faults
	// ClusterSecret, when set, turns on internode authentication: every
	// gateway→node and node→node request is signed with it
	// (httptransport.SignRequests) and every node refuses requests that
	// are not (httptransport.Authenticate).
	ClusterSecret nodeauth.Secret
	// NodeConfig, when set, may change each node's configuration before
	// the node opens (and again at each restart); cfg.ID says which node.
	NodeConfig func(cfg *node.Config)
	// Credentials are access keys with bucket permissions, in addition to
	// the admin key AccessKey/SecretKey, which may do everything.
	Credentials []s3api.AccessKey
}

// Cluster is a running test cluster.
type Cluster struct {
	t       testing.TB
	Gateway *gateway.Gateway
	// Endpoint is the gateway's base URL, "http://127.0.0.1:port".
	Endpoint string
	Nodes    []*Node

	gwMu     sync.Mutex
	gateways []runningGateway
	nodesMu  sync.Mutex
	layout   *placement.Layout
	dialer   *dialer
	hc       *http.Client
	opts     Options
	// newest is the newest layout document any member has adopted: what
	// gossip would bring a member that starts or restarts.
	newestMu sync.Mutex
	newest   *layoutstore.Document
	// down is the membership view the gateway and nodes share: a stopped
	// node is down at once. Tests of detection itself use gossip.
	down sync.Map // node ID → true
}

// Alive reports whether a node of the cluster is running.
func (c *Cluster) Alive(id string) bool {
	_, down := c.down.Load(id)
	return !down
}

// Node is one storage node of a cluster.
type Node struct {
	ID   string
	Dir  string
	Addr string

	log      *slog.Logger
	cluster  *Cluster
	dialer   transport.Dialer
	zone     string
	handoff  time.Duration
	layout   *placement.Layout
	opts     *Options
	mu       sync.Mutex
	node     *node.Node
	server   *http.Server
	inflight sync.WaitGroup
	track    sync.Mutex // orders inflight.Add before Stop's Wait
	stopping bool       // guarded by track
}

// Start starts a cluster and registers its shutdown with t.Cleanup.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 6
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HandoffInterval == 0 {
		opts.HandoffInterval = 100 * time.Millisecond
	}
	if opts.ScanInterval == 0 {
		opts.ScanInterval = time.Hour
	}
	c := &Cluster{t: t}
	layout := &placement.Layout{Version: 1, PGCount: placement.DefaultPGCount}
	hc := &http.Client{Transport: httptransport.SignRequests(httptransport.NewTransport(), opts.ClusterSecret)}
	dialer := &dialer{clients: map[string]transport.NodeClient{}}
	// Every address is known before the first node starts: nodes read the
	// layout and the dialer from their background loops.
	lns := make([]net.Listener, opts.Nodes)
	for i := range opts.Nodes {
		n := &Node{ID: fmt.Sprintf("n%d", i+1), Dir: t.TempDir(), log: opts.Logger, cluster: c, dialer: dialer, handoff: opts.HandoffInterval,
			layout: layout, opts: &opts, zone: "z1"}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		lns[i] = ln
		n.Addr = ln.Addr().String()
		c.Nodes = append(c.Nodes, n)
		layout.Nodes = append(layout.Nodes, placement.Node{ID: placement.NodeID(n.ID), Addr: n.Addr, Zone: "z1", Weight: 1, State: placement.Active})
		dialer.add(n.ID, httptransport.NewClient(n.ID, n.Addr, hc))
	}
	c.layout, c.dialer, c.opts, c.hc = layout, dialer, opts, hc
	for i, n := range c.Nodes {
		if err := n.serveLocked(lns[i]); err != nil {
			t.Fatalf("start node %s: %v", n.ID, err)
		}
	}
	c.Gateway, c.Endpoint = c.AddGateway(GatewayOptions{Faults: opts.GatewayFaults})
	t.Cleanup(c.close)
	return c
}

// GatewayOptions shape a gateway added to a cluster.
type GatewayOptions struct {
	// Now is the gateway's clock; nil is time.Now. Tests skew it.
	Now func() time.Time
	// Faults, when set, sits between this gateway and the nodes.
	Faults *faulttransport.Faults
	// TLS, when set, serves the gateway over HTTPS with it; the endpoint
	// is then "https://127.0.0.1:port".
	TLS *tls.Config
}

// AddGateway starts another gateway over the cluster's nodes, as another
// objgw process would be, and returns it with its endpoint. Start adds the
// first one; the cluster's cleanup stops them all.
func (c *Cluster) AddGateway(o GatewayOptions) (*gateway.Gateway, string) {
	c.t.Helper()
	var d transport.Dialer = c.dialer
	if o.Faults != nil {
		d = o.Faults.Dialer(c.dialer)
	}
	keys, err := s3api.NewKeyring(append([]s3api.AccessKey{{AccessKey: AccessKey, SecretKey: SecretKey,
		Buckets: s3api.Grants{s3api.AllBuckets: s3api.PermReadWrite}, Admin: true}}, c.opts.Credentials...))
	if err != nil {
		c.t.Fatalf("credentials: %v", err)
	}
	store, err := layoutstore.Open("", c.layout, c.homes())
	if err != nil {
		c.t.Fatalf("layout store: %v", err)
	}
	c.join(store)
	gw, err := gateway.New(gateway.Config{
		Layouts:         store,
		Dialer:          d,
		Credentials:     keys,
		Authorizer:      keys,
		Alive:           c.Alive,
		Members:         c.Members,
		DataShards:      c.opts.DataShards,
		ParityShards:    c.opts.ParityShards,
		BlockSize:       c.opts.BlockSize,
		InlineThreshold: c.opts.InlineThreshold,
		Region:          Region,
		Domains:         []string{"localhost"},
		Logger:          c.opts.Logger,
		Now:             o.Now,
	})
	if err != nil {
		c.t.Fatalf("gateway: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatalf("listen: %v", err)
	}
	// TLS handshake failures and the like go to the cluster's logger, not stderr.
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(c.opts.Logger.Handler(), slog.LevelDebug)}
	scheme := "http://"
	if o.TLS != nil {
		ln, scheme = tls.NewListener(ln, o.TLS), "https://"
	}
	go srv.Serve(ln)
	c.gwMu.Lock()
	c.gateways = append(c.gateways, runningGateway{gw, srv, store})
	c.gwMu.Unlock()
	return gw, scheme + ln.Addr().String()
}

type runningGateway struct {
	gw    *gateway.Gateway
	srv   *http.Server
	store *layoutstore.Store
}

func (c *Cluster) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, rg := range c.gateways {
		rg.srv.Shutdown(ctx)
		rg.gw.Close()
	}
	for _, n := range c.Nodes {
		if err := n.Stop(); err != nil {
			c.t.Errorf("stop node %s: %v", n.ID, err)
		}
	}
}

// serveLocked is serve under the node's lock.
func (n *Node) serveLocked(ln net.Listener) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.serve(ln)
}

// serve starts the node on ln; n.mu must be held.
func (n *Node) serve(ln net.Listener) error {
	cfg := node.Config{ID: n.ID, Dir: n.Dir, Logger: n.log,
		Peers: n.dialer, Alive: n.cluster.Alive, HandoffInterval: n.handoff,
		Layout: n.layout, HomesPerPG: cmp.Or(n.opts.DataShards, 4) + cmp.Or(n.opts.ParityShards, 2),
		ScanInterval: n.opts.ScanInterval, OrphanGrace: n.opts.OrphanGrace, HintWindow: n.opts.HintWindow,
		ReplayRate: n.opts.ReplayRate, RetireGrace: n.opts.RetireGrace, RebalanceRate: n.opts.RebalanceRate}
	if n.opts.NodeConfig != nil {
		n.opts.NodeConfig(&cfg)
	}
	nd, err := node.Open(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	n.cluster.join(nd.Layouts())
	h, err := httptransport.Authenticate(httptransport.NewHandler(nd, n.log), n.opts.ClusterSecret, n.ID, n.log)
	if err != nil {
		nd.Close()
		ln.Close()
		return err
	}
	// Stop waits for in-flight handlers before closing pebble under them.
	// A request that arrives once Stop has begun is cut like the
	// connections Close cuts: WaitGroup.Add must not race Wait.
	n.track.Lock()
	n.stopping = false
	n.track.Unlock()
	tracked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.track.Lock()
		if n.stopping {
			n.track.Unlock()
			panic(http.ErrAbortHandler)
		}
		n.inflight.Add(1)
		n.track.Unlock()
		defer n.inflight.Done()
		h.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: tracked, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	n.node, n.server = nd, srv
	return nil
}

// Stop stops the node as a crash would look from outside: connections
// are cut and the port refuses new ones. Its data stays on disk.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.server == nil {
		return nil
	}
	n.cluster.down.Store(n.ID, true)
	n.track.Lock()
	n.stopping = true
	n.track.Unlock()
	n.server.Close()
	n.inflight.Wait()
	err := n.node.Close()
	n.server, n.node = nil, nil
	return err
}

// Restart starts a stopped node again on the same address and data.
func (n *Node) Restart() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.server != nil {
		return nil
	}
	ln, err := net.Listen("tcp", n.Addr)
	if err != nil {
		return err
	}
	if err := n.serve(ln); err != nil {
		return err
	}
	n.cluster.down.Delete(n.ID)
	return nil
}

// Node returns the running node service, or nil while the node is stopped.
func (n *Node) Node() *node.Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.node
}

// StoredShards lists the shards the node keeps: through the node while it
// runs, from its data directory while it is stopped.
func (n *Node) StoredShards(ctx context.Context) ([]node.StoredShard, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.node != nil {
		return n.node.StoredShards(ctx)
	}
	return node.ReadShardIndex(n.Dir)
}

// ShardExtent says where the node keeps ref's bytes (an error satisfying
// errors.Is(err, transport.ErrNotFound) if it does not): through the node
// while it runs, from its data directory while it is stopped.
func (n *Node) ShardExtent(ref transport.ShardRef) (node.ShardExtent, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.node != nil {
		return n.node.ShardExtent(ref)
	}
	return node.ReadShardExtent(n.Dir, ref)
}

func (c *Cluster) homes() int {
	return cmp.Or(c.opts.DataShards, 4) + cmp.Or(c.opts.ParityShards, 2)
}

// join connects a member's layout store to the others, as gossip does in a
// real cluster: what it adopts is offered to every running member, and it
// is offered the newest document any member has.
func (c *Cluster) join(store *layoutstore.Store) {
	store.Publish(func(d *layoutstore.Document) {
		c.newestMu.Lock()
		if c.newest == nil || d.Epoch > c.newest.Epoch {
			c.newest = d
		}
		c.newestMu.Unlock()
		// Offer from another goroutine: the store calls this under its
		// lock, and the other stores publish back.
		go c.spread(d)
	})
	c.newestMu.Lock()
	newest := c.newest
	c.newestMu.Unlock()
	if newest != nil {
		store.Offer(newest.Encode())
	}
}

func (c *Cluster) spread(d *layoutstore.Document) {
	b := d.Encode()
	for _, n := range c.nodeList() {
		if nd := n.Node(); nd != nil && nd.Layouts() != nil {
			nd.Layouts().Offer(b)
		}
	}
	c.gwMu.Lock()
	gws := slices.Clone(c.gateways)
	c.gwMu.Unlock()
	for _, rg := range gws {
		rg.store.Offer(b)
	}
}

func (c *Cluster) nodeList() []*Node {
	c.nodesMu.Lock()
	defer c.nodesMu.Unlock()
	return slices.Clone(c.Nodes)
}

// AddNode starts a new storage node in zone, known to the gateways and
// the other nodes but not in the layout until an operator puts it there
// (the admin API). It returns the running node.
func (c *Cluster) AddNode(zone string) *Node {
	c.t.Helper()
	c.nodesMu.Lock()
	n := &Node{ID: fmt.Sprintf("n%d", len(c.Nodes)+1), Dir: c.t.TempDir(), log: c.opts.Logger, cluster: c, dialer: c.dialer,
		handoff: c.opts.HandoffInterval, layout: c.layout, opts: &c.opts, zone: zone}
	c.nodesMu.Unlock()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatalf("listen: %v", err)
	}
	n.Addr = ln.Addr().String()
	c.dialer.add(n.ID, httptransport.NewClient(n.ID, n.Addr, c.hc))
	if err := n.serveLocked(ln); err != nil {
		c.t.Fatalf("start node %s: %v", n.ID, err)
	}
	c.nodesMu.Lock()
	c.Nodes = append(c.Nodes, n)
	c.nodesMu.Unlock()
	return n
}

// Zone returns the node's failure domain.
func (n *Node) Zone() string { return n.zone }

// Members describes the cluster's running nodes as membership would to a
// gateway's admin API: ID, zone and whether it is alive.
func (c *Cluster) Members() []gateway.Member {
	var out []gateway.Member
	for _, n := range c.nodeList() {
		out = append(out, gateway.Member{ID: n.ID, Zone: n.zone, Addr: n.Addr, Alive: c.Alive(n.ID)})
	}
	return out
}

// dialer reaches the cluster's nodes; AddNode adds to it while requests run.
type dialer struct {
	mu      sync.RWMutex
	clients map[string]transport.NodeClient
}

func (d *dialer) add(id string, c transport.NodeClient) {
	d.mu.Lock()
	d.clients[id] = c
	d.mu.Unlock()
}

// Node implements transport.Dialer.
func (d *dialer) Node(id string) (transport.NodeClient, error) {
	d.mu.RLock()
	c, ok := d.clients[id]
	d.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("node %s: %w: unknown", id, transport.ErrUnavailable)
	}
	return c, nil
}

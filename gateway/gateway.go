package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"cairn/erasure"
	"cairn/internal/s3api"
	"cairn/layoutstore"
	"cairn/metadata"
	"cairn/placement"
	"cairn/quorum"
	"cairn/transport"
)

// Config configures a Gateway. Nil and zero fields take defaults.
type Config struct {
	// Layout is the cluster: which nodes exist and where they are. Required.
	Layout *placement.Layout
	// Layouts, when set, holds the layout in force instead: the store the
	// gateway keeps current by gossip, and where the admin API proposes
	// changes. Layout may then be nil.
	Layouts *layoutstore.Store
	// Dialer reaches the layout's nodes. Required.
	Dialer transport.Dialer
	// Credentials authenticate requests. Required.
	Credentials s3api.CredentialStore
	// Authorizer decides, after authentication, what each access key may
	// do per bucket (an *s3api.Keyring is both). Nil lets every
	// authenticated key do everything.
	Authorizer s3api.Authorizer
	// Members lists the storage nodes membership knows, for the admin
	// API: live nodes missing from the layout are the ones an operator can
	// add. Nil lists only the layout's nodes.
	Members func() []Member
	// Alive reports whether a node is up, per membership. Nil treats every
	// node as up; failures are then found by trying.
	Alive func(id string) bool

	DataShards   int // k; default 4
	ParityShards int // m; default 2
	BlockSize    int // default erasure.DefaultBlockSize
	// InlineThreshold: objects up to this size live in the metadata
	// records instead of shard files. Default 128 KiB; negative disables.
	InlineThreshold int64
	// MaxObjectSize bounds a single PUT. Default 5 GiB, as S3.
	MaxObjectSize int64

	// Region is reported by GetBucketLocation. Default "us-east-1".
	Region string
	// Domains enable virtual-host-style requests: a Host of
	// "<bucket>.<domain>" addresses the bucket.
	Domains []string

	Logger *slog.Logger
	// Metrics, when set, receives the gateway's Prometheus collectors
	// (metrics.go); nil exports none. New registers, Close unregisters.
	Metrics prometheus.Registerer
	Now     func() time.Time
	// MaxClockSkew bounds how far a request's date may be from Now.
	MaxClockSkew time.Duration
}

// DefaultConfig returns the defaults for everything but the required fields.
func DefaultConfig() Config {
	return Config{
		DataShards:      4,
		ParityShards:    2,
		BlockSize:       erasure.DefaultBlockSize,
		InlineThreshold: 128 << 10,
		MaxObjectSize:   5 << 30,
		Region:          "us-east-1",
		MaxClockSkew:    15 * time.Minute,
	}
}

func (c *Config) ensureDefaults() {
	d := DefaultConfig()
	if c.DataShards == 0 {
		c.DataShards = d.DataShards
	}
	if c.ParityShards == 0 {
		c.ParityShards = d.ParityShards
	}
	if c.BlockSize == 0 {
		c.BlockSize = d.BlockSize
	}
	if c.InlineThreshold == 0 {
		c.InlineThreshold = d.InlineThreshold
	}
	if c.MaxObjectSize == 0 {
		c.MaxObjectSize = d.MaxObjectSize
	}
	if c.Region == "" {
		c.Region = d.Region
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = d.MaxClockSkew
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem with the config at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Layout == nil && c.Layouts != nil {
		c.Layout = c.Layouts.Layout()
	}
	if c.Layout == nil {
		errs = append(errs, errors.New("gateway: config: Layout is required"))
	} else if err := c.Layout.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("gateway: config: %w", err))
	} else if n := len(c.Layout.Nodes); n < c.DataShards+c.ParityShards {
		errs = append(errs, fmt.Errorf("gateway: config: %d nodes cannot hold %d+%d shards", n, c.DataShards, c.ParityShards))
	}
	if c.Dialer == nil {
		errs = append(errs, errors.New("gateway: config: Dialer is required"))
	}
	if c.Credentials == nil {
		errs = append(errs, errors.New("gateway: config: Credentials are required"))
	}
	if err := quorum.DefaultParams(c.DataShards, c.ParityShards).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("gateway: config: %w", err))
	}
	if c.MaxObjectSize < 0 {
		errs = append(errs, errors.New("gateway: config: MaxObjectSize must not be negative"))
	}
	return errors.Join(errs...)
}

// Gateway serves the S3 API. Its methods are safe for concurrent use.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	codec    *erasure.Codec
	params   quorum.Params
	clock    *metadata.Clock
	verifier *s3api.Verifier
	origin   string // makes this gateway's version IDs unique
	engine   *gin.Engine

	buckets       bucketCache
	recordBatches *recordBatches // record writes queued per node (batch.go)
	readBatches   readBatches    // record reads queued per node
	prefetch      prefetchChoice // whether whole GETs ask for shards, per bucket
	codecs        sync.Map       // ecKey → *erasure.Codec, for reading objects written with other parameters
	full          sync.Map       // node ID → time.Time until which it is taken to have no room (noteRefusal)
	reqSeq        atomic.Uint64
	repairs       sync.WaitGroup // background read repairs; Close waits for them
	lat           latencies

	stats   Stats
	metrics *gatewayMetrics // nil without Config.Metrics
	traffic traffic         // recent throughput, for the admin status
	stop    context.CancelFunc
	done    sync.WaitGroup
}

// Stats counts events worth watching; every field is read with Load.
type Stats struct {
	// CorruptShards counts fragments whose checksum did not match on read.
	CorruptShards atomic.Int64
	// FailedShardReads counts shard reads that failed for any other reason.
	FailedShardReads atomic.Int64
	// RepairedShards counts shards rebuilt by read repair.
	RepairedShards atomic.Int64
	// HedgedReads counts reads that asked one shard more because a node
	// they depended on was slow.
	HedgedReads atomic.Int64
	// ShardReads counts shard reads opened on a node.
	ShardReads atomic.Int64
	// PrefetchedShards counts shards a GET decoded from what came with
	// the records it read.
	PrefetchedShards atomic.Int64
	// ShardWrites counts shards stored on their home or, as a hint, on a
	// fallback; FailedShardWrites counts attempts a node did not take.
	ShardWrites       atomic.Int64
	FailedShardWrites atomic.Int64
	// RestampedWrites counts small writes stamped again because a home
	// held a newer record of the key (commitFresh).
	RestampedWrites atomic.Int64
}

// New returns a Gateway for cfg.
func New(cfg Config) (*Gateway, error) {
	cfg.ensureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	codec, err := erasure.New(cfg.DataShards, cfg.ParityShards, erasure.WithBlockSize(cfg.BlockSize))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	var origin [4]byte
	if _, err := rand.Read(origin[:]); err != nil {
		return nil, fmt.Errorf("gateway: origin id: %w", err)
	}
	g := &Gateway{
		cfg:           cfg,
		log:           cfg.Logger,
		codec:         codec,
		params:        quorum.DefaultParams(cfg.DataShards, cfg.ParityShards),
		clock:         metadata.NewClock(cfg.Now, cfg.MaxClockSkew),
		recordBatches: newRecordBatches(),
		verifier: &s3api.Verifier{
			Creds:   cfg.Credentials,
			Region:  cfg.Region,
			MaxSkew: cfg.MaxClockSkew,
			Now:     cfg.Now,
		},
		origin: hex.EncodeToString(origin[:]),
	}
	g.buckets.ttl = 5 * time.Second
	if err := g.registerMetrics(); err != nil {
		return nil, err
	}
	g.engine = g.routes()
	ctx, cancel := context.WithCancel(context.Background())
	g.stop = cancel
	g.done.Go(func() { g.sampleTraffic(ctx) })
	return g, nil
}

// Close waits for background repairs to finish.
func (g *Gateway) Close() error {
	g.stop()
	g.done.Wait()
	g.repairs.Wait()
	g.unregisterMetrics()
	return nil
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.engine.ServeHTTP(w, r) }

// Stats returns the gateway's counters.
func (g *Gateway) Stats() *Stats { return &g.stats }

func (g *Gateway) node(id string) (transport.NodeClient, error) { return g.cfg.Dialer.Node(id) }

// allNodes lists every node of the layout; bucket records live on all.
func (g *Gateway) allNodes() []string {
	ids := make([]string, len(g.layout().Nodes))
	for i, n := range g.layout().Nodes {
		ids[i] = string(n.ID)
	}
	return ids
}

func (g *Gateway) codecFor(ec metadata.ErasureInfo) (*erasure.Codec, error) {
	if ec.DataShards == g.codec.DataShards() && ec.ParityShards == g.codec.ParityShards() && ec.BlockSize == g.codec.BlockSize() {
		return g.codec, nil
	}
	key := ec
	if c, ok := g.codecs.Load(key); ok {
		return c.(*erasure.Codec), nil
	}
	c, err := erasure.New(ec.DataShards, ec.ParityShards, erasure.WithBlockSize(ec.BlockSize))
	if err != nil {
		return nil, err
	}
	g.codecs.Store(key, c)
	return c, nil
}

// layout returns the layout in force now.
func (g *Gateway) layout() *placement.Layout {
	if g.cfg.Layouts != nil {
		return g.cfg.Layouts.Layout()
	}
	return g.cfg.Layout
}

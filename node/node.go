package node

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	pebblevfs "github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"cairn/layoutstore"
	"cairn/metadata"
	"cairn/placement"
	"cairn/transport"
	"cairn/vfs"
)

// Config configures a Node. Nil fields take defaults.
type Config struct {
	// ID is the node's identity in the cluster layout. Required.
	ID string
	// Dir is the data directory. Required.
	Dir string
	// FS is where shard segments live; default vfs.Default.
	FS vfs.FS
	// SegmentSize is when a shard segment is sealed and the next begun;
	// default DefaultSegmentSize.
	SegmentSize int64
	// MetaCacheSize is the metadata store's block cache in bytes; default
	// DefaultMetaCacheSize.
	MetaCacheSize int64
	// MetaFS is the file system under the metadata store; default the
	// disk. Tests give it one that can lose what was not synced.
	MetaFS pebblevfs.FS
	// Logger defaults to a logger that discards.
	Logger *slog.Logger
	// Now dates hints, to age them out of the hint window.
	Now func() time.Time

	// Peers reaches the other nodes, to hand hints off to their homes.
	// Nil disables handoff: hints are kept until a later start with peers.
	Peers transport.Dialer
	// Alive reports whether a node is up, per membership. Nil treats every
	// node as alive, so replay is attempted and simply fails while a home
	// is down.
	Alive func(id string) bool
	// RetireGrace is how long the shard files of a version replaced by a
	// newer one stay, so reads that chose it just before can finish.
	// Default 30 s; negative removes them at once.
	RetireGrace time.Duration
	// HintWindow is how long hints are kept for an absent home before they
	// become repair debts. Default 3 hours.
	HintWindow time.Duration
	// MaxHintBytes bounds the hints held for one home. Default 16 GiB.
	MaxHintBytes int64
	// ReplayRate bounds handoff traffic in bytes per second. Default 64 MiB/s.
	ReplayRate int64
	// RebalanceRate bounds the bytes per second this node hands to new
	// homes after a layout change (handover.go). Default
	// DefaultRebalanceRate.
	RebalanceRate int64
	// HandoffInterval is how often the node looks for homes to replay to.
	// Default 1 s.
	HandoffInterval time.Duration

	// UploadMaxAge is how long an incomplete multipart upload lives before
	// the cleaner deletes it and its parts; default DefaultUploadMaxAge.
	UploadMaxAge time.Duration
	// UploadCleanInterval is how often the cleaner runs; default
	// DefaultUploadCleanInterval.
	UploadCleanInterval time.Duration

	// Layout tells the scanner which placement groups this node is a home
	// of, and so whose metadata to compare with (scanner.go). Nil, or nil
	// Peers, disables the scanner loop; ScanNow still scrubs.
	Layout *placement.Layout
	// Layouts, when set, is the node's layout store, opened by the caller
	// (to connect it to gossip first); Layout is then ignored. Without it
	// the node opens one in Dir, starting from Layout.
	Layouts *layoutstore.Store
	// HomesPerPG is how many nodes of a group's preference list are its
	// homes: the cluster's k+m. Default DefaultHomesPerPG.
	HomesPerPG int
	// ScanInterval is the time between scanner passes; default
	// DefaultScanInterval.
	ScanInterval time.Duration
	// ScrubRate bounds shard verification in bytes per second; default
	// DefaultScrubRate.
	ScrubRate int64
	// OrphanGrace is how old an unreferenced shard file must be before the
	// scanner deletes it: longer than any PUT takes. Default
	// DefaultOrphanGrace.
	OrphanGrace time.Duration

	// MinFreeBytes is the disk space the node keeps free: it refuses object
	// data, shards and records carrying inline fragments, that would leave
	// less (transport.ErrNoSpace), so gateways place it elsewhere while the
	// node still takes records without data (deletes), and compaction has
	// room. Zero is a twentieth of the disk, at most
	// DefaultMaxMinFree; negative turns the check off.
	MinFreeBytes int64

	// MaxClockSkew bounds how far ahead of Now a record's HLC may be:
	// PutVersion, PutVersionHint and PutBucket refuse records stamped
	// further ahead (transport.ErrClockSkew), so a writer whose clock runs
	// fast cannot make its writes win for as long as its clock is wrong.
	// Default DefaultMaxClockSkew; it should match the gateways'.
	MaxClockSkew time.Duration
	// TombstoneGrace is how old a tombstone (a plain delete or a purge
	// record) must be before tombstone GC considers it, and how long it
	// then waits after every home confirmed it (tombstones.go). Default
	// DefaultTombstoneGrace.
	TombstoneGrace time.Duration
	// LifecycleInterval is the time between lifecycle passes (lifecycle.go)
	// and tombstone GC passes; default DefaultLifecycleInterval. They run
	// only with Peers.
	LifecycleInterval time.Duration

	// Metrics, when set, receives the node's Prometheus collector
	// (metrics.go): hint debt per home, scanner counters, disk usage. Nil
	// exports none. Open registers, Close unregisters.
	Metrics prometheus.Registerer
}

// DefaultConfig returns a Config with every optional field set.
func DefaultConfig(id, dir string) Config {
	c := Config{ID: id, Dir: dir}
	c.ensureDefaults()
	return c
}

func (c *Config) ensureDefaults() {
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SegmentSize <= 0 {
		c.SegmentSize = DefaultSegmentSize
	}
	if c.MetaCacheSize <= 0 {
		c.MetaCacheSize = DefaultMetaCacheSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Alive == nil {
		c.Alive = func(string) bool { return true }
	}
	if c.RetireGrace == 0 {
		c.RetireGrace = 30 * time.Second
	}
	if c.HintWindow == 0 {
		c.HintWindow = 3 * time.Hour
	}
	if c.MaxHintBytes == 0 {
		c.MaxHintBytes = 16 << 30
	}
	if c.RebalanceRate == 0 {
		c.RebalanceRate = DefaultRebalanceRate
	}
	if c.ReplayRate == 0 {
		c.ReplayRate = 64 << 20
	}
	if c.HandoffInterval == 0 {
		c.HandoffInterval = time.Second
	}
	if c.UploadMaxAge <= 0 {
		c.UploadMaxAge = DefaultUploadMaxAge
	}
	if c.UploadCleanInterval <= 0 {
		c.UploadCleanInterval = DefaultUploadCleanInterval
	}
	if c.HomesPerPG <= 0 {
		c.HomesPerPG = DefaultHomesPerPG
	}
	if c.ScanInterval <= 0 {
		c.ScanInterval = DefaultScanInterval
	}
	if c.ScrubRate <= 0 {
		c.ScrubRate = DefaultScrubRate
	}
	if c.OrphanGrace <= 0 {
		c.OrphanGrace = DefaultOrphanGrace
	}
	if c.MaxClockSkew <= 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
	if c.TombstoneGrace <= 0 {
		c.TombstoneGrace = DefaultTombstoneGrace
	}
	if c.LifecycleInterval <= 0 {
		c.LifecycleInterval = DefaultLifecycleInterval
	}
}

// Validate reports every problem with the config at once.
func (c *Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("node: config: ID is required"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("node: config: Dir is required"))
	}
	if c.Layout != nil {
		if err := c.Layout.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("node: config: %w", err))
		}
	}
	if c.HintWindow < 0 || c.MaxHintBytes < 0 || c.ReplayRate < 0 || c.HandoffInterval < 0 {
		errs = append(errs, errors.New("node: config: hint window, budget, replay rate and handoff interval must not be negative"))
	}
	return errors.Join(errs...)
}

// Node is one storage node. Its methods are safe for concurrent use.
type Node struct {
	cfg    Config
	log    *slog.Logger
	db     *pebble.DB
	shards *shardStore

	// keyLocks serialise read-modify-write of one key's record, so that two
	// versions racing for the same key cannot both believe they are newest.
	keyLocks [256]sync.Mutex
	seed     maphash.Seed

	hints      hintBook
	replayPace pacer    // holds hint replay to ReplayRate
	codecs     sync.Map // metadata.ErasureInfo → *erasure.Codec, for shard checks
	scan       scanState
	clock      *metadata.Clock // stamps lifecycle expirations (lifecycle.go)
	lc         lifecycleState
	// watermarks counts the watermark keys the store holds, or more: with
	// none, a record write need not look one up (tombstones.go).
	watermarks atomic.Int64

	layouts  *layoutstore.Store // nil without Config.Layout
	handover handoverState

	stop    context.CancelFunc
	done    sync.WaitGroup
	closed  atomic.Bool
	metrics prometheus.Collector // registered on cfg.Metrics, or nil
}

var (
	_ transport.NodeClient      = (*Node)(nil)
	_ transport.VersionStore    = (*Node)(nil)
	_ transport.ShardPrefetcher = (*Node)(nil)
)

// Open opens (creating if needed) the node's data directory.
func Open(cfg Config) (*Node, error) {
	cfg.ensureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("node", cfg.ID)
	db, err := openMeta(cfg.MetaFS, filepath.Join(cfg.Dir, "meta"), cfg.MetaCacheSize, log)
	if err != nil {
		return nil, fmt.Errorf("node: open metadata store: %w", err)
	}
	shards, err := openShardStore(cfg.FS, cfg.Dir, db, cfg.Now, cfg.SegmentSize, cfg.MinFreeBytes)
	if err != nil {
		db.Close()
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, db: db, shards: shards, seed: maphash.MakeSeed(),
		clock: metadata.NewClock(cfg.Now, cfg.MaxClockSkew)}
	n.layouts = cfg.Layouts
	if n.layouts == nil && cfg.Layout != nil {
		// The layout the node was configured with is where a new cluster
		// starts; a newer one adopted since, saved beside the data, wins.
		if n.layouts, err = layoutstore.Open(filepath.Join(cfg.Dir, layoutstore.FileName), cfg.Layout, cfg.HomesPerPG); err != nil {
			shards.close()
			db.Close()
			return nil, fmt.Errorf("node: %w", err)
		}
	}
	if err := n.countWatermarks(); err != nil {
		shards.close()
		db.Close()
		return nil, err
	}
	if err := n.loadHints(); err != nil {
		shards.close()
		db.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	n.done.Go(func() { n.sweeper(ctx) })
	n.done.Go(func() { n.runCleaner(ctx) })
	if cfg.Peers != nil {
		n.done.Go(func() { n.handoff(ctx) })
	}
	// The scanner loop runs even when it has no period, to serve StartScan.
	n.done.Go(func() { n.runScanner(ctx) })
	if cfg.Peers != nil {
		n.done.Go(func() { n.runLifecycle(ctx) })
	}
	if err := n.registerMetrics(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// ID returns the node's identity.
func (n *Node) ID() string { return n.cfg.ID }

// Close stops background work and closes the metadata store. In-flight
// calls must have returned. Calling it again does nothing.
func (n *Node) Close() error {
	if n.closed.Swap(true) {
		return nil // already closed; pebble would panic on a second Close
	}
	n.unregisterMetrics()
	n.stop()
	n.done.Wait()
	serr := n.shards.close()
	if err := errors.Join(n.db.Close(), serr); err != nil {
		return fmt.Errorf("node %s: close: %w", n.cfg.ID, err)
	}
	return nil
}

func (n *Node) lockKey(bucket, key string) func() {
	var h maphash.Hash
	h.SetSeed(n.seed)
	h.WriteString(bucket)
	h.WriteByte(0)
	h.WriteString(key)
	mu := &n.keyLocks[h.Sum64()%uint64(len(n.keyLocks))]
	mu.Lock()
	return mu.Unlock
}

// pebbleLogger sends pebble's log lines to slog; pebble's Fatalf is for
// broken invariants inside pebble, so it is logged as an error too and left to
// pebble to act on.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble", "fatal", true)
	panic(fmt.Sprintf(format, args...))
}

// withCtx fails fast when the caller has already given up.
func withCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %v", transport.ErrUnavailable, err)
	}
	return nil
}

// layout returns the layout in force now, or nil.
func (n *Node) layout() *placement.Layout {
	if n.layouts == nil {
		return nil
	}
	return n.layouts.Layout()
}

// Layouts returns the node's layout store: the layout it started with
// (Config.Layout) until a newer one is adopted, kept in the data
// directory. Nil when the node was opened without a layout.
func (n *Node) Layouts() *layoutstore.Store { return n.layouts }

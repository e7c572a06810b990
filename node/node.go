package node

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"cairn/transport"
	"cairn/vfs"
)

// Config configures a Node. Nil fields take defaults.
type Config struct {
	// ID is the node's identity in the cluster layout. Required.
	ID string
	// Dir is the data directory. Required.
	Dir string
	// FS is where shard files live; default vfs.Default.
	FS vfs.FS
	// Logger defaults to a logger that discards.
	Logger *slog.Logger
	// Now stamps nothing persistent today; it dates temp-file cleanup.
	Now func() time.Time
}

// DefaultConfig returns a Config with every optional field set.
func DefaultConfig(id, dir string) Config {
	return Config{ID: id, Dir: dir, FS: vfs.Default, Logger: slog.New(slog.DiscardHandler), Now: time.Now}
}

func (c *Config) ensureDefaults() {
	if c.FS == nil {
		c.FS = vfs.Default
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
	if c.ID == "" {
		errs = append(errs, errors.New("node: config: ID is required"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("node: config: Dir is required"))
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
}

var _ transport.NodeClient = (*Node)(nil)

// Open opens (creating if needed) the node's data directory.
func Open(cfg Config) (*Node, error) {
	cfg.ensureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("node", cfg.ID)
	shards, err := openShardStore(cfg.FS, cfg.Dir)
	if err != nil {
		return nil, err
	}
	db, err := pebble.Open(filepath.Join(cfg.Dir, "meta"), &pebble.Options{
		Logger: pebbleLogger{log},
	})
	if err != nil {
		return nil, fmt.Errorf("node: open metadata store: %w", err)
	}
	return &Node{cfg: cfg, log: log, db: db, shards: shards, seed: maphash.MakeSeed()}, nil
}

// ID returns the node's identity.
func (n *Node) ID() string { return n.cfg.ID }

// Close closes the metadata store. In-flight calls must have returned.
func (n *Node) Close() error {
	if err := n.db.Close(); err != nil {
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

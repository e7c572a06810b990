// Package cli holds what the commands share: environment defaults, log
// setup and the --nodes syntax. Only cmd/ imports it.
package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"cairn/membership"
	"cairn/placement"
)

// Env returns the environment variable name, or def when it is unset.
func Env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// LogOptions are the logging flags every command takes.
type LogOptions struct {
	level  *string
	format *string
}

// LogFlags registers --log-level and --log-format on fs.
func LogFlags(fs *flag.FlagSet) *LogOptions {
	return &LogOptions{
		level:  fs.String("log-level", Env("CAIRN_LOG_LEVEL", "info"), "debug, info, warn or error (env CAIRN_LOG_LEVEL)"),
		format: fs.String("log-format", Env("CAIRN_LOG_FORMAT", "text"), "text or json (env CAIRN_LOG_FORMAT)"),
	}
}

// Logger builds the slog logger the flags ask for.
func (o *LogOptions) Logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(*o.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", *o.level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch *o.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", *o.format)
	}
}

// ParseNodes parses "id=host:port[@zone],..." into a layout.
func ParseNodes(spec string) (*placement.Layout, error) {
	l := &placement.Layout{Version: 1, PGCount: placement.DefaultPGCount}
	var errs []error
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, addr, ok := strings.Cut(item, "=")
		if !ok || id == "" || addr == "" {
			errs = append(errs, fmt.Errorf("--nodes: %q: want id=host:port[@zone]", item))
			continue
		}
		zone := "default"
		if a, z, ok := strings.Cut(addr, "@"); ok {
			addr, zone = a, z
		}
		l.Nodes = append(l.Nodes, placement.Node{ID: placement.NodeID(id), Addr: addr, Zone: zone, Weight: 1, State: placement.Active})
	}
	if len(l.Nodes) == 0 {
		errs = append(errs, errors.New("--nodes: no storage nodes given"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, l.Validate()
}

// GossipFlags are the membership flags both commands take.
type GossipFlags struct {
	Bind  *string
	Seeds *string
	Key   *string
	Prof  *string
}

// RegisterGossip registers --gossip, --seeds, --gossip-key and
// --gossip-profile on fs.
func RegisterGossip(fs *flag.FlagSet, defBind string) *GossipFlags {
	return &GossipFlags{
		Bind:  fs.String("gossip", Env("CAIRN_GOSSIP", defBind), "gossip listen address host:port (env CAIRN_GOSSIP)"),
		Seeds: fs.String("seeds", Env("CAIRN_SEEDS", ""), "comma-separated gossip addresses of other members (env CAIRN_SEEDS)"),
		Key:   fs.String("gossip-key", Env("CAIRN_GOSSIP_KEY", ""), "16, 24 or 32-byte secret shared by the cluster, hex or raw (env CAIRN_GOSSIP_KEY)"),
		Prof:  fs.String("gossip-profile", Env("CAIRN_GOSSIP_PROFILE", "lan"), "failure detection timing: lan, or local for one machine (env CAIRN_GOSSIP_PROFILE)"),
	}
}

// Membership builds and joins the gossip pool for one process.
func (g *GossipFlags) Membership(ctx context.Context, id string, role membership.Role, addr, zone string, log *slog.Logger) (*membership.Membership, error) {
	host, portStr, err := net.SplitHostPort(*g.Bind)
	if err != nil {
		return nil, fmt.Errorf("--gossip %q: %w", *g.Bind, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("--gossip %q: bad port", *g.Bind)
	}
	cfg := membership.DefaultConfig()
	cfg.ID, cfg.Role, cfg.Addr, cfg.Zone = id, role, addr, zone
	cfg.BindAddr, cfg.BindPort = host, port
	cfg.Profile = *g.Prof
	cfg.Logger = log
	cfg.Seeds = SplitList(*g.Seeds)
	if k := *g.Key; k != "" {
		if raw, err := hex.DecodeString(k); err == nil {
			cfg.SecretKey = raw
		} else {
			cfg.SecretKey = []byte(k)
		}
	}
	m, err := membership.New(cfg)
	if err != nil {
		return nil, err
	}
	joinCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := m.Join(joinCtx, nil); err != nil {
		// Alone for now: others join us as they start.
		log.Warn("gossip join failed; waiting for others to join", "err", err)
	}
	return m, nil
}

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

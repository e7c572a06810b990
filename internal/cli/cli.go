// Package cli holds what the commands share: the settings loader (flags,
// CAIRN_* environment, YAML file), each command's validated settings, log
// and gossip setup, the --nodes syntax and the build's version. Only cmd/
// imports it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"cairn/layoutstore"
	"cairn/membership"
	"cairn/placement"
)

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
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("--nodes: %w", err)
	}
	return l, nil
}

// Membership builds and joins the gossip pool for one process. addr is the
// service address others dial, admin its admin address ("" if none).
// layouts, when not nil, is spread through the pool and adopts the newest
// layout any member has; Membership returns once it holds the newest the
// members it joined know of, or after a few seconds.
func (c GossipConfig) Membership(ctx context.Context, id string, role membership.Role, addr, admin, zone string, layouts *layoutstore.Store, log *slog.Logger) (*membership.Membership, error) {
	host, portStr, err := net.SplitHostPort(c.Bind)
	if err != nil {
		return nil, fmt.Errorf("--gossip %q: %w", c.Bind, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("--gossip %q: bad port", c.Bind)
	}
	cfg := membership.DefaultConfig()
	cfg.ID, cfg.Role, cfg.Addr, cfg.AdminAddr, cfg.Zone = id, role, addr, admin, zone
	cfg.BindAddr, cfg.BindPort = host, port
	cfg.Profile = c.Profile
	cfg.Logger = log
	cfg.Seeds = SplitList(c.Seeds)
	cfg.SecretKey = c.secret()
	if layouts != nil {
		cfg.OnState = func(doc []byte) {
			if adopted, err := layouts.Offer(doc); err != nil {
				log.Warn("layout from gossip refused", "err", err)
			} else if adopted {
				d := layouts.Current()
				log.Info("layout adopted", "epoch", d.Epoch, "version", d.Layout.Version, "nodes", len(d.Layout.Nodes))
			}
		}
	}
	m, err := membership.New(cfg)
	if err != nil {
		return nil, err
	}
	if layouts != nil {
		layouts.Publish(func(d *layoutstore.Document) { m.SetState(d.Epoch, d.Encode()) })
	}
	joinCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := m.Join(joinCtx, nil); err != nil {
		// Alone for now: others join us as they start.
		log.Warn("gossip join failed; waiting for others to join", "err", err)
	}
	if layouts != nil {
		catchUp(ctx, m, layouts)
	}
	return m, nil
}

// catchUp waits, for a few seconds at most, until layouts holds the
// newest layout epoch the members gossip: a gateway that served with an
// older layout would send new writes to the old homes.
func catchUp(ctx context.Context, m *membership.Membership, layouts *layoutstore.Store) {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var newest uint64
		for _, mb := range m.Members() {
			if mb.State == membership.StateAlive {
				newest = max(newest, mb.StateEpoch)
			}
		}
		if layouts.Current().Epoch >= newest {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
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

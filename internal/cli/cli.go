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
func (c GossipConfig) Membership(ctx context.Context, id string, role membership.Role, addr, admin, zone string, log *slog.Logger) (*membership.Membership, error) {
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

// Command objgw runs a Cairn S3 gateway in front of the storage nodes named
// by --nodes. Settings come from flags, CAIRN_* variables and a YAML file
// (--config), in that order; `objgw -h` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cairn/gateway"
	"cairn/internal/cli"
	"cairn/internal/metrics"
	"cairn/layoutstore"
	"cairn/membership"
	"cairn/placement"
	"cairn/transport/httptransport"
)

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "objgw:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := cli.LoadGateway(os.Args[1:], cli.OSEnv, os.ReadFile, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.ShowVersion {
		fmt.Println(cli.Version("objgw"))
		return nil
	}
	log, err := cfg.Log.Logger(os.Stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	layouts, err := layoutstore.Open("", cfg.Layout, cfg.DataShards+cfg.ParityShards)
	if err != nil {
		return err
	}
	members, err := cfg.Gossip.Membership(ctx, cfg.ID, membership.RoleGateway, cfg.Listen, cfg.Admin, "", layouts, log)
	if err != nil {
		return err
	}
	defer members.Close()
	hc := &http.Client{Transport: httptransport.SignRequests(httptransport.NewTransport(), cfg.Security.Secret)}
	// Nodes are found by the address they gossip; the configured one
	// serves until gossip has it, and for nodes gossip cannot reach.
	dialer := httptransport.NewDialer(func(id string) (string, bool) {
		if m, ok := members.Member(id); ok && m.Addr != "" {
			return m.Addr, true
		}
		if n, ok := layouts.Layout().Node(placement.NodeID(id)); ok && n.Addr != "" {
			return n.Addr, true
		}
		return "", false
	}, hc)
	nodeMembers := func() []gateway.Member {
		var out []gateway.Member
		for _, m := range members.Nodes() {
			out = append(out, gateway.Member{ID: m.ID, Zone: m.Zone, Addr: m.Addr, Alive: m.State == membership.StateAlive})
		}
		return out
	}
	// A node is up when gossip says so; before gossip has heard of it at
	// all, it is tried, so a gateway that starts first still serves.
	alive := func(id string) bool {
		if _, known := members.Member(id); !known {
			return true
		}
		return members.Alive(id)
	}
	keys, err := cfg.Keyring()
	if err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	gw, err := gateway.New(gateway.Config{
		Layouts:         layouts,
		Members:         nodeMembers,
		Dialer:          dialer,
		Credentials:     keys,
		Authorizer:      keys,
		Alive:           alive,
		DataShards:      cfg.DataShards,
		ParityShards:    cfg.ParityShards,
		InlineThreshold: cfg.InlineThreshold,
		Region:          cfg.Region,
		Domains:         cli.SplitList(cfg.Domains),
		Logger:          log,
		Metrics:         reg,
	})
	if err != nil {
		return err
	}
	s3 := &http.Server{
		Addr:              cfg.Listen,
		Handler:           gw,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         cfg.Security.TLS,
	}
	admin := &http.Server{
		Addr:              cfg.Admin,
		Handler:           adminMux(reg, gw),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         cfg.Security.TLS,
	}
	// Whether security is on, never with what.
	log.Info("gateway started", "version", cli.Version("objgw"), "listen", cfg.Listen, "admin", cfg.Admin,
		"nodes", len(cfg.Layout.Nodes), "ec", cfg.EC, "tls", cfg.Security.TLS != nil,
		"internode_auth", cfg.Security.Secret != nil, "access_keys", len(keys.AccessKeys()))
	err = cli.Serve(ctx, s3, admin)
	return errors.Join(err, gw.Close())
}

// adminMux serves the admin listener: metrics and health checks, the admin
// API and the cluster page.
func adminMux(reg *prometheus.Registry, gw *gateway.Gateway) http.Handler {
	mux := metrics.NewAdminMux(reg, nil, func(context.Context) error { return gw.Ready() })
	admin := gw.AdminHandler()
	mux.Handle("/admin/", admin)
	mux.Handle("/cluster", admin)
	return mux
}

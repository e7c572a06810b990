// Command objnode runs one Cairn storage node: it owns one data directory
// and serves the node transport over HTTP, and metrics, health and
// /admin/* on a separate admin listener. Settings come from flags, CAIRN_*
// variables and a YAML file (--config), in that order; `objnode -h` lists
// them.
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
	"path/filepath"
	"syscall"
	"time"

	"cairn/internal/cli"
	"cairn/internal/metrics"
	"cairn/layoutstore"
	"cairn/membership"
	"cairn/node"
	"cairn/transport/httptransport"
)

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "objnode:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := cli.LoadNode(os.Args[1:], cli.OSEnv, os.ReadFile, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.ShowVersion {
		fmt.Println(cli.Version("objnode"))
		return nil
	}
	log, err := cfg.Log.Logger(os.Stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The layout store comes first, so that gossip can bring a newer
	// layout before the node serves.
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return err
	}
	layouts, err := layoutstore.Open(filepath.Join(cfg.Data, layoutstore.FileName), cfg.Layout, cfg.HomesPerPG)
	if err != nil {
		return err
	}
	members, err := cfg.Gossip.Membership(ctx, cfg.ID, membership.RoleNode, cfg.Advertise, cfg.Admin, cfg.Zone, layouts, log)
	if err != nil {
		return err
	}
	defer members.Close()
	hc := &http.Client{Transport: httptransport.SignRequests(httptransport.NewTransport(), cfg.Security.Secret)}
	peers := httptransport.NewDialer(func(id string) (string, bool) {
		m, ok := members.Member(id)
		return m.Addr, ok
	}, hc)
	reg := metrics.NewRegistry()
	n, err := node.Open(node.Config{ID: cfg.ID, Dir: cfg.Data, Logger: log, Peers: peers, Alive: members.Alive,
		Layouts: layouts, HomesPerPG: cfg.HomesPerPG, Metrics: reg,
		ReplayRate: cfg.ReplayRate, RebalanceRate: cfg.RebalanceRate, MaxHintBytes: cfg.MaxHintBytes, HintWindow: cfg.HintWindow,
		ScanInterval: cfg.ScanInterval, MinFreeBytes: cfg.MinFreeBytes})
	if err != nil {
		return err
	}
	nlog := log.With("node", cfg.ID)
	handler, err := httptransport.Authenticate(httptransport.NewHandler(n, nlog), cfg.Security.Secret, cfg.ID, nlog)
	if err != nil {
		return errors.Join(err, n.Close())
	}
	srv := &http.Server{
		Addr:              cfg.Listen,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	mux := metrics.NewAdminMux(reg, nil, func(context.Context) error { return n.Ready() })
	// The node's own admin routes answer only the cluster's members when
	// there is a cluster secret; operators go through the gateway's
	// admin API (objctl), which asks the nodes over the transport.
	nodeAdmin, err := httptransport.Authenticate(node.AdminHandler(n), cfg.Security.Secret, cfg.ID, nlog)
	if err != nil {
		return errors.Join(err, n.Close())
	}
	mux.Handle("/admin/", nodeAdmin)
	admin := &http.Server{Addr: cfg.Admin, Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: cfg.Security.TLS}
	log.Info("node started", "version", cli.Version("objnode"), "node", cfg.ID, "data", cfg.Data,
		"listen", cfg.Listen, "admin", cfg.Admin, "zone", cfg.Zone,
		"admin_tls", cfg.Security.TLS != nil, "internode_auth", cfg.Security.Secret != nil)
	err = cli.Serve(ctx, srv, admin)
	return errors.Join(err, n.Close())
}

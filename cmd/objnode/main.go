// Command objnode runs one Cairn storage node: it owns one data directory
// and serves the node transport over HTTP.
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

	"cairn/internal/cli"
	"cairn/membership"
	"cairn/node"
	"cairn/transport/httptransport"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "objnode:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("objnode", flag.ContinueOnError)
	id := fs.String("id", cli.Env("CAIRN_NODE_ID", ""), "node ID in the cluster layout (env CAIRN_NODE_ID)")
	dir := fs.String("data", cli.Env("CAIRN_DATA_DIR", ""), "data directory (env CAIRN_DATA_DIR)")
	listen := fs.String("listen", cli.Env("CAIRN_LISTEN", "127.0.0.1:9101"), "address for gateway traffic (env CAIRN_LISTEN)")
	nodes := fs.String("nodes", cli.Env("CAIRN_NODES", ""), "the cluster layout, as objgw --nodes (env CAIRN_NODES)")
	zone := fs.String("zone", cli.Env("CAIRN_ZONE", "default"), "failure domain of this node (env CAIRN_ZONE)")
	gossip := cli.RegisterGossip(fs, "127.0.0.1:7946")
	logOpts := cli.LogFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	log, err := logOpts.Logger(os.Stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	layout, err := cli.ParseNodes(*nodes)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	members, err := gossip.Membership(ctx, *id, membership.RoleNode, *listen, *zone, log)
	if err != nil {
		return err
	}
	defer members.Close()
	hc := &http.Client{Transport: httptransport.NewTransport()}
	peers := httptransport.NewDialer(func(id string) (string, bool) {
		m, ok := members.Member(id)
		return m.Addr, ok
	}, hc)
	n, err := node.Open(node.Config{ID: *id, Dir: *dir, Logger: log, Peers: peers, Alive: members.Alive, Layout: layout})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           nodeMux(n, log.With("node", *id)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("node started", "node", *id, "data", *dir, "listen", *listen)
	select {
	case err = <-errc:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, n.Close())
}

// nodeMux serves the transport and, under /admin/, the node's status.
func nodeMux(n *node.Node, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/admin/", node.AdminHandler(n))
	mux.Handle("/", httptransport.NewHandler(n, log))
	return mux
}

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
	logOpts := cli.LogFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	log, err := logOpts.Logger(os.Stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	n, err := node.Open(node.Config{ID: *id, Dir: *dir, Logger: log})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           httptransport.NewHandler(n, log.With("node", *id)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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

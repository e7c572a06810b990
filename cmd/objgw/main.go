// Command objgw runs a Cairn S3 gateway in front of the storage nodes named
// by --nodes.
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

	"cairn/gateway"
	"cairn/internal/cli"
	"cairn/internal/s3api"
	"cairn/membership"
	"cairn/transport"
	"cairn/transport/httptransport"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "objgw:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("objgw", flag.ContinueOnError)
	listen := fs.String("listen", cli.Env("CAIRN_LISTEN", "127.0.0.1:9000"), "S3 listen address (env CAIRN_LISTEN)")
	nodes := fs.String("nodes", cli.Env("CAIRN_NODES", ""), "storage nodes as id=host:port[@zone],... (env CAIRN_NODES)")
	ec := fs.String("ec", cli.Env("CAIRN_EC", "4+2"), "erasure code data+parity shards (env CAIRN_EC)")
	inline := fs.Int64("inline-threshold", 128<<10, "objects up to this many bytes live in metadata records")
	region := fs.String("region", cli.Env("CAIRN_REGION", "us-east-1"), "region reported to clients (env CAIRN_REGION)")
	domains := fs.String("domains", cli.Env("CAIRN_DOMAINS", "localhost"), "comma-separated domains for virtual-host-style buckets (env CAIRN_DOMAINS)")
	id := fs.String("id", cli.Env("CAIRN_GATEWAY_ID", "gw1"), "gateway ID in the gossip pool (env CAIRN_GATEWAY_ID)")
	gossip := cli.RegisterGossip(fs, "127.0.0.1:7945")
	logOpts := cli.LogFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	log, err := logOpts.Logger(os.Stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	var k, m int
	if _, err := fmt.Sscanf(*ec, "%d+%d", &k, &m); err != nil {
		return fmt.Errorf("--ec %q: want data+parity, e.g. 4+2", *ec)
	}
	layout, err := cli.ParseNodes(*nodes)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	members, err := gossip.Membership(ctx, *id, membership.RoleGateway, *listen, "", log)
	if err != nil {
		return err
	}
	defer members.Close()
	hc := &http.Client{Transport: httptransport.NewTransport()}
	dialer := transport.StaticDialer{}
	for _, n := range layout.Nodes {
		dialer[string(n.ID)] = httptransport.NewClient(string(n.ID), n.Addr, hc)
	}
	// A node is up when gossip says so; before gossip has heard of it at
	// all, it is tried, so a gateway that starts first still serves.
	alive := func(id string) bool {
		if _, known := members.Member(id); !known {
			return true
		}
		return members.Alive(id)
	}
	access := cli.Env("CAIRN_ACCESS_KEY", "cairnadmin")
	secret := cli.Env("CAIRN_SECRET_KEY", "cairnadmin")
	gw, err := gateway.New(gateway.Config{
		Layout:          layout,
		Dialer:          dialer,
		Credentials:     s3api.StaticCredentials{access: secret},
		Alive:           alive,
		DataShards:      k,
		ParityShards:    m,
		InlineThreshold: *inline,
		Region:          *region,
		Domains:         cli.SplitList(*domains),
		Logger:          log,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           gw,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("gateway started", "listen", *listen, "nodes", len(layout.Nodes), "ec", *ec)
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
	return errors.Join(err, gw.Close())
}

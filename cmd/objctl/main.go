// Command objctl is the operator's tool for a Cairn cluster: status,
// layout changes with their preview, drains, heals and the durability
// model, through a gateway's admin API. `objctl -h` lists the commands;
// internal/objctl has them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"cairn/internal/cli"
	"cairn/internal/objctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := objctl.Main(ctx, os.Args[1:], objctl.Env{
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Interactive: term.IsTerminal(int(os.Stdin.Fd())),
		Lookup:      cli.OSEnv,
		ReadFile:    os.ReadFile,
	})
	stop()
	os.Exit(code)
}

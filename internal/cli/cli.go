// Package cli holds what the commands share: environment defaults, log
// setup and the --nodes syntax. Only cmd/ imports it.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

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

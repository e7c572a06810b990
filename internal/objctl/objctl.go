package objctl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"cairn/internal/cli"
)

// Env is what a run of objctl gets from its process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Interactive is true when stdin is a terminal: only then does a
	// layout change without --yes ask before it is applied.
	Interactive bool
	// Lookup reads the environment (cli.OSEnv); ReadFile reads --ca-cert.
	Lookup   func(string) (string, bool)
	ReadFile func(string) ([]byte, error)
	// PollInterval is how often waits read the status; zero is 500 ms.
	PollInterval time.Duration
}

// Defaults of the global settings.
const (
	DefaultEndpoint = "http://127.0.0.1:9001"
	DefaultRegion   = "us-east-1"
	DefaultTimeout  = 30 * time.Minute
	defaultPoll     = 500 * time.Millisecond
)

// UsageError is a mistake in the command line; Main exits 2 on it.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &UsageError{msg: fmt.Sprintf(format, args...)}
}

// Main runs objctl with args (without the program name) and returns the
// process's exit code: 0, 1 when a command fails, 2 on a usage error.
func Main(ctx context.Context, args []string, env Env) int {
	err := Run(ctx, args, env)
	var ue *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "objctl: %v\nRun 'objctl -h' for usage.\n", err)
		return 2
	default:
		fmt.Fprintf(env.Stderr, "objctl: %v\n", err)
		return 1
	}
}

// globals are the settings every command takes, before or after its name.
type globals struct {
	endpoint  string
	accessKey string
	secretKey secret
	region    string
	caCert    string
	json      bool
	timeout   time.Duration
	version   bool
}

// secret is a flag value that usage never prints, even when the
// environment set it.
type secret string

func (s *secret) String() string     { return "" }
func (s *secret) Set(v string) error { *s = secret(v); return nil }

// newGlobals reads the defaults: built-in, then the environment.
func newGlobals(lookup func(string) (string, bool)) *globals {
	g := &globals{endpoint: DefaultEndpoint, region: DefaultRegion, timeout: DefaultTimeout}
	first := func(names ...string) (string, bool) {
		for _, n := range names {
			if v, ok := lookup(n); ok && v != "" {
				return v, true
			}
		}
		return "", false
	}
	if v, ok := first("CAIRN_ADMIN_ENDPOINT"); ok {
		g.endpoint = v
	}
	g.accessKey, _ = first(cli.EnvName("access-key"), "AWS_ACCESS_KEY_ID")
	if v, ok := first(cli.EnvName("secret-key"), "AWS_SECRET_ACCESS_KEY"); ok {
		g.secretKey = secret(v)
	}
	if v, ok := first(cli.EnvName("region")); ok {
		g.region = v
	}
	g.caCert, _ = first(cli.EnvName("ca-cert"))
	return g
}

// register adds the global flags to fs, with their current values as
// defaults, so that a command's own flag set can take them too.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.endpoint, "endpoint", g.endpoint, "the gateway's admin listener (env CAIRN_ADMIN_ENDPOINT)")
	fs.StringVar(&g.accessKey, "access-key", g.accessKey, "admin access key (env CAIRN_ACCESS_KEY, AWS_ACCESS_KEY_ID)")
	fs.Var(&g.secretKey, "secret-key", "its secret key (env CAIRN_SECRET_KEY, AWS_SECRET_ACCESS_KEY; prefer them to the command line)")
	fs.StringVar(&g.region, "region", g.region, "the gateway's region (env CAIRN_REGION)")
	fs.StringVar(&g.caCert, "ca-cert", g.caCert, "PEM file of the CA that signed the gateway's certificate (env CAIRN_CA_CERT)")
	fs.BoolVar(&g.json, "json", g.json, "print the admin API's JSON instead of tables")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "give up waiting (--wait, remove-node) after this long")
}

// httpClient is the HTTP client --ca-cert asks for.
func (g *globals) httpClient(readFile func(string) ([]byte, error)) (*http.Client, error) {
	hc := &http.Client{Timeout: time.Minute}
	if g.caCert == "" {
		return hc, nil
	}
	pem, err := readFile(g.caCert)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-cert %s: no PEM certificate in it", g.caCert)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	hc.Transport = tr
	return hc, nil
}

// flags are the command-specific options; each command registers those it
// takes.
type flags struct {
	zone   string
	weight float64
	yes    bool
	wait   bool
	bucket string
	afr    float64
}

// command is one objctl command.
type command struct {
	name    string // "status", "layout add-node"
	args    string // positional arguments and flags, for usage
	summary string
	nargs   int // positional arguments it takes, exactly
	flags   func(fs *flag.FlagSet, f *flags)
	run     func(s *session, ctx context.Context, args []string) error
}

var commands = []command{
	{name: "status", summary: "nodes, durability histogram, hint debt and rebalance", run: (*session).status},
	{name: "layout show", summary: "the applied layout, and the staged change with its preview", run: (*session).layoutShow},
	{name: "layout add-node", args: "ID --zone ZONE [--weight W]", summary: "stage a new node", nargs: 1,
		flags: func(fs *flag.FlagSet, f *flags) {
			fs.StringVar(&f.zone, "zone", "", "the node's zone (required)")
			fs.Float64Var(&f.weight, "weight", 0, "its share of placement groups relative to the others (default 1)")
		}, run: (*session).addNode},
	{name: "layout set-weight", args: "ID WEIGHT", summary: "stage a new weight for a node", nargs: 2, run: (*session).setWeight},
	{name: "layout remove-node", args: "ID", summary: "drain a node, wait until it holds nothing, then remove it", nargs: 1,
		run: (*session).removeNode},
	{name: "layout apply", args: "[--yes] [--wait]", summary: "apply the staged change", flags: func(fs *flag.FlagSet, f *flags) {
		fs.BoolVar(&f.yes, "yes", false, "apply without asking")
		fs.BoolVar(&f.wait, "wait", false, "follow the rebalance until every shard is at home")
	}, run: (*session).apply},
	{name: "layout revert", summary: "drop the staged change", run: (*session).revert},
	{name: "drain", args: "ID [--wait]", summary: "move every shard off a node (stage a drain and apply it)", nargs: 1,
		flags: func(fs *flag.FlagSet, f *flags) {
			fs.BoolVar(&f.wait, "wait", false, "follow the drain until the node holds nothing")
		}, run: (*session).drain},
	{name: "heal", args: "[--bucket B] [--wait]", summary: "start a scanner pass on every live node", flags: func(fs *flag.FlagSet, f *flags) {
		fs.StringVar(&f.bucket, "bucket", "", "with --wait, follow this bucket's objects only")
		fs.BoolVar(&f.wait, "wait", false, "follow until hint debt and repair queue are empty and every object is at full redundancy")
	}, run: (*session).heal},
	{name: "durability", args: "[--afr F]", summary: "the modelled durability of the cluster's erasure code", flags: func(fs *flag.FlagSet, f *flags) {
		fs.Float64Var(&f.afr, "afr", 0, "annual failure rate of one disk, in (0, 1) (default: the gateway's, 0.02)")
	}, run: (*session).durability},
}

// session is one run's client, settings and streams.
type session struct {
	c     *Client
	g     *globals
	f     flags
	env   Env
	poll  time.Duration
	stdin *lineReader
}

func usage(w io.Writer, top *flag.FlagSet) {
	fmt.Fprint(w, `objctl is the operator's tool for a Cairn cluster: it reads and changes the
cluster through a gateway's admin API (--endpoint, its admin listener).

Usage: objctl [global flags] COMMAND [arguments and flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-40s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprint(w, "\nGlobal flags (also accepted after the command):\n")
	top.SetOutput(w)
	top.PrintDefaults()
}

// Run runs objctl with args (without the program name).
func Run(ctx context.Context, args []string, env Env) error {
	env = withDefaults(env)
	g := newGlobals(env.Lookup)
	top := flag.NewFlagSet("objctl", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	g.register(top)
	top.BoolVar(&g.version, "version", false, "print the version and exit")
	top.Usage = func() { usage(env.Stderr, top) }
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(env.Stdout, top)
			return err
		}
		return usagef("%v", err)
	}
	if g.version {
		fmt.Fprintln(env.Stdout, cli.Version("objctl"))
		return nil
	}
	rest := top.Args()
	if len(rest) == 0 {
		return usagef("no command given")
	}
	cmd, rest, err := lookupCommand(rest)
	if err != nil {
		return err
	}
	s := &session{g: g, env: env, poll: env.PollInterval}
	fs := flag.NewFlagSet("objctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	if cmd.flags != nil {
		cmd.flags(fs, &s.f)
	}
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(env.Stdout, "Usage: objctl %s %s\n\n%s.\n\nFlags:\n", cmd.name, cmd.args, cmd.summary)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usagef("%s: %v", cmd.name, err)
	}
	if len(pos) != cmd.nargs {
		if cmd.args == "" {
			return usagef("%s takes no arguments, got %q", cmd.name, pos)
		}
		return usagef("%s: want %s, got %q", cmd.name, cmd.args, pos)
	}
	if err := s.check(cmd, fs, pos); err != nil {
		return err
	}
	hc, err := g.httpClient(env.ReadFile)
	if err != nil {
		return err
	}
	if s.c, err = NewClient(g.endpoint, g.accessKey, string(g.secretKey), g.region, hc); err != nil {
		return err
	}
	s.stdin = &lineReader{r: env.Stdin}
	return cmd.run(s, ctx, pos)
}

func withDefaults(env Env) Env {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Lookup == nil {
		env.Lookup = func(string) (string, bool) { return "", false }
	}
	if env.ReadFile == nil {
		env.ReadFile = func(name string) ([]byte, error) { return nil, fmt.Errorf("cannot read %s", name) }
	}
	if env.PollInterval <= 0 {
		env.PollInterval = defaultPoll
	}
	return env
}

// lookupCommand finds the command args start with: one word, or "layout"
// and a second.
func lookupCommand(args []string) (*command, []string, error) {
	name, rest := args[0], args[1:]
	if name == "layout" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return nil, nil, usagef("layout: want show, add-node, set-weight, remove-node, apply or revert")
		}
		name, rest = "layout "+rest[0], rest[1:]
	}
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	if i < 0 {
		return nil, nil, usagef("unknown command %q", name)
	}
	return &commands[i], rest, nil
}

// parseInterspersed parses fs's flags wherever they stand among the
// positional arguments ("add-node n7 --zone b"), and returns the latter.
// After "--" everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		consumed := len(args) - fs.NArg()
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, fs.Args()...), nil
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// check validates a command's arguments before anything is sent.
func (s *session) check(cmd *command, fs *flag.FlagSet, pos []string) error {
	if s.g.timeout <= 0 {
		return usagef("--timeout %v: want a positive duration", s.g.timeout)
	}
	if len(pos) > 0 && pos[0] == "" {
		return usagef("%s: empty node ID", cmd.name)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch cmd.name {
	case "layout add-node":
		if s.f.zone == "" {
			return usagef("layout add-node: --zone is required")
		}
		if set["weight"] && !positive(s.f.weight) {
			return usagef("layout add-node: --weight %v: want a positive number", s.f.weight)
		}
	case "layout set-weight":
		w, err := strconv.ParseFloat(pos[1], 64)
		if err != nil || !positive(w) {
			return usagef("layout set-weight: weight %q: want a positive number", pos[1])
		}
		s.f.weight = w
	case "durability":
		if set["afr"] && !(s.f.afr > 0 && s.f.afr < 1) {
			return usagef("durability: --afr %v: want a fraction in (0, 1)", s.f.afr)
		}
	}
	return nil
}

func positive(v float64) bool { return v > 0 && !math.IsInf(v, 0) }

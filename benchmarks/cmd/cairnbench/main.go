// Command cairnbench is an S3 load generator: it measures Cairn, or any
// S3 server, with the same code. See benchmarks/README.md.
//
//	cairnbench --cluster local --suite standard       # what make bench runs
//	cairnbench --endpoint http://127.0.0.1:9000 --kind get --size 1MiB --concurrency 16 --duration 30s
//	cairnbench --cluster local --suite datapath --versus http://127.0.0.1:9100   # side by side
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"cairn/benchmarks"
)

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairnbench:", err)
	}
	os.Exit(code)
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, "; ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func run() (int, error) {
	fs := flag.NewFlagSet("cairnbench", flag.ContinueOnError)
	// Target.
	endpoint := fs.String("endpoint", env("CAIRNBENCH_ENDPOINT", ""), "S3 endpoint URL, e.g. http://127.0.0.1:9000 (env CAIRNBENCH_ENDPOINT); not with --cluster local")
	cluster := fs.String("cluster", "none", "\"local\" starts objnode×N and objgw from --bin-dir in a fresh temp dir and measures that; \"none\" uses --endpoint")
	target := fs.String("target", "", "name of the system measured, for the report (default: cairn local cluster, or the endpoint)")
	access := fs.String("access-key", env("CAIRN_ACCESS_KEY", "cairnadmin"), "access key (env CAIRN_ACCESS_KEY)")
	secret := fs.String("secret-key", env("CAIRN_SECRET_KEY", "cairnadmin"), "secret key (env CAIRN_SECRET_KEY)")
	region := fs.String("region", "us-east-1", "region to sign for")
	bucket := fs.String("bucket", "cairnbench", "bucket (created if missing)")
	unsigned := fs.Bool("unsigned-payload", false, "send UNSIGNED-PAYLOAD instead of signing the body's SHA-256")
	opTimeout := fs.Duration("op-timeout", 60*time.Second, "timeout of one request")
	// Side by side.
	versus := fs.String("versus", "", "a second S3 endpoint to measure side by side with the target: each scenario runs on both, back to back, --rounds times")
	versusTarget := fs.String("versus-target", "", "name of the --versus server, for the report (default: the endpoint)")
	versusAccess := fs.String("versus-access-key", "", "access key of the --versus server (default: --access-key)")
	versusSecret := fs.String("versus-secret-key", "", "secret key of the --versus server (default: --secret-key)")
	rounds := fs.Int("rounds", 2, "with --versus: runs of each scenario on each server, back to back, the order turning every round")
	// Scenario.
	suite := fs.String("suite", "", "run a built-in scenario set instead of the one scenario the flags below describe: standard, datapath or smoke")
	suiteDur := fs.Duration("suite-duration", 0, "duration of each suite scenario (default 20s for standard, 1s for smoke)")
	name := fs.String("name", "", "scenario name (default kind-size-cN)")
	kind := fs.String("kind", "put", "put, get, mixed or list")
	sizeFlag := fs.String("size", "1MiB", "object size, 0..5GiB (e.g. 4KiB, 1MiB, 256MiB)")
	conc := fs.Int("concurrency", 16, "concurrent requests")
	duration := fs.Duration("duration", 20*time.Second, "length of the measured phase (0: bounded by --ops)")
	ops := fs.Int64("ops", 0, "stop after this many requests (0: bounded by --duration)")
	objects := fs.Int("objects", 0, "objects written before a get, mixed or list scenario (0: default)")
	mixFlag := fs.String("mix", benchmarks.DefaultMix().String(), "operation weights of the mixed kind")
	listPage := fs.Int("list-page", 1000, "keys per LIST page")
	var faultFlags stringList
	fs.Var(&faultFlags, "fault", "fault event, repeatable, e.g. \"kill node 3 at 10s\" (needs --cluster local); see README")
	faultFile := fs.String("faults-file", "", "file of fault events, one per line")
	redundancyTimeout := fs.Duration("redundancy-timeout", 2*time.Minute, "how long to wait for full redundancy after the last restart of a fault schedule (--cluster local); 0 skips the measurement")
	// Local cluster.
	binDir := fs.String("bin-dir", "./bin", "where objnode and objgw are (--cluster local)")
	nodes := fs.Int("nodes", 6, "storage nodes (--cluster local)")
	ec := fs.String("ec", "4+2", "erasure code data+parity (--cluster local)")
	basePort := fs.Int("base-port", 0, "port of node 1, node i gets base+i-1 (0: free ports)")
	gwAddr := fs.String("gateway-addr", "", "gateway listen address (default: a free loopback port)")
	dataDir := fs.String("data-dir", "", "cluster data directory (default: a fresh temp dir, removed afterwards)")
	keep := fs.Bool("keep-data", false, "keep the temp data directory and logs")
	// Run and output.
	seed := fs.Uint64("seed", 0, "seed for payloads and key choice (0: from the clock)")
	noReadBack := fs.Bool("no-readback", false, "skip reading back every written object after each scenario")
	out := fs.String("out", "auto", "output directory; auto is benchmarks/results/<date>-<commit>/ with <date>-<commit>.md beside it; \"\" writes nothing")
	strict := fs.Bool("strict", false, "exit 1 if any request failed or any object was lost (make bench-smoke)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, nil
	}
	if fs.NArg() > 0 {
		return 2, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	// Scenarios.
	var scenarios []benchmarks.Scenario
	switch *suite {
	case "standard":
		scenarios = benchmarks.StandardSuite(cmp.Or(*suiteDur, 20*time.Second))
	case "smoke":
		scenarios = benchmarks.SmokeSuite(cmp.Or(*suiteDur, time.Second))
	case "datapath":
		scenarios = benchmarks.DataPathSuite(cmp.Or(*suiteDur, 20*time.Second))
	case "":
		size, err := benchmarks.ParseSize(*sizeFlag)
		if err != nil {
			return 2, err
		}
		sc := benchmarks.Scenario{Name: *name, Kind: benchmarks.Kind(*kind), Size: size, Concurrency: *conc,
			Duration: *duration, Ops: *ops, Objects: *objects, ListPage: *listPage}
		if sc.Kind == benchmarks.KindMixed {
			if sc.Mix, err = benchmarks.ParseMix(*mixFlag); err != nil {
				return 2, err
			}
		}
		scenarios = append(scenarios, sc)
	default:
		return 2, fmt.Errorf("--suite %q: want standard, datapath or smoke", *suite)
	}
	var faults []benchmarks.FaultEvent
	for _, f := range faultFlags {
		evs, err := benchmarks.ParseFaults(f)
		if err != nil {
			return 2, err
		}
		faults = append(faults, evs...)
	}
	if *faultFile != "" {
		f, err := os.Open(*faultFile)
		if err != nil {
			return 2, err
		}
		evs, err := benchmarks.ReadFaults(f)
		f.Close()
		if err != nil {
			return 2, fmt.Errorf("%s: %w", *faultFile, err)
		}
		faults = append(faults, evs...)
	}
	if len(faults) > 0 {
		slices.SortStableFunc(faults, func(a, b benchmarks.FaultEvent) int { return cmp.Compare(a.At, b.At) })
		for i := range scenarios {
			scenarios[i].Faults = append(slices.Clone(scenarios[i].Faults), faults...)
		}
	}
	if *versus != "" {
		if len(faults) > 0 || *suite == "standard" {
			return 2, errors.New("--versus compares healthy servers: no fault schedule (and not the standard suite, which has one)")
		}
		if *rounds < 1 {
			return 2, fmt.Errorf("--rounds %d: want at least 1", *rounds)
		}
	}
	var slowNodes []int
	for _, sc := range scenarios {
		for _, e := range sc.Faults {
			if e.Action == benchmarks.FaultSlow && !slices.Contains(slowNodes, e.Node) {
				slowNodes = append(slowNodes, e.Node)
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Target.
	rep := &benchmarks.Report{Tool: "cairnbench", Date: time.Now(), Commit: gitCommit(), Bucket: *bucket,
		Host:    fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
		Command: commandLine(), Signing: "signed payload (SHA-256)"}
	if *unsigned {
		rep.Signing = "UNSIGNED-PAYLOAD"
	}
	var faultTarget benchmarks.FaultTarget
	switch *cluster {
	case "local":
		if *endpoint != "" {
			return 2, errors.New("--endpoint and --cluster local exclude each other")
		}
		fmt.Fprintf(os.Stderr, "starting local cluster: %d nodes, EC %s, binaries in %s\n", *nodes, *ec, *binDir)
		lc, err := benchmarks.StartLocal(ctx, benchmarks.LocalOptions{
			BinDir: *binDir, Nodes: *nodes, EC: *ec, DataDir: *dataDir, Keep: *keep, GatewayAddr: *gwAddr,
			BasePort: *basePort, AccessKey: *access, SecretKey: *secret, SlowNodes: slowNodes, Logger: log,
		})
		if err != nil {
			return 1, err
		}
		defer func() {
			if err := lc.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "cairnbench: stopping cluster:", err)
			}
		}()
		*endpoint, faultTarget = lc.Endpoint, lc
		rep.Target = cmp.Or(*target, lc.Describe())
		if *keep || *dataDir != "" {
			fmt.Fprintf(os.Stderr, "cluster data and logs in %s\n", lc.DataDir)
		}
	case "none":
		if *endpoint == "" {
			return 2, errors.New("need --endpoint, or --cluster local")
		}
		for _, sc := range scenarios {
			if len(sc.Faults) > 0 {
				return 2, errors.New("fault schedules need --cluster local")
			}
		}
		rep.Target = cmp.Or(*target, "S3 server at "+*endpoint)
	default:
		return 2, fmt.Errorf("--cluster %q: want local or none", *cluster)
	}
	rep.Endpoint = *endpoint
	if *suite == "standard" {
		rep.Notes = append(rep.Notes, "put-1MiB-kill-n3-n5 kills two of six nodes (n3 at 10s, n5 at 12s) and restarts both at 25s. "+
			"With EC 4+2 a PUT needs 5 of 6 shard writes unless the gateway has a sloppy quorum, so PUTs may fail while both are down; "+
			"its errors column and throughput chart show what happened.")
	}

	client := benchmarks.NewClient(benchmarks.ClientOptions{Endpoint: *endpoint, Region: *region, AccessKey: *access,
		SecretKey: *secret, Concurrency: maxConcurrency(scenarios), UnsignedPayload: *unsigned})
	var progress io.Writer // nil: none
	if !*quiet {
		progress = os.Stderr
	}
	cfg := benchmarks.Config{Client: client, Bucket: *bucket, Seed: *seed, OpTimeout: *opTimeout,
		Faults: faultTarget, SkipReadBack: *noReadBack, Logger: log, RedundancyTimeout: *redundancyTimeout, Progress: progress}
	if *redundancyTimeout <= 0 {
		cfg.RedundancyTimeout = -1 // the library's zero is its default
	}
	r, err := benchmarks.NewRunner(cfg)
	if err != nil {
		return 2, err
	}
	if err := r.EnsureBucket(ctx); err != nil {
		return 1, err
	}
	rep.Seed = r.Seed()
	if *versus != "" {
		vrep := *rep // the same run, on the other server
		vrep.Endpoint, vrep.Target = *versus, cmp.Or(*versusTarget, "S3 server at "+*versus)
		vclient := benchmarks.NewClient(benchmarks.ClientOptions{Endpoint: *versus, Region: *region, AccessKey: cmp.Or(*versusAccess, *access),
			SecretKey: cmp.Or(*versusSecret, *secret), Concurrency: maxConcurrency(scenarios), UnsignedPayload: *unsigned})
		vcfg := cfg
		vcfg.Client, vcfg.Seed, vcfg.Faults = vclient, r.Seed(), nil
		vr, err := benchmarks.NewRunner(vcfg)
		if err != nil {
			return 2, err
		}
		if err := vr.EnsureBucket(ctx); err != nil {
			return 1, fmt.Errorf("%s: %w", vrep.Target, err)
		}
		side, runErr := benchmarks.CompareRuns(ctx, benchmarks.Contender{Runner: vr, Report: &vrep},
			benchmarks.Contender{Runner: r, Report: rep}, scenarios, *rounds, progress)
		if side == nil {
			return 2, runErr
		}
		fmt.Println(side.Table())
		if dir, summary := outputPaths(*out, rep); dir != "" {
			if err := side.WriteFiles(dir, summary); err != nil {
				return 1, fmt.Errorf("write results: %w", err)
			}
			printWritten(dir, summary)
		}
		return exitCode(ctx, runErr, *strict, rep, &vrep)
	}
	var runErr error
	for _, sc := range scenarios {
		res, err := r.Run(ctx, sc)
		if err != nil {
			runErr = err
			break
		}
		rep.Scenarios = append(rep.Scenarios, res)
		if ctx.Err() != nil {
			break
		}
	}

	fmt.Println(rep.Table())
	if dir, summary := outputPaths(*out, rep); dir != "" {
		if err := rep.WriteFiles(dir, summary); err != nil {
			return 1, fmt.Errorf("write results: %w", err)
		}
		printWritten(dir, summary)
	}
	return exitCode(ctx, runErr, *strict, rep)
}

func printWritten(dir, summary string) {
	fmt.Fprintf(os.Stderr, "results in %s", dir)
	if summary != "" {
		fmt.Fprintf(os.Stderr, " and %s", summary)
	}
	fmt.Fprintln(os.Stderr)
}

// exitCode is 1 when the run failed, was interrupted or lost objects, or
// with strict when any request failed; 0 otherwise.
func exitCode(ctx context.Context, runErr error, strict bool, reps ...*benchmarks.Report) (int, error) {
	var lost int
	var failures int64
	for _, rep := range reps {
		lost += rep.Lost()
		failures += rep.Failures()
	}
	switch {
	case runErr != nil:
		return 1, runErr
	case ctx.Err() != nil:
		return 1, errors.New("interrupted")
	case lost > 0:
		return 1, fmt.Errorf("%d objects written were lost (missing, corrupt or unreadable on read-back)", lost)
	case strict && failures > 0:
		return 1, fmt.Errorf("--strict: %d failures (request errors, mismatches, lost objects)", failures)
	}
	return 0, nil
}

func maxConcurrency(scs []benchmarks.Scenario) int {
	n := 1
	for _, sc := range scs {
		n = max(n, sc.Concurrency)
	}
	return n
}

// gitCommit is the short commit of the working tree, "+dirty" if tracked
// files changed, or "" outside a git checkout.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "-dirty"
	}
	return c
}

// outputPaths resolves --out: "auto" is benchmarks/results/<date>-<commit>
// (with -2, -3... if taken) plus the summary markdown beside it.
func outputPaths(out string, rep *benchmarks.Report) (dir, summary string) {
	if out != "auto" {
		return out, ""
	}
	base := rep.Date.Format("2006-01-02") + "-" + cmp.Or(rep.Commit, "nogit")
	root := filepath.Join("benchmarks", "results")
	name := base
	for i := 2; ; i++ {
		if _, err := os.Stat(filepath.Join(root, name)); errors.Is(err, os.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return filepath.Join(root, name), filepath.Join(root, name+".md")
}

// commandLine is how the tool was invoked, quoted so it can be pasted.
func commandLine() string {
	parts := []string{"cairnbench"}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " ;'\"") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

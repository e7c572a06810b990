package cli

import (
	"cmp"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"cairn/internal/s3api"
	"cairn/placement"
	"cairn/quorum"
)

// LogConfig is the logging setup every command takes.
type LogConfig struct {
	Level  string // debug, info, warn or error
	Format string // text or json
}

func (c *LogConfig) register(l *Loader) {
	l.String(&c.Level, "log-level", "", "info", "debug, info, warn or error")
	l.String(&c.Format, "log-format", "", "text", "text or json")
}

func (c *LogConfig) validate() []error {
	var errs []error
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.Level))
	}
	if c.Format != "text" && c.Format != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", c.Format))
	}
	return errs
}

// Logger builds the slog logger c asks for.
func (c LogConfig) Logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", c.Format)
	}
}

// GossipConfig is the membership setup both commands take.
type GossipConfig struct {
	Bind    string // gossip listen address, host:port
	Seeds   string // comma-separated gossip addresses of other members
	Key     string // cluster secret, hex or raw
	Profile string // lan or local
}

func (c *GossipConfig) register(l *Loader, defBind string) {
	l.String(&c.Bind, "gossip", "", defBind, "gossip listen address host:port")
	l.String(&c.Seeds, "seeds", "", "", "comma-separated gossip addresses (host:port) of other members")
	l.String(&c.Key, "gossip-key", "", "", "16, 24 or 32-byte secret shared by the cluster, hex or raw")
	l.String(&c.Profile, "gossip-profile", "", "lan", "failure detection timing: lan, or local for one machine")
}

func (c *GossipConfig) validate() []error {
	var errs []error
	if err := checkAddr(c.Bind, false); err != nil {
		errs = append(errs, fmt.Errorf("--gossip %q: %w", c.Bind, err))
	} else if host, _, _ := net.SplitHostPort(c.Bind); host != "" && net.ParseIP(host) == nil {
		errs = append(errs, fmt.Errorf("--gossip %q: the host must be an IP address", c.Bind))
	}
	for _, s := range SplitList(c.Seeds) {
		if err := checkAddr(s, false); err != nil {
			errs = append(errs, fmt.Errorf("--seeds: %q: %w", s, err))
		}
	}
	if k := c.secret(); k != nil && len(k) != 16 && len(k) != 24 && len(k) != 32 {
		errs = append(errs, fmt.Errorf("--gossip-key: %d bytes; want 16, 24 or 32", len(k)))
	}
	if c.Profile != "lan" && c.Profile != "local" {
		errs = append(errs, fmt.Errorf("--gossip-profile %q: want lan or local", c.Profile))
	}
	return errs
}

func (c *GossipConfig) secret() []byte {
	if c.Key == "" {
		return nil
	}
	if raw, err := hex.DecodeString(c.Key); err == nil {
		return raw
	}
	return []byte(c.Key)
}

// GatewayConfig is everything objgw reads at start.
type GatewayConfig struct {
	ID              string
	Listen          string // S3
	Admin           string // metrics and health; "" disables
	Nodes           string // id=host:port[@zone],...
	EC              string // k+m
	InlineThreshold int64
	Region          string
	Domains         string
	AccessKey       string
	SecretKey       string
	KeysFile        string // more access keys with per-bucket permissions (ParseKeys)
	Security        SecurityConfig
	Gossip          GossipConfig
	Log             LogConfig

	// ShowVersion is --version: print it and exit; nothing else is checked.
	ShowVersion bool
	// Derived from the above by LoadGateway.
	Layout       *placement.Layout
	DataShards   int
	ParityShards int
	Keys         []s3api.AccessKey // from KeysFile
}

// NewGatewayLoader registers objgw's settings on a new Loader that fills c.
func NewGatewayLoader(c *GatewayConfig) *Loader {
	l := NewLoader("objgw")
	l.String(&c.ID, "id", "CAIRN_GATEWAY_ID", "gw1", "gateway ID in the gossip pool")
	l.String(&c.Listen, "listen", "", "127.0.0.1:9000", "S3 listen address")
	l.String(&c.Admin, "admin", "", "", `admin listen address for /metrics and /health/*; "" disables`)
	l.String(&c.Nodes, "nodes", "", "", "storage nodes as id=host:port[@zone],...")
	l.String(&c.EC, "ec", "", "4+2", "erasure code data+parity shards")
	l.Int64(&c.InlineThreshold, "inline-threshold", "", 128<<10, "objects up to this many bytes live in metadata records; negative disables")
	l.String(&c.Region, "region", "", "us-east-1", "region reported to clients")
	l.String(&c.Domains, "domains", "", "localhost", "comma-separated domains for virtual-host-style buckets")
	l.String(&c.AccessKey, "access-key", "", "cairnadmin", "S3 access key")
	l.String(&c.SecretKey, "secret-key", "", "cairnadmin", "S3 secret key (prefer the environment or the file to the command line)")
	l.String(&c.KeysFile, "keys-file", "", "", "YAML file of more access keys with per-bucket permissions")
	c.Security.register(l, "S3 and admin")
	c.Gossip.register(l, "127.0.0.1:7945")
	c.Log.register(l)
	return l
}

// LoadGateway reads objgw's settings (see Loader.Load for the sources and
// their order) and validates them, reporting every problem at once.
func LoadGateway(args []string, env func(string) (string, bool), readFile func(string) ([]byte, error), usage io.Writer) (*GatewayConfig, error) {
	c := &GatewayConfig{}
	l := NewGatewayLoader(c)
	l.SetOutput(usage)
	err := l.Load(args, env, readFile)
	if l.Version() {
		c.ShowVersion = true
		return c, nil
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	}
	errs := []error{err}
	if c.ID == "" {
		errs = append(errs, errors.New("--id: required"))
	}
	errs = append(errs, addrErr("listen", c.Listen, false), addrErr("admin", c.Admin, true))
	k, m, ecErr := parseEC(c.EC)
	errs = append(errs, ecErr)
	c.DataShards, c.ParityShards = k, m
	layout, err := ParseNodes(c.Nodes)
	errs = append(errs, err)
	if err == nil && ecErr == nil && len(layout.Nodes) < k+m {
		errs = append(errs, fmt.Errorf("--nodes: %d nodes cannot hold %d+%d shards", len(layout.Nodes), k, m))
	}
	c.Layout = layout
	if c.AccessKey == "" || c.SecretKey == "" {
		errs = append(errs, errors.New("--access-key and --secret-key: required"))
	}
	errs = append(errs, c.validateKeys(readFile)...)
	errs = append(errs, c.Security.validate(readFile)...)
	errs = append(errs, c.Gossip.validate()...)
	errs = append(errs, c.Log.validate()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// NodeConfig is everything objnode reads at start.
type NodeConfig struct {
	ID        string
	Data      string
	Listen    string // transport
	Advertise string // transport address others dial; default Listen
	Admin     string // metrics, health and /admin/hints; "" disables
	Nodes     string
	Zone      string
	EC        string // k+m, as the gateways use
	Security  SecurityConfig

	// Hinted handoff: how fast hints go home, and how much and how long
	// a node holds for one home.
	ReplayRate int64
	// RebalanceRate bounds the bytes per second a node hands to new homes
	// after a layout change.
	RebalanceRate int64
	MaxHintBytes  int64
	HintWindow    time.Duration
	// ScanInterval is the time between scanner passes (scrub, repair,
	// rebalance).
	ScanInterval time.Duration
	// MinFreeBytes is the disk space the node keeps free
	// (node.Config.MinFreeBytes).
	MinFreeBytes int64
	Gossip       GossipConfig
	Log          LogConfig

	ShowVersion bool
	Layout      *placement.Layout // derived from Nodes
	HomesPerPG  int               // k+m, derived from EC
}

// NewNodeLoader registers objnode's settings on a new Loader that fills c.
func NewNodeLoader(c *NodeConfig) *Loader {
	l := NewLoader("objnode")
	l.String(&c.ID, "id", "CAIRN_NODE_ID", "", "node ID in the cluster layout")
	l.String(&c.Data, "data", "CAIRN_DATA_DIR", "", "data directory")
	l.String(&c.Listen, "listen", "", "127.0.0.1:9101", "address for gateway and peer traffic")
	l.String(&c.Advertise, "advertise", "", "", "address peers dial, when --listen binds all interfaces (default --listen)")
	l.String(&c.Admin, "admin", "", "", `admin listen address for /metrics, /health/* and /admin/*; "" disables`)
	l.String(&c.Nodes, "nodes", "", "", "the cluster layout, as objgw --nodes")
	l.String(&c.Zone, "zone", "", "", "failure domain of this node (default: its zone in --nodes)")
	l.String(&c.EC, "ec", "", "4+2", "erasure code data+parity shards the gateways use (how many homes each placement group has)")
	l.Int64(&c.ReplayRate, "replay-rate", "", 64<<20, "hint replay limit, bytes per second")
	l.Int64(&c.RebalanceRate, "rebalance-rate", "", 64<<20, "limit on moving shards to new homes after a layout change, bytes per second")
	l.Int64(&c.MaxHintBytes, "max-hint-bytes", "", 16<<30, "bytes of hints held for any one home")
	l.Duration(&c.HintWindow, "hint-window", "", 3*time.Hour, "how long hints are kept for an absent home before they become repair debts")
	l.Duration(&c.ScanInterval, "scan-interval", "", time.Minute, "time between scanner passes (scrub, repair, rebalance)")
	l.Int64(&c.MinFreeBytes, "min-free-bytes", "", 0, "disk space kept free: object data that would leave less is refused and placed on other nodes (0: a twentieth of the disk, at most 1 GiB; negative: no check)")
	c.Security.register(l, "admin")
	c.Gossip.register(l, "127.0.0.1:7946")
	c.Log.register(l)
	return l
}

// LoadNode reads objnode's settings and validates them, reporting every
// problem at once.
func LoadNode(args []string, env func(string) (string, bool), readFile func(string) ([]byte, error), usage io.Writer) (*NodeConfig, error) {
	c := &NodeConfig{}
	l := NewNodeLoader(c)
	l.SetOutput(usage)
	err := l.Load(args, env, readFile)
	if l.Version() {
		c.ShowVersion = true
		return c, nil
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	}
	errs := []error{err}
	if c.ID == "" {
		errs = append(errs, errors.New("--id: required"))
	}
	if c.Data == "" {
		errs = append(errs, errors.New("--data: required"))
	}
	errs = append(errs, addrErr("listen", c.Listen, false), addrErr("admin", c.Admin, true), addrErr("advertise", c.Advertise, true))
	if c.Advertise == "" {
		if host, _, err := net.SplitHostPort(c.Listen); err == nil && unspecified(host) {
			errs = append(errs, fmt.Errorf("--advertise: required when --listen %q binds every interface", c.Listen))
		}
		c.Advertise = c.Listen
	}
	layout, err := ParseNodes(c.Nodes)
	errs = append(errs, err)
	if err == nil && c.ID != "" {
		// The layout is the one source of zones; --zone may only repeat it.
		// A node the layout does not have yet joins by gossip as
		// unassigned, until an operator adds it (objctl layout add-node).
		if nd, ok := layout.Node(placement.NodeID(c.ID)); !ok {
			c.Zone = cmp.Or(c.Zone, "default")
		} else if c.Zone == "" {
			c.Zone = nd.Zone
		} else if c.Zone != nd.Zone {
			errs = append(errs, fmt.Errorf("--zone %q: --nodes puts %s in zone %q", c.Zone, c.ID, nd.Zone))
		}
	}
	c.Layout = layout
	k, m, ecErr := parseEC(c.EC)
	errs = append(errs, ecErr)
	c.HomesPerPG = k + m
	if c.ReplayRate <= 0 || c.MaxHintBytes <= 0 || c.HintWindow <= 0 || c.RebalanceRate <= 0 {
		errs = append(errs, errors.New("--replay-rate, --rebalance-rate, --max-hint-bytes and --hint-window: must be positive"))
	}
	if c.ScanInterval <= 0 {
		errs = append(errs, fmt.Errorf("--scan-interval %v: must be positive", c.ScanInterval))
	}
	errs = append(errs, c.Security.validate(readFile)...)
	errs = append(errs, c.Gossip.validate()...)
	errs = append(errs, c.Log.validate()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func unspecified(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// checkAddr checks a host:port listen or dial address.
func checkAddr(s string, allowEmpty bool) error {
	if s == "" {
		if allowEmpty {
			return nil
		}
		return errors.New("required")
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return errors.New("bad port")
	}
	return nil
}

func addrErr(name, s string, allowEmpty bool) error {
	if err := checkAddr(s, allowEmpty); err != nil {
		return fmt.Errorf("--%s %q: %w", name, s, err)
	}
	return nil
}

// parseEC parses "k+m".
func parseEC(s string) (k, m int, err error) {
	ks, ms, ok := strings.Cut(s, "+")
	k, kerr := strconv.Atoi(ks)
	m, merr := strconv.Atoi(ms)
	if !ok || kerr != nil || merr != nil {
		return 0, 0, fmt.Errorf("--ec %q: want data+parity, e.g. 4+2", s)
	}
	if err := quorum.DefaultParams(k, m).Validate(); err != nil {
		return 0, 0, fmt.Errorf("--ec %q: %w", s, err)
	}
	return k, m, nil
}

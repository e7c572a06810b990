package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrInvalidConfig is wrapped by every problem [Config.Validate] reports, and
// so by the error [New] returns for a bad Config.
var ErrInvalidConfig = errors.New("membership: invalid config")

// Role is what a member does in the cluster.
type Role string

const (
	// RoleNode is a storage node; its Addr is its transport address.
	RoleNode Role = "node"
	// RoleGateway is an S3 gateway; its Addr is its S3 address.
	RoleGateway Role = "gateway"
)

func (r Role) valid() bool { return r == RoleNode || r == RoleGateway }

// Profiles select memberlist's timing.
const (
	// ProfileLAN uses memberlist.DefaultLANConfig: 1 s probes, dead after
	// about 6 s in small pools. The default.
	ProfileLAN = "lan"
	// ProfileLocal uses memberlist.DefaultLocalConfig with tighter probe and
	// gossip intervals, for tests and single-host clusters: dead after ≲ 2 s.
	ProfileLocal = "local"
)

// maxIDLen bounds member IDs; they travel in every gossip message.
const maxIDLen = 64

// Config configures a [Membership]. Start from [DefaultConfig].
type Config struct {
	// ID is the member's Cairn ID ("n1", "gw1"), used as the memberlist node
	// name. It must be unique in the pool: memberlist rejects a second live
	// member with the same name at another address. Letters, digits, '.', '_'
	// and '-', at most 64 bytes.
	ID        string
	Role      Role
	Addr      string // service address: node transport or gateway S3; required
	Zone      string // failure domain; may be empty
	AdminAddr string // may be empty

	// BindAddr and BindPort are where gossip listens (UDP and TCP). BindAddr
	// must be an IP; port 0 picks a free port, see LocalGossipAddr.
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other members dial, when that
	// differs from the bind address (NAT, containers). AdvertiseAddr must be an
	// IP; AdvertisePort 0 means BindPort.
	AdvertiseAddr string
	AdvertisePort int

	// Seeds are host:port gossip addresses of other members, used by Join when
	// it is given none. They may include this member's own address.
	Seeds []string

	// Profile is ProfileLAN (the default when empty) or ProfileLocal.
	Profile string

	// SecretKey, when set, must be 16, 24 or 32 bytes. It encrypts and
	// authenticates all gossip (AES-GCM); members with another key, or none,
	// cannot join.
	SecretKey []byte

	// Logger receives memberlist's own log lines (its DEBUG and INFO at debug
	// level) and membership's state changes. Nil discards.
	Logger *slog.Logger

	// OnChange, if set, is called after a member joins, leaves, dies, comes
	// back or changes its metadata, with the member's new view. Calls happen
	// one at a time, in order, on a goroutine owned by the Membership (not
	// memberlist's), so it may call Membership methods; it should not block
	// for long since later events queue behind it. Events still queued when
	// Close is called are dropped.
	OnChange func(Member)

	// OnState, if set, receives every shared document another member sends
	// (see SetState), newer or not: the application decides which wins and
	// calls SetState with it. Calls happen one at a time on a goroutine
	// owned by the Membership.
	OnState func(doc []byte)
}

// DefaultConfig returns a Config listening for gossip on 0.0.0.0:7946 with the
// LAN profile. ID, Role and Addr must still be set. It has no side effects.
func DefaultConfig() Config {
	return Config{
		BindAddr: "0.0.0.0",
		BindPort: 7946,
		Profile:  ProfileLAN,
	}
}

func (c Config) clone() Config {
	c.Seeds = slices.Clone(c.Seeds)
	c.SecretKey = slices.Clone(c.SecretKey)
	return c
}

func (c *Config) ensureDefaults() {
	if c.BindAddr == "" {
		c.BindAddr = "0.0.0.0"
	}
	if c.Profile == "" {
		c.Profile = ProfileLAN
	}
	if c.AdvertisePort == 0 {
		c.AdvertisePort = c.BindPort
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem of the config at once, joined with
// errors.Join; each one wraps [ErrInvalidConfig].
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if err := validID(c.ID); err != nil {
		bad("ID: %v", err)
	}
	if !c.Role.valid() {
		bad("Role %q: want %q or %q", c.Role, RoleNode, RoleGateway)
	}
	if c.Addr == "" {
		bad("Addr: empty")
	}
	md := c.meta()
	md.Leaving = true // the longest form this member will gossip
	if meta, err := encodeMeta(md); err != nil {
		bad("metadata: %v", err)
	} else if len(meta) > memberlist.MetaMaxSize {
		bad("metadata is %d bytes, memberlist allows %d: shorten Addr, Zone or AdminAddr", len(meta), memberlist.MetaMaxSize)
	}
	if net.ParseIP(c.BindAddr) == nil {
		bad("BindAddr %q: not an IP address", c.BindAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		bad("BindPort %d: not in [0, 65535]", c.BindPort)
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		bad("AdvertiseAddr %q: not an IP address", c.AdvertiseAddr)
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		bad("AdvertisePort %d: not in [0, 65535]", c.AdvertisePort)
	}
	for i, s := range c.Seeds {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			bad("Seeds[%d] %q: want host:port", i, s)
		}
	}
	if c.Profile != ProfileLAN && c.Profile != ProfileLocal {
		bad("Profile %q: want %q or %q", c.Profile, ProfileLAN, ProfileLocal)
	}
	if len(c.SecretKey) > 0 {
		if err := memberlist.ValidateKey(c.SecretKey); err != nil {
			bad("SecretKey: %d bytes, want 16, 24 or 32", len(c.SecretKey))
		}
	}
	return errors.Join(errs...)
}

func validID(id string) error {
	if id == "" {
		return errors.New("empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("%d bytes, at most %d", len(id), maxIDLen)
	}
	for i := range len(id) {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '-':
		default:
			return fmt.Errorf("%q: byte %d (%q) not a letter, digit, '.', '_' or '-'", id, i, b)
		}
	}
	return nil
}

func (c *Config) meta() meta {
	return meta{Version: metaVersion, Role: c.Role, Addr: c.Addr, Zone: c.Zone, AdminAddr: c.AdminAddr}
}

// memberlistConfig builds memberlist's config for a validated c. It calls
// memberlist's constructors, which read the hostname; the name is replaced.
func (c *Config) memberlistConfig() *memberlist.Config {
	var mc *memberlist.Config
	switch c.Profile {
	case ProfileLocal:
		mc = memberlist.DefaultLocalConfig()
		// Loopback RTTs are microseconds; these put detection of a crashed
		// member at about 1–2 s: first probe within ~2 intervals, then the
		// suspicion timeout, 3×200 ms once another member confirms, at most
		// 2× that without confirmation.
		mc.ProbeInterval = 200 * time.Millisecond
		mc.ProbeTimeout = 100 * time.Millisecond
		mc.SuspicionMult = 3
		mc.SuspicionMaxTimeoutMult = 2
		mc.GossipInterval = 50 * time.Millisecond
		mc.PushPullInterval = 5 * time.Second
		mc.DeadNodeReclaimTime = time.Second
	default:
		mc = memberlist.DefaultLANConfig()
		// Without a reclaim time a crashed member that comes back on another
		// address is refused forever (until everyone forgets it); 30 s keeps a
		// misconfigured duplicate ID from flapping between two addresses.
		mc.DeadNodeReclaimTime = 30 * time.Second
	}
	mc.Name = c.ID
	mc.BindAddr = c.BindAddr
	mc.BindPort = c.BindPort
	mc.AdvertiseAddr = c.AdvertiseAddr
	mc.AdvertisePort = c.AdvertisePort
	if len(c.SecretKey) > 0 {
		mc.SecretKey = slices.Clone(c.SecretKey)
	}
	return mc
}

// leaveTimeout bounds how long Close waits for each of its two broadcasts,
// the leaving flag and the leave message, to go out.
func (c *Config) leaveTimeout() time.Duration {
	if c.Profile == ProfileLocal {
		return 500 * time.Millisecond
	}
	return 2 * time.Second // 4 retransmits × 200 ms gossip ≈ 0.8 s each
}

// joinBackoff returns the first and the largest wait between join attempts.
func (c *Config) joinBackoff() (first, max time.Duration) {
	if c.Profile == ProfileLocal {
		return 50 * time.Millisecond, time.Second
	}
	return 250 * time.Millisecond, 5 * time.Second
}

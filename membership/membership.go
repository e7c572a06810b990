package membership

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrClosed is returned by Join after Close.
var ErrClosed = errors.New("membership: closed")

// State is a member's liveness as this process last learned it.
type State uint8

const (
	// StateAlive members answer probes, or are suspected but not yet
	// declared dead (see the package doc).
	StateAlive State = 1 + iota
	// StateDead members stopped answering and were declared dead.
	StateDead
	// StateLeft members announced that they were leaving (Close). A member
	// whose announcement was lost shows as StateDead instead.
	StateLeft
)

// String returns "alive", "dead", "left", or "State(n)" for other values.
func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Member is one member of the pool as last seen. Role, Addr, Zone and
// AdminAddr come from its gossiped metadata; Role is empty if that metadata
// could not be decoded (a member speaking an unknown encoding).
type Member struct {
	ID         string
	Role       Role
	Addr       string
	Zone       string
	AdminAddr  string
	GossipAddr string // host:port of its memberlist
	State      State
	// StateEpoch is the epoch of the shared document the member holds
	// (see SetState); 0 before it has one.
	StateEpoch uint64
}

// Membership is this process's membership in the gossip pool. See the
// package doc for its concurrency rules.
type Membership struct {
	cfg    Config
	log    *slog.Logger
	ml     *memberlist.Memberlist
	d      *delegate
	local  string // advertised gossip host:port
	bindIP net.IP
	advIP  net.IP
	port   int

	mu      sync.Mutex
	members map[string]Member
	shared  sharedState // guarded by mu
	queue   []Member    // OnChange events not yet delivered

	wake   chan struct{} // cap 1: queue is non-empty
	done   chan struct{} // closed by Close
	closed atomic.Bool
	once   sync.Once
	wg     sync.WaitGroup

	// updateMu serialises UpdateNode: memberlist reads its own node's
	// address outside its lock while a concurrent UpdateNode rewrites it
	// under the lock, a data race the race detector found in CI.
	updateMu sync.Mutex
}

// New validates cfg and starts listening for gossip. It does not contact
// anyone: call Join. Errors for a bad cfg wrap [ErrInvalidConfig] and list
// every problem.
func New(cfg Config) (*Membership, error) {
	cfg = cfg.clone()
	cfg.ensureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	metaBytes, err := encodeMeta(cfg.meta())
	if err != nil { // Validate encoded it already
		return nil, fmt.Errorf("membership: %w", err)
	}
	m := &Membership{
		cfg:     cfg,
		log:     cfg.Logger.With("member", cfg.ID),
		members: make(map[string]Member),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		bindIP:  net.ParseIP(cfg.BindAddr),
	}
	mc := cfg.memberlistConfig()
	d := &delegate{m: m}
	d.meta.Store(&metaBytes)
	m.d = d
	mc.Delegate = d
	mc.Events = d
	mc.Conflict = d
	mc.Logger = log.New(logWriter{logger: m.log.With("component", "memberlist")}, "", 0)

	if cfg.OnChange != nil || cfg.OnState != nil {
		m.wg.Go(m.dispatch)
	}
	// memberlist reports our own join from inside Create, so the delegate
	// must be usable before m.ml is set; it never touches m.ml.
	ml, err := memberlist.Create(mc)
	if err != nil {
		m.closed.Store(true)
		close(m.done)
		m.wg.Wait()
		return nil, fmt.Errorf("membership: start gossip on %s: %w",
			net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort)), err)
	}
	m.ml = ml
	self := ml.LocalNode() // read once, now, before other goroutines could change it
	m.local = self.Address()
	m.advIP = slices.Clone(self.Addr)
	m.port = int(self.Port)
	m.log.Info("gossip started", "gossip", m.local, "role", cfg.Role, "profile", cfg.Profile)
	return m, nil
}

// LocalGossipAddr returns the host:port other members use to reach this
// member's gossip listener; with BindPort 0 it carries the port picked.
func (m *Membership) LocalGossipAddr() string { return m.local }

// Join contacts seeds (cfg.Seeds when seeds is nil) and merges state with
// them, retrying with exponential backoff until one answers, another member
// joins us first, or ctx is done. This member's own address is skipped, so a
// seed list shared by the whole pool is fine; if nothing is left, this is the
// pool's first member and Join returns (0, nil) at once. Join returns the
// number of seeds contacted in the successful attempt (0 when another member
// joined us). One attempt cannot be interrupted and may outlast ctx by the
// profile's TCP timeout (1 s local, 10 s LAN).
func (m *Membership) Join(ctx context.Context, seeds []string) (int, error) {
	if seeds == nil {
		seeds = m.cfg.Seeds
	}
	others := m.withoutSelf(ctx, seeds)
	if len(others) == 0 {
		return 0, nil
	}
	wait, maxWait := m.cfg.joinBackoff()
	var lastErr error
	for attempt := 1; ; attempt++ {
		if m.closed.Load() {
			return 0, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("membership: join %v: %w", others, errors.Join(err, lastErr))
		}
		n, err := m.ml.Join(others)
		if n > 0 {
			m.log.Info("joined", "seeds", others, "contacted", n, "attempt", attempt)
			return n, nil
		}
		if m.ml.NumMembers() > 1 {
			m.log.Info("joined by another member", "attempt", attempt)
			return 0, nil
		}
		lastErr = err
		m.log.Debug("join failed, retrying", "seeds", others, "attempt", attempt, "wait", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return 0, fmt.Errorf("membership: join %v: %w", others, errors.Join(ctx.Err(), lastErr))
		case <-m.done:
			timer.Stop()
			return 0, ErrClosed
		case <-timer.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// withoutSelf drops seeds that name this member's own gossip listener.
// memberlist would happily "join" itself, which would end Join's retries
// before any real peer was reached.
func (m *Membership) withoutSelf(ctx context.Context, seeds []string) []string {
	var ifAddrs []net.Addr
	if m.bindIP.IsUnspecified() {
		ifAddrs, _ = net.InterfaceAddrs() // best effort: unknown means "not us"
	}
	var out []string
	for _, s := range seeds {
		if !m.isSelf(ctx, s, ifAddrs) {
			out = append(out, s)
		}
	}
	return out
}

func (m *Membership) isSelf(ctx context.Context, seed string, ifAddrs []net.Addr) bool {
	// memberlist accepts "name/host:port" and a bare host (meaning its own
	// bind port, which is ours).
	if _, after, ok := strings.Cut(seed, "/"); ok {
		seed = after
	}
	host, portStr, err := net.SplitHostPort(seed)
	port := m.port
	if err != nil {
		host = strings.Trim(seed, "[]")
	} else if port, err = strconv.Atoi(portStr); err != nil {
		return false
	}
	if port != m.port {
		return false
	}
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return false // let memberlist report it
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if ip.Equal(m.advIP) || ip.Equal(m.bindIP) {
			return true
		}
		if !m.bindIP.IsUnspecified() {
			continue
		}
		// Bound to every interface: any local address with our port is us.
		if ip.IsLoopback() || ip.IsUnspecified() {
			return true
		}
		for _, a := range ifAddrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
	}
	return false
}

// Members returns every member seen since New, this one included, dead and
// left ones too, sorted by ID. The caller owns the slice.
func (m *Membership) Members() []Member {
	return m.collect(func(Member) bool { return true })
}

// Nodes returns the storage nodes among Members, in any state.
func (m *Membership) Nodes() []Member {
	return m.collect(func(mb Member) bool { return mb.Role == RoleNode })
}

func (m *Membership) collect(keep func(Member) bool) []Member {
	m.mu.Lock()
	out := make([]Member, 0, len(m.members))
	for _, mb := range m.members {
		if keep(mb) {
			out = append(out, mb)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Member returns the member with the given ID and whether it was ever seen.
func (m *Membership) Member(id string) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, ok := m.members[id]
	return mb, ok
}

// Alive reports whether the member with the given ID is known and alive.
// It is false for dead, left and unknown members.
func (m *Membership) Alive(id string) bool {
	mb, ok := m.Member(id)
	return ok && mb.State == StateAlive
}

// Close leaves the pool and stops gossip and the OnChange goroutine. It waits
// for the leaving flag and then the leave message to be gossiped, each for at
// most 0.5 s (local) or 2 s (LAN), so peers see this member Left rather than
// Dead. It is safe to call more than once.
func (m *Membership) Close() error {
	return m.shutdown(true)
}

// shutdown stops the member; without leave it looks like a crash to peers.
func (m *Membership) shutdown(leave bool) error {
	var err error
	m.once.Do(func() {
		m.closed.Store(true)
		if leave {
			m.leave()
		}
		if serr := m.ml.Shutdown(); serr != nil {
			err = fmt.Errorf("membership: shutdown: %w", serr)
		}
		close(m.done)
		m.wg.Wait()
		m.log.Info("gossip stopped", "left", leave)
	})
	return err
}

// leave tells the pool this member is going. Failures are logged, not
// returned: peers then find out by probing, which is slower but correct.
func (m *Membership) leave() {
	md := m.cfg.meta()
	md.Leaving = true
	md.Epoch = m.StateEpoch()
	b, err := encodeMeta(md)
	if err == nil {
		m.d.meta.Store(&b)
		// Waits until the flag has been gossiped, so it reaches peers
		// before the leave message does.
		err = m.updateNode(m.cfg.leaveTimeout())
	}
	if err != nil {
		m.log.Warn("leaving flag not confirmed", "err", err)
	}
	// memberlist's Leave panics after Shutdown; shutdown's once keeps this first.
	if err := m.ml.Leave(m.cfg.leaveTimeout()); err != nil {
		m.log.Warn("leave not confirmed", "err", err)
	}
}

// updateNode has memberlist gossip this member's current meta data; see
// updateMu for why calls take turns.
func (m *Membership) updateNode(timeout time.Duration) error {
	m.updateMu.Lock()
	defer m.updateMu.Unlock()
	return m.ml.UpdateNode(timeout)
}

// observe records what memberlist says about n. It runs on memberlist's
// goroutines with memberlist's node lock held, so it must not call into
// memberlist and must not block.
func (m *Membership) observe(n *memberlist.Node, gone bool) {
	mb := Member{ID: n.Name, GossipAddr: n.Address(), State: StateAlive}
	md, err := decodeMeta(n.Meta)
	if err != nil {
		m.log.Warn("bad member metadata", "peer", n.Name, "err", err)
	} else {
		mb.Role, mb.Addr, mb.Zone, mb.AdminAddr = md.Role, md.Addr, md.Zone, md.AdminAddr
		mb.StateEpoch = md.Epoch
	}
	switch {
	case md.Leaving:
		// Still answering probes while it says goodbye, but callers should
		// stop sending it work now.
		mb.State = StateLeft
	case gone:
		mb.State = StateDead
	}
	m.mu.Lock()
	old, known := m.members[mb.ID]
	if known && old == mb {
		m.mu.Unlock()
		return
	}
	m.members[mb.ID] = mb
	m.noteEpochLocked(mb)
	if m.cfg.OnChange != nil {
		m.queue = append(m.queue, mb)
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
	m.mu.Unlock()
	if !known || old.State != mb.State {
		m.log.Info("member "+mb.State.String(), "peer", mb.ID, "role", mb.Role, "addr", mb.Addr, "gossip", mb.GossipAddr)
	} else {
		m.log.Info("member updated", "peer", mb.ID, "role", mb.Role, "addr", mb.Addr, "gossip", mb.GossipAddr)
	}
}

// dispatch delivers OnChange events in order until Close.
func (m *Membership) dispatch() {
	for {
		select {
		case <-m.done:
			return
		case <-m.wake:
		}
		m.mu.Lock()
		batch, docs := m.queue, m.shared.inbox
		m.queue, m.shared.inbox = nil, nil
		m.mu.Unlock()
		for _, doc := range docs {
			select {
			case <-m.done:
				return
			default:
			}
			m.cfg.OnState(doc)
		}
		for _, mb := range batch {
			select {
			case <-m.done:
				return
			default:
			}
			m.cfg.OnChange(mb)
		}
	}
}

// delegate adapts memberlist's callback interfaces to a Membership.
type delegate struct {
	m    *Membership
	meta atomic.Pointer[[]byte] // changes once, when leaving
}

var (
	_ memberlist.Delegate         = (*delegate)(nil)
	_ memberlist.EventDelegate    = (*delegate)(nil)
	_ memberlist.ConflictDelegate = (*delegate)(nil)
)

// NodeMeta returns the encoded metadata; Validate checked it fits limit.
func (d *delegate) NodeMeta(limit int) []byte { return *d.meta.Load() }

// NotifyMsg, LocalState and MergeRemoteState carry the shared document
// (state.go): pushed to members that are behind, and swapped in every
// push-pull sync, the join's included. Broadcasts are unused.
func (d *delegate) NotifyMsg(b []byte)                     { d.m.receiveState(b) }
func (d *delegate) GetBroadcasts(int, int) [][]byte        { return nil }
func (d *delegate) LocalState(bool) []byte                 { return d.m.localState() }
func (d *delegate) MergeRemoteState(buf []byte, join bool) { d.m.receiveState(buf) }

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.m.observe(n, false) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.m.observe(n, false) }

// NotifyLeave fires for members that died and for members that left; n.State
// does not tell which (memberlist leaves it zero), the leaving flag does.
func (d *delegate) NotifyLeave(n *memberlist.Node) { d.m.observe(n, true) }

// NotifyConflict fires when a member claims an ID that a live member at
// another address holds: two processes configured with one ID, or a crashed
// member restarted elsewhere before the dead-node reclaim time passed.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.m.log.Error("member ID claimed from two addresses; ignoring the newcomer",
		"peer", existing.Name, "existing", existing.Address(), "other", other.Address())
}

package membership

import (
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// The pool converges on one shared document (Cairn's layout) that the
// application encodes and versions with an epoch. A member holding epoch e
// gossips e in its metadata; whoever holds a newer document sends it, over
// memberlist's reliable (TCP) channel, to each member it sees behind, and
// every periodic push-pull sync (the join's included) swaps documents too.
// So a change reaches every live member within a gossip round, and a
// member that was down gets it when it rejoins. Which document wins is the
// application's call (Config.OnState); Membership only moves bytes.

// stateMsg tags a user message as a shared document.
const stateMsg = 's'

// maxStateBytes bounds the document: memberlist reads a TCP push-pull of
// any size, but nobody should gossip megabytes.
const maxStateBytes = 4 << 20

type sharedState struct {
	epoch uint64
	doc   []byte
	sent  map[string]uint64 // member → epoch last pushed to it
	inbox [][]byte          // received documents not yet handed to OnState
}

// SetState makes doc, at epoch, this member's shared document, and sends it
// to every live member that is behind. A document with an epoch not above
// the current one is ignored, so calling SetState with what OnState
// delivered, when it is newer, is the way to adopt it.
func (m *Membership) SetState(epoch uint64, doc []byte) {
	if len(doc)+1 > maxStateBytes {
		m.log.Error("shared document too large; not gossiped", "bytes", len(doc), "limit", maxStateBytes)
		return
	}
	m.mu.Lock()
	if epoch <= m.shared.epoch {
		m.mu.Unlock()
		return
	}
	m.shared.epoch, m.shared.doc = epoch, append([]byte{stateMsg}, doc...)
	behind := m.behindLocked()
	m.mu.Unlock()
	if m.closed.Load() {
		return
	}
	md := m.cfg.meta()
	md.Epoch = epoch
	if b, err := encodeMeta(md); err == nil {
		m.d.meta.Store(&b)
	}
	// UpdateNode gossips the new epoch; it waits for acks, so not on the
	// caller's goroutine.
	m.wg.Go(func() { m.gossipEpoch(epoch) })
	m.push(behind)
}

// gossipEpoch has memberlist take and gossip this member's meta data with
// epoch, until its own entry shows it. Once is not always enough: an
// update is dropped when its incarnation number is already below this
// member's own, which a refutation can raise meanwhile (a loaded machine
// gets members suspected), and the refutation gossips the old meta data.
// Peers then never learned the epoch (TestSharedStateSpreads, twice in CI
// runs here).
func (m *Membership) gossipEpoch(epoch uint64) {
	for attempt := 0; attempt < 20 && !m.closed.Load(); attempt++ {
		if err := m.updateNode(time.Second); err != nil && !m.closed.Load() {
			m.log.Debug("epoch gossip not confirmed", "err", err)
		}
		if self, ok := m.Member(m.cfg.ID); !ok || self.StateEpoch >= epoch || m.StateEpoch() != epoch {
			return // taken, or superseded by a newer SetState
		}
		select {
		case <-m.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StateEpoch returns the epoch of the shared document this member holds.
func (m *Membership) StateEpoch() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shared.epoch
}

// behindLocked lists the live members whose gossiped epoch is below ours
// and who have not been sent our document yet.
func (m *Membership) behindLocked() []string {
	var out []string
	for id, mb := range m.members {
		if id != m.cfg.ID && mb.State == StateAlive && mb.StateEpoch < m.shared.epoch && m.shared.sent[id] < m.shared.epoch {
			out = append(out, id)
		}
	}
	return out
}

// noteEpochLocked pushes our document to mb when mb is behind.
func (m *Membership) noteEpochLocked(mb Member) {
	// Before the first SetState (which comes after New has set m.ml)
	// there is nothing to push.
	if m.shared.epoch == 0 || mb.ID == m.cfg.ID || mb.State != StateAlive ||
		mb.StateEpoch >= m.shared.epoch || m.shared.sent[mb.ID] >= m.shared.epoch || m.closed.Load() {
		return
	}
	// observe runs under memberlist's node lock: send from elsewhere.
	id := mb.ID
	m.wg.Go(func() { m.push([]string{id}) })
}

func (m *Membership) push(ids []string) {
	m.mu.Lock()
	doc, epoch := m.shared.doc, m.shared.epoch
	m.mu.Unlock()
	if doc == nil {
		return
	}
	for _, id := range ids {
		// A copy built from what observe recorded: the *Node values
		// memberlist hands out are updated in place under its own lock.
		mb, ok := m.Member(id)
		if !ok {
			continue
		}
		host, portStr, err := net.SplitHostPort(mb.GossipAddr)
		port, perr := strconv.Atoi(portStr)
		ip := net.ParseIP(host)
		if err != nil || perr != nil || ip == nil {
			continue
		}
		target := &memberlist.Node{Name: id, Addr: ip, Port: uint16(port)}
		if err := m.ml.SendReliable(target, doc); err != nil {
			m.log.Debug("shared document not sent", "peer", id, "err", err)
			continue
		}
		m.mu.Lock()
		if m.shared.sent == nil {
			m.shared.sent = map[string]uint64{}
		}
		m.shared.sent[id] = max(m.shared.sent[id], epoch)
		m.mu.Unlock()
	}
}

// localState is what a push-pull sync sends.
func (m *Membership) localState() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shared.doc
}

// receiveState queues a document for OnState. It runs on memberlist's
// goroutines and must not block.
func (m *Membership) receiveState(b []byte) {
	if len(b) < 2 || b[0] != stateMsg || m.cfg.OnState == nil {
		return
	}
	doc := append([]byte(nil), b[1:]...)
	m.mu.Lock()
	m.shared.inbox = append(m.shared.inbox, doc)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

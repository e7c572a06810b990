// Package membership is Cairn's gossip membership: every gateway and storage
// node joins one hashicorp/memberlist pool and learns who else is in it, with
// each member's role, service address, zone and admin address carried as
// memberlist node metadata.
//
// Usage:
//
//	cfg := membership.DefaultConfig()
//	cfg.ID, cfg.Role, cfg.Addr = "n1", membership.RoleNode, "10.0.0.1:7070"
//	cfg.Seeds = []string{"10.0.0.2:7946", "10.0.0.3:7946"}
//	m, err := membership.New(cfg) // listens, but has not joined anyone yet
//	…
//	defer m.Close()              // leave gracefully, then stop gossiping
//	if _, err := m.Join(ctx, nil); err != nil { … } // nil means cfg.Seeds
//	if m.Alive("n2") { … }
//
// # Failure detection
//
// memberlist probes a random member every probe interval, asks others to
// probe it indirectly when it does not answer, marks it suspect, and declares
// it dead once the suspicion timeout passes without a refutation. With the
// "lan" profile (memberlist's DefaultLANConfig) a crashed member is declared
// dead after about 6 s in small pools (measured 5.8–6.8 s on loopback); the
// "local" profile, meant for tests and single-host clusters, does it in about
// 1 s (measured 0.95–1.2 s, bound ≲ 2 s).
//
// memberlist reports no event when a member becomes suspect, and the Node
// values it hands out never carry a state (Node.State stays zero; the real
// state sits in a private struct). A suspect member therefore still counts as
// alive here until it is declared dead; callers that need faster reactions
// rely on their request timeouts. For the same reason memberlist's events do
// not say whether a member left or died: Close first gossips a "leaving" flag
// in the member's metadata, then memberlist's leave message, and receivers
// report StateLeft when they saw the flag, StateDead otherwise.
//
// # Concurrency
//
// A *Membership is safe for concurrent use. Queries read a map kept up to date
// by memberlist's event callbacks and never block on the network. OnChange
// callbacks run one at a time, in event order, on a goroutine owned by the
// Membership, so a callback may call back into the Membership; a slow callback
// delays later callbacks but not gossip.
//
// Dead and left members stay in Members() (with their last metadata) until
// they come back; memberlist itself forgets them after GossipToTheDeadTime.
package membership

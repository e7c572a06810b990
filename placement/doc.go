// Package placement maps objects to the storage nodes that hold their shards.
//
// It is pure: a versioned cluster [Layout] goes in, node lists come out. There is
// no I/O, no clock and no global randomness, so every gateway that holds the same
// layout computes the same answer.
//
// The mapping has two steps:
//
//	object (bucket, key) ──PG──▶ placement group ──Preference──▶ ordered list of every node
//
// [PG] hashes bucket+"/"+key onto one of Layout.PGCount placement groups, so a
// layout change is computed, previewed ([Moved]) and rebalanced per PG, never per
// object. [Preference] orders all nodes for a PG; the first k+m are the homes of
// the PG's shards and the rest, in order, are the fallbacks of the sloppy quorum.
// [Place] does both steps for one object:
//
//	plan, err := placement.Place(layout, bucket, key, k+m)
//	// plan.Homes[i] stores shard i; plan.Fallbacks stand in for homes that are down.
//
// # The preference rule
//
// Each node gets a weighted rendezvous score for the PG,
//
//	score = weight / -ln(u),   u = hash(pg, node ID) mapped into (0, 1),
//
// so a node wins the first place with probability proportional to its weight, and
// adding or removing a node only changes the PGs that the node wins or loses.
// The list is then spread over zones in rounds: round r holds, for every zone that
// has more than r nodes, its (r+1)-th best node by score; the nodes of a round are
// ordered by score (highest first, ties by node ID), and the rounds follow each
// other. So the first Z positions cover all Z zones, every prefix of the list
// covers as many distinct zones as any list could, and with a single zone (or no
// zones: "" is a zone like any other) the list is plain weighted rendezvous order.
//
// Nodes that are [Draining] come after every [Active] node, ordered by the same
// rule among themselves: they get no homes while there are enough active nodes,
// but remain fallbacks and still hold the data they have until it has moved.
//
// # Stability
//
// The hashes (FNV-1a 64 of the strings, finished with the SplitMix64 mixer) are
// part of the on-disk format: changing them moves every object. Golden tests pin
// them.
//
// After a layout change the home set of a PG changes by as few nodes as the
// rule allows, but a node's position in the list can shift when a new node is
// inserted before it. Positions are therefore the shard indices for new writes
// only: code that moves or reads existing shards must use the shard index stored
// with the shard, and [Align] arranges a new home set so that nodes that stay keep
// their old shard index.
//
// # Concurrency
//
// The functions only read the layout; a Layout that nobody modifies may be used
// from any number of goroutines. Returned slices are fresh and owned by the caller.
package placement

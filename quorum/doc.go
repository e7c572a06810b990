// Package quorum decides when a fan-out to the nodes of a placement set has
// succeeded, failed, or needs more answers. It decides and never does: the
// caller sends the requests and feeds the answers in; the package has no I/O,
// no goroutines and no clock, so every decision is a table test away.
//
// [Params] holds the quorum sizes for an erasure-coded set of N = k+m homes and
// [DefaultParams] derives them. A [Tally] counts acknowledgements of a write (or
// any operation that needs a number of successes):
//
//	t := quorum.NewTally("put shards "+key, p.ShardWrite, len(homes))
//	for !t.Done() {
//		select {
//		case r := <-results: // one Result per home, sent by the fan-out goroutines
//			t.Add(r)
//		case <-ctx.Done():
//			return t.Err() // a *Error naming the answers so far
//		}
//	}
//	return t.Err() // nil, or a *Error whose Unwrap gives the nodes' errors
//
// A [ReadTally] classifies the answers of a metadata read into [Found],
// [NotFound] or [Unavailable], so that the gateway answers 404 only when a read
// quorum of nodes definitely lacks the object, never because nodes were down.
//
// Failures come back as [*Error], which carries the counts and every node's
// error; errors.Is and errors.As see through it to those causes.
//
// Tallies are not safe for concurrent use: the goroutine that collects the
// answers owns the tally.
package quorum

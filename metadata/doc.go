// Package metadata is Cairn's versioned metadata model: buckets, object
// versions and the hybrid logical clock that orders them, with the binary
// encoding every node stores in pebble and sends over the wire.
//
// The package is pure: no I/O, no clock reads. Time comes in as values, so the
// encoding and the ordering rules can be tested on their own.
package metadata

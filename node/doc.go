// Package node is the storage-node service: it owns one data directory (one
// disk), keeps shard files in it through a vfs.FS, and keeps bucket and
// object-version records in a pebble store beside them.
//
// A Node implements transport.NodeClient directly, so a gateway can use one
// in-process; httptransport serves it to remote gateways.
//
// On disk:
//
//	<dir>/meta/                 pebble: metadata key layout (see package metadata)
//	<dir>/shards/<xx>/<hash>.<i> shard i of a version; <hash> is the hex SHA-256
//	                            of bucket, key and version ID, <xx> its first byte
//	<dir>/tmp/                  shards being written; emptied at start
//
// Object keys are data: they only ever reach the file system through a hash.
package node

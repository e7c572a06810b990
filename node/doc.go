// Package node is the storage-node service: it owns one data directory (one
// disk), keeps shards in append-only segment files in it through a vfs.FS,
// and keeps bucket and object-version records, and where each shard is, in a
// pebble store beside them.
//
// A Node implements transport.NodeClient directly, so a gateway can use one
// in-process; httptransport serves it to remote gateways.
//
// On disk:
//
//	<dir>/meta/                 pebble: metadata key layout (see package metadata),
//	                            and s/<hash>/<i>: where shard i of a version is
//	<dir>/segments/<seq>.seg    shard bytes, appended (segments.go); <hash> is
//	                            the hex SHA-256 of bucket, key and version ID
//
// Object keys are data: they only ever reach the file system through a hash.
package node

// Package gateway is Cairn's S3 front end: an http.Handler (gin) that
// authenticates every request with SigV4 and coordinates each read and write
// over the storage nodes of the object's placement group.
//
// The gateway keeps no state on disk. Every decision — where a shard goes
// (placement), how an object is cut (erasure), when enough nodes answered
// (quorum), which record is newest (metadata) — is made by a pure package;
// this package only fans out over transport.NodeClient and collects answers.
package gateway

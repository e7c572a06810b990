// Package erasure cuts objects into Reed-Solomon shards with bitrot
// checksums, and reads them back from any k of the k+m shards.
//
// It is pure: bytes in, shards out. Shard storage and transport live
// elsewhere and reach this package only as io.Writer, io.Reader and the
// ShardOpener callback.
//
// # Format
//
// The layout below is stored on disk by every node and read back by every
// gateway, so it must never change without a new format version recorded
// in the object's metadata.
//
// An object of size bytes is cut into blocks of BlockSize bytes
// (DefaultBlockSize, 1 MiB, unless WithBlockSize says otherwise); the last
// block may be shorter. An object of size 0 has no blocks, and every one of
// its shards is empty.
//
// Each block of length L is split into k data fragments and m parity
// fragments of fragSize = ceil(L/k) bytes each: data fragment i holds bytes
// [i*fragSize, (i+1)*fragSize) of the block, zero-padded past L, and the
// parity fragments are computed by github.com/klauspost/reedsolomon with its
// default (Vandermonde-derived, systematic) matrix over GF(2^8).
//
// Each fragment is stored as a frame: a ChecksumSize (32) byte
// HighwayHash-256 checksum of the fragment bytes, then the fragment bytes.
// The checksum is keyed with a fixed key compiled into this package; the key
// is not a secret and gives no authenticity, it only makes HighwayHash a
// fast bitrot check.
//
// Shard i (0 <= i < k+m; data shards first, then parity) is the
// concatenation of the frames of fragment i of every block, in block order.
// With fullFragSize = ceil(BlockSize/k), block b of every shard therefore
// starts at offset b*(32+fullFragSize), and the last frame is
// 32+ceil(lastLen/k) bytes long. Codec.ShardFileSize and Codec.ShardRange
// compute these offsets.
//
// # Usage
//
// Writing: Codec.NewEncoder takes one io.Writer per shard and is itself an
// io.WriteCloser; it writes the k+m frames of each block concurrently and
// tolerates up to m failing shard writers. Codec.EncodeAll does the same for
// a small object held in memory.
//
// Reading: Codec.NewDecoder returns an io.ReadCloser over any byte range of
// the object. It reads the k data shards when it can (no decoding needed),
// verifies every frame's checksum, and replaces a shard that fails or is
// corrupt by a parity shard, reconstructing the missing fragments. It never
// returns bytes that did not pass their checksum. With WithExtraReads(n) it
// reads k+n shards at once and builds each block from the first k frames
// that arrive, so that one slow node does not slow the whole read down;
// this needs no clock, only n more shard reads.
//
// Repair: Codec.ReconstructShards rebuilds chosen shards, data or parity,
// from k others read through the same ShardOpener, streaming block by block
// and writing exactly the frames the encoder wrote; it shares the decoder's
// source selection, checksum checks and replacement of failing shards.
// Codec.VerifyShard checks a stored shard's frames, as a scrubber does.
//
// A Codec is safe for concurrent use. An Encoder or a decoder belongs to one
// goroutine. Every goroutine they start has returned when the call that
// started it does, except a hedging decoder's shard readers (WithExtraReads),
// which run until the decoder reaches the end of its range or is closed.
package erasure

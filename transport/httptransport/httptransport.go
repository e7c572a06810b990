// Package httptransport carries transport.NodeClient calls over HTTP/1.1:
// Handler serves a node, Client calls one. Shard bodies stream in both
// directions; records travel in metadata's binary encoding; failures travel
// as a transport.Code in the X-Cairn-Error header, never as parsed strings.
package httptransport

import (
	"encoding/binary"
	"fmt"
	"net/url"
	"strconv"

	"cairn/metadata"
	"cairn/transport"
)

const (
	pathShard   = "/v1/shard"
	pathVersion = "/v1/version"
	pathList    = "/v1/list"
	pathBucket  = "/v1/bucket"
	pathBuckets = "/v1/buckets"

	pathShardHint   = "/v1/hint/shard"
	pathVersionHint = "/v1/hint/version"

	headerError = "X-Cairn-Error"

	// A record answered with the node's shard of it (ShardPrefetcher).
	headerShardIndex   = "X-Cairn-Shard-Index"
	headerRecordLength = "X-Cairn-Record-Length"

	// maxRecordBody bounds a version or bucket record in a request body:
	// inline shards are at most the inline threshold over k, far below this.
	maxRecordBody = 16 << 20
)

func refQuery(ref transport.ShardRef) url.Values {
	q := url.Values{"b": {ref.Bucket}, "k": {ref.Key}, "v": {ref.VersionID}, "i": {strconv.Itoa(ref.Index)}}
	if c := ref.Check; c != nil {
		q.Set("cs", strconv.FormatInt(c.ObjectSize, 10))
		q.Set("ck", strconv.Itoa(c.EC.DataShards))
		q.Set("cm", strconv.Itoa(c.EC.ParityShards))
		q.Set("cb", strconv.Itoa(c.EC.BlockSize))
		q.Set("ca", strconv.Itoa(int(c.EC.Checksum)))
	}
	return q
}

func parseRef(q url.Values) (transport.ShardRef, error) {
	i, err := strconv.Atoi(q.Get("i"))
	if err != nil {
		return transport.ShardRef{}, fmt.Errorf("%w: shard index %q", transport.ErrInvalid, q.Get("i"))
	}
	ref := transport.ShardRef{Bucket: q.Get("b"), Key: q.Get("k"), VersionID: q.Get("v"), Index: i}
	if q.Has("cs") {
		var c transport.ShardCheck
		var errs [5]error
		c.ObjectSize, errs[0] = strconv.ParseInt(q.Get("cs"), 10, 64)
		c.EC.DataShards, errs[1] = strconv.Atoi(q.Get("ck"))
		c.EC.ParityShards, errs[2] = strconv.Atoi(q.Get("cm"))
		c.EC.BlockSize, errs[3] = strconv.Atoi(q.Get("cb"))
		var algo int
		algo, errs[4] = strconv.Atoi(q.Get("ca"))
		c.EC.Checksum = metadata.ChecksumAlgo(algo)
		for _, err := range errs {
			if err != nil {
				return transport.ShardRef{}, fmt.Errorf("%w: shard check: %v", transport.ErrInvalid, err)
			}
		}
		ref.Check = &c
	}
	return ref, nil
}

// encodeBuckets frames bucket records as uvarint length + record.
func encodeBuckets(bs []metadata.Bucket) ([]byte, error) {
	var out []byte
	for i := range bs {
		rec, err := bs[i].MarshalBinary()
		if err != nil {
			return nil, err
		}
		out = binary.AppendUvarint(out, uint64(len(rec)))
		out = append(out, rec...)
	}
	return out, nil
}

func decodeBuckets(b []byte) ([]metadata.Bucket, error) {
	var out []metadata.Bucket
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, fmt.Errorf("%w: bucket list framing", transport.ErrCorrupt)
		}
		var bk metadata.Bucket
		if err := bk.UnmarshalBinary(b[w : w+int(n)]); err != nil {
			return nil, fmt.Errorf("%w: %v", transport.ErrCorrupt, err)
		}
		out = append(out, bk)
		b = b[w+int(n):]
	}
	return out, nil
}

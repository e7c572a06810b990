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

	headerError = "X-Cairn-Error"

	// maxRecordBody bounds a version or bucket record in a request body:
	// inline shards are at most the inline threshold over k, far below this.
	maxRecordBody = 16 << 20
)

func refQuery(ref transport.ShardRef) url.Values {
	return url.Values{"b": {ref.Bucket}, "k": {ref.Key}, "v": {ref.VersionID}, "i": {strconv.Itoa(ref.Index)}}
}

func parseRef(q url.Values) (transport.ShardRef, error) {
	i, err := strconv.Atoi(q.Get("i"))
	if err != nil {
		return transport.ShardRef{}, fmt.Errorf("%w: shard index %q", transport.ErrInvalid, q.Get("i"))
	}
	return transport.ShardRef{Bucket: q.Get("b"), Key: q.Get("k"), VersionID: q.Get("v"), Index: i}, nil
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

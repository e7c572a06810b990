package metadata

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
)

// Part is one part of an object written by a multipart upload. Each part is
// erasure-coded on its own, with the version's EC parameters and homes,
// under the shard name StorageID (a ShardRef's VersionID), so completing an
// upload re-encodes nothing and a part uploaded twice never shares shard
// files with its predecessor.
type Part struct {
	Number    int
	Size      int64
	ETag      string // hex MD5 of the part, without quotes
	StorageID string
}

// Upload is an in-progress multipart upload. Every home of the object keeps a
// copy; Done marks an upload that was completed or aborted, so that a home
// that missed the end cannot bring the upload back in a listing.
type Upload struct {
	Bucket   string
	Key      string
	UploadID string
	HLC      HLC
	Created  time.Time
	Done     bool

	ContentType string
	UserMeta    map[string]string
	Headers     map[string]string // stored response headers, see Version.Headers
	Tags        map[string]string
	// ChecksumAlgo is the x-amz-checksum-algorithm named at creation, "" if none.
	ChecksumAlgo string

	EC     ErasureInfo
	Shards []string // the homes every part's shard i goes to
}

// UploadPart is a home's record of one uploaded part. The newest by HLC
// wins for a part number; the loser's shards are deleted.
type UploadPart struct {
	Part
	HLC       HLC
	ModTime   time.Time
	Checksums map[string]string
}

// Record kinds of multipart state.
const (
	kindUpload     = 'U'
	kindUploadPart = 'Q'
)

// Upload (format 1):
//
//	'U' 1 flags(1=Done) HLC:fixed64 Bucket Key UploadID Created ContentType
//	UserMeta:map Headers:map Tags:map ChecksumAlgo
//	EC.DataShards:varint EC.ParityShards:varint EC.BlockSize:varint EC.Checksum:byte
//	Shards:optional length+strings
//
// UploadPart (format 1):
//
//	'Q' 1 flags(0) HLC:fixed64 Number:varint Size:varint ETag StorageID ModTime Checksums:map

// MarshalBinary encodes the upload record.
func (u *Upload) MarshalBinary() ([]byte, error) {
	if err := checkTime(u.Created); err != nil {
		return nil, fmt.Errorf("metadata: encode upload %s: %w", u.UploadID, err)
	}
	b := []byte{kindUpload, formatV1, boolFlag(u.Done, flagDeleted)}
	b = binary.BigEndian.AppendUint64(b, uint64(u.HLC))
	b = appendString(b, u.Bucket)
	b = appendString(b, u.Key)
	b = appendString(b, u.UploadID)
	b = appendTime(b, u.Created)
	b = appendString(b, u.ContentType)
	b = appendMap(b, u.UserMeta)
	b = appendMap(b, u.Headers)
	b = appendMap(b, u.Tags)
	b = appendString(b, u.ChecksumAlgo)
	b = appendEC(b, u.EC)
	b = appendOptLen(b, len(u.Shards), u.Shards != nil)
	for _, s := range u.Shards {
		b = appendString(b, s)
	}
	return b, nil
}

// UnmarshalBinary decodes an upload record; errors wrap ErrCorrupt.
func (u *Upload) UnmarshalBinary(data []byte) error {
	d := decoder{b: data, what: "upload record"}
	var out Upload
	switch d.header(kindUpload, formatV1) {
	case formatV1:
		out.Done = d.flags(flagDeleted)&flagDeleted != 0
		out.HLC = HLC(d.fixed64())
		out.Bucket = d.string()
		out.Key = d.string()
		out.UploadID = d.string()
		out.Created = d.time()
		out.ContentType = d.string()
		out.UserMeta = d.strMap()
		out.Headers = d.strMap()
		out.Tags = d.strMap()
		out.ChecksumAlgo = d.string()
		out.EC = d.ec()
		if n, ok := d.optLen(1); ok {
			out.Shards = make([]string, n)
			for i := range out.Shards {
				out.Shards[i] = d.string()
			}
		}
	}
	if err := d.finish(); err != nil {
		return err
	}
	*u = out
	return nil
}

// MarshalBinary encodes the part record.
func (p *UploadPart) MarshalBinary() ([]byte, error) {
	if err := checkTime(p.ModTime); err != nil {
		return nil, fmt.Errorf("metadata: encode part %d: %w", p.Number, err)
	}
	b := []byte{kindUploadPart, formatV1, 0}
	b = binary.BigEndian.AppendUint64(b, uint64(p.HLC))
	b = binary.AppendVarint(b, int64(p.Number))
	b = binary.AppendVarint(b, p.Size)
	b = appendString(b, p.ETag)
	b = appendString(b, p.StorageID)
	b = appendTime(b, p.ModTime)
	b = appendMap(b, p.Checksums)
	return b, nil
}

// UnmarshalBinary decodes a part record; errors wrap ErrCorrupt.
func (p *UploadPart) UnmarshalBinary(data []byte) error {
	d := decoder{b: data, what: "part record"}
	var out UploadPart
	switch d.header(kindUploadPart, formatV1) {
	case formatV1:
		d.flags(0)
		out.HLC = HLC(d.fixed64())
		out.Number = d.int()
		out.Size = d.varint()
		out.ETag = d.string()
		out.StorageID = d.string()
		out.ModTime = d.time()
		out.Checksums = d.strMap()
	}
	if err := d.finish(); err != nil {
		return err
	}
	*p = out
	return nil
}

func appendEC(b []byte, ec ErasureInfo) []byte {
	b = binary.AppendVarint(b, int64(ec.DataShards))
	b = binary.AppendVarint(b, int64(ec.ParityShards))
	b = binary.AppendVarint(b, int64(ec.BlockSize))
	return append(b, byte(ec.Checksum))
}

func (d *decoder) ec() ErasureInfo {
	var ec ErasureInfo
	ec.DataShards = d.int()
	ec.ParityShards = d.int()
	ec.BlockSize = d.int()
	ec.Checksum = ChecksumAlgo(d.byte())
	return ec
}

// appendParts encodes a Version's parts (extension field tagParts).
func appendParts(b []byte, parts []Part) []byte {
	b = appendOptLen(b, len(parts), parts != nil)
	for _, p := range parts {
		b = binary.AppendVarint(b, int64(p.Number))
		b = binary.AppendVarint(b, p.Size)
		b = appendString(b, p.ETag)
		b = appendString(b, p.StorageID)
	}
	return b
}

func (d *decoder) parts() []Part {
	// Each part takes at least four bytes.
	n, ok := d.optLen(4)
	if !ok {
		return nil
	}
	out := make([]Part, n)
	for i := range out {
		out[i].Number = d.int()
		out[i].Size = d.varint()
		out[i].ETag = d.string()
		out[i].StorageID = d.string()
	}
	return out
}

// Pebble keys of multipart state:
//
//	"u/" + bucket + "/" + key + "\x00" + uploadID                  → Upload
//	"q/" + bucket + "/" + key + "\x00" + uploadID + "\x00" + %05d  → UploadPart
//
// Upload IDs are generated by gateways and validated (no NUL) before they
// reach a key, so the NUL separator cannot be forged by a key: given an
// upload ID, the pebble key names exactly one (key, upload) pair. Uploads
// of a bucket list in key order, then upload ID order.
const (
	uploadKeyPrefix = "u/"
	partKeyPrefix   = "q/"
)

// UploadRecordKey returns the pebble key of an upload record.
func UploadRecordKey(bucket, key, uploadID string) []byte {
	return []byte(uploadKeyPrefix + bucket + "/" + key + "\x00" + uploadID)
}

// UploadPrefix returns the prefix of the upload records of bucket whose
// key starts with prefix.
func UploadPrefix(bucket, prefix string) []byte {
	return []byte(uploadKeyPrefix + bucket + "/" + prefix)
}

// UploadsPrefix returns the prefix shared by every upload record.
func UploadsPrefix() []byte { return []byte(uploadKeyPrefix) }

// PartRecordKey returns the pebble key of a part record. Part numbers are
// 1..10000, so five digits keep them in numeric order.
func PartRecordKey(bucket, key, uploadID string, number int) []byte {
	return append(PartsPrefix(bucket, key, uploadID), fmt.Sprintf("%05d", number)...)
}

// PartsPrefix returns the prefix shared by the part records of one upload.
func PartsPrefix(bucket, key, uploadID string) []byte {
	return []byte(partKeyPrefix + bucket + "/" + key + "\x00" + uploadID + "\x00")
}

// PartStorageID names the shards of one upload of a part: a part uploaded
// again under the same number gets a new nonce and so new shard files.
func PartStorageID(uploadID string, number int, nonce string) string {
	return uploadID + "." + strconv.Itoa(number) + "." + nonce
}

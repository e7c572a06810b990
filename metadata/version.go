package metadata

import (
	"errors"
	"time"
)

// ErrNotFound is returned by stores when a bucket or object has no record.
var ErrNotFound = errors.New("metadata: not found")

// ErrCorrupt marks a record whose bytes cannot be decoded.
var ErrCorrupt = errors.New("metadata: corrupt record")

// ObjectKey names an object: a bucket and a key. The key is data; it never
// becomes a file path.
type ObjectKey struct {
	Bucket string
	Key    string
}

func (k ObjectKey) String() string { return k.Bucket + "/" + k.Key }

// ChecksumAlgo names the bitrot checksum that frames every fragment of an
// object. It is recorded per version so that it can change later.
type ChecksumAlgo uint8

const (
	// HighwayHash256 is keyed HighwayHash-256 over each fragment.
	HighwayHash256 ChecksumAlgo = 1 + iota
)

func (a ChecksumAlgo) String() string {
	switch a {
	case HighwayHash256:
		return "highwayhash256"
	default:
		return "unknown"
	}
}

// ErasureInfo is how an object version was cut into shards.
type ErasureInfo struct {
	DataShards   int
	ParityShards int
	BlockSize    int
	Checksum     ChecksumAlgo
}

// Version is one version of an object, or a delete marker (tombstone) when
// Deleted is set. Versions of one key are ordered by HLC; the newest wins.
//
// Every node of the placement set stores its own copy. Inline holds this
// node's framed fragment when the object is small enough to live in the
// record instead of a shard file, so copies differ only in Inline.
type Version struct {
	Bucket    string
	Key       string
	VersionID string
	HLC       HLC
	Deleted   bool

	Size        int64
	ETag        string // hex MD5 of the body for a plain PUT, without quotes
	ContentType string
	ModTime     time.Time
	UserMeta    map[string]string // x-amz-meta-* with the prefix stripped, lower-case names
	Checksums   map[string]string // "crc32", "crc32c", "crc64nvme", "sha1", "sha256" -> base64 value

	EC     ErasureInfo
	Shards []string // node ID holding shard i at write time
	Inline []byte   // this node's framed fragment for inline objects; nil otherwise
	// Hints, when set, has one entry per shard: the fallback node that
	// holds shard i as a hint for its home Shards[i], or "" when shard i
	// went to its home. Reads try the home first, then the hint.
	Hints []string
	// MetaHLC orders changes to a version's mutable metadata (its tags):
	// copies of one version on different homes agree on the newest change
	// by it, as versions agree by HLC.
	MetaHLC HLC

	// Parts, for an object written by a multipart upload, lists its parts
	// in order; each part's shards are named by its StorageID instead of
	// the VersionID. Nil for a single-part object.
	Parts []Part
	// Headers are the stored response headers (Cache-Control,
	// Content-Disposition, Content-Encoding, Content-Language, Expires,
	// x-amz-storage-class), canonical name → value.
	Headers map[string]string
	// Tags is the object's tag set.
	Tags map[string]string

	// Versioning is the bucket's versioning state the record was written
	// under; it decides how the record relates to the key's other versions
	// (see IsNull). Records written before versioning existed decode as
	// Unversioned, which is what they were.
	Versioning Versioning
	// Purged, when set, makes the record a purge tombstone: the version
	// VersionID (written at HLC) was deleted for good at Purged. Nodes keep
	// it in the version's slot so that a copy arriving late is refused.
	Purged HLC
	// BaseHLC, when set, is the HLC the version was written with, and HLC
	// is the later time at which it became the key's current version again
	// because every newer version was deleted for good. Reads order the
	// key's current record by HLC; the version's place among the key's
	// versions is BaseHLC.
	BaseHLC HLC
}

// IsInline reports whether the object's shards live in the metadata records.
func (v *Version) IsInline() bool { return v.Inline != nil }

// SmallStreamed reports whether v is an object of 1 to maxSize bytes whose
// shards are stored apart from the record in one unit each (not inline,
// not multipart, not a tombstone): one a reader can take with the records
// (transport.ShardPrefetcher).
func (v *Version) SmallStreamed(maxSize int64) bool {
	return !v.Deleted && !v.IsInline() && len(v.Parts) == 0 && v.Size > 0 && v.Size <= maxSize
}

// Newer reports whether v should win over w when both describe the same key.
func (v *Version) Newer(w *Version) bool {
	if v.HLC != w.HLC {
		return v.HLC > w.HLC
	}
	// Version IDs sort newest first, so on an HLC tie the smaller ID wins
	// and listings agree with this order.
	return v.VersionID < w.VersionID
}

// Bucket is a bucket record. Deleting a bucket writes a tombstone so that a
// node that missed the delete cannot bring it back.
type Bucket struct {
	Name    string
	Created time.Time
	HLC     HLC
	Deleted bool
	// Versioning is the bucket's S3 versioning state. Changing it writes
	// the record again with a newer HLC.
	Versioning Versioning
	// Lifecycle is the bucket's lifecycle configuration; nil when it has
	// none. Changing it writes the record again with a newer HLC.
	Lifecycle *Lifecycle
}

// ListEntry is one key in a node's listing: enough to answer ListObjects
// without the inline data.
type ListEntry struct {
	Key       string
	VersionID string
	HLC       HLC
	Deleted   bool
	Size      int64
	ETag      string
	ModTime   time.Time
	// Prefix marks a common prefix that a node collapsed in a delimited
	// listing (transport.PrefixLister): Key is the prefix, the other
	// fields are zero, and the node skipped the rest of the keys under it.
	Prefix bool
}

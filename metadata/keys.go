package metadata

import "strings"

// Pebble key layout
//
//	"b/" + bucket                → Bucket record (or tombstone)
//	"o/" + bucket + "/" + key    → the newest Version record of that key
//	"v/" + bucket + "/" + esc(key) 0 1 ^HLC versionID
//	                             → a retained older version (versioning.go)
//
// docs/metadata-schema.md lists every record kind a node stores.
// Bucket names contain no '/' (S3 forbids it; callers validate names before
// they get here), so every key of a bucket shares the prefix "o/<bucket>/",
// no other bucket's keys do, and a prefix scan yields a bucket's keys in
// key byte order, which is the order S3 lists them in. Object keys are data:
// they may hold any bytes, including '/' and NUL, and are stored verbatim.
const (
	bucketKeyPrefix = "b/"
	objectKeyPrefix = "o/"
)

// BucketKey returns the pebble key of a bucket's record.
func BucketKey(bucket string) []byte {
	return append(append(make([]byte, 0, len(bucketKeyPrefix)+len(bucket)), bucketKeyPrefix...), bucket...)
}

// BucketKeysPrefix returns the prefix shared by every bucket record's key.
func BucketKeysPrefix() []byte { return []byte(bucketKeyPrefix) }

// SplitBucketKey returns the bucket name of a key made by BucketKey; ok is
// false for any other key.
func SplitBucketKey(k []byte) (bucket string, ok bool) {
	s := string(k)
	name, found := strings.CutPrefix(s, bucketKeyPrefix)
	if !found || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

// ObjectRecordKey returns the pebble key of the newest version record of
// bucket/key.
func ObjectRecordKey(bucket, key string) []byte {
	return ObjectPrefix(bucket, key)
}

// ObjectPrefix returns "o/" + bucket + "/" + prefix: the keys of the records
// of every object in bucket whose key starts with prefix share it. An empty
// prefix covers the whole bucket.
func ObjectPrefix(bucket, prefix string) []byte {
	b := make([]byte, 0, len(objectKeyPrefix)+len(bucket)+1+len(prefix))
	b = append(b, objectKeyPrefix...)
	b = append(b, bucket...)
	b = append(b, '/')
	return append(b, prefix...)
}

// SplitObjectRecordKey returns the bucket and object key of a key made by
// ObjectRecordKey; ok is false for any other key, including one with an empty
// bucket name.
func SplitObjectRecordKey(k []byte) (bucket, key string, ok bool) {
	rest, found := strings.CutPrefix(string(k), objectKeyPrefix)
	if !found {
		return "", "", false
	}
	bucket, key, found = strings.Cut(rest, "/")
	if !found || bucket == "" {
		return "", "", false
	}
	return bucket, key, true
}

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix, for use as an exclusive upper bound of a prefix scan (pebble's
// IterOptions.UpperBound). It returns nil, meaning no bound, when every byte
// of prefix is 0xff.
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			end := append([]byte(nil), prefix[:i+1]...)
			end[i]++
			return end
		}
	}
	return nil
}

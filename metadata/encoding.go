package metadata

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Record encoding
//
// Every record starts with two bytes: a kind marker ('V' version, 'B' bucket,
// 'L' list entry, 'P' list page) and a format number, currently 1. The body
// follows as a fixed sequence of fields:
//
//	uvarint, varint   encoding/binary varints (varint is zig-zag signed)
//	fixed64           8 bytes big-endian (HLCs: they are always ~2^57)
//	string            uvarint length, then the bytes
//	time              varint Unix nanoseconds; 0 is the zero time.Time
//	optional length   uvarint 0 for nil, n+1 for n elements, so that nil and
//	                  empty maps, slices and inline data stay apart
//	map               optional length, then key/value strings in strictly
//	                  increasing key order (deterministic bytes)
//	flags             one byte of bits; unknown bits are corrupt
//
// Version (format 1, and the start of format 2):
//
//	'V' 1 flags(1=Deleted) HLC:fixed64 Key VersionID Size:varint ETag ModTime
//	Bucket ContentType UserMeta:map Checksums:map
//	EC.DataShards:varint EC.ParityShards:varint EC.BlockSize:varint EC.Checksum:byte
//	Shards:optional length+strings Inline:optional length+bytes
//
// Format 2 appends extension fields, tag:uvarint length:uvarint bytes, in
// increasing tag order, each only when set; decoders skip unknown tags.
// Tags: 1 Hints (optional length + strings), 8 Parts, 9 Headers (map),
// 10 Tags (map), 11 MetaHLC (fixed64).
//
// The listing fields come first so that DecodeListEntry can stop early.
//
// Format 2 tags 12 Versioning (one byte), 13 Purged (fixed64) and 14
// BaseHLC (fixed64) carry S3 versioning (docs/metadata-schema.md).
//
// Bucket (format 1, and the start of format 2): 'B' 1 flags(1=Deleted)
// HLC:fixed64 Name Created. Format 2 appends extension fields like
// Version's: tag 1 Versioning (one byte), tag 2 Lifecycle (lifecycle.go).
//
// ListEntry (format 1): 'L' 1 entry, where entry is
//
//	flags(1=Deleted) HLC:fixed64 Key VersionID Size:varint ETag ModTime
//
// List page (format 1): 'P' 1 flags(1=Truncated) count:uvarint entries, where
// each entry stores its Key as a uvarint count of bytes shared with the
// previous entry's key followed by the rest as a string: listings are sorted,
// so neighbouring keys share long prefixes.
//
// List page (format 2): format 1 whose entries may carry flag 2 (Prefix): a
// common prefix a node collapsed in a delimited listing, Key being the
// prefix; its other fields are zero.
//
// Migrating forward: a format is never changed once written. A new field, or
// any other change, gets a new format number for that kind; encoders always
// write the newest format and the decoder of format N reads every format
// 1..N, filling what older formats lack with defaults (garage's Migrate).
// Decoders reject formats newer than they know with ErrCorrupt, so a node
// that is rolled back fails loudly instead of misreading newer records.
//
// Decoding is strict: truncated input, trailing bytes, unknown flags,
// non-canonical maps and lengths larger than the remaining input are all
// ErrCorrupt. Lengths are checked against the remaining input before any
// allocation, so hostile input cannot make the decoder allocate more than a
// small multiple of its own size.

const (
	kindVersion = 'V'
	kindBucket  = 'B'
	kindEntry   = 'L'
	kindPage    = 'P'

	// formatV1 is the first format of every kind, and the current one of
	// all but Version, Bucket and the list page.
	formatV1 = 1
	// formatV2 is the current Version and Bucket format (format 1
	// followed by tagged extension fields) and list page format (entries
	// may be Prefix entries).
	formatV2 = 2
)

// Tags of Version extension fields (format 2). Each field is written as
// tag:uvarint length:uvarint bytes, in increasing tag order, and only when
// it is set. A decoder skips tags it does not know, so adding a field needs
// a new tag, not a new format.
const (
	tagHints = 1 // Hints: optional length + strings

	// Multipart and S3-surface fields. They start at 8 to leave the low
	// tags to the replication work that added Hints.
	tagParts   = 8  // Parts: optional length + (Number:varint Size:varint ETag StorageID)
	tagHeaders = 9  // Headers: map
	tagTags    = 10 // Tags: map
	tagMetaHLC = 11 // MetaHLC: fixed64

	// S3 versioning.
	tagVersioning = 12 // Versioning: one byte
	tagPurged     = 13 // Purged: fixed64
	tagBaseHLC    = 14 // BaseHLC: fixed64
)

// Tags of Bucket extension fields (format 2), written like Version's.
const (
	tagBucketVersioning = 1 // Versioning: one byte
	tagBucketLifecycle  = 2 // Lifecycle: see lifecycle.go
)

const (
	flagDeleted   = 1 << 0 // Version, Bucket, ListEntry
	flagTruncated = 1 << 0 // list page
	flagPrefix    = 1 << 1 // entry of a list page, format 2
)

// UnixNano is only defined for these times (years 1678 to 2262).
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// MarshalBinary encodes the version in the current record format.
func (v *Version) MarshalBinary() ([]byte, error) {
	return v.AppendBinary(make([]byte, 0, v.sizeHint()))
}

// sizeHint is a cheap upper-ish estimate of the encoded size, so that
// MarshalBinary usually allocates once.
func (v *Version) sizeHint() int {
	n := 64 + len(v.Bucket) + len(v.Key) + len(v.VersionID) + len(v.ETag) + len(v.ContentType) + len(v.Inline)
	for k, x := range v.UserMeta {
		n += len(k) + len(x) + 4
	}
	for k, x := range v.Checksums {
		n += len(k) + len(x) + 4
	}
	for _, s := range v.Shards {
		n += len(s) + 2
	}
	return n
}

// AppendBinary appends the encoded version to buf and returns the extended
// buffer. It fails only for a ModTime outside the years 1678 to 2262.
func (v *Version) AppendBinary(buf []byte) ([]byte, error) {
	if err := checkTime(v.ModTime); err != nil {
		return buf, fmt.Errorf("metadata: encode version %s/%s: %w", v.Bucket, v.Key, err)
	}
	b := append(buf, kindVersion, formatV2, boolFlag(v.Deleted, flagDeleted))
	b = binary.BigEndian.AppendUint64(b, uint64(v.HLC))
	b = appendString(b, v.Key)
	b = appendString(b, v.VersionID)
	b = binary.AppendVarint(b, v.Size)
	b = appendString(b, v.ETag)
	b = appendTime(b, v.ModTime)
	b = appendString(b, v.Bucket)
	b = appendString(b, v.ContentType)
	b = appendMap(b, v.UserMeta)
	b = appendMap(b, v.Checksums)
	b = binary.AppendVarint(b, int64(v.EC.DataShards))
	b = binary.AppendVarint(b, int64(v.EC.ParityShards))
	b = binary.AppendVarint(b, int64(v.EC.BlockSize))
	b = append(b, byte(v.EC.Checksum))
	b = appendOptLen(b, len(v.Shards), v.Shards != nil)
	for _, s := range v.Shards {
		b = appendString(b, s)
	}
	b = appendOptLen(b, len(v.Inline), v.Inline != nil)
	b = append(b, v.Inline...)
	if v.Hints != nil {
		var f []byte
		f = appendOptLen(f, len(v.Hints), true)
		for _, h := range v.Hints {
			f = appendString(f, h)
		}
		b = appendExt(b, tagHints, f)
	}
	if v.Parts != nil {
		b = appendExt(b, tagParts, appendParts(nil, v.Parts))
	}
	if v.Headers != nil {
		b = appendExt(b, tagHeaders, appendMap(nil, v.Headers))
	}
	if v.Tags != nil {
		b = appendExt(b, tagTags, appendMap(nil, v.Tags))
	}
	if v.MetaHLC != 0 {
		b = appendExt(b, tagMetaHLC, binary.BigEndian.AppendUint64(nil, uint64(v.MetaHLC)))
	}
	if v.Versioning != Unversioned {
		b = appendExt(b, tagVersioning, []byte{byte(v.Versioning)})
	}
	if v.Purged != 0 {
		b = appendExt(b, tagPurged, binary.BigEndian.AppendUint64(nil, uint64(v.Purged)))
	}
	if v.BaseHLC != 0 {
		b = appendExt(b, tagBaseHLC, binary.BigEndian.AppendUint64(nil, uint64(v.BaseHLC)))
	}
	return b, nil
}

func appendExt(b []byte, tag uint64, field []byte) []byte {
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(len(field)))
	return append(b, field...)
}

// extensions decodes format-2 extension fields into out until the record
// ends. Tags must increase; unknown tags are skipped.
func (d *decoder) extensions(out *Version) {
	var last uint64
	for d.err == nil && len(d.b) > 0 {
		tag := d.uvarint()
		if tag <= last {
			d.fail("extension tag %d after %d", tag, last)
			return
		}
		last = tag
		field := d.bytes()
		if d.err != nil {
			return
		}
		fd := decoder{b: field, what: d.what}
		switch tag {
		case tagHints:
			if n, ok := fd.optLen(1); ok {
				out.Hints = make([]string, n)
				for i := range out.Hints {
					out.Hints[i] = fd.string()
				}
			}
		case tagParts:
			out.Parts = fd.parts()
		case tagHeaders:
			out.Headers = fd.strMap()
		case tagMetaHLC:
			out.MetaHLC = HLC(fd.fixed64())
		case tagTags:
			out.Tags = fd.strMap()
		case tagVersioning:
			out.Versioning = fd.versioning()
		case tagPurged:
			out.Purged = HLC(fd.fixed64())
		case tagBaseHLC:
			out.BaseHLC = HLC(fd.fixed64())
		default:
			continue
		}
		if err := fd.finish(); err != nil {
			d.fail("extension %d: %v", tag, err)
		}
	}
}

// UnmarshalBinary decodes a version record of any known format. On error, v
// is unchanged and the error wraps ErrCorrupt. The decoded version does not
// alias data.
func (v *Version) UnmarshalBinary(data []byte) error {
	d := decoder{b: data, what: "version record"}
	var out Version
	switch format := d.header(kindVersion, formatV2); format {
	case formatV1, formatV2:
		out.Deleted = d.flags(flagDeleted)&flagDeleted != 0
		out.HLC = HLC(d.fixed64())
		out.Key = d.string()
		out.VersionID = d.string()
		out.Size = d.varint()
		out.ETag = d.string()
		out.ModTime = d.time()
		out.Bucket = d.string()
		out.ContentType = d.string()
		out.UserMeta = d.strMap()
		out.Checksums = d.strMap()
		out.EC.DataShards = d.int()
		out.EC.ParityShards = d.int()
		out.EC.BlockSize = d.int()
		out.EC.Checksum = ChecksumAlgo(d.byte())
		// Each shard ID takes at least its length byte.
		if n, ok := d.optLen(1); ok {
			out.Shards = make([]string, n)
			for i := range out.Shards {
				out.Shards[i] = d.string()
			}
		}
		if n, ok := d.optLen(1); ok {
			out.Inline = append(make([]byte, 0, n), d.next(n)...)
		}
		if format >= formatV2 {
			d.extensions(&out)
		}
	}
	if err := d.finish(); err != nil {
		return err
	}
	*v = out
	return nil
}

// DecodeListEntry decodes only the listing fields of a version record: the
// node's listing calls it for every key it passes, so it skips everything
// after ModTime (including Inline) and makes one allocation for the three
// strings it returns. Bucket is not part of a ListEntry. The rest of the
// record is not validated. The entry does not alias rec.
func DecodeListEntry(rec []byte) (ListEntry, error) {
	d := decoder{b: rec, what: "version record"}
	var e ListEntry
	switch d.header(kindVersion, formatV2) {
	case formatV1, formatV2:
		e = d.entryFields(nil, flagDeleted)
	}
	if d.err != nil {
		return ListEntry{}, d.err
	}
	return e, nil
}

// ListEntry returns the listing fields of the version.
func (v *Version) ListEntry() ListEntry {
	return ListEntry{
		Key:       v.Key,
		VersionID: v.VersionID,
		HLC:       v.HLC,
		Deleted:   v.Deleted,
		Size:      v.Size,
		ETag:      v.ETag,
		ModTime:   v.ModTime,
	}
}

// MarshalBinary encodes the bucket record in the current format.
func (bk *Bucket) MarshalBinary() ([]byte, error) {
	return bk.AppendBinary(make([]byte, 0, 24+len(bk.Name)))
}

// AppendBinary appends the encoded bucket record to buf. It fails only for a
// Created time outside the years 1678 to 2262.
func (bk *Bucket) AppendBinary(buf []byte) ([]byte, error) {
	if err := checkTime(bk.Created); err != nil {
		return buf, fmt.Errorf("metadata: encode bucket %s: %w", bk.Name, err)
	}
	b := append(buf, kindBucket, formatV2, boolFlag(bk.Deleted, flagDeleted))
	b = binary.BigEndian.AppendUint64(b, uint64(bk.HLC))
	b = appendString(b, bk.Name)
	b = appendTime(b, bk.Created)
	if bk.Versioning != Unversioned {
		b = appendExt(b, tagBucketVersioning, []byte{byte(bk.Versioning)})
	}
	if bk.Lifecycle != nil {
		f, err := appendLifecycle(nil, bk.Lifecycle)
		if err != nil {
			return buf, fmt.Errorf("metadata: encode bucket %s: %w", bk.Name, err)
		}
		b = appendExt(b, tagBucketLifecycle, f)
	}
	return b, nil
}

// UnmarshalBinary decodes a bucket record of any known format. On error, bk
// is unchanged and the error wraps ErrCorrupt.
func (bk *Bucket) UnmarshalBinary(data []byte) error {
	d := decoder{b: data, what: "bucket record"}
	var out Bucket
	switch format := d.header(kindBucket, formatV2); format {
	case formatV1, formatV2:
		out.Deleted = d.flags(flagDeleted)&flagDeleted != 0
		out.HLC = HLC(d.fixed64())
		out.Name = d.string()
		out.Created = d.time()
		if format >= formatV2 {
			d.bucketExtensions(&out)
		}
	}
	if err := d.finish(); err != nil {
		return err
	}
	*bk = out
	return nil
}

// MarshalBinary encodes the entry on its own, in the current format. Pages of
// entries use EncodeListPage, which is smaller.
func (e *ListEntry) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, 32+len(e.Key)+len(e.VersionID)+len(e.ETag)))
}

// AppendBinary appends the encoded entry to buf. It fails only for a ModTime
// outside the years 1678 to 2262.
func (e *ListEntry) AppendBinary(buf []byte) ([]byte, error) {
	if err := checkTime(e.ModTime); err != nil {
		return buf, fmt.Errorf("metadata: encode list entry %s: %w", e.Key, err)
	}
	if e.Prefix {
		return buf, fmt.Errorf("metadata: encode list entry %s: a common prefix exists only in a list page", e.Key)
	}
	return appendEntry(append(buf, kindEntry, formatV1), e, "", false), nil
}

// UnmarshalBinary decodes an entry of any known format. On error, e is
// unchanged and the error wraps ErrCorrupt.
func (e *ListEntry) UnmarshalBinary(data []byte) error {
	d := decoder{b: data, what: "list entry"}
	var out ListEntry
	switch d.header(kindEntry, formatV1) {
	case formatV1:
		out = d.entryFields(nil, flagDeleted)
	}
	if err := d.finish(); err != nil {
		return err
	}
	*e = out
	return nil
}

// EncodeListPage encodes one page of a listing. Truncated means more entries
// follow the last one. It fails only for a ModTime outside the years 1678 to
// 2262.
func EncodeListPage(entries []ListEntry, truncated bool) ([]byte, error) {
	n := 8
	for i := range entries {
		n += 24 + len(entries[i].Key) + len(entries[i].VersionID) + len(entries[i].ETag)
	}
	return AppendListPage(make([]byte, 0, n), entries, truncated)
}

// AppendListPage is EncodeListPage appending to buf.
func AppendListPage(buf []byte, entries []ListEntry, truncated bool) ([]byte, error) {
	for i := range entries {
		if err := checkTime(entries[i].ModTime); err != nil {
			return buf, fmt.Errorf("metadata: encode list page entry %s: %w", entries[i].Key, err)
		}
	}
	b := append(buf, kindPage, formatV2, boolFlag(truncated, flagTruncated))
	b = binary.AppendUvarint(b, uint64(len(entries)))
	prev := ""
	for i := range entries {
		b = appendEntry(b, &entries[i], prev, true)
		prev = entries[i].Key
	}
	return b, nil
}

// DecodeListPage decodes a page written by EncodeListPage. Errors wrap
// ErrCorrupt. The entries do not alias data; an empty page decodes to a nil
// slice.
func DecodeListPage(data []byte) (entries []ListEntry, truncated bool, err error) {
	d := decoder{b: data, what: "list page"}
	switch format := d.header(kindPage, formatV2); format {
	case formatV1, formatV2:
		known := byte(flagDeleted)
		if format >= formatV2 {
			known |= flagPrefix
		}
		truncated = d.flags(flagTruncated)&flagTruncated != 0
		n := d.count(minEntrySize)
		if n > 0 {
			entries = make([]ListEntry, n)
		}
		first := ""
		prev := &first
		for i := range entries {
			entries[i] = d.entryFields(prev, known)
			prev = &entries[i].Key
		}
	}
	if err := d.finish(); err != nil {
		return nil, false, err
	}
	return entries, truncated, nil
}

// minEntrySize is the smallest encoded page entry: flags, HLC, and one byte
// for each of shared, key suffix, version ID, size, ETag and ModTime.
const minEntrySize = 1 + 8 + 6

// appendEntry writes the entry body. In a page, the key is stored as the
// length of the prefix it shares with prev, the previous entry's key, and the
// rest; a lone entry is written with its whole key.
func appendEntry(b []byte, e *ListEntry, prev string, page bool) []byte {
	b = append(b, boolFlag(e.Deleted, flagDeleted)|boolFlag(e.Prefix, flagPrefix))
	b = binary.BigEndian.AppendUint64(b, uint64(e.HLC))
	if page {
		shared := commonPrefix(prev, e.Key)
		b = binary.AppendUvarint(b, uint64(shared))
		b = appendString(b, e.Key[shared:])
	} else {
		b = appendString(b, e.Key)
	}
	b = appendString(b, e.VersionID)
	b = binary.AppendVarint(b, e.Size)
	b = appendString(b, e.ETag)
	return appendTime(b, e.ModTime)
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func boolFlag(set bool, bit byte) byte {
	if set {
		return bit
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendOptLen(b []byte, n int, present bool) []byte {
	if !present {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

func appendMap(b []byte, m map[string]string) []byte {
	b = appendOptLen(b, len(m), m != nil)
	if len(m) == 0 {
		return b
	}
	var small [16]string // typical maps fit: sorting them then costs no allocation
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, m[k])
	}
	return b
}

func checkTime(t time.Time) error {
	if !t.IsZero() && (t.Before(minNanoTime) || t.After(maxNanoTime)) {
		return fmt.Errorf("time %v outside the encodable range", t)
	}
	return nil
}

// appendTime writes the zero time as 0. A non-zero time at exactly the Unix
// epoch also encodes as 0 and so decodes as the zero time; no real
// timestamp is that instant.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

// decoder reads fields from a record. The first failure is sticky: it
// records an ErrCorrupt-wrapped error, empties the input, and every later
// read returns a zero value, so decoding code reads straight through and
// checks once at the end.
type decoder struct {
	b    []byte
	n    int // bytes consumed, for error messages
	what string
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d: %s", ErrCorrupt, d.what, d.n, fmt.Sprintf(format, args...))
	}
	d.b = nil
}

// header checks the kind marker and returns the format number, or 0 after
// recording an error for a wrong kind or an unknown format.
func (d *decoder) header(kind, newest byte) byte {
	if len(d.b) < 2 {
		d.fail("truncated header")
		return 0
	}
	k, f := d.b[0], d.b[1]
	if k != kind {
		d.fail("kind %q, want %q", k, kind)
		return 0
	}
	if f < formatV1 || f > newest {
		d.fail("unknown format %d", f)
		return 0
	}
	d.advance(2)
	return f
}

func (d *decoder) advance(n int) {
	d.b = d.b[n:]
	d.n += n
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.advance(1)
	return c
}

func (d *decoder) flags(known byte) byte {
	f := d.byte()
	if f&^known != 0 {
		d.fail("unknown flags %#x", f)
		return 0
	}
	return f
}

func (d *decoder) fixed64() uint64 {
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	x := binary.BigEndian.Uint64(d.b)
	d.advance(8)
	return x
}

func (d *decoder) uvarint() uint64 {
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.advance(n)
	return x
}

func (d *decoder) varint() int64 {
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.advance(n)
	return x
}

func (d *decoder) int() int {
	x := d.varint()
	if int64(int(x)) != x {
		d.fail("integer %d overflows int", x)
		return 0
	}
	return int(x)
}

// next returns the next n bytes without copying them.
func (d *decoder) next(n int) []byte {
	if n < 0 || n > len(d.b) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.b))
		return nil
	}
	p := d.b[:n:n]
	d.advance(n)
	return p
}

// length reads a uvarint length that must fit in the remaining input.
func (d *decoder) length() int {
	x := d.uvarint()
	if x > uint64(len(d.b)) {
		d.fail("length %d exceeds the %d bytes left", x, len(d.b))
		return 0
	}
	return int(x)
}

// bytes returns a length-prefixed byte string without copying it.
func (d *decoder) bytes() []byte { return d.next(d.length()) }

func (d *decoder) string() string { return string(d.bytes()) }

// count reads an element count and checks that that many elements of at
// least minSize bytes each could fit in the remaining input.
func (d *decoder) count(minSize int) int {
	x := d.uvarint()
	if x > uint64(len(d.b)/minSize) {
		d.fail("count %d too large for the %d bytes left", x, len(d.b))
		return 0
	}
	return int(x)
}

// optLen reads an optional length (0 = nil, n+1 = n elements) whose elements
// take at least minSize bytes each.
func (d *decoder) optLen(minSize int) (n int, present bool) {
	x := d.uvarint()
	if x == 0 || d.err != nil {
		return 0, false
	}
	x--
	if x > uint64(len(d.b)/minSize) {
		d.fail("count %d too large for the %d bytes left", x, len(d.b))
		return 0, false
	}
	return int(x), true
}

func (d *decoder) time() time.Time {
	ns := d.varint()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// strMap reads a map whose keys must be strictly increasing: that rejects
// duplicates and keeps one encoding per map.
func (d *decoder) strMap() map[string]string {
	// Each pair takes at least two length bytes.
	n, ok := d.optLen(2)
	if !ok {
		return nil
	}
	m := make(map[string]string, n)
	var prev []byte
	for i := range n {
		k := d.bytes()
		v := d.string()
		if d.err != nil {
			return nil
		}
		if i > 0 && string(k) <= string(prev) {
			d.fail("map keys out of order: %q after %q", k, prev)
			return nil
		}
		m[string(k)] = v
		prev = k
	}
	return m
}

// entryFields reads the listing fields shared by version records, list
// entries and list pages. In a page, prev points at the previous entry's key
// (empty for the first) and the key is stored as a shared prefix length and a
// suffix; elsewhere prev is nil and the key is stored whole.
//
// The key, version ID and ETag are carved out of one string, so the three
// cost a single allocation.
func (d *decoder) entryFields(prev *string, known byte) ListEntry {
	var e ListEntry
	f := d.flags(known)
	e.Deleted, e.Prefix = f&flagDeleted != 0, f&flagPrefix != 0
	e.HLC = HLC(d.fixed64())
	var shared int
	if prev != nil {
		x := d.uvarint()
		if x > uint64(len(*prev)) {
			d.fail("shared prefix %d longer than the previous key", x)
			return ListEntry{}
		}
		shared = int(x)
	}
	suffix := d.bytes()
	vid := d.bytes()
	e.Size = d.varint()
	etag := d.bytes()
	e.ModTime = d.time()
	if d.err != nil {
		return ListEntry{}
	}
	var sb strings.Builder
	sb.Grow(shared + len(suffix) + len(vid) + len(etag))
	if prev != nil {
		sb.WriteString((*prev)[:shared])
	}
	sb.Write(suffix)
	sb.Write(vid)
	sb.Write(etag)
	s := sb.String()
	k := shared + len(suffix)
	e.Key = s[:k]
	e.VersionID = s[k : k+len(vid)]
	e.ETag = s[k+len(vid):]
	return e
}

package metadata

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testTime = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func fullVersion() Version {
	return Version{
		Bucket:      "photos",
		Key:         "2025/03/cat.jpg",
		VersionID:   NewVersionID(NewHLC(1_741_964_966_535, 2), "gw7"),
		HLC:         NewHLC(1_741_964_966_535, 2),
		Size:        123456,
		ETag:        "9e107d9d372bb6826bd81d3542a419d6",
		ContentType: "image/jpeg",
		ModTime:     testTime,
		UserMeta:    map[string]string{"owner": "ann", "camera": "x100", "z": ""},
		Checksums:   map[string]string{"crc32c": "yZRlqg==", "sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		EC:          ErasureInfo{DataShards: 4, ParityShards: 2, BlockSize: 1 << 20, Checksum: HighwayHash256},
		Shards:      []string{"n1", "n2", "n3", "n4", "n5", "n6"},
		Inline:      nil,
	}
}

func versionCases() []struct {
	name string
	v    Version
} {
	with := func(f func(v *Version)) Version {
		v := fullVersion()
		f(&v)
		return v
	}
	return []struct {
		name string
		v    Version
	}{
		{"all fields", fullVersion()},
		{"zero value", Version{}},
		{"inline", with(func(v *Version) { v.Inline = []byte("framed fragment\x00\xff") })},
		{"zero-size inline", with(func(v *Version) { v.Inline = []byte{}; v.Size = 0 })},
		{"empty maps and shards", with(func(v *Version) {
			v.UserMeta, v.Checksums, v.Shards = map[string]string{}, map[string]string{}, []string{}
		})},
		{"nil maps and shards", with(func(v *Version) { v.UserMeta, v.Checksums, v.Shards = nil, nil, nil })},
		{"delete marker", Version{Bucket: "b", Key: "k", VersionID: "v", HLC: 77, Deleted: true, ModTime: testTime}},
		{"unicode", with(func(v *Version) {
			v.Key = "日本語/ключ/🔑"
			v.UserMeta = map[string]string{"名前": "値", "ä": "ö"}
		})},
		{"NUL bytes", with(func(v *Version) {
			v.Key = "a\x00b\x00"
			v.Bucket = "b\x00"
			v.UserMeta = map[string]string{"\x00": "\x00", "": "empty name"}
			v.Shards = []string{"", "\x00"}
		})},
		{"negative and huge numbers", with(func(v *Version) {
			v.Size = -1
			v.EC = ErasureInfo{DataShards: -3, ParityShards: 1 << 40, BlockSize: -1 << 40, Checksum: 255}
			v.HLC = ^HLC(0)
		})},
		{"time before 1970", with(func(v *Version) { v.ModTime = time.Date(1901, 1, 1, 0, 0, 0, 1, time.UTC) })},
		{"large inline", with(func(v *Version) { v.Inline = bytes.Repeat([]byte{0xab}, 200_000) })},
	}
}

func TestVersionRoundTrip(t *testing.T) {
	for _, tc := range versionCases() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.v.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary() = %v", err)
			}
			var got Version
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatalf("UnmarshalBinary(MarshalBinary(%+v)) = %v", tc.v, err)
			}
			if !reflect.DeepEqual(got, tc.v) {
				t.Errorf("round trip = %+v; want %+v", got, tc.v)
			}
			if got.IsInline() != tc.v.IsInline() {
				t.Errorf("round trip IsInline() = %v; want %v", got.IsInline(), tc.v.IsInline())
			}

			e, err := DecodeListEntry(b)
			if err != nil {
				t.Fatalf("DecodeListEntry() = %v", err)
			}
			if want := tc.v.ListEntry(); !reflect.DeepEqual(e, want) {
				t.Errorf("DecodeListEntry() = %+v; want %+v", e, want)
			}

			// AppendBinary appends after what is already in the buffer.
			pre := []byte("prefix")
			b2, err := tc.v.AppendBinary(pre)
			if err != nil || !bytes.Equal(b2[:len(pre)], pre) || !bytes.Equal(b2[len(pre):], b) {
				t.Errorf("AppendBinary(%q) = %x, %v; want prefix then %x", pre, b2, err, b)
			}
		})
	}
}

// TestVersionGolden pins the format-1 bytes of one record: if this fails, the
// encoding changed and records already on disk would be misread. Add a new
// format instead (see the migrate-forward rule in encoding.go).
func TestVersionGolden(t *testing.T) {
	v := Version{
		Bucket:      "bk",
		Key:         "a/b",
		VersionID:   "v1",
		HLC:         NewHLC(1000, 1),
		Size:        5,
		ETag:        "e",
		ContentType: "t",
		ModTime:     time.Unix(1, 2).UTC(),
		UserMeta:    map[string]string{"y": "2", "x": "1"},
		Checksums:   map[string]string{},
		EC:          ErasureInfo{DataShards: 2, ParityShards: 1, BlockSize: 64, Checksum: HighwayHash256},
		Shards:      []string{"n1"},
		Inline:      []byte("hi"),
	}
	// Format 1 is what the first release wrote; it must always decode.
	const body = "00" + "0000000003e80001" + "03612f62" + "027631" + "0a" + "0165" +
		"84a8d6b907" + "02626b" + "0174" + "03" + "017801310179" + "0132" + "01" +
		"04" + "02" + "8001" + "01" + "02" + "026e31" + "03" + "6869"
	v1, _ := hex.DecodeString("5601" + body)
	var old Version
	if err := old.UnmarshalBinary(v1); err != nil || !reflect.DeepEqual(old, v) {
		t.Errorf("UnmarshalBinary(format 1) = %+v, %v; want %+v", old, err, v)
	}
	// Format 2 adds tagged extension fields after Inline: here Hints.
	v.Hints = []string{"", "n9"}
	const golden = "5602" + body + "01" + "05" + "03" + "00" + "026e39"
	b, err := v.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != golden {
		t.Errorf("MarshalBinary() = %s; want %s", got, golden)
	}
	want, _ := hex.DecodeString(golden)
	var got Version
	if err := got.UnmarshalBinary(want); err != nil || !reflect.DeepEqual(got, v) {
		t.Errorf("UnmarshalBinary(golden) = %+v, %v; want %+v", got, err, v)
	}
}

func TestBucketRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		b    Bucket
	}{
		{"zero", Bucket{}},
		{"live", Bucket{Name: "photos", Created: testTime, HLC: NewHLC(5, 5)}},
		{"tombstone", Bucket{Name: "gone", Created: testTime, HLC: 9, Deleted: true}},
		{"unicode and NUL", Bucket{Name: "ü\x00", Created: testTime}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.b.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got Bucket
			if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got, tc.b) {
				t.Errorf("round trip = %+v, %v; want %+v", got, err, tc.b)
			}
		})
	}
	// Format 2 since buckets gained Versioning; without it set, the body
	// is format 1's.
	const golden = "4202" + "01" + "0000000000000009" + "0467" + "6f6e65" + "00"
	b, _ := (&Bucket{Name: "gone", HLC: 9, Deleted: true}).MarshalBinary()
	if got := hex.EncodeToString(b); got != golden {
		t.Errorf("bucket MarshalBinary() = %s; want %s", got, golden)
	}
}

func entryCases() []ListEntry {
	return []ListEntry{
		{Key: "a", VersionID: "v1", HLC: 1, Size: 10, ETag: "e1", ModTime: testTime},
		{Key: "a/b/c", VersionID: "v2", HLC: 2, Deleted: true, ModTime: testTime},
		{Key: "a/b/d", VersionID: "v3", HLC: 3, Size: 1 << 40, ETag: "e3"},
		{Key: "a/b/d\x00", HLC: 4},
		{Key: "b", HLC: 5},
		{Key: "日本", HLC: 6, Size: -1},
		{Key: "", HLC: 7}, // out of order on purpose: pages must not assume sorting
		{Key: "a/b/d", VersionID: "v3", HLC: 3},
	}
}

func TestListEntryRoundTrip(t *testing.T) {
	for _, e := range append(entryCases(), ListEntry{}) {
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got ListEntry
		if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got, e) {
			t.Errorf("round trip of %+v = %+v, %v", e, got, err)
		}
	}
}

func TestListPageRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		entries   []ListEntry
		truncated bool
	}{
		{"empty", nil, false},
		{"empty truncated", nil, true},
		{"one", entryCases()[:1], true},
		{"many", entryCases(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeListPage(tc.entries, tc.truncated)
			if err != nil {
				t.Fatal(err)
			}
			got, trunc, err := DecodeListPage(b)
			if err != nil || trunc != tc.truncated || !reflect.DeepEqual(got, tc.entries) {
				t.Errorf("DecodeListPage(EncodeListPage(%+v, %v)) = %+v, %v, %v", tc.entries, tc.truncated, got, trunc, err)
			}
		})
	}
}

func TestListPageSharesPrefixes(t *testing.T) {
	var entries []ListEntry
	for i := range 100 {
		entries = append(entries, ListEntry{Key: fmt.Sprintf("logs/2025/03/14/server-%04d.gz", i), HLC: HLC(i + 1)})
	}
	b, err := EncodeListPage(entries, false)
	if err != nil {
		t.Fatal(err)
	}
	// Each entry: flags + HLC + shared + 8-byte suffix + 4 length bytes.
	if max := 2 + 2 + 100*(1+8+1+1+8+3) + 30; len(b) > max {
		t.Errorf("EncodeListPage of 100 similar keys = %d bytes; want at most %d", len(b), max)
	}
}

func TestMapEncodingDeterministic(t *testing.T) {
	v := fullVersion()
	v.UserMeta = map[string]string{}
	for i := range 50 {
		v.UserMeta[fmt.Sprint("k", i)] = fmt.Sprint(i)
	}
	first, _ := v.MarshalBinary()
	for range 20 {
		if b, _ := v.MarshalBinary(); !bytes.Equal(b, first) {
			t.Fatalf("MarshalBinary() differs between calls: %x vs %x", b, first)
		}
	}
}

func TestEpochTimeDecodesAsZero(t *testing.T) {
	// Documented limit: the one instant that shares the zero time's encoding.
	e := ListEntry{ModTime: time.Unix(0, 0)}
	b, _ := e.MarshalBinary()
	var got ListEntry
	if err := got.UnmarshalBinary(b); err != nil || !got.ModTime.IsZero() {
		t.Errorf("round trip of the epoch = %v, %v; want zero time", got.ModTime, err)
	}
}

func TestMarshalTimeOutOfRange(t *testing.T) {
	for _, tm := range []time.Time{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)} {
		v := Version{ModTime: tm}
		if b, err := v.MarshalBinary(); err == nil {
			t.Errorf("Version{ModTime: %v}.MarshalBinary() = %x, nil; want error", tm, b)
		}
		bk := Bucket{Created: tm}
		if b, err := bk.MarshalBinary(); err == nil {
			t.Errorf("Bucket{Created: %v}.MarshalBinary() = %x, nil; want error", tm, b)
		}
		if b, err := EncodeListPage([]ListEntry{{ModTime: tm}}, false); err == nil {
			t.Errorf("EncodeListPage(ModTime %v) = %x, nil; want error", tm, b)
		}
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	v := fullVersion()
	v.Inline = []byte("inline data")
	b, _ := v.MarshalBinary()
	var got Version
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	e, _ := DecodeListEntry(b)
	for i := range b {
		b[i] = 'X'
	}
	if !reflect.DeepEqual(got, v) {
		t.Errorf("decoded version changed with its input: %+v", got)
	}
	if e != v.ListEntry() {
		t.Errorf("decoded list entry changed with its input: %+v", e)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	v := fullVersion()
	v.Inline = []byte("abc")
	good, _ := v.MarshalBinary()
	patch := func(i int, c byte) []byte {
		b := bytes.Clone(good)
		b[i] = c
		return b
	}
	// Offsets into the golden layout: kind 0, format 1, flags 2, HLC 3..10,
	// key length 11.
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"wrong kind", patch(0, 'B')},
		{"format 0", patch(1, 0)},
		{"unknown future format", patch(1, 3)},
		{"unknown flag", patch(2, 0x80)},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"key length beyond input", patch(11, 0x7f)},
		{"huge uvarint length", append([]byte{'V', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"varint overflow", append([]byte{'V', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, bytes.Repeat([]byte{0xff}, 11)...)},
	}
	hostileMap := func(keys ...string) []byte {
		// A zero version written by hand, with UserMeta's pairs in the given
		// order. UserMeta's optional length is at offset 18.
		h := []byte{'V', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0} // kind, format, flags, HLC
		h = append(h, 0, 0, 0, 0, 0, 0, 0)             // Key, VersionID, Size, ETag, ModTime, Bucket, ContentType
		h = append(h, byte(len(keys)+1))
		for _, k := range keys {
			h = appendString(h, k)
			h = appendString(h, "v")
		}
		return append(h, 0, 0, 0, 0, 1, 0, 0) // Checksums nil, EC, Shards nil, Inline nil
	}
	if err := new(Version).UnmarshalBinary(hostileMap("a", "b")); err != nil {
		t.Fatalf("hand-built record with ordered map keys = %v; the test's layout is wrong", err)
	}
	tests = append(tests,
		struct {
			name string
			in   []byte
		}{"map keys out of order", hostileMap("b", "a")},
		struct {
			name string
			in   []byte
		}{"duplicate map key", hostileMap("a", "a")},
		struct {
			name string
			in   []byte
		}{"map count beyond input", append(hostileMap()[:18], 0x7f)},
	)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Version{Key: "unchanged"}
			if err := v.UnmarshalBinary(tc.in); !errors.Is(err, ErrCorrupt) {
				t.Errorf("UnmarshalBinary(%x) = %v; want ErrCorrupt", tc.in, err)
			}
			if v.Key != "unchanged" {
				t.Errorf("UnmarshalBinary(%x) changed the version on error: %+v", tc.in, v)
			}
		})
	}
}

// TestDecodeTruncated cuts every record kind at every length: each prefix
// must fail with ErrCorrupt, never panic.
func TestDecodeTruncated(t *testing.T) {
	v := fullVersion()
	v.Inline = []byte("abc")
	vb, _ := v.MarshalBinary()
	bb, _ := (&Bucket{Name: "photos", Created: testTime, HLC: 3}).MarshalBinary()
	eb, _ := (&entryCases()[0]).MarshalBinary()
	pb, _ := EncodeListPage(entryCases(), true)
	decoders := []struct {
		name   string
		rec    []byte
		decode func([]byte) error
	}{
		{"version", vb, func(b []byte) error { return new(Version).UnmarshalBinary(b) }},
		{"bucket", bb, func(b []byte) error { return new(Bucket).UnmarshalBinary(b) }},
		{"entry", eb, func(b []byte) error { return new(ListEntry).UnmarshalBinary(b) }},
		{"page", pb, func(b []byte) error { _, _, err := DecodeListPage(b); return err }},
	}
	for _, dc := range decoders {
		if err := dc.decode(dc.rec); err != nil {
			t.Fatalf("%s: decoding the whole record = %v", dc.name, err)
		}
		for n := range len(dc.rec) {
			if err := dc.decode(dc.rec[:n]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: decode of the first %d of %d bytes = %v; want ErrCorrupt", dc.name, n, len(dc.rec), err)
			}
		}
		// DecodeListEntry stops after ModTime, so only cuts before that fail.
	}
	listEnd := bytes.Index(vb, []byte(v.Bucket)) - 1 // the Bucket length byte follows ModTime
	for n := range listEnd {
		if _, err := DecodeListEntry(vb[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeListEntry of the first %d bytes = %v; want ErrCorrupt", n, err)
		}
	}
	if _, err := DecodeListEntry(vb[:listEnd]); err != nil {
		t.Errorf("DecodeListEntry of the listing fields alone = %v; want nil", err)
	}
}

func TestDecodeWrongKind(t *testing.T) {
	bb, _ := (&Bucket{Name: "x"}).MarshalBinary()
	if _, err := DecodeListEntry(bb); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "kind") {
		t.Errorf("DecodeListEntry(bucket record) = %v; want ErrCorrupt about the kind", err)
	}
	if _, _, err := DecodeListPage(bb); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeListPage(bucket record) = %v; want ErrCorrupt", err)
	}
}

func FuzzUnmarshalVersion(f *testing.F) {
	for _, tc := range versionCases() {
		if len(tc.v.Inline) > 1000 {
			continue
		}
		b, _ := tc.v.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{'V', 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, lerr := DecodeListEntry(data)
		var v Version
		if err := v.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("UnmarshalBinary(%x) = %v; want ErrCorrupt", data, err)
			}
			return
		}
		if lerr != nil || e != v.ListEntry() {
			t.Fatalf("DecodeListEntry(%x) = %+v, %v; want %+v", data, e, lerr, v.ListEntry())
		}
		b, err := v.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(%+v) = %v", v, err)
		}
		var w Version
		if err := w.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(MarshalBinary(%+v)) = %v", v, err)
		}
		if !reflect.DeepEqual(w, v) {
			t.Fatalf("re-decoded %+v; want %+v", w, v)
		}
	})
}

func FuzzDecodeListPage(f *testing.F) {
	b, _ := EncodeListPage(entryCases(), true)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, trunc, err := DecodeListPage(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeListPage(%x) = %v; want ErrCorrupt", data, err)
			}
			return
		}
		b, err := EncodeListPage(entries, trunc)
		if err != nil {
			t.Fatal(err)
		}
		again, trunc2, err := DecodeListPage(b)
		if err != nil || trunc2 != trunc || !reflect.DeepEqual(again, entries) {
			t.Fatalf("re-decoded %+v, %v, %v; want %+v, %v", again, trunc2, err, entries, trunc)
		}
	})
}

func BenchmarkVersionMarshal(b *testing.B) {
	v := fullVersion()
	buf := make([]byte, 0, 512)
	for b.Loop() {
		var err error
		if buf, err = v.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkVersionUnmarshal(b *testing.B) {
	v := fullVersion()
	rec, _ := v.MarshalBinary()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		var w Version
		if err := w.UnmarshalBinary(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeListEntry(b *testing.B) {
	v := fullVersion()
	v.Inline = bytes.Repeat([]byte{1}, 64<<10)
	rec, _ := v.MarshalBinary()
	for b.Loop() {
		if _, err := DecodeListEntry(rec); err != nil {
			b.Fatal(err)
		}
	}
}

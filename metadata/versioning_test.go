package metadata

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestVersioningFieldsRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		v    Version
	}{
		{"enabled", Version{Bucket: "b", Key: "k", VersionID: "v1", HLC: 10, Versioning: VersioningEnabled}},
		{"suspended marker", Version{Bucket: "b", Key: "k", VersionID: "v2", HLC: 11, Deleted: true, Versioning: VersioningSuspended}},
		{"purge tombstone", Version{Bucket: "b", Key: "k", VersionID: "v3", HLC: 12, Versioning: VersioningEnabled, Purged: 40}},
		{"current again", Version{Bucket: "b", Key: "k", VersionID: "v4", HLC: 50, BaseHLC: 13, Versioning: VersioningEnabled}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.v.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got Version
			if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got, tc.v) {
				t.Errorf("UnmarshalBinary(MarshalBinary(%+v)) = %+v, %v", tc.v, got, err)
			}
		})
	}
}

// TestVersioningGolden pins the bytes of the versioning extension fields.
func TestVersioningGolden(t *testing.T) {
	v := Version{Bucket: "b", Key: "k", VersionID: "v", HLC: 1, Versioning: VersioningEnabled, Purged: 2, BaseHLC: 3}
	b, _ := v.MarshalBinary()
	const tail = "0c0101" + "0d080000000000000002" + "0e080000000000000003"
	if got := hex.EncodeToString(b); !bytes.HasSuffix([]byte(got), []byte(tail)) {
		t.Errorf("MarshalBinary() = %s; want it to end in %s", got, tail)
	}
	bk := Bucket{Name: "gone", HLC: 9, Versioning: VersioningSuspended}
	bb, _ := bk.MarshalBinary()
	const golden = "4202" + "00" + "0000000000000009" + "0467" + "6f6e65" + "00" + "010102"
	if got := hex.EncodeToString(bb); got != golden {
		t.Errorf("bucket MarshalBinary() = %s; want %s", got, golden)
	}
	var back Bucket
	if err := back.UnmarshalBinary(bb); err != nil || back != bk {
		t.Errorf("bucket round trip = %+v, %v; want %+v", back, err, bk)
	}
}

func TestBucketFormat1StillDecodes(t *testing.T) {
	old, _ := hex.DecodeString("4201" + "01" + "0000000000000009" + "0467" + "6f6e65" + "00")
	var b Bucket
	if err := b.UnmarshalBinary(old); err != nil || b.Name != "gone" || !b.Deleted || b.Versioning != Unversioned {
		t.Errorf("UnmarshalBinary(format 1) = %+v, %v; want gone, deleted, unversioned", b, err)
	}
}

func TestUnknownVersioningIsCorrupt(t *testing.T) {
	bb, _ := (&Bucket{Name: "x", Versioning: VersioningEnabled}).MarshalBinary()
	bb[len(bb)-1] = 9
	if err := new(Bucket).UnmarshalBinary(bb); !errors.Is(err, ErrCorrupt) {
		t.Errorf("UnmarshalBinary(state 9) = %v; want ErrCorrupt", err)
	}
}

func TestVersionPredicates(t *testing.T) {
	cases := []struct {
		v                      Version
		null, marker, retained bool
		s3id                   string
	}{
		{Version{VersionID: "a"}, true, false, true, "null"},
		{Version{VersionID: "a", Deleted: true}, true, false, false, "null"},
		{Version{VersionID: "a", Deleted: true, Versioning: VersioningSuspended}, true, true, true, "null"},
		{Version{VersionID: "a", Versioning: VersioningEnabled}, false, false, true, "a"},
		{Version{VersionID: "a", Deleted: true, Versioning: VersioningEnabled}, false, true, true, "a"},
		{Version{VersionID: "a", Versioning: VersioningEnabled, Purged: 3}, false, false, false, "a"},
	}
	for _, tc := range cases {
		v := tc.v
		if v.IsNull() != tc.null || v.IsDeleteMarker() != tc.marker || v.Retained() != tc.retained || v.S3VersionID() != tc.s3id {
			t.Errorf("%+v: IsNull, IsDeleteMarker, Retained, S3VersionID = %v %v %v %q; want %v %v %v %q", v,
				v.IsNull(), v.IsDeleteMarker(), v.Retained(), v.S3VersionID(), tc.null, tc.marker, tc.retained, tc.s3id)
		}
	}
}

func TestParseVersioning(t *testing.T) {
	for _, s := range []Versioning{VersioningEnabled, VersioningSuspended} {
		if got, ok := ParseVersioning(s.String()); !ok || got != s {
			t.Errorf("ParseVersioning(%q) = %v, %v; want %v, true", s.String(), got, ok, s)
		}
	}
	for _, bad := range []string{"", "enabled", "Disabled"} {
		if _, ok := ParseVersioning(bad); ok {
			t.Errorf("ParseVersioning(%q) ok; want refused", bad)
		}
	}
}

func TestVersionRecordKeyOrder(t *testing.T) {
	type ent struct {
		key string
		h   HLC
		id  string
	}
	// In the order S3 lists them: key, then newest first.
	want := []ent{
		{"a", 30, "x"}, {"a", 20, "a"}, {"a", 20, "b"}, {"a", 10, "z"},
		{"a\x00", 50, "x"}, {"a\x00b", 1, "x"}, {"a\x01", 9, "x"}, {"ab", 5, "x"},
	}
	var keys [][]byte
	for _, e := range want {
		keys = append(keys, VersionRecordKey("bk", e.key, e.h, e.id))
	}
	shuffled := slices.Clone(keys)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, bytes.Compare)
	for i := range keys {
		if !bytes.Equal(shuffled[i], keys[i]) {
			t.Fatalf("sorted version keys differ at %d: %q; want %q", i, shuffled[i], keys[i])
		}
		b, k, h, id, ok := SplitVersionRecordKey(keys[i])
		if !ok || b != "bk" || k != want[i].key || h != want[i].h || id != want[i].id {
			t.Errorf("SplitVersionRecordKey(%q) = %q %q %v %q %v; want bk %q %v %q", keys[i], b, k, h, id, ok, want[i].key, want[i].h, want[i].id)
		}
		if !bytes.HasPrefix(keys[i], KeyVersionsPrefix("bk", want[i].key)) || !bytes.HasPrefix(keys[i], VersionsPrefix("bk", "a")) {
			t.Errorf("key %q lacks its prefixes", keys[i])
		}
	}
	if bytes.HasPrefix(VersionRecordKey("bk", "a\x00b", 1, "x"), KeyVersionsPrefix("bk", "a")) {
		t.Errorf("the versions of key %q share the prefix of key %q", "a\x00b", "a")
	}
	for _, bad := range []string{"o/bk/a", "v/bk/a", "v/bk/a\x00\x01short", "v//a\x00\x0112345678", "v/bk/a\x00\x02xxxxxxxx"} {
		if _, _, _, _, ok := SplitVersionRecordKey([]byte(bad)); ok {
			t.Errorf("SplitVersionRecordKey(%q) ok; want refused", bad)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	a := &Version{VersionID: "b", HLC: 50, BaseHLC: 10}
	b := &Version{VersionID: "a", HLC: 20}
	c := &Version{VersionID: "c", HLC: 20}
	if CompareVersions(b, a) >= 0 || CompareVersions(b, c) >= 0 || CompareVersions(a, a) != 0 {
		t.Errorf("CompareVersions: want b before c before a (slot HLC 10)")
	}
}

func TestSmallStreamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    Version
		want bool
	}{
		{"streamed, at the limit", Version{Size: 100}, true},
		{"streamed, over the limit", Version{Size: 101}, false},
		{"empty", Version{Size: 0}, false},
		{"inline", Version{Size: 10, Inline: []byte{1}}, false},
		{"multipart", Version{Size: 10, Parts: []Part{{Number: 1, Size: 10}}}, false},
		{"tombstone", Version{Size: 10, Deleted: true}, false},
	}
	for _, tc := range tests {
		if got := tc.v.SmallStreamed(100); got != tc.want {
			t.Errorf("%s: SmallStreamed(100) = %v; want %v", tc.name, got, tc.want)
		}
	}
}

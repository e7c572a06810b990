package metadata

import (
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestListPagePrefixEntries(t *testing.T) {
	entries := []ListEntry{
		{Key: "a/1", VersionID: "v", HLC: 7, Size: 3, ETag: "e", ModTime: time.Unix(5, 0).UTC()},
		{Key: "a/", Prefix: true},
		{Key: "b/0", VersionID: "w", HLC: 8, Deleted: true},
		{Key: "c"},
	}
	b, err := EncodeListPage(entries, true)
	if err != nil {
		t.Fatalf("EncodeListPage: %v", err)
	}
	got, trunc, err := DecodeListPage(b)
	if err != nil || !trunc || !reflect.DeepEqual(got, entries) {
		t.Errorf("DecodeListPage(EncodeListPage(%+v)) = %+v, %v, %v; want the same, true, nil", entries, got, trunc, err)
	}
}

func TestListPageGolden(t *testing.T) {
	// One Prefix entry "p/": flags 2, HLC 0, shared 0, "p/", then empty
	// version ID, size 0, ETag and ModTime 0.
	const entry = "02" + "0000000000000000" + "00" + "02702f" + "00" + "00" + "00" + "00"
	for _, tc := range []struct {
		hex  string
		want []ListEntry
		err  bool
	}{
		{"5002" + "00" + "01" + entry, []ListEntry{{Key: "p/", Prefix: true}}, false},
		// Format 1 predates the Prefix flag: it is unknown there.
		{"5001" + "00" + "01" + entry, nil, true},
		{"5001" + "01" + "01" + "01" + "0000000000000009" + "00" + "016b" + "00" + "00" + "00" + "00",
			[]ListEntry{{Key: "k", HLC: 9, Deleted: true}}, false},
		{"5003" + "00" + "00", nil, true},
	} {
		b, _ := hex.DecodeString(tc.hex)
		got, _, err := DecodeListPage(b)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DecodeListPage(%s) = %+v, %v; want %+v, error %v", tc.hex, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeListPage(%s) error %v; want ErrCorrupt", tc.hex, err)
		}
	}
	b, err := EncodeListPage([]ListEntry{{Key: "p/", Prefix: true}}, false)
	if got, want := hex.EncodeToString(b), "5002"+"00"+"01"+entry; err != nil || got != want {
		t.Errorf("EncodeListPage(prefix p/) = %s, %v; want %s", got, err, want)
	}
}

func TestListEntryRefusesPrefix(t *testing.T) {
	e := ListEntry{Key: "p/", Prefix: true}
	if b, err := e.MarshalBinary(); err == nil {
		t.Errorf("MarshalBinary(%+v) = %x, nil; want error", e, b)
	}
}

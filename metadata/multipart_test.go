package metadata

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func TestMultipartVersionRoundTrip(t *testing.T) {
	v := Version{
		Bucket: "b", Key: "k", VersionID: "v", HLC: NewHLC(7, 1), Size: 12, ETag: "abc-2",
		ModTime: time.Unix(5, 0).UTC(),
		EC:      ErasureInfo{DataShards: 4, ParityShards: 2, BlockSize: 1 << 20, Checksum: HighwayHash256},
		Shards:  []string{"n1", "n2"},
		Parts:   []Part{{Number: 1, Size: 5, ETag: "e1", StorageID: "u.1.x"}, {Number: 3, Size: 7, ETag: "e3", StorageID: "u.3.y"}},
		Headers: map[string]string{"Cache-Control": "no-cache"},
		Tags:    map[string]string{"a": "1"},
	}
	b, err := v.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Version
	if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got, v) {
		t.Errorf("UnmarshalBinary(MarshalBinary(%+v)) = %+v, %v", v, got, err)
	}
	if e, err := DecodeListEntry(b); err != nil || e != v.ListEntry() {
		t.Errorf("DecodeListEntry = %+v, %v; want %+v", e, err, v.ListEntry())
	}
	// Truncation inside the parts field is an error. (Dropping whole
	// extension fields is not detectable by design: they are optional.)
	for i := len(b) - 1; i > len(b)-10; i-- {
		var w Version
		if err := w.UnmarshalBinary(b[:i]); err == nil && reflect.DeepEqual(w, v) {
			t.Errorf("UnmarshalBinary(first %d of %d bytes) decoded the whole version", i, len(b))
		}
	}
}

func TestUploadRecordsRoundTrip(t *testing.T) {
	u := Upload{
		Bucket: "b", Key: "a/b\x00c", UploadID: "id", HLC: 9, Created: time.Unix(3, 4).UTC(), Done: true,
		ContentType: "text/plain", UserMeta: map[string]string{"x": "y"}, Headers: map[string]string{},
		ChecksumAlgo: "CRC32",
		EC:           ErasureInfo{DataShards: 2, ParityShards: 1, BlockSize: 64, Checksum: HighwayHash256},
		Shards:       []string{"n1", "n2", "n3"},
	}
	b, err := u.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var gotU Upload
	if err := gotU.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(gotU, u) {
		t.Errorf("upload round trip = %+v, %v; want %+v", gotU, err, u)
	}
	p := UploadPart{Part: Part{Number: 10000, Size: 5 << 20, ETag: "e", StorageID: "id.10000.z"}, HLC: 3, ModTime: time.Unix(8, 0).UTC(), Checksums: map[string]string{"CRC32": "AAAAAA=="}}
	b, err = p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var gotP UploadPart
	if err := gotP.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(gotP, p) {
		t.Errorf("part round trip = %+v, %v; want %+v", gotP, err, p)
	}
	if err := gotP.UnmarshalBinary(append(b, 0)); err == nil {
		t.Errorf("part with a trailing byte decoded")
	}
	if err := gotU.UnmarshalBinary(b); err == nil {
		t.Errorf("part record decoded as an upload")
	}
}

func TestPartKeysSort(t *testing.T) {
	a := PartRecordKey("b", "k", "u", 9)
	z := PartRecordKey("b", "k", "u", 10)
	if bytes.Compare(a, z) >= 0 || !bytes.HasPrefix(a, PartsPrefix("b", "k", "u")) {
		t.Errorf("PartRecordKey(9) = %q, PartRecordKey(10) = %q; want ordered under the upload's prefix", a, z)
	}
	if k := UploadRecordKey("b", "k", "u"); !bytes.HasPrefix(k, UploadPrefix("b", "k")) {
		t.Errorf("UploadRecordKey = %q; want prefix %q", k, UploadPrefix("b", "k"))
	}
}

func FuzzUnmarshalUpload(f *testing.F) {
	u := Upload{Bucket: "b", Key: "k", UploadID: "u", Shards: []string{"n"}}
	b, _ := u.MarshalBinary()
	f.Add(b)
	p := UploadPart{Part: Part{Number: 1}}
	b, _ = p.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var u Upload
		if u.UnmarshalBinary(data) == nil {
			if _, err := u.MarshalBinary(); err != nil {
				t.Fatalf("decoded upload does not encode: %v", err)
			}
		}
		var p UploadPart
		_ = p.UnmarshalBinary(data)
	})
}

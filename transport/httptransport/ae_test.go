package httptransport

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"cairn/metadata"
	"cairn/transport"
)

func TestDigestsRoundTrip(t *testing.T) {
	t.Parallel()
	in := map[int]transport.PGDigest{0: {Records: 1, Sum: [32]byte{1, 2, 3}}, 255: {Records: 1 << 40, Sum: [32]byte{31: 9}}, 70000: {}}
	got, err := decodeDigests(encodeDigests(in))
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Errorf("decodeDigests(encodeDigests(%v)) = %v, %v; want the input", in, got, err)
	}
	enc := encodeDigests(in)
	for _, cut := range []int{1, 3, len(enc) - 1} {
		if _, err := decodeDigests(enc[:cut]); !errors.Is(err, transport.ErrCorrupt) {
			t.Errorf("decodeDigests(first %d bytes) = %v; want ErrCorrupt", cut, err)
		}
	}
}

func TestPGRecordsRequestRoundTrip(t *testing.T) {
	t.Parallel()
	in := transport.PGRecordsRequest{PGCount: 256, PGs: []int{0, 7, 255}, After: metadata.ObjectKey{Bucket: "b", Key: "k/\x00x"}, Limit: 50}
	q, body := pgRecordsQuery(in)
	got, err := parsePGRecordsRequest(q, body)
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Errorf("parsePGRecordsRequest(pgRecordsQuery(%+v)) = %+v, %v; want the input", in, got, err)
	}
	if _, err := parsePGRecordsRequest(q, []byte{0x80}); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("parsePGRecordsRequest(truncated pg list) = %v; want ErrInvalid", err)
	}
}

func TestPGRecordsPageRoundTrip(t *testing.T) {
	t.Parallel()
	v := &metadata.Version{Bucket: "b", Key: "k", VersionID: "v1", HLC: 5, Size: 3, ModTime: time.Unix(1700000000, 0).UTC(),
		EC:     metadata.ErasureInfo{DataShards: 2, ParityShards: 1, BlockSize: 4096, Checksum: metadata.HighwayHash256},
		Shards: []string{"a", "b", "c"}, Inline: []byte{}}
	tomb := &metadata.Version{Bucket: "b", Key: "t", VersionID: "v2", HLC: 6, Deleted: true, ModTime: time.Unix(1700000000, 0).UTC()}
	in := &transport.PGRecordsPage{Records: []*metadata.Version{v, tomb}, Truncated: true}
	b, err := encodePGRecords(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePGRecords(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Truncated || len(got.Records) != 2 || got.Records[0].Key != "k" || !got.Records[0].IsInline() || !got.Records[1].Deleted {
		t.Errorf("decodePGRecords(encodePGRecords(page)) = %+v; want the page, inline marker kept", got)
	}
	if _, err := decodePGRecords(nil); !errors.Is(err, transport.ErrCorrupt) {
		t.Errorf("decodePGRecords(empty) = %v; want ErrCorrupt", err)
	}
}

package httptransport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"cairn/metadata"
	"cairn/transport"
)

// The node decodes batch request bodies from the network: any bytes give
// either the items they encode or ErrInvalid, never a panic, and what
// decodes encodes back to the same items.
func FuzzBatchBodies(f *testing.F) {
	f.Add(encodeKeys([]metadata.ObjectKey{{Bucket: "b", Key: "k"}, {Bucket: "photos", Key: strings.Repeat("x", 300)}}))
	f.Add(encodeRefs([]transport.ShardRef{{Bucket: "b", Key: "k", VersionID: "v", Index: 3}}))
	f.Add([]byte{0x80, 0x80, 0x80})
	f.Add(append(binary.AppendUvarint(nil, 4097), 'a'))
	f.Fuzz(func(t *testing.T, body []byte) {
		roundTrip(t, "keys", body, readKeys, encodeKeys)
		roundTrip(t, "refs", body, readRefs, encodeRefs)
		if _, err := readBatch(bytes.NewReader(body)); err != nil && !errors.Is(err, transport.ErrInvalid) {
			t.Fatalf("readBatch: %v; want ErrInvalid", err)
		}
	})
}

// roundTrip checks that read decodes body into items that encode back to
// the same items, or refuses it as ErrInvalid.
func roundTrip[T comparable](t *testing.T, what string, body []byte, read func(io.Reader) ([]T, error), encode func([]T) []byte) {
	t.Helper()
	items, err := read(bytes.NewReader(body))
	switch {
	case err != nil && !errors.Is(err, transport.ErrInvalid):
		t.Fatalf("read %s: %v; want ErrInvalid", what, err)
	case err == nil:
		again, err := read(bytes.NewReader(encode(items)))
		if err != nil || !slices.Equal(again, items) {
			t.Fatalf("%s %v re-encoded decode as %v, %v", what, items, again, err)
		}
	}
}

// A key, bucket or version ID in a batch body may be 4 KiB long, not
// longer. (Kept out of the fuzz corpus: seeds that long stall the fuzzer.)
func TestReadStringBound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int
		want error
	}{{0, nil}, {1, nil}, {4095, nil}, {4096, nil}, {4097, transport.ErrInvalid}} {
		want := []metadata.ObjectKey{{Bucket: "b", Key: strings.Repeat("k", tc.n)}, {Bucket: "c", Key: "d"}}
		keys, err := readKeys(bytes.NewReader(encodeKeys(want)))
		if !errors.Is(err, tc.want) {
			t.Errorf("key of %d bytes: %v; want %v", tc.n, err, tc.want)
		}
		if err == nil && !slices.Equal(keys, want) {
			t.Errorf("key of %d bytes decoded as %d keys, first of %d bytes", tc.n, len(keys), len(keys[0].Key))
		}
	}
}

package gateway

import (
	"encoding/xml"
	"testing"
	"time"

	"cairn/internal/s3api"
)

func TestAppendListV2MatchesMarshal(t *testing.T) {
	mod := s3api.Timestamp(time.Date(2026, 1, 2, 3, 4, 5, 678900000, time.FixedZone("x", 3600)))
	owner := &s3api.Owner{ID: "id<1>", DisplayName: "me & you"}
	for _, tc := range []struct {
		name string
		res  s3api.ListBucketResultV2
	}{
		{"empty", s3api.ListBucketResultV2{Name: "b"}},
		{"full", s3api.ListBucketResultV2{Name: "b", Prefix: "p/", Delimiter: "/", MaxKeys: 1000, EncodingType: "url",
			KeyCount: 3, ContinuationToken: "tok", NextContinuationToken: "next", StartAfter: "a", IsTruncated: true,
			Contents: []s3api.Object{
				{Key: "p/a\"'&<>\t\n\r\x01\xff€", LastModified: mod, ETag: `"abc"`, Size: 12, StorageClass: "STANDARD"},
				{Key: "p/b", ETag: `"d"`, Size: -1, StorageClass: "STANDARD", Owner: owner},
			},
			CommonPrefixes: []s3api.CommonPrefix{{Prefix: "p/c/"}, {Prefix: "p/]]>/"}}}},
	} {
		want, err := xml.Marshal(&tc.res)
		if err != nil {
			t.Fatalf("%s: xml.Marshal: %v", tc.name, err)
		}
		got, err := appendListV2(nil, &tc.res)
		if err != nil || string(got) != string(want) {
			t.Errorf("appendListV2(%s) = %s, %v; want %s", tc.name, got, err, want)
		}
	}
}

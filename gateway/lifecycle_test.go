package gateway

import (
	"encoding/xml"
	"reflect"
	"testing"

	"cairn/internal/s3api"
)

// FuzzLifecycleRoundTrip feeds arbitrary PutBucketLifecycleConfiguration
// bodies: a configuration the gateway accepts must come back from
// GetBucketLifecycleConfiguration as a document that, put again, stores
// the same rules, or a client that reads, edits and writes the
// configuration back would change rules it never touched.
func FuzzLifecycleRoundTrip(f *testing.F) {
	for _, body := range []string{
		`<LifecycleConfiguration><Rule><ID>a</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule></LifecycleConfiguration>`,
		`<LifecycleConfiguration><Rule><Filter><And><Prefix>p</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>j</Key><Value></Value></Tag></And></Filter><Status>Disabled</Status><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule></LifecycleConfiguration>`,
		`<LifecycleConfiguration><Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule><Rule><Prefix></Prefix><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>`,
		`<LifecycleConfiguration><Rule><Filter><And><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Date>2030-01-01T05:00:00+05:00</Date></Expiration></Rule></LifecycleConfiguration>`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg, err := s3api.DecodeLifecycleConfiguration(body)
		if err != nil {
			return
		}
		stored, err := lifecycleFromXML(cfg)
		if err != nil {
			return
		}
		out, err := xml.Marshal(lifecycleToXML(stored))
		if err != nil {
			t.Fatalf("encoding %+v: %v", stored, err)
		}
		cfg2, err := s3api.DecodeLifecycleConfiguration(out)
		if err != nil {
			t.Fatalf("the gateway's own answer %s is refused: %v", out, err)
		}
		again, err := lifecycleFromXML(cfg2)
		if err != nil {
			t.Fatalf("the gateway's own answer %s is refused: %v", out, err)
		}
		if !reflect.DeepEqual(again, stored) {
			t.Fatalf("put %q stores %+v; its answer %s stores %+v", body, stored, out, again)
		}
	})
}

package s3api

import (
	"encoding/xml"
	"strings"
	"time"
)

// LifecycleConfiguration is the body of PutBucketLifecycleConfiguration
// and the GetBucketLifecycleConfiguration response.
type LifecycleConfiguration struct {
	XMLName xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LifecycleConfiguration"`
	Rules   []LifecycleRule `xml:"Rule"`
}

// LifecycleRule is one Rule. Prefix is the legacy top-level prefix, which
// clients may still send instead of a Filter.
type LifecycleRule struct {
	ID                             string                          `xml:"ID,omitempty"`
	Filter                         *LifecycleFilter                `xml:"Filter,omitempty"`
	Prefix                         *string                         `xml:"Prefix,omitempty"`
	Status                         string                          `xml:"Status"`
	Expiration                     *LifecycleExpiration            `xml:"Expiration,omitempty"`
	NoncurrentVersionExpiration    *NoncurrentVersionExpiration    `xml:"NoncurrentVersionExpiration,omitempty"`
	AbortIncompleteMultipartUpload *AbortIncompleteMultipartUpload `xml:"AbortIncompleteMultipartUpload,omitempty"`
}

// LifecycleFilter selects objects by prefix, one tag, or both (And).
type LifecycleFilter struct {
	Prefix *string       `xml:"Prefix,omitempty"`
	Tag    *Tag          `xml:"Tag,omitempty"`
	And    *LifecycleAnd `xml:"And,omitempty"`
}

// LifecycleAnd combines a prefix and tags; all must match.
type LifecycleAnd struct {
	Prefix string `xml:"Prefix,omitempty"`
	Tags   []Tag  `xml:"Tag"`
}

// LifecycleExpiration expires current versions by age or date, or lone
// delete markers.
type LifecycleExpiration struct {
	Days                      int    `xml:"Days,omitempty"`
	Date                      string `xml:"Date,omitempty"`
	ExpiredObjectDeleteMarker *bool  `xml:"ExpiredObjectDeleteMarker,omitempty"`
}

// NoncurrentVersionExpiration deletes old versions for good.
type NoncurrentVersionExpiration struct {
	NoncurrentDays          int `xml:"NoncurrentDays,omitempty"`
	NewerNoncurrentVersions int `xml:"NewerNoncurrentVersions,omitempty"`
}

// AbortIncompleteMultipartUpload aborts uploads left unfinished.
type AbortIncompleteMultipartUpload struct {
	DaysAfterInitiation int `xml:"DaysAfterInitiation"`
}

// DecodeLifecycleConfiguration parses and checks the shape of a lifecycle
// configuration: every rule has a Status of Enabled or Disabled, a Date
// parses as ISO 8601 at midnight UTC, and a filter uses one form.
// Semantic limits (rule counts, action combinations) are the caller's.
func DecodeLifecycleConfiguration(data []byte) (*LifecycleConfiguration, error) {
	// Clients send the document with or without S3's namespace.
	var in struct {
		XMLName xml.Name        `xml:"LifecycleConfiguration"`
		Rules   []LifecycleRule `xml:"Rule"`
	}
	if err := DecodeXML(strings.NewReader(string(data)), 1<<20, &in); err != nil {
		return nil, err
	}
	if len(in.Rules) == 0 {
		return nil, NewError(MalformedXML)
	}
	for i := range in.Rules {
		r := &in.Rules[i]
		if r.Status != "Enabled" && r.Status != "Disabled" {
			return nil, NewError(MalformedXML)
		}
		if f := r.Filter; f != nil {
			forms := 0
			for _, set := range []bool{f.Prefix != nil, f.Tag != nil, f.And != nil} {
				if set {
					forms++
				}
			}
			if forms > 1 || r.Prefix != nil {
				return nil, NewError(MalformedXML)
			}
		}
		if e := r.Expiration; e != nil && e.Date != "" {
			if _, err := ParseLifecycleDate(e.Date); err != nil {
				return nil, Errorf(InvalidArgument, "'Date' must be at midnight GMT")
			}
		}
	}
	return &LifecycleConfiguration{Rules: in.Rules}, nil
}

// ParseLifecycleDate parses an Expiration Date, which S3 requires to be
// midnight UTC.
func ParseLifecycleDate(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.Parse("2006-01-02", s)
	}
	if err != nil {
		return time.Time{}, err
	}
	t = t.UTC()
	if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
		return time.Time{}, Errorf(InvalidArgument, "'Date' must be at midnight GMT")
	}
	return t, nil
}

package s3api

import (
	"encoding/xml"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Multipart limits, as S3's.
const (
	MaxParts        = 10000
	MinPartSize     = 5 << 20
	MaxPartSize     = 5 << 30
	MaxMultipartObj = 5 << 40
	// MaxDeleteObjects is the most keys one DeleteObjects may name.
	MaxDeleteObjects = 1000
)

// InitiateMultipartUploadResult is the CreateMultipartUpload response.
type InitiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

// CompletedPart is one part named in a CompleteMultipartUpload request.
type CompletedPart struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
}

// CompleteMultipartUpload is the CompleteMultipartUpload request body.
type CompleteMultipartUpload struct {
	XMLName xml.Name        `xml:"CompleteMultipartUpload"`
	Parts   []CompletedPart `xml:"Part"`
}

// Validate checks the part list's shape: 1..MaxParts parts in strictly
// ascending order of numbers within 1..MaxParts (InvalidPartOrder
// otherwise, MalformedXML for an empty list).
func (c *CompleteMultipartUpload) Validate() error {
	if len(c.Parts) == 0 {
		return Errorf(MalformedXML, "You must specify at least one part")
	}
	if len(c.Parts) > MaxParts {
		return Errorf(MalformedXML, "You may specify at most %d parts", MaxParts)
	}
	prev := 0
	for _, p := range c.Parts {
		if p.PartNumber < 1 || p.PartNumber > MaxParts {
			return Errorf(InvalidArgument, "Part number must be an integer between 1 and %d, inclusive", MaxParts)
		}
		if p.PartNumber <= prev {
			return NewError(InvalidPartOrder)
		}
		prev = p.PartNumber
	}
	return nil
}

// CompleteMultipartUploadResult is the CompleteMultipartUpload response.
type CompleteMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// PartInfo is one part in ListParts.
type PartInfo struct {
	PartNumber   int       `xml:"PartNumber"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Size         int64     `xml:"Size"`
}

// ListPartsResult is the ListParts response.
type ListPartsResult struct {
	XMLName              xml.Name   `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket               string     `xml:"Bucket"`
	Key                  string     `xml:"Key"`
	UploadID             string     `xml:"UploadId"`
	Initiator            Owner      `xml:"Initiator"`
	Owner                Owner      `xml:"Owner"`
	StorageClass         string     `xml:"StorageClass"`
	PartNumberMarker     int        `xml:"PartNumberMarker"`
	NextPartNumberMarker int        `xml:"NextPartNumberMarker"`
	MaxParts             int        `xml:"MaxParts"`
	IsTruncated          bool       `xml:"IsTruncated"`
	Parts                []PartInfo `xml:"Part"`
}

// UploadInfo is one upload in ListMultipartUploads.
type UploadInfo struct {
	Key          string    `xml:"Key"`
	UploadID     string    `xml:"UploadId"`
	Initiator    Owner     `xml:"Initiator"`
	Owner        Owner     `xml:"Owner"`
	StorageClass string    `xml:"StorageClass"`
	Initiated    Timestamp `xml:"Initiated"`
}

// ListMultipartUploadsResult is the ListMultipartUploads response.
type ListMultipartUploadsResult struct {
	XMLName            xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker"`
	Prefix             string         `xml:"Prefix"`
	Delimiter          string         `xml:"Delimiter,omitempty"`
	MaxUploads         int            `xml:"MaxUploads"`
	IsTruncated        bool           `xml:"IsTruncated"`
	Uploads            []UploadInfo   `xml:"Upload"`
	CommonPrefixes     []CommonPrefix `xml:"CommonPrefixes"`
}

// CopyObjectResult is the CopyObject response.
type CopyObjectResult struct {
	XMLName      xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyObjectResult"`
	ETag         string    `xml:"ETag"`
	LastModified Timestamp `xml:"LastModified"`
}

// CopyPartResult is the UploadPartCopy response.
type CopyPartResult struct {
	XMLName      xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyPartResult"`
	ETag         string    `xml:"ETag"`
	LastModified Timestamp `xml:"LastModified"`
}

// ObjectIdentifier names one key in a DeleteObjects request.
type ObjectIdentifier struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

// Delete is the DeleteObjects request body.
type Delete struct {
	XMLName xml.Name           `xml:"Delete"`
	Quiet   bool               `xml:"Quiet"`
	Objects []ObjectIdentifier `xml:"Object"`
}

// Validate checks 1..MaxDeleteObjects keys (MalformedXML otherwise, as S3).
func (d *Delete) Validate() error {
	if len(d.Objects) == 0 || len(d.Objects) > MaxDeleteObjects {
		return Errorf(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema (1 to %d objects).", MaxDeleteObjects)
	}
	return nil
}

// DeletedObject is a success in a DeleteResult.
type DeletedObject struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

// DeleteError is a per-key failure in a DeleteResult.
type DeleteError struct {
	Key     string `xml:"Key"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// DeleteResult is the DeleteObjects response.
type DeleteResult struct {
	XMLName xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []DeletedObject `xml:"Deleted"`
	Errors  []DeleteError   `xml:"Error"`
}

// Tag is one tag of a tag set.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// Tagging is the PutObjectTagging body and GetObjectTagging response.
type Tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	TagSet  []Tag    `xml:"TagSet>Tag"`
}

// Tag limits of S3 objects.
const (
	MaxTags        = 10
	MaxTagKeyLen   = 128
	MaxTagValueLen = 256
)

// TagMap validates a tag set (InvalidTag) and returns it as a map.
func TagMap(tags []Tag) (map[string]string, error) {
	if len(tags) > MaxTags {
		return nil, Errorf(InvalidTag, "Object tags cannot be greater than %d", MaxTags)
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		switch {
		case t.Key == "" || utf8.RuneCountInString(t.Key) > MaxTagKeyLen || !utf8.ValidString(t.Key):
			return nil, Errorf(InvalidTag, "The TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.Value) > MaxTagValueLen || !utf8.ValidString(t.Value):
			return nil, Errorf(InvalidTag, "The TagValue you have provided is invalid")
		}
		if _, dup := m[t.Key]; dup {
			return nil, Errorf(InvalidTag, "Cannot provide multiple Tags with the same key")
		}
		m[t.Key] = t.Value
	}
	return m, nil
}

// ParseTaggingHeader parses x-amz-tagging, a URL query string of tags.
func ParseTaggingHeader(h string) (map[string]string, error) {
	if h == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(h)
	if err != nil {
		return nil, Errorf(InvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	}
	var tags []Tag
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, Errorf(InvalidTag, "Cannot provide multiple Tags with the same key")
		}
		tags = append(tags, Tag{Key: k, Value: vs[0]})
	}
	return TagMap(tags)
}

// TagSet returns m as a tag list sorted by key.
func TagSet(m map[string]string) []Tag {
	out := make([]Tag, 0, len(m))
	for k, v := range m {
		out = append(out, Tag{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// DecodeVersioningConfiguration parses a PutBucketVersioning body: Status
// must be Enabled or Suspended, MfaDelete (if any) Enabled or Disabled.
func DecodeVersioningConfiguration(data []byte) (*VersioningConfiguration, error) {
	// Clients send the document with or without S3's namespace.
	var in struct {
		XMLName   xml.Name `xml:"VersioningConfiguration"`
		Status    string   `xml:"Status"`
		MFADelete string   `xml:"MfaDelete"`
	}
	if err := DecodeXML(strings.NewReader(string(data)), 1<<20, &in); err != nil {
		return nil, err
	}
	v := VersioningConfiguration{Status: in.Status, MFADelete: in.MFADelete}
	if v.Status != "Enabled" && v.Status != "Suspended" {
		return nil, NewError(MalformedXML)
	}
	if v.MFADelete != "" && v.MFADelete != "Enabled" && v.MFADelete != "Disabled" {
		return nil, NewError(MalformedXML)
	}
	return &v, nil
}

// ObjectAttributes is the GetObjectAttributes response.
type ObjectAttributes struct {
	XMLName      xml.Name         `xml:"http://s3.amazonaws.com/doc/2006-03-01/ GetObjectAttributesResponse"`
	ETag         string           `xml:"ETag,omitempty"`
	Checksum     *AttributesSum   `xml:"Checksum,omitempty"`
	ObjectParts  *AttributesParts `xml:"ObjectParts,omitempty"`
	StorageClass string           `xml:"StorageClass,omitempty"`
	ObjectSize   *int64           `xml:"ObjectSize,omitempty"`
}

// AttributesSum carries the stored checksum in GetObjectAttributes.
type AttributesSum struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
}

// AttributesParts describes a multipart object's parts in GetObjectAttributes.
type AttributesParts struct {
	TotalPartsCount      int              `xml:"PartsCount"`
	PartNumberMarker     int              `xml:"PartNumberMarker"`
	NextPartNumberMarker int              `xml:"NextPartNumberMarker"`
	MaxParts             int              `xml:"MaxParts"`
	IsTruncated          bool             `xml:"IsTruncated"`
	Parts                []AttributesPart `xml:"Part"`
}

// AttributesPart is one part in GetObjectAttributes.
type AttributesPart struct {
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
}

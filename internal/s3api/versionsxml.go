package s3api

import "encoding/xml"

// ListVersionsResult is the ListObjectVersions response. Versions and
// delete markers interleave in S3 order, so both are VersionEntry values
// whose element name says which they are.
type ListVersionsResult struct {
	XMLName             xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListVersionsResult"`
	Name                string         `xml:"Name"`
	Prefix              string         `xml:"Prefix"`
	KeyMarker           string         `xml:"KeyMarker"`
	VersionIDMarker     string         `xml:"VersionIdMarker"`
	NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int            `xml:"MaxKeys"`
	Delimiter           string         `xml:"Delimiter,omitempty"`
	EncodingType        string         `xml:"EncodingType,omitempty"`
	IsTruncated         bool           `xml:"IsTruncated"`
	Entries             []VersionEntry `xml:",any"`
	CommonPrefixes      []CommonPrefix `xml:"CommonPrefixes,omitempty"`
}

// VersionEntry is a <Version> or, with DeleteMarker set, a <DeleteMarker>.
type VersionEntry struct {
	XMLName      xml.Name
	Key          string    `xml:"Key"`
	VersionID    string    `xml:"VersionId"`
	IsLatest     bool      `xml:"IsLatest"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag,omitempty"`
	Size         *int64    `xml:"Size,omitempty"`
	StorageClass string    `xml:"StorageClass,omitempty"`
	Owner        *Owner    `xml:"Owner,omitempty"`
}

// NewVersionEntry returns a <Version> entry, or a <DeleteMarker> one.
func NewVersionEntry(deleteMarker bool) VersionEntry {
	if deleteMarker {
		return VersionEntry{XMLName: xml.Name{Local: "DeleteMarker"}}
	}
	return VersionEntry{XMLName: xml.Name{Local: "Version"}, StorageClass: "STANDARD"}
}

// EncodeURL applies encoding-type=url to the keys and prefixes.
func (r *ListVersionsResult) EncodeURL() {
	r.EncodingType = EncodingTypeURL
	r.Prefix, r.Delimiter = URLEncodeKey(r.Prefix), URLEncodeKey(r.Delimiter)
	r.KeyMarker, r.NextKeyMarker = URLEncodeKey(r.KeyMarker), URLEncodeKey(r.NextKeyMarker)
	for i := range r.Entries {
		r.Entries[i].Key = URLEncodeKey(r.Entries[i].Key)
	}
	for i := range r.CommonPrefixes {
		r.CommonPrefixes[i].Prefix = URLEncodeKey(r.CommonPrefixes[i].Prefix)
	}
}

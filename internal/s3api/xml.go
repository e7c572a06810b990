package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Namespace is the XML namespace of S3 documents.
const Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// timeLayout is how S3 writes timestamps in XML: UTC, milliseconds, "Z".
const timeLayout = "2006-01-02T15:04:05.000Z"

// Timestamp is a time in S3's XML format, e.g. 2006-01-02T15:04:05.000Z.
type Timestamp time.Time

// MarshalText implements encoding.TextMarshaler.
func (t Timestamp) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format(timeLayout)), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts any RFC 3339 time.
func (t *Timestamp) UnmarshalText(b []byte) error {
	v, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return err
	}
	*t = Timestamp(v)
	return nil
}

// QuoteETag wraps an ETag in double quotes unless it already is.
func QuoteETag(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag
	}
	return `"` + etag + `"`
}

// Owner identifies a bucket or object owner.
type Owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

// Bucket is one entry of ListAllMyBucketsResult.
type Bucket struct {
	Name         string    `xml:"Name"`
	CreationDate Timestamp `xml:"CreationDate"`
}

// ListAllMyBucketsResult is the ListBuckets response.
type ListAllMyBucketsResult struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner   Owner    `xml:"Owner"`
	Buckets []Bucket `xml:"Buckets>Bucket"`
}

// Object is one <Contents> entry of a listing.
type Object struct {
	Key          string    `xml:"Key"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag"` // quoted; see QuoteETag
	Size         int64     `xml:"Size"`
	StorageClass string    `xml:"StorageClass"` // "STANDARD"
	Owner        *Owner    `xml:"Owner,omitempty"`
}

// CommonPrefix is one <CommonPrefixes> entry of a delimited listing.
type CommonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// ListBucketResult is the ListObjects (version 1) response.
type ListBucketResult struct {
	XMLName        xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	Contents       []Object       `xml:"Contents"`
	CommonPrefixes []CommonPrefix `xml:"CommonPrefixes"`
}

// ListBucketResultV2 is the ListObjectsV2 response.
type ListBucketResultV2 struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	KeyCount              int            `xml:"KeyCount"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	IsTruncated           bool           `xml:"IsTruncated"`
	Contents              []Object       `xml:"Contents"`
	CommonPrefixes        []CommonPrefix `xml:"CommonPrefixes"`
}

// EncodingTypeURL is the only encoding-type S3 defines.
const EncodingTypeURL = "url"

// CheckEncodingType validates the encoding-type query parameter.
func CheckEncodingType(v string) error {
	if v != "" && v != EncodingTypeURL {
		return Errorf(InvalidArgument, "Invalid Encoding Method specified in Request")
	}
	return nil
}

// EncodeURL applies encoding-type=url: S3 then URL-encodes the key-like
// fields (Prefix, Delimiter, Marker, NextMarker, Key, CommonPrefixes), so
// keys holding bytes XML 1.0 cannot carry survive the trip.
func (r *ListBucketResult) EncodeURL() {
	r.EncodingType = EncodingTypeURL
	r.Prefix, r.Delimiter = URLEncodeKey(r.Prefix), URLEncodeKey(r.Delimiter)
	r.Marker, r.NextMarker = URLEncodeKey(r.Marker), URLEncodeKey(r.NextMarker)
	encodeEntries(r.Contents, r.CommonPrefixes)
}

// EncodeURL applies encoding-type=url to Prefix, Delimiter, StartAfter,
// Key and CommonPrefixes, as S3 does for ListObjectsV2. Continuation tokens
// are opaque and stay as they are.
func (r *ListBucketResultV2) EncodeURL() {
	r.EncodingType = EncodingTypeURL
	r.Prefix, r.Delimiter = URLEncodeKey(r.Prefix), URLEncodeKey(r.Delimiter)
	r.StartAfter = URLEncodeKey(r.StartAfter)
	encodeEntries(r.Contents, r.CommonPrefixes)
}

func encodeEntries(objs []Object, prefixes []CommonPrefix) {
	for i := range objs {
		objs[i].Key = URLEncodeKey(objs[i].Key)
	}
	for i := range prefixes {
		prefixes[i].Prefix = URLEncodeKey(prefixes[i].Prefix)
	}
}

// URLEncodeKey encodes a key the way S3's encoding-type=url does: form
// encoding (space as '+') that leaves '/' alone, which every SDK decodes
// with its query unescaper.
func URLEncodeKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isUnreserved(c) || c == '/' || c == '*':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	return b.String()
}

// CreateBucketConfiguration is the optional CreateBucket request body.
type CreateBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

// WriteXML writes v as an XML document with the XML declaration and the
// given status. An encoding failure is a programming error in v's type; it
// becomes a 500 before anything is sent.
func WriteXML(w http.ResponseWriter, status int, v any) error {
	body, err := xml.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(status)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}

// DecodeXML reads at most limit bytes of XML from r into v. A body that is
// too large, empty or not well-formed is MalformedXML, as in S3.
func DecodeXML(r io.Reader, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e // the payload's own verdict (signature, digest) wins
		}
		return &Error{Code: IncompleteBody, Err: err}
	}
	if int64(len(data)) > limit {
		return Errorf(MalformedXML, "The XML you provided was larger than the maximum %d bytes allowed.", limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return NewError(MalformedXML)
	}
	if err := refuseDirectives(data); err != nil {
		return err
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return &Error{Code: MalformedXML, Err: err}
	}
	return nil
}

// refuseDirectives rejects any <!DOCTYPE ...> or other directive before
// decoding. encoding/xml expands no external entities, but S3 bodies never
// carry a DTD, and refusing one outright leaves nothing to reason about.
func refuseDirectives(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &Error{Code: MalformedXML, Err: err}
		}
		if _, ok := tok.(xml.Directive); ok {
			return Errorf(MalformedXML, "XML documents with a DTD or entity declarations are not accepted.")
		}
	}
}

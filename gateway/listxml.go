package gateway

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"

	"cairn/internal/s3api"
)

// writeListV2 writes res as s3api.WriteXML would, byte for byte, without
// encoding/xml's reflection: a 1,000-key page is most of a listing's
// gateway CPU time when reflected (listxml_test.go holds the two equal).
func writeListV2(w http.ResponseWriter, res *s3api.ListBucketResultV2) error {
	body, err := appendListV2(make([]byte, 0, 512+len(res.Contents)*200), res)
	if err != nil {
		return s3api.WriteXML(w, http.StatusOK, res)
	}
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(xml.Header)); err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}

// appendListV2 appends the XML of res, as xml.Marshal writes it.
func appendListV2(b []byte, res *s3api.ListBucketResultV2) ([]byte, error) {
	var esc bytes.Buffer
	elem := func(name, value string) {
		b = append(b, '<')
		b = append(b, name...)
		b = append(b, '>')
		esc.Reset()
		xml.EscapeText(&esc, []byte(value))
		b = append(b, esc.Bytes()...)
		b = append(b, "</"...)
		b = append(b, name...)
		b = append(b, '>')
	}
	opt := func(name, value string) {
		if value != "" {
			elem(name, value)
		}
	}
	b = append(b, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`...)
	elem("Name", res.Name)
	elem("Prefix", res.Prefix)
	opt("Delimiter", res.Delimiter)
	elem("MaxKeys", strconv.Itoa(res.MaxKeys))
	opt("EncodingType", res.EncodingType)
	elem("KeyCount", strconv.Itoa(res.KeyCount))
	opt("ContinuationToken", res.ContinuationToken)
	opt("NextContinuationToken", res.NextContinuationToken)
	opt("StartAfter", res.StartAfter)
	elem("IsTruncated", strconv.FormatBool(res.IsTruncated))
	var ts []byte
	for i := range res.Contents {
		o := &res.Contents[i]
		b = append(b, "<Contents>"...)
		elem("Key", o.Key)
		ts = time.Time(o.LastModified).UTC().AppendFormat(ts[:0], "2006-01-02T15:04:05.000Z")
		b = append(b, "<LastModified>"...)
		b = append(b, ts...)
		b = append(b, "</LastModified>"...)
		elem("ETag", o.ETag)
		elem("Size", strconv.FormatInt(o.Size, 10))
		elem("StorageClass", o.StorageClass)
		if o.Owner != nil {
			ob, err := xml.Marshal(o.Owner)
			if err != nil {
				return nil, err
			}
			b = append(b, ob...)
		}
		b = append(b, "</Contents>"...)
	}
	for _, p := range res.CommonPrefixes {
		b = append(b, "<CommonPrefixes>"...)
		elem("Prefix", p.Prefix)
		b = append(b, "</CommonPrefixes>"...)
	}
	return append(b, "</ListBucketResult>"...), nil
}

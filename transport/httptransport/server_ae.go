package httptransport

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"cairn/metadata"
	"cairn/transport"
)

// Routes of transport.AntiEntropy.
const (
	pathPGDigests = "/v1/ae/digests"
	pathPGRecords = "/v1/ae/records"
)

// Wire formats:
//
//	digests: repeated  pg:uvarint records:uvarint sum:32 bytes
//	records: truncated:1 byte, then repeated  uvarint length + version record
//
// A records request is a POST whose body lists its groups (repeated
// uvarint: a node may be home of many thousands), with the group count
// (pgc), the resume position (ab, ak) and the page size (l) in the query.

// registerAntiEntropy adds the anti-entropy routes if the node has them.
func (h *Handler) registerAntiEntropy() {
	ae, ok := h.node.(transport.AntiEntropy)
	if !ok {
		return
	}
	h.mux.HandleFunc("GET "+pathPGDigests, func(w http.ResponseWriter, r *http.Request) {
		pgc, err := strconv.Atoi(r.URL.Query().Get("pgc"))
		if err != nil {
			h.fail(w, r, "pg digests", fmt.Errorf("%w: pg count", transport.ErrInvalid))
			return
		}
		ds, err := ae.PGDigests(r.Context(), pgc)
		var body []byte
		if err == nil {
			body = encodeDigests(ds)
		}
		h.reply(w, r, "pg digests", body, err)
	})
	h.mux.HandleFunc("POST "+pathPGRecords, func(w http.ResponseWriter, r *http.Request) {
		body, err := readRecord(r)
		var req transport.PGRecordsRequest
		if err == nil {
			req, err = parsePGRecordsRequest(r.URL.Query(), body)
		}
		if err != nil {
			h.fail(w, r, "pg records", err)
			return
		}
		page, err := ae.PGRecords(r.Context(), req)
		var out []byte
		if err == nil {
			out, err = encodePGRecords(page)
		}
		h.reply(w, r, "pg records", out, err)
	})
}

func encodeDigests(ds map[int]transport.PGDigest) []byte {
	pgs := make([]int, 0, len(ds))
	for pg := range ds {
		pgs = append(pgs, pg)
	}
	sort.Ints(pgs)
	out := make([]byte, 0, len(pgs)*(32+8))
	for _, pg := range pgs {
		d := ds[pg]
		out = binary.AppendUvarint(out, uint64(pg))
		out = binary.AppendUvarint(out, uint64(d.Records))
		out = append(out, d.Sum[:]...)
	}
	return out
}

func decodeDigests(b []byte) (map[int]transport.PGDigest, error) {
	out := map[int]transport.PGDigest{}
	for len(b) > 0 {
		pg, w1 := binary.Uvarint(b)
		if w1 <= 0 {
			return nil, fmt.Errorf("%w: digest framing", transport.ErrCorrupt)
		}
		b = b[w1:]
		recs, w2 := binary.Uvarint(b)
		if w2 <= 0 || len(b)-w2 < 32 || pg > uint64(1<<31) {
			return nil, fmt.Errorf("%w: digest framing", transport.ErrCorrupt)
		}
		d := transport.PGDigest{Records: int64(recs)}
		copy(d.Sum[:], b[w2:w2+32])
		out[int(pg)] = d
		b = b[w2+32:]
	}
	return out, nil
}

func pgRecordsQuery(req transport.PGRecordsRequest) (url.Values, []byte) {
	var body []byte
	for _, pg := range req.PGs {
		body = binary.AppendUvarint(body, uint64(pg))
	}
	return url.Values{
		"pgc": {strconv.Itoa(req.PGCount)},
		"ab":  {req.After.Bucket},
		"ak":  {req.After.Key},
		"l":   {strconv.Itoa(req.Limit)},
	}, body
}

func parsePGRecordsRequest(q url.Values, body []byte) (transport.PGRecordsRequest, error) {
	req := transport.PGRecordsRequest{After: metadata.ObjectKey{Bucket: q.Get("ab"), Key: q.Get("ak")}}
	var err error
	if req.PGCount, err = strconv.Atoi(q.Get("pgc")); err != nil {
		return req, fmt.Errorf("%w: pg count", transport.ErrInvalid)
	}
	if req.Limit, err = strconv.Atoi(q.Get("l")); err != nil {
		return req, fmt.Errorf("%w: limit", transport.ErrInvalid)
	}
	for len(body) > 0 {
		pg, w := binary.Uvarint(body)
		if w <= 0 || pg > 1<<31 {
			return req, fmt.Errorf("%w: pg list", transport.ErrInvalid)
		}
		req.PGs = append(req.PGs, int(pg))
		body = body[w:]
	}
	return req, nil
}

func encodePGRecords(page *transport.PGRecordsPage) ([]byte, error) {
	out := []byte{0}
	if page.Truncated {
		out[0] = 1
	}
	for _, v := range page.Records {
		rec, err := v.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out = frame(out, rec)
	}
	return out, nil
}

func decodePGRecords(b []byte) (*transport.PGRecordsPage, error) {
	if len(b) < 1 || b[0] > 1 {
		return nil, fmt.Errorf("%w: pg records framing", transport.ErrCorrupt)
	}
	recs, err := unframe(b[1:])
	if err != nil {
		return nil, err
	}
	page := &transport.PGRecordsPage{Truncated: b[0] == 1}
	for _, rec := range recs {
		v := new(metadata.Version)
		if err := v.UnmarshalBinary(rec); err != nil {
			return nil, fmt.Errorf("%w: %v", transport.ErrCorrupt, err)
		}
		page.Records = append(page.Records, v)
	}
	return page, nil
}

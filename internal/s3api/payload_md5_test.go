package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestPayloadMD5Concurrent reads many payloads at once, so that most of
// them hash on md5-simd lanes, and checks every ETag and Content-MD5
// verdict, and that every payload gave its slot back once read.
func TestPayloadMD5Concurrent(t *testing.T) {
	const n = 3 * md5SIMDMin
	type upload struct {
		p      *Payload
		want   [16]byte
		badMD5 bool
	}
	// Every payload exists before any is read: a payload picks its MD5
	// when it is made, by how many are hashing then.
	uploads := make([]upload, n)
	lanes := 0
	for i := range uploads {
		body := bytes.Repeat([]byte{byte(i), byte(i >> 8), 7}, md5SIMDMinSize/3+i*333)
		u := upload{want: md5.Sum(body), badMD5: i%3 == 0}
		sent := u.want
		if u.badMD5 {
			sent[0] ^= 1
		}
		r := httptest.NewRequest("PUT", "http://h/b/k", bytes.NewReader(body))
		r.Header.Set("Content-Md5", base64.StdEncoding.EncodeToString(sent[:]))
		var err error
		if u.p, err = (&Auth{PayloadMode: UnsignedPayload}).BodyReader(r); err != nil {
			t.Fatalf("BodyReader: %v", err)
		}
		if u.p.md5Slot.lane != nil {
			lanes++
		}
		uploads[i] = u
	}
	if lanes == 0 {
		t.Errorf("none of %d concurrent payloads of %d+ bytes hashes on an md5-simd lane", n, md5SIMDMinSize)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, u := range uploads {
		wg.Go(func() {
			p := u.p
			// Small reads, so that the payloads are mid-hash at once.
			_, err := io.CopyBuffer(io.Discard, p, make([]byte, 4096))
			switch {
			case u.badMD5 && codeOf(err) != BadDigest:
				errs[i] = fmt.Errorf("payload %d with a wrong Content-MD5: read error %v; want %s", i, err, BadDigest)
			case !u.badMD5 && err != nil:
				errs[i] = fmt.Errorf("payload %d: read error %v", i, err)
			case !u.badMD5 && !bytes.Equal(p.MD5(), u.want[:]):
				errs[i] = fmt.Errorf("payload %d: MD5() = %x; want %x", i, p.MD5(), u.want)
			case !p.md5Slot.released.Load():
				errs[i] = fmt.Errorf("payload %d: slot not released after the last byte", i)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestMD5SlotRelease checks that large payloads get md5-simd lanes once
// enough hash at once, small ones never do, and that releasing closes the
// lane, once however often it is called (the payload and the cleanup both
// call it).
func TestMD5SlotRelease(t *testing.T) {
	var slots []*md5Slot
	for range md5SIMDMin + 1 {
		_, s := newMD5(md5SIMDMinSize)
		slots = append(slots, s)
	}
	last := slots[len(slots)-1]
	if last.lane == nil {
		t.Fatalf("newMD5(%d) with %d+ payloads hashing gave no md5-simd lane", md5SIMDMinSize, md5SIMDMin+1)
	}
	_, small := newMD5(4096)
	slots = append(slots, small)
	if small.lane != nil {
		t.Errorf("newMD5(4096) with %d+ payloads hashing gave an md5-simd lane; want crypto/md5", md5SIMDMin+2)
	}
	for _, s := range slots {
		s.release()
		s.release()
		if !s.released.Load() {
			t.Errorf("slot not marked released after release()")
		}
	}
	if _, err := last.lane.Write([]byte("x")); err == nil {
		t.Errorf("Write to a released lane = nil error; want the lane closed")
	}
}

// BenchmarkPayloadMD5 reads 1 MiB payloads from c goroutines at once: the
// gateway's MD5 cost per byte at c concurrent uploads.
func BenchmarkPayloadMD5(b *testing.B) {
	body := bytes.Repeat([]byte("cairn"), (1<<20)/5)
	for _, c := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("c%d", c), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.SetParallelism(c)
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 32<<10)
				for pb.Next() {
					p, err := (&Auth{PayloadMode: UnsignedPayload}).BodyReader(httptest.NewRequest("PUT", "http://h/b/k", bytes.NewReader(body)))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.CopyBuffer(io.Discard, p, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

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

// TestPayloadMD5Concurrent reads many payloads at once, in small reads so
// that they are mid-hash together, and checks every ETag and Content-MD5
// verdict.
func TestPayloadMD5Concurrent(t *testing.T) {
	t.Parallel()
	const n = 9
	type upload struct {
		p      *Payload
		want   [16]byte
		badMD5 bool
	}
	uploads := make([]upload, n)
	for i := range uploads {
		body := bytes.Repeat([]byte{byte(i), byte(i >> 8), 7}, 90_000+i*333)
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
		uploads[i] = u
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, u := range uploads {
		wg.Go(func() {
			p := u.p
			_, err := io.CopyBuffer(io.Discard, p, make([]byte, 4096))
			switch {
			case u.badMD5 && codeOf(err) != BadDigest:
				errs[i] = fmt.Errorf("payload %d with a wrong Content-MD5: read error %v; want %s", i, err, BadDigest)
			case !u.badMD5 && err != nil:
				errs[i] = fmt.Errorf("payload %d: read error %v", i, err)
			case !u.badMD5 && !bytes.Equal(p.MD5(), u.want[:]):
				errs[i] = fmt.Errorf("payload %d: MD5() = %x; want %x", i, p.MD5(), u.want)
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

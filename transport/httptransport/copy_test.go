package httptransport

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"cairn/transport"
)

// writeRecorder is a net.Conn that records the size of every write.
type writeRecorder struct {
	net.Conn // only Write is called
	buf      bytes.Buffer
	sizes    []int
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.buf.Write(p)
}

// TestBigWriteConnReadFrom checks that a body streamed through the
// connection's ReadFrom reaches the socket whole, in writes larger than the
// 32 KiB io.Copy would use.
func TestBigWriteConnReadFrom(t *testing.T) {
	data := bytes.Repeat([]byte("frame"), (3*copyBufSize+1000)/5)
	rec := &writeRecorder{}
	// A pipe hands over one writer's Write per Read, as the encoder's
	// shard pipes do.
	pr, pw := io.Pipe()
	go func() {
		for p := data; len(p) > 0; {
			n := min(len(p), 256<<10+32)
			pw.Write(p[:n])
			p = p[n:]
		}
		pw.Close()
	}()
	n, err := bigWriteConn{rec}.ReadFrom(pr)
	if err != nil || n != int64(len(data)) || !bytes.Equal(rec.buf.Bytes(), data) {
		t.Fatalf("ReadFrom = %d, %v; want %d bytes copied whole", n, err, len(data))
	}
	if big := slices.Max(rec.sizes); big <= 32<<10 || big > copyBufSize {
		t.Errorf("largest write %d bytes; want more than 32 KiB and at most %d", big, copyBufSize)
	}
}

// rangeNode serves one shard range whose reader knows its size, as a
// node's shard file does.
type rangeNode struct {
	transport.NodeClient // only ReadShard is called
	data                 []byte
}

func (n *rangeNode) ReadShard(ctx context.Context, ref transport.ShardRef, off, length int64) (io.ReadCloser, error) {
	return struct {
		*io.SectionReader
		io.Closer
	}{io.NewSectionReader(bytes.NewReader(n.data), off, length), io.NopCloser(nil)}, nil
}

// TestReadShardLength checks that a shard range of known size goes out
// with a Content-Length, not chunked, and arrives whole.
func TestReadShardLength(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 70_000)
	srv := httptest.NewServer(NewHandler(&rangeNode{data: data}, nil))
	defer srv.Close()
	u := srv.URL + pathShard + "?" + refQuery(transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v", Index: 1}).Encode() + "&off=10&n=500000"
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, data[10:500010]) {
		t.Fatalf("body = %d bytes, %v; want bytes [10, 500010) of the shard", len(got), err)
	}
	if resp.ContentLength != 500000 || len(resp.TransferEncoding) != 0 {
		t.Errorf("ContentLength %d, TransferEncoding %q; want 500000 and none", resp.ContentLength, strings.Join(resp.TransferEncoding, ","))
	}
}

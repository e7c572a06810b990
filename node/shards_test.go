package node

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cairn/transport"
	"cairn/vfs"
)

// TestShardWrites checks what a shard write leaves on disk: nothing after a
// failed write, only the shard after a good one (written in several
// copy-buffer loads), and nothing of the tmp directory earlier versions
// wrote to after the next open. (Temp files a crash leaves beside the
// shards are the orphan collector's: TestScanCollectsStaleTempFiles.)
func TestShardWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := openShardStore(vfs.Default, dir)
	if err != nil {
		t.Fatalf("openShardStore: %v", err)
	}
	ref := transport.ShardRef{Bucket: "b", Key: "k", VersionID: "v1", Index: 2}
	final := ShardFile(dir, ref)
	names := func(d string) []string {
		t.Helper()
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatalf("ReadDir(%s): %v", d, err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	tmp := filepath.Join(dir, "tmp")

	if err := s.put(t.Context(), ref, strings.NewReader("abc"), 10, nil); err == nil {
		t.Fatalf("put(3 of 10 bytes) = nil; want an error")
	}
	if got := names(filepath.Dir(final)); len(got) != 0 {
		t.Errorf("shard directory after a failed put holds %q; want nothing", got)
	}

	// Larger than the copy buffer, and not a multiple of it.
	data := bytes.Repeat([]byte("shard"), (2*copyBufSize+123)/5)
	if err := s.put(t.Context(), ref, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("put(%d bytes) = %v; want nil", len(data), err)
	}
	if got, want := names(filepath.Dir(final)), []string{filepath.Base(final)}; !slices.Equal(got, want) {
		t.Errorf("shard directory after a put holds %q; want %q", got, want)
	}
	if got, err := os.ReadFile(final); err != nil || !bytes.Equal(got, data) {
		t.Errorf("shard file holds %d bytes, %v; want the %d bytes written", len(got), err, len(data))
	}

	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, filepath.Base(final)+".x"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openShardStore(vfs.Default, dir); err != nil {
		t.Fatalf("openShardStore again: %v", err)
	}
	if got := names(tmp); len(got) != 0 {
		t.Errorf("tmp directory after reopening holds %q; want nothing", got)
	}
	if got, err := os.ReadFile(final); err != nil || !bytes.Equal(got, data) {
		t.Errorf("shard after reopening: %d bytes, %v; want the %d bytes written", len(got), err, len(data))
	}
}

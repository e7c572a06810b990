package e2e

import (
	"context"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"

	"cairn/internal/clustertest"
	"cairn/layoutstore"
)

// hostileKeys look like paths, escapes or trouble for URL handling. S3
// treats every one as an opaque name.
var hostileKeys = []string{
	"../x",
	"../../../../../../etc/passwd",
	"a/../../x",
	"a//b",
	"//leading",
	"./dot",
	"a/./b",
	"..",
	".",
	"%2e%2e/x",
	"%2F..%2Fx",
	"..%5c..%5cx",
	`..\..\x`,
	`back\slash`,
	"with space",
	"  spaces  around  ",
	"plus+sign",
	"question?mark",
	"hash#mark",
	"amp&eq=semi;colon",
	"percent%",
	"trailing/",
	"ünïcødé/日本語/ключ",
	"emoji-🪨",
	"tilde~and'quote\"",
}

// TestHostileKeys stores objects under keys that look like paths and
// escapes, reads them back through both clients and listings, and checks
// that the nodes' data directories hold nothing but their own files.
func TestHostileKeys(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mc := minioClient(t, c)
	const bucket = "hostile"
	mustCreateBucket(t, cl, bucket)
	ctx := context.Background()

	data := make(map[string][]byte)
	t.Run("round trip", func(t *testing.T) {
		for i, key := range hostileKeys {
			// Every other key is big enough for shard files.
			size := 10 + i
			if i%2 == 0 {
				size = 200<<10 + i
			}
			data[key] = randomBytes(uint64(1000+i), size)
		}
		for _, key := range hostileKeys {
			t.Run(key, func(t *testing.T) {
				want := data[key]
				put(t, cl, bucket, key, want)
				got, _ := get(t, cl, bucket, key, nil)
				sameBytes(t, "SDK GET "+key, got, want)
				r, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
				if err != nil {
					t.Fatalf("minio GetObject(%q): %v", key, err)
				}
				info, err := r.Stat()
				if err != nil {
					t.Fatalf("minio Stat(%q): %v", key, err)
				}
				if info.Key != key || info.Size != int64(len(want)) {
					t.Errorf("minio Stat(%q) = key %q size %d; want size %d", key, info.Key, info.Size, len(want))
				}
				r.Close()
				out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(key), MaxKeys: aws.Int32(1)})
				if err != nil {
					t.Fatalf("ListObjectsV2(prefix %q): %v", key, err)
				}
				if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != key {
					t.Errorf("ListObjectsV2(prefix %q, max 1) = %v; want the key itself", key, out.Contents)
				}
			})
		}
	})

	t.Run("listing", func(t *testing.T) {
		got, _ := listAllV2(t, cl, bucket, "", "", "", 7)
		wantList(t, "all hostile keys", got, nil, slices.Sorted(slices.Values(hostileKeys)), nil)
		// With encoding-type=url, keys come form-encoded (a space as "+",
		// as S3 does); aws-sdk-go-v2 hands them over as sent.
		out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), EncodingType: "url"})
		if err != nil {
			t.Fatalf("ListObjectsV2(encoding-type=url): %v", err)
		}
		var keys []string
		for _, o := range out.Contents {
			k, err := url.QueryUnescape(aws.ToString(o.Key))
			if err != nil {
				t.Errorf("url-encoded key %q: %v", aws.ToString(o.Key), err)
			}
			keys = append(keys, k)
		}
		wantList(t, "hostile keys, url-encoded", keys, nil, slices.Sorted(slices.Values(hostileKeys)), nil)
	})

	t.Run("distinct", func(t *testing.T) {
		// Keys that a path cleaner would merge are different objects.
		for _, pair := range [][2]string{{"a//b", "a/b"}, {"a/./b", "a/b"}, {"a/../../x", "x"}, {"../x", "x"}} {
			if _, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(pair[1])}); errorCode(err) != "NotFound" {
				t.Errorf("HEAD %q after PUT %q = %v; want NotFound", pair[1], pair[0], err)
			}
		}
	})

	t.Run("no file outside the data directories", func(t *testing.T) {
		checkDataDirs(t, c)
	})
}

var segmentName = regexp.MustCompile(`^[0-9a-f]{16}\.seg$`)

// checkDataDirs checks that the directory holding the nodes' data
// directories holds only them, and that each holds only its metadata
// store, its layout and shard segments named by sequence number, which
// every stored shard points into: no key reaches a file name.
func checkDataDirs(t *testing.T, c *clustertest.Cluster) {
	t.Helper()
	parent := filepath.Dir(c.Nodes[0].Dir)
	var nodeDirs []string
	for _, n := range c.Nodes {
		if filepath.Dir(n.Dir) != parent {
			t.Fatalf("node dirs %s and %s have different parents", n.Dir, c.Nodes[0].Dir)
		}
		nodeDirs = append(nodeDirs, filepath.Base(n.Dir))
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(nodeDirs, e.Name()) {
			t.Errorf("%s: unexpected entry %q beside the node dirs", parent, e.Name())
		}
	}
	stored := 0
	for _, n := range c.Nodes {
		segments := map[string]bool{}
		err := filepath.WalkDir(n.Dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(n.Dir, path)
			dir, name := filepath.Split(rel)
			switch {
			case rel == ".", rel == layoutstore.FileName:
			case rel == "meta" && d.IsDir():
				return fs.SkipDir
			case rel == "segments" && d.IsDir():
			case dir == "segments"+string(filepath.Separator) && d.Type().IsRegular() && segmentName.MatchString(name):
				segments[path] = true
			case rel == "shards" || rel == "tmp":
				t.Errorf("%s: %s exists; shards live in segments", n.ID, rel)
				if d.IsDir() {
					return fs.SkipDir
				}
			default:
				t.Errorf("%s: unexpected entry %s", n.ID, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		shards, err := n.StoredShards(t.Context())
		if err != nil {
			t.Fatalf("%s: stored shards: %v", n.ID, err)
		}
		for _, s := range shards {
			if !segments[s.Path] {
				t.Errorf("%s: shard %s.%d is in %s, not one of its segments", n.ID, s.VersionHash, s.Index, s.Path)
			}
		}
		stored += len(shards)
	}
	if stored == 0 {
		t.Errorf("no stored shards at all; the big objects should have made some")
	}
	// Nothing escaped to the temp root or the working directory either.
	for _, dir := range []string{filepath.Dir(parent), "."} {
		for _, name := range []string{"x", "passwd", "etc", "dot", "b", "leading"} {
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				t.Errorf("%s exists in %s", name, dir)
			}
		}
	}
}

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"cairn/internal/clustertest"
)

func setVersioning(t testing.TB, cl *s3.Client, bucket string, s types.BucketVersioningStatus) {
	t.Helper()
	_, err := cl.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: s}})
	if err != nil {
		t.Fatalf("PutBucketVersioning(%s): %v", s, err)
	}
}

// versionsOf lists every version and delete marker of a bucket, paging
// with max-keys, as "key id latest [marker]".
func versionsOf(t testing.TB, cl *s3.Client, bucket, prefix string, maxKeys int32) []string {
	t.Helper()
	var out []string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(maxKeys)}
	for range 1000 {
		res, err := cl.ListObjectVersions(t.Context(), in)
		if err != nil {
			t.Fatalf("ListObjectVersions: %v", err)
		}
		type ent struct {
			key, id string
			latest  bool
			marker  bool
			mod     time.Time
		}
		var page []ent
		for _, v := range res.Versions {
			page = append(page, ent{aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), false, aws.ToTime(v.LastModified)})
		}
		for _, m := range res.DeleteMarkers {
			page = append(page, ent{aws.ToString(m.Key), aws.ToString(m.VersionId), aws.ToBool(m.IsLatest), true, aws.ToTime(m.LastModified)})
		}
		// The SDK splits the two kinds; put them back in S3 order: key,
		// then newest first (IDs sort newest first, "null" aside).
		slices.SortStableFunc(page, func(a, b ent) int {
			if a.key != b.key {
				return strings.Compare(a.key, b.key)
			}
			return b.mod.Compare(a.mod)
		})
		for _, e := range page {
			s := fmt.Sprintf("%s %s %v", e.key, e.id, e.latest)
			if e.marker {
				s += " marker"
			}
			out = append(out, s)
		}
		if len(page) > int(maxKeys) {
			t.Fatalf("page of %d entries; max-keys %d", len(page), maxKeys)
		}
		if !aws.ToBool(res.IsTruncated) {
			return out
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
	t.Fatal("ListObjectVersions never ended")
	return nil
}

func getVersion(t testing.TB, cl *s3.Client, bucket, key, id string) ([]byte, error) {
	t.Helper()
	out, err := cl.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(id)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	if got := aws.ToString(out.VersionId); got != id {
		t.Errorf("GET ?versionId=%s answered x-amz-version-id %q", id, got)
	}
	return io.ReadAll(out.Body)
}

func TestVersioningLifecycle(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{InlineThreshold: 1024})
	cl := sdkClient(t, c)
	ctx := t.Context()
	const bucket = "vers"
	mustCreateBucket(t, cl, bucket)
	if v, err := cl.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)}); err != nil || v.Status != "" {
		t.Fatalf("GetBucketVersioning(new bucket) = %q, %v; want empty", v.Status, err)
	}
	// Before versioning: the object is the null version, no header.
	pre := put(t, cl, bucket, "doc", []byte("v0"))
	if pre.VersionId != nil {
		t.Errorf("unversioned PUT returned x-amz-version-id %q", *pre.VersionId)
	}
	if b, err := getVersion(t, cl, bucket, "doc", "null"); err != nil || string(b) != "v0" {
		t.Errorf("GET ?versionId=null = %q, %v; want v0", b, err)
	}
	setVersioning(t, cl, bucket, types.BucketVersioningStatusEnabled)
	if v, _ := cl.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)}); v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("GetBucketVersioning = %q; want Enabled", v.Status)
	}
	var ids []string
	for i := 1; i <= 3; i++ {
		body := bytes.Repeat([]byte{byte('a' + i)}, 3000*i) // sharded, not inline
		out := put(t, cl, bucket, "doc", body)
		if out.VersionId == nil || *out.VersionId == "" || *out.VersionId == "null" {
			t.Fatalf("PUT %d: x-amz-version-id = %v", i, out.VersionId)
		}
		ids = append(ids, *out.VersionId)
	}
	for i, id := range ids {
		b, err := getVersion(t, cl, bucket, "doc", id)
		if err != nil || len(b) != 3000*(i+1) {
			t.Errorf("GET version %d = %d bytes, %v", i+1, len(b), err)
		}
	}
	want := []string{"doc " + ids[2] + " true", "doc " + ids[1] + " false", "doc " + ids[0] + " false", "doc null false"}
	if got := versionsOf(t, cl, bucket, "", 1000); !slices.Equal(got, want) {
		t.Fatalf("versions = %q; want %q", got, want)
	}
	// A copy from an old version is a new version.
	cp, err := cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy"),
		CopySource: aws.String(bucket + "/doc?versionId=" + ids[0])})
	if err != nil || cp.VersionId == nil || aws.ToString(cp.CopySourceVersionId) != ids[0] {
		t.Fatalf("CopyObject from a version = %+v, %v", cp, err)
	}
	if b, _ := get(t, cl, bucket, "copy", nil); len(b) != 3000 {
		t.Errorf("copy of version 1 has %d bytes; want 3000", len(b))
	}
	// DELETE writes a delete marker; GET is then NoSuchKey.
	del, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || del.VersionId == nil {
		t.Fatalf("DELETE = %+v, %v; want a delete marker", del, err)
	}
	marker := *del.VersionId
	if _, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc")}); errorCode(err) != "NoSuchKey" {
		t.Errorf("GET after the marker = %v; want NoSuchKey", err)
	}
	// HEAD of the marker by ID is 405 with the marker headers.
	resp, _ := rawRequest{method: "HEAD", path: "/" + bucket + "/doc?versionId=" + marker}.do(t, c.Endpoint)
	if resp.StatusCode != 405 || resp.Header.Get("x-amz-delete-marker") != "true" || resp.Header.Get("x-amz-version-id") != marker {
		t.Errorf("HEAD marker by id = %d, delete-marker %q, version %q; want 405, true, %s", resp.StatusCode,
			resp.Header.Get("x-amz-delete-marker"), resp.Header.Get("x-amz-version-id"), marker)
	}
	resp, _ = rawRequest{method: "GET", path: "/" + bucket + "/doc"}.do(t, c.Endpoint)
	if resp.StatusCode != 404 || resp.Header.Get("x-amz-delete-marker") != "true" {
		t.Errorf("GET under a marker = %d, delete-marker %q; want 404, true", resp.StatusCode, resp.Header.Get("x-amz-delete-marker"))
	}
	want = append([]string{"doc " + marker + " true marker", "doc " + ids[2] + " false"}, want[1:]...)
	if got := versionsOf(t, cl, bucket, "doc", 1000); !slices.Equal(got, want) {
		t.Fatalf("versions = %q; want %q", got, want)
	}
	// Deleting the marker brings the object back.
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc"), VersionId: aws.String(marker)}); err != nil {
		t.Fatal(err)
	}
	if b, _ := get(t, cl, bucket, "doc", nil); len(b) != 9000 {
		t.Errorf("GET after deleting the marker = %d bytes; want 9000", len(b))
	}
	// Deleting the latest version for good makes the one before latest.
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc"), VersionId: aws.String(ids[2])}); err != nil {
		t.Fatal(err)
	}
	if b, _ := get(t, cl, bucket, "doc", nil); len(b) != 6000 {
		t.Errorf("GET after purging the latest = %d bytes; want 6000", len(b))
	}
	if _, err := getVersion(t, cl, bucket, "doc", ids[2]); errorCode(err) != "NoSuchVersion" {
		t.Errorf("GET purged version = %v; want NoSuchVersion", err)
	}
	want = []string{"doc " + ids[1] + " true", "doc " + ids[0] + " false", "doc null false"}
	if got := versionsOf(t, cl, bucket, "doc", 2); !slices.Equal(got, want) {
		t.Fatalf("versions = %q; want %q", got, want)
	}

	// Suspended: PUT replaces the null version, real versions stay.
	setVersioning(t, cl, bucket, types.BucketVersioningStatusSuspended)
	if out := put(t, cl, bucket, "doc", []byte("null2")); aws.ToString(out.VersionId) != "null" {
		t.Errorf("suspended PUT x-amz-version-id = %q; want null", aws.ToString(out.VersionId))
	}
	if b, err := getVersion(t, cl, bucket, "doc", "null"); err != nil || string(b) != "null2" {
		t.Errorf("GET null = %q, %v; want null2", b, err)
	}
	want = []string{"doc null true", "doc " + ids[1] + " false", "doc " + ids[0] + " false"}
	if got := versionsOf(t, cl, bucket, "doc", 1000); !slices.Equal(got, want) {
		t.Fatalf("suspended versions = %q; want %q", got, want)
	}
	// DELETE in a suspended bucket writes a null delete marker.
	del, err = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) != "null" {
		t.Fatalf("suspended DELETE = %+v, %v; want a null marker", del, err)
	}
	want = []string{"doc null true marker", "doc " + ids[1] + " false", "doc " + ids[0] + " false"}
	if got := versionsOf(t, cl, bucket, "doc", 1000); !slices.Equal(got, want) {
		t.Fatalf("versions after suspended DELETE = %q; want %q", got, want)
	}

	// minio-go sees the same versions.
	mc := minioClient(t, c)
	n := 0
	for o := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{WithVersions: true, Prefix: "doc"}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n != 3 {
		t.Errorf("minio-go listed %d versions of doc; want 3", n)
	}
}

func TestVersioningWithNodesDown(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{InlineThreshold: 1024})
	cl := sdkClient(t, c)
	ctx := t.Context()
	const bucket = "versdown"
	mustCreateBucket(t, cl, bucket)
	setVersioning(t, cl, bucket, types.BucketVersioningStatusEnabled)
	put(t, cl, bucket, "k", []byte("first"))
	for _, i := range []int{1, 4} {
		if err := c.Nodes[i].Stop(); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for i := range 4 {
		out := put(t, cl, bucket, "k", bytes.Repeat([]byte{byte(i)}, 5000))
		ids = append(ids, aws.ToString(out.VersionId))
	}
	del, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("DELETE with 2 nodes down: %v", err)
	}
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), VersionId: aws.String(ids[1])}); err != nil {
		t.Fatalf("DELETE version with 2 nodes down: %v", err)
	}
	check := func(when string) {
		got := versionsOf(t, cl, bucket, "", 3)
		if len(got) != 5 || got[0] != "k "+aws.ToString(del.VersionId)+" true marker" || got[1] != "k "+ids[3]+" false" || got[2] != "k "+ids[2]+" false" || got[3] != "k "+ids[0]+" false" {
			t.Errorf("%s: versions = %q", when, got)
		}
		for i, id := range []string{ids[0], ids[2], ids[3]} {
			if b, err := getVersion(t, cl, bucket, "k", id); err != nil || len(b) != 5000 {
				t.Errorf("%s: GET version %d = %d bytes, %v", when, i, len(b), err)
			}
		}
	}
	check("two nodes down")
	for _, i := range []int{1, 4} {
		if err := c.Nodes[i].Restart(); err != nil {
			t.Fatal(err)
		}
	}
	// After handoff, the other two may go: the returned nodes must know
	// the versions and the purge.
	time.Sleep(500 * time.Millisecond)
	for _, n := range c.Nodes {
		n.Node().ReplayHints(ctx, c.Nodes[1].ID)
		n.Node().ReplayHints(ctx, c.Nodes[4].ID)
	}
	for _, i := range []int{0, 3} {
		if err := c.Nodes[i].Stop(); err != nil {
			t.Fatal(err)
		}
	}
	check("after handoff, two others down")
}

func TestVersionIDMarkerPaging(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	const bucket = "verspage"
	mustCreateBucket(t, cl, bucket)
	setVersioning(t, cl, bucket, types.BucketVersioningStatusEnabled)
	var want []string
	for i := range 50 {
		out := put(t, cl, bucket, "one", []byte(fmt.Sprint(i)))
		want = append([]string{"one " + aws.ToString(out.VersionId) + " false"}, want...)
		if i%10 == 0 {
			put(t, cl, bucket, fmt.Sprintf("other/%d", i), []byte("x"))
		}
	}
	want[0] = strings.TrimSuffix(want[0], "false") + "true"
	got := versionsOf(t, cl, bucket, "one", 7)
	if !slices.Equal(got, want) {
		t.Fatalf("50 versions paged by 7:\n got %q\nwant %q", got, want)
	}
	// With a delimiter, "other/" is one common prefix.
	res, err := cl.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1000)})
	if err != nil || len(res.CommonPrefixes) != 1 || aws.ToString(res.CommonPrefixes[0].Prefix) != "other/" || len(res.Versions) != 50 {
		t.Errorf("ListObjectVersions(delimiter /) = %d prefixes, %d versions, %v; want 1, 50", len(res.CommonPrefixes), len(res.Versions), err)
	}
}

// TestOverwriteRetiresShards overwrites one key 1,000 times in an
// unversioned bucket: once the retire grace has passed, the nodes store
// about one object's worth of shard bytes.
func TestOverwriteRetiresShards(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{InlineThreshold: 1024, RetireGrace: 50 * time.Millisecond})
	cl := sdkClient(t, c)
	const bucket = "overwrite"
	mustCreateBucket(t, cl, bucket)
	const size = 16 << 10
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sem := make(chan struct{}, 4)
	errs := make(chan error, 1000)
	for i := range 1000 {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("hot"), Body: bytes.NewReader(randomBytes(uint64(i), size))})
			errs <- err
		}()
	}
	for range 1000 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var total int64
	eventually(t, 10*time.Second, func() string {
		total = 0
		// Stored shards only: the bytes of removed ones stay in their
		// segments until compaction, unnamed by the index.
		for _, s := range storedShards(t, c) {
			total += s.Size
		}
		// 4+2 shards of 16 KiB plus frame checksums: ~24 KiB per object.
		if total > 3*size {
			return fmt.Sprintf("%d shard bytes on the nodes after 1,000 overwrites of %d bytes", total, size)
		}
		return ""
	})
	if total < size {
		t.Errorf("%d shard bytes left; want at least the object's own", total)
	}
}

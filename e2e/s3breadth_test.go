package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"cairn/internal/clustertest"
)

func ctxb() context.Context { return context.Background() }

func TestS3BreadthMultipart(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "mpb")
	ctx := ctxb()
	create, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("big"),
		ContentType: aws.String("application/x-test"), CacheControl: aws.String("max-age=60"), Metadata: map[string]string{"who": "me"}})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	id := create.UploadId
	parts := [][]byte{randomBytes(1, 5<<20), randomBytes(2, 5<<20+17), randomBytes(3, 1234)}
	var done []types.CompletedPart
	var md5s []byte
	for i, p := range parts {
		out, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpb"), Key: aws.String("big"), UploadId: id,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		sum := md5.Sum(p)
		md5s = append(md5s, sum[:]...)
		if got, want := aws.ToString(out.ETag), `"`+hex.EncodeToString(sum[:])+`"`; got != want {
			t.Errorf("UploadPart %d ETag = %s; want %s", i+1, got, want)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	// Re-uploading part 2 replaces it.
	parts[1] = randomBytes(22, 5<<20+99)
	out, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpb"), Key: aws.String("big"), UploadId: id, PartNumber: aws.Int32(2), Body: bytes.NewReader(parts[1])})
	if err != nil {
		t.Fatal(err)
	}
	done[1].ETag = out.ETag
	sum2 := md5.Sum(parts[1])
	copy(md5s[16:32], sum2[:])

	lp, err := cl.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpb"), Key: aws.String("big"), UploadId: id})
	if err != nil || len(lp.Parts) != 3 || aws.ToInt64(lp.Parts[1].Size) != int64(len(parts[1])) {
		t.Fatalf("ListParts = %+v, %v; want 3 parts with the re-uploaded second", lp, err)
	}
	lu, err := cl.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpb")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(id) {
		t.Fatalf("ListMultipartUploads = %+v, %v; want the one upload", lu, err)
	}
	// Wrong ETag → InvalidPart; out of order → InvalidPartOrder; small middle part → EntityTooSmall.
	bad := append([]types.CompletedPart(nil), done...)
	bad[0].ETag = aws.String(`"00000000000000000000000000000000"`)
	_, err = cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: bad}})
	if errorCode(err) != "InvalidPart" {
		t.Errorf("Complete with a wrong ETag: %v; want InvalidPart", err)
	}
	_, err = cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{done[1], done[0]}}})
	if errorCode(err) != "InvalidPartOrder" {
		t.Errorf("Complete out of order: %v; want InvalidPartOrder", err)
	}
	_, err = cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{done[0], done[2], {PartNumber: aws.Int32(9), ETag: done[1].ETag}}}})
	if errorCode(err) != "EntityTooSmall" && errorCode(err) != "InvalidPart" {
		t.Errorf("Complete with a small middle part: %v; want EntityTooSmall", err)
	}
	comp, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	etagSum := md5.Sum(md5s)
	if got, want := aws.ToString(comp.ETag), `"`+hex.EncodeToString(etagSum[:])+`-3"`; got != want {
		t.Errorf("multipart ETag = %s; want %s", got, want)
	}
	whole := bytes.Join(parts, nil)
	got, gout := get(t, cl, "mpb", "big", nil)
	sameBytes(t, "multipart GET", got, whole)
	if aws.ToString(gout.CacheControl) != "max-age=60" || gout.Metadata["who"] != "me" || aws.ToString(gout.ContentType) != "application/x-test" {
		t.Errorf("GET headers: cache-control %q meta %v type %q", aws.ToString(gout.CacheControl), gout.Metadata, aws.ToString(gout.ContentType))
	}
	// Ranges crossing part boundaries.
	for _, rg := range [][2]int{{5<<20 - 10, 5<<20 + 10}, {0, 0}, {len(whole) - 100, len(whole) - 1}, {3, 10<<20 + 200}} {
		b, _ := get(t, cl, "mpb", "big", aws.String(fmt.Sprintf("bytes=%d-%d", rg[0], rg[1])))
		sameBytes(t, fmt.Sprintf("range %v", rg), b, whole[rg[0]:rg[1]+1])
	}
	// The upload is gone.
	_, err = cl.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpb"), Key: aws.String("big"), UploadId: id})
	if errorCode(err) != "NoSuchUpload" {
		t.Errorf("ListParts after completion: %v; want NoSuchUpload", err)
	}
	lu, err = cl.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpb")})
	if err != nil || len(lu.Uploads) != 0 {
		t.Errorf("ListMultipartUploads after completion = %d uploads, %v; want none", len(lu.Uploads), err)
	}
	// Abort frees an upload; a later part upload gets NoSuchUpload.
	a, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("aborted")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpb"), Key: aws.String("aborted"), UploadId: a.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(parts[2])}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("aborted"), UploadId: a.UploadId}); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	_, err = cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpb"), Key: aws.String("aborted"), UploadId: a.UploadId, PartNumber: aws.Int32(2), Body: bytes.NewReader(parts[2])})
	if errorCode(err) != "NoSuchUpload" {
		t.Errorf("UploadPart after abort: %v; want NoSuchUpload", err)
	}
	_, err = cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpb"), Key: aws.String("x"), UploadId: aws.String("nope"), PartNumber: aws.Int32(1), Body: bytes.NewReader(nil)})
	if errorCode(err) != "NoSuchUpload" {
		t.Errorf("UploadPart to a bogus upload: %v; want NoSuchUpload", err)
	}
	// Overwriting the multipart object retires its part shards: nothing of
	// it stays readable and a plain object takes its place.
	put(t, cl, "mpb", "big", []byte("small now"))
	b, _ := get(t, cl, "mpb", "big", nil)
	sameBytes(t, "overwritten", b, []byte("small now"))

	// UploadPartCopy with a source range, then GetObjectAttributes.
	src := randomBytes(9, 6<<20)
	put(t, cl, "mpb", "src", src)
	cu, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("copied")})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := cl.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpb"), Key: aws.String("copied"), UploadId: cu.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("mpb/src"), CopySourceRange: aws.String("bytes=0-5242879")})
	if err != nil {
		t.Fatalf("UploadPartCopy: %v", err)
	}
	p2, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpb"), Key: aws.String("copied"), UploadId: cu.UploadId, PartNumber: aws.Int32(2), Body: bytes.NewReader([]byte("tail"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("copied"), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: p2.ETag}}}}); err != nil {
		t.Fatalf("Complete after part copy: %v", err)
	}
	b, _ = get(t, cl, "mpb", "copied", nil)
	sameBytes(t, "part copy", b, append(append([]byte(nil), src[:5<<20]...), "tail"...))
	attrs, err := cl.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("mpb"), Key: aws.String("copied"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize, types.ObjectAttributesObjectParts, types.ObjectAttributesEtag}})
	if err != nil || aws.ToInt64(attrs.ObjectSize) != 5<<20+4 || attrs.ObjectParts == nil || aws.ToInt32(attrs.ObjectParts.TotalPartsCount) != 2 {
		t.Errorf("GetObjectAttributes = %+v, %v", attrs, err)
	}
}

func TestS3BreadthCopyAndConditionals(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "aaa")
	mustCreateBucket(t, cl, "bbb")
	ctx := ctxb()
	data := randomBytes(4, 3<<20)
	_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("aaa"), Key: aws.String("k"), Body: bytes.NewReader(data),
		ContentType: aws.String("text/x"), Metadata: map[string]string{"m": "1"}, ContentDisposition: aws.String("attachment"),
		ContentLanguage: aws.String("fr"), Tagging: aws.String("t1=v1&t2=v2")})
	if err != nil {
		t.Fatal(err)
	}
	// COPY keeps metadata; REPLACE takes the request's.
	if _, err := cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bbb"), Key: aws.String("c1"), CopySource: aws.String("aaa/k")}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	b, out := get(t, cl, "bbb", "c1", nil)
	sameBytes(t, "copy", b, data)
	if out.Metadata["m"] != "1" || aws.ToString(out.ContentDisposition) != "attachment" || aws.ToString(out.ContentLanguage) != "fr" || aws.ToInt32(out.TagCount) != 2 {
		t.Errorf("COPY directive: meta %v disposition %q language %q tags %d", out.Metadata, aws.ToString(out.ContentDisposition), aws.ToString(out.ContentLanguage), aws.ToInt32(out.TagCount))
	}
	if _, err := cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bbb"), Key: aws.String("c2"), CopySource: aws.String("aaa/k"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"n": "2"}, ContentType: aws.String("text/y")}); err != nil {
		t.Fatal(err)
	}
	_, out = get(t, cl, "bbb", "c2", nil)
	if out.Metadata["n"] != "2" || out.Metadata["m"] != "" || aws.ToString(out.ContentType) != "text/y" {
		t.Errorf("REPLACE directive: meta %v type %q", out.Metadata, aws.ToString(out.ContentType))
	}
	_, err = cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("aaa"), Key: aws.String("k"), CopySource: aws.String("aaa/k")})
	if errorCode(err) != "InvalidRequest" {
		t.Errorf("copy onto itself without REPLACE: %v; want InvalidRequest", err)
	}
	_, err = cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bbb"), Key: aws.String("c3"), CopySource: aws.String("aaa/k"), CopySourceIfMatch: aws.String(`"nope"`)})
	if errorCode(err) != "PreconditionFailed" {
		t.Errorf("copy-source-if-match mismatch: %v; want PreconditionFailed", err)
	}
	// GET conditionals.
	etag := aws.ToString(put(t, cl, "aaa", "cond", []byte("hello")).ETag)
	_, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("aaa"), Key: aws.String("cond"), IfMatch: aws.String(`"x"`)})
	if errorCode(err) != "PreconditionFailed" {
		t.Errorf("GET If-Match mismatch: %v; want PreconditionFailed", err)
	}
	_, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("aaa"), Key: aws.String("cond"), IfNoneMatch: aws.String(etag)})
	if errorCode(err) != "NotModified" {
		t.Errorf("GET If-None-Match match: %v; want 304 NotModified", err)
	}
	_, err = cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("aaa"), Key: aws.String("cond"), IfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
	if errorCode(err) != "NotModified" {
		t.Errorf("HEAD If-Modified-Since future: %v; want 304", err)
	}
	_, err = cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("aaa"), Key: aws.String("cond"), IfUnmodifiedSince: aws.Time(time.Now().Add(-time.Hour))})
	if errorCode(err) != "PreconditionFailed" {
		t.Errorf("HEAD If-Unmodified-Since past: %v; want 412", err)
	}
	if _, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("aaa"), Key: aws.String("cond"), IfMatch: aws.String(etag),
		ResponseContentType: aws.String("image/png"), ResponseCacheControl: aws.String("no-store")}); err != nil {
		t.Errorf("GET If-Match match: %v", err)
	}
	// Conditional PUT.
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("aaa"), Key: aws.String("cond"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
	if errorCode(err) != "PreconditionFailed" {
		t.Errorf("PUT If-None-Match * on existing key: %v; want 412", err)
	}
	if _, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("aaa"), Key: aws.String("fresh"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")}); err != nil {
		t.Errorf("PUT If-None-Match * on new key: %v", err)
	}
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("aaa"), Key: aws.String("cond"), Body: strings.NewReader("y"), IfMatch: aws.String(`"0123"`)})
	if errorCode(err) != "PreconditionFailed" {
		t.Errorf("PUT If-Match mismatch: %v; want 412", err)
	}
	if _, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("aaa"), Key: aws.String("cond"), Body: strings.NewReader("y"), IfMatch: aws.String(etag)}); err != nil {
		t.Errorf("PUT If-Match match: %v", err)
	}
	b, _ = get(t, cl, "aaa", "cond", nil)
	sameBytes(t, "after If-Match PUT", b, []byte("y"))

	// Tagging.
	if _, err := cl.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("aaa"), Key: aws.String("cond"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("x"), Value: aws.String("1")}}}}); err != nil {
		t.Fatalf("PutObjectTagging: %v", err)
	}
	tg, err := cl.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("aaa"), Key: aws.String("cond")})
	if err != nil || len(tg.TagSet) != 1 || aws.ToString(tg.TagSet[0].Key) != "x" {
		t.Errorf("GetObjectTagging = %+v, %v", tg, err)
	}
	if _, err := cl.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("aaa"), Key: aws.String("cond")}); err != nil {
		t.Fatal(err)
	}
	tg, err = cl.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("aaa"), Key: aws.String("cond")})
	if err != nil || len(tg.TagSet) != 0 {
		t.Errorf("tags after delete = %+v, %v", tg, err)
	}
	// DeleteObjects with a per-key error, quiet and not.
	for i := range 5 {
		put(t, cl, "bbb", fmt.Sprintf("d%d", i), []byte("x"))
	}
	objs := []types.ObjectIdentifier{{Key: aws.String("d0")}, {Key: aws.String("d1")}, {Key: aws.String("missing")}, {Key: aws.String(strings.Repeat("k", 1025))}}
	del, err := cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bbb"), Delete: &types.Delete{Objects: objs}})
	if err != nil || len(del.Deleted) != 3 || len(del.Errors) != 1 || aws.ToString(del.Errors[0].Code) != "KeyTooLongError" {
		t.Errorf("DeleteObjects = %d deleted, %+v errors, %v; want 3 and one KeyTooLongError", len(del.Deleted), del.Errors, err)
	}
	del, err = cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bbb"), Delete: &types.Delete{Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{{Key: aws.String("d2")}}}})
	if err != nil || len(del.Deleted) != 0 || len(del.Errors) != 0 {
		t.Errorf("quiet DeleteObjects = %+v, %v", del, err)
	}
	if _, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bbb"), Key: aws.String("d2")}); errorCode(err) != "NotFound" {
		t.Errorf("HEAD after DeleteObjects: %v; want NotFound", err)
	}
	many := make([]types.ObjectIdentifier, 1001)
	for i := range many {
		many[i] = types.ObjectIdentifier{Key: aws.String(fmt.Sprint(i))}
	}
	if _, err := cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bbb"), Delete: &types.Delete{Objects: many}}); errorCode(err) != "MalformedXML" {
		t.Errorf("DeleteObjects of 1001 keys: %v; want MalformedXML", err)
	}
	// Location.
	loc, err := cl.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("aaa")})
	if err != nil || loc.LocationConstraint != "" {
		t.Errorf("GetBucketLocation = %+v, %v", loc, err)
	}
}

// TestS3BreadthMinio drives multipart and copy through minio-go, whose
// uploader picks its own part sizes and sends parts in parallel.
func TestS3BreadthMinio(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	mc := minioClient(t, c)
	ctx := ctxb()
	if err := mc.MakeBucket(ctx, "mini", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(7, 17<<20+3)
	if _, err := mc.PutObject(ctx, "mini", "obj", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{PartSize: 5 << 20, NumThreads: 3}); err != nil {
		t.Fatalf("minio multipart PutObject: %v", err)
	}
	o, err := mc.GetObject(ctx, "mini", "obj", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "minio multipart", got, data)
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "mini", Object: "copy"}, minio.CopySrcOptions{Bucket: "mini", Object: "obj"}); err != nil {
		t.Fatalf("minio CopyObject: %v", err)
	}
	o, _ = mc.GetObject(ctx, "mini", "copy", minio.GetObjectOptions{})
	got, _ = io.ReadAll(o)
	sameBytes(t, "minio copy of multipart", got, data)
}

// TestS3BreadthPresigned checks presigned GET, PUT and HEAD, expiry and
// tampering.
func TestS3BreadthPresigned(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "psb")
	ps := s3.NewPresignClient(cl)
	ctx := ctxb()
	body := []byte("presigned body")
	preq, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("psb"), Key: aws.String("k")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, preq.URL, bytes.NewReader(body))
	for k, v := range preq.SignedHeader {
		req.Header[k] = v
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %v %v", resp, err)
	}
	greq, _ := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("psb"), Key: aws.String("k")}, s3.WithPresignExpires(time.Hour))
	resp, err := http.Get(greq.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Errorf("presigned GET = %d %q", resp.StatusCode, got)
	}
	hreq, _ := ps.PresignHeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("psb"), Key: aws.String("k")}, s3.WithPresignExpires(time.Hour))
	if resp, err := http.Head(hreq.URL); err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) {
		t.Errorf("presigned HEAD = %v, %v", resp, err)
	}
	tampered := strings.Replace(greq.URL, "/psb/k", "/psb/other", 1)
	expectDenied(t, "tampered path", tampered)
	old, _ := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("psb"), Key: aws.String("k")}, func(o *s3.PresignOptions) {
		o.Expires = time.Second
		o.ClientOptions = append(o.ClientOptions, func(so *s3.Options) {})
	})
	time.Sleep(2100 * time.Millisecond)
	expectDenied(t, "expired", old.URL)
}

func expectDenied(t *testing.T, what, u string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !bytes.Contains(b, []byte("<Code>")) {
		t.Errorf("%s presigned URL: %d %s; want 403", what, resp.StatusCode, b)
	}
	if !bytes.Contains(b, []byte("AccessDenied")) && !bytes.Contains(b, []byte("SignatureDoesNotMatch")) {
		t.Errorf("%s presigned URL: body %s; want AccessDenied or SignatureDoesNotMatch", what, b)
	}
}

// secondGateway builds another gateway over the same nodes, as a second
// objgw process would be.
func secondGateway(t *testing.T, c *clustertest.Cluster) *s3.Client {
	t.Helper()
	_, endpoint := c.AddGateway(clustertest.GatewayOptions{})
	return sdkClientWith(endpoint, clustertest.AccessKey, clustertest.SecretKey)
}

// TestS3BreadthConditionalRace races two gateways writing the same key
// with If-None-Match: * and then If-Match on the same ETag: never may both
// succeed, and what a reader sees is the winner's body.
func TestS3BreadthConditionalRace(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	g1 := sdkClient(t, c)
	g2 := secondGateway(t, c)
	mustCreateBucket(t, g1, "race")
	ctx := ctxb()
	rounds := 30
	if testing.Short() {
		rounds = 8
	}
	var bothWon, noneWon atomic.Int32
	for i := range rounds {
		key := fmt.Sprintf("k%d", i)
		bodies := [2][]byte{[]byte(fmt.Sprintf("one-%d", i)), []byte(fmt.Sprintf("two-%d", i))}
		var errs [2]error
		var wg sync.WaitGroup
		for j, cl := range []*s3.Client{g1, g2} {
			wg.Go(func() {
				_, errs[j] = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String(key), Body: bytes.NewReader(bodies[j]), IfNoneMatch: aws.String("*")})
			})
		}
		wg.Wait()
		checkRace(t, g1, key, "If-None-Match", errs, bodies, &bothWon, &noneWon)

		// Now both replace it, each expecting the current ETag.
		cur, err := g1.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("race"), Key: aws.String(key)})
		if err != nil {
			continue // nobody won the first race; counted already
		}
		bodies = [2][]byte{[]byte(fmt.Sprintf("three-%d", i)), []byte(fmt.Sprintf("four-%d", i))}
		for j, cl := range []*s3.Client{g1, g2} {
			wg.Go(func() {
				_, errs[j] = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String(key), Body: bytes.NewReader(bodies[j]), IfMatch: cur.ETag})
			})
		}
		wg.Wait()
		checkRace(t, g1, key, "If-Match", errs, bodies, &bothWon, &noneWon)
	}
	if bothWon.Load() > 0 {
		t.Errorf("%d races had two winners", bothWon.Load())
	}
	t.Logf("%d rounds; %d races ended with no winner (both rolled back)", rounds, noneWon.Load())
}

func checkRace(t *testing.T, cl *s3.Client, key, what string, errs [2]error, bodies [2][]byte, both, none *atomic.Int32) {
	t.Helper()
	for _, err := range errs {
		if err != nil && errorCode(err) != "PreconditionFailed" && errorCode(err) != "ConditionalRequestConflict" {
			t.Errorf("%s race on %s: unexpected error %v", what, key, err)
		}
	}
	switch {
	case errs[0] == nil && errs[1] == nil:
		both.Add(1)
	case errs[0] != nil && errs[1] != nil:
		none.Add(1)
	default:
		winner := bodies[0]
		if errs[0] != nil {
			winner = bodies[1]
		}
		got, _ := get(t, cl, "race", key, nil)
		sameBytes(t, what+" race winner of "+key, got, winner)
	}
}

// TestS3BreadthBadInput covers body limits, DTDs, long keys, odd keys and
// slow header senders.
func TestS3BreadthBadInput(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "bad")
	ctx := ctxb()
	for _, key := range []string{"../../etc/passwd", "./x", "a//b", `back\slash`, "%2e%2e/dots", "ctl\x01\x1f", "/leading"} {
		put(t, cl, "bad", key, []byte(key))
		got, _ := get(t, cl, "bad", key, nil)
		sameBytes(t, fmt.Sprintf("key %q", key), got, []byte(key))
	}
	list, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bad"), EncodingType: types.EncodingTypeUrl})
	if err != nil || len(list.Contents) != 7 {
		t.Errorf("ListObjectsV2 of odd keys = %d keys, %v; want 7", len(list.Contents), err)
	}
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String(strings.Repeat("é", 513)), Body: strings.NewReader("x")})
	if errorCode(err) != "KeyTooLongError" {
		t.Errorf("PUT of a 1026-byte key: %v; want KeyTooLongError", err)
	}
	// A slow header sender is cut by the server's ReadHeaderTimeout; the
	// test cluster sets 10 s, so this only checks the connection does not
	// stay open past it.
	if !testing.Short() {
		conn, err := net.Dial("tcp", strings.TrimPrefix(c.Endpoint, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /bad HTTP/1.1\r\nHost: x\r\n")
		conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		start := time.Now()
		_, rerr := io.ReadAll(conn)
		var ne net.Error
		if errors.As(rerr, &ne) && ne.Timeout() {
			t.Errorf("slow header sender still connected after %v", time.Since(start))
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"cairn/internal/clustertest"
)

// putMany stores the keys with 16 concurrent clients; key i gets
// randomBytes(i, i%97) so that sizes and ETags differ.
func putMany(t *testing.T, cl *s3.Client, bucket string, keys []string) map[string][]byte {
	t.Helper()
	data := make(map[string][]byte, len(keys))
	for i, k := range keys {
		data[k] = randomBytes(uint64(i), i%97)
	}
	work := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for k := range work {
				put(t, cl, bucket, k, data[k])
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	return data
}

// listingKeys is 20 directories of 49 files and 20 keys at the top: 1,000.
func listingKeys() []string {
	var keys []string
	for d := range 20 {
		for f := range 49 {
			keys = append(keys, fmt.Sprintf("dir%02d/file%03d", d, f))
		}
	}
	for i := range 20 {
		keys = append(keys, fmt.Sprintf("root%03d", i))
	}
	slices.Sort(keys)
	return keys
}

// page is one page of a listing, whichever API produced it.
type page struct {
	keys, prefixes []string
	truncated      bool
	next           string // NextContinuationToken or NextMarker
}

func v2Page(t *testing.T, cl *s3.Client, in *s3.ListObjectsV2Input) (page, *s3.ListObjectsV2Output) {
	t.Helper()
	out, err := cl.ListObjectsV2(context.Background(), in)
	if err != nil {
		t.Fatalf("ListObjectsV2(%+v): %v", in, err)
	}
	var p page
	for _, o := range out.Contents {
		p.keys = append(p.keys, aws.ToString(o.Key))
	}
	for _, cp := range out.CommonPrefixes {
		p.prefixes = append(p.prefixes, aws.ToString(cp.Prefix))
	}
	p.truncated, p.next = aws.ToBool(out.IsTruncated), aws.ToString(out.NextContinuationToken)
	if kc := int(aws.ToInt32(out.KeyCount)); kc != len(p.keys)+len(p.prefixes) {
		t.Errorf("ListObjectsV2: KeyCount %d; want %d", kc, len(p.keys)+len(p.prefixes))
	}
	if p.truncated != (p.next != "") {
		t.Errorf("ListObjectsV2: IsTruncated %v with NextContinuationToken %q", p.truncated, p.next)
	}
	return p, out
}

// listAllV2 pages through a v2 listing by continuation token and returns
// every key and common prefix in the order returned.
func listAllV2(t *testing.T, cl *s3.Client, bucket, prefix, delimiter, startAfter string, maxKeys int32) (keys, prefixes []string) {
	t.Helper()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String(delimiter),
		StartAfter: aws.String(startAfter), MaxKeys: aws.Int32(maxKeys)}
	for pages := 0; ; pages++ {
		if pages > 2000 {
			t.Fatalf("listing does not end")
		}
		p, _ := v2Page(t, cl, in)
		if n := len(p.keys) + len(p.prefixes); n > int(maxKeys) || (p.truncated && n == 0) {
			t.Fatalf("page %d holds %d entries with max-keys %d (truncated %v)", pages, n, maxKeys, p.truncated)
		}
		keys, prefixes = append(keys, p.keys...), append(prefixes, p.prefixes...)
		if !p.truncated {
			return keys, prefixes
		}
		in.ContinuationToken = aws.String(p.next)
	}
}

// listAllV1 pages through a v1 listing by marker: NextMarker when the
// server sends one (it must with a delimiter), else the last key.
func listAllV1(t *testing.T, cl *s3.Client, bucket, prefix, delimiter string, maxKeys int32) (keys, prefixes []string) {
	t.Helper()
	in := &s3.ListObjectsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String(delimiter), MaxKeys: aws.Int32(maxKeys)}
	for pages := 0; ; pages++ {
		if pages > 2000 {
			t.Fatalf("listing does not end")
		}
		out, err := cl.ListObjects(context.Background(), in)
		if err != nil {
			t.Fatalf("ListObjects(%+v): %v", in, err)
		}
		var last string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
			last = aws.ToString(o.Key)
			if o.Owner == nil || aws.ToString(o.Owner.ID) == "" {
				t.Errorf("ListObjects: %s without Owner; v1 always sends it", last)
			}
		}
		for _, cp := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(cp.Prefix))
		}
		if m := aws.ToString(in.Marker); aws.ToString(out.Marker) != m {
			t.Errorf("ListObjects: Marker %q; want %q", aws.ToString(out.Marker), m)
		}
		if !aws.ToBool(out.IsTruncated) {
			if out.NextMarker != nil {
				t.Errorf("ListObjects: NextMarker %q on the last page", aws.ToString(out.NextMarker))
			}
			return keys, prefixes
		}
		next := aws.ToString(out.NextMarker)
		if delimiter != "" {
			// The marker must be the last entry, key or prefix, in S3 order.
			lastEntry := max(last, lastOf(out.CommonPrefixes))
			if next != lastEntry {
				t.Errorf("ListObjects delimited: NextMarker %q; want the last entry %q", next, lastEntry)
			}
		} else {
			if out.NextMarker != nil {
				t.Errorf("ListObjects without delimiter: NextMarker %q; S3 sends none", next)
			}
			next = last
		}
		if next == "" {
			t.Fatalf("ListObjects: truncated page gives nothing to continue from")
		}
		in.Marker = aws.String(next)
	}
}

func lastOf(cps []types.CommonPrefix) string {
	if len(cps) == 0 {
		return ""
	}
	return aws.ToString(cps[len(cps)-1].Prefix)
}

// wantList checks a listing against the expected keys and prefixes: same
// sorted sets, nothing twice.
func wantList(t *testing.T, what string, keys, prefixes, wantKeys, wantPrefixes []string) {
	t.Helper()
	for _, l := range []struct {
		name      string
		got, want []string
	}{{"keys", keys, wantKeys}, {"prefixes", prefixes, wantPrefixes}} {
		if !slices.IsSorted(l.got) {
			t.Errorf("%s: %s not in order", what, l.name)
		}
		if len(slices.Compact(slices.Clone(l.got))) != len(l.got) {
			t.Errorf("%s: %s returned twice", what, l.name)
		}
		if !slices.Equal(l.got, l.want) {
			t.Errorf("%s: %d %s %s; want %d %s", what, len(l.got), l.name, abbrev(l.got), len(l.want), abbrev(l.want))
		}
	}
}

func abbrev(s []string) string {
	if len(s) <= 6 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("[%q %q %q … %q %q %q]", s[0], s[1], s[2], s[len(s)-3], s[len(s)-2], s[len(s)-1])
}

// expectDelimited groups keys under prefix by the delimiter, as S3 does:
// an entry, key or common prefix, is listed only if it sorts after the
// start-after (or marker) value, which is what lets a client continue
// from a NextMarker that names a common prefix.
func expectDelimited(keys []string, prefix, delimiter, after string) (direct, prefixes []string) {
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				p := k[:len(prefix)+i+len(delimiter)]
				if p > after && (len(prefixes) == 0 || prefixes[len(prefixes)-1] != p) {
					prefixes = append(prefixes, p)
				}
				continue
			}
		}
		if k > after {
			direct = append(direct, k)
		}
	}
	return direct, prefixes
}

// TestListing lists 1,000 keys every way S3 offers: v2 and v1, with and
// without delimiter, by prefix, after a key, in pages of 7, 100 and 1,000
// by hand and with the SDK's paginator, and through minio-go.
func TestListing(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	const bucket = "listing"
	mustCreateBucket(t, cl, bucket)
	keys := listingKeys()
	data := putMany(t, cl, bucket, keys)

	t.Run("attributes", func(t *testing.T) {
		t.Parallel()
		_, out := v2Page(t, cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if len(out.Contents) != len(keys) || aws.ToBool(out.IsTruncated) {
			t.Fatalf("ListObjectsV2 default page: %d keys, truncated %v; want all %d in one page", len(out.Contents), aws.ToBool(out.IsTruncated), len(keys))
		}
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			if n := aws.ToInt64(o.Size); n != int64(len(data[k])) {
				t.Errorf("%s: Size %d; want %d", k, n, len(data[k]))
			}
			if e := aws.ToString(o.ETag); e != `"`+md5Hex(data[k])+`"` {
				t.Errorf("%s: ETag %s; want %q", k, e, md5Hex(data[k]))
			}
			if o.LastModified == nil || o.LastModified.IsZero() {
				t.Errorf("%s: no LastModified", k)
			}
			if o.Owner != nil {
				t.Errorf("%s: Owner %+v without fetch-owner", k, *o.Owner)
			}
		}
		_, out = v2Page(t, cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), FetchOwner: aws.Bool(true), MaxKeys: aws.Int32(10)})
		for _, o := range out.Contents {
			if o.Owner == nil || aws.ToString(o.Owner.ID) != clustertest.AccessKey {
				t.Errorf("%s with fetch-owner: Owner %+v; want ID %q", aws.ToString(o.Key), o.Owner, clustertest.AccessKey)
			}
		}
	})

	tests := []struct {
		prefix, delimiter, startAfter string
		maxKeys                       int32
	}{
		{"", "", "", 1000},
		{"", "", "", 7},
		{"", "", "", 100},
		{"", "/", "", 7},
		{"", "/", "", 1000},
		{"", "/", "dir07/", 3},           // start-after equal to a prefix skips it
		{"", "/", "dir07/file010", 5},    // start-after inside a prefix keeps its rest grouped
		{"", "", "dir10/file025", 100},   // start-after a key
		{"dir05/", "", "", 7},            // a prefix
		{"dir05/", "/", "", 1000},        // a prefix with nothing below it to group
		{"dir1", "/", "", 3},             // prefixes under a prefix
		{"dir1", "", "dir15/file048", 7}, // prefix and start-after
		{"root", "", "", 6},
		{"nothing", "/", "", 7},
		{"", "file", "", 7}, // a delimiter other than "/"
	}
	for _, tc := range tests {
		name := fmt.Sprintf("v2/prefix=%s/delim=%s/after=%s/max=%d", tc.prefix, tc.delimiter, tc.startAfter, tc.maxKeys)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wantKeys, wantPrefixes := expectDelimited(keys, tc.prefix, tc.delimiter, tc.startAfter)
			gotKeys, gotPrefixes := listAllV2(t, cl, bucket, tc.prefix, tc.delimiter, tc.startAfter, tc.maxKeys)
			wantList(t, name, gotKeys, gotPrefixes, wantKeys, wantPrefixes)
		})
		if tc.startAfter != "" {
			continue
		}
		name = fmt.Sprintf("v1/prefix=%s/delim=%s/max=%d", tc.prefix, tc.delimiter, tc.maxKeys)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wantKeys, wantPrefixes := expectDelimited(keys, tc.prefix, tc.delimiter, "")
			gotKeys, gotPrefixes := listAllV1(t, cl, bucket, tc.prefix, tc.delimiter, tc.maxKeys)
			wantList(t, name, gotKeys, gotPrefixes, wantKeys, wantPrefixes)
		})
	}

	for _, tc := range []struct {
		delimiter string
		limit     int32
	}{{"", 7}, {"", 100}, {"/", 7}} {
		name := fmt.Sprintf("paginator/delim=%s/max=%d", tc.delimiter, tc.limit)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Delimiter: aws.String(tc.delimiter)},
				func(o *s3.ListObjectsV2PaginatorOptions) { o.Limit = tc.limit })
			var gotKeys, gotPrefixes []string
			for p.HasMorePages() {
				out, err := p.NextPage(context.Background())
				if err != nil {
					t.Fatalf("NextPage: %v", err)
				}
				if n := len(out.Contents) + len(out.CommonPrefixes); n > int(tc.limit) {
					t.Errorf("page of %d with limit %d", n, tc.limit)
				}
				for _, o := range out.Contents {
					gotKeys = append(gotKeys, aws.ToString(o.Key))
				}
				for _, cp := range out.CommonPrefixes {
					gotPrefixes = append(gotPrefixes, aws.ToString(cp.Prefix))
				}
			}
			wantKeys, wantPrefixes := expectDelimited(keys, "", tc.delimiter, "")
			wantList(t, name, gotKeys, gotPrefixes, wantKeys, wantPrefixes)
		})
	}

	for _, v1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("minio/v1=%v", v1), func(t *testing.T) {
			t.Parallel()
			mc := minioClient(t, c)
			var got []string
			for o := range mc.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true, UseV1: v1, MaxKeys: 100}) {
				if o.Err != nil {
					t.Fatalf("minio ListObjects: %v", o.Err)
				}
				got = append(got, o.Key)
			}
			wantList(t, "minio recursive", got, nil, keys, nil)
			var top []string
			for o := range mc.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{UseV1: v1}) {
				if o.Err != nil {
					t.Fatalf("minio ListObjects: %v", o.Err)
				}
				top = append(top, o.Key)
			}
			// minio-go hands out each page's keys before its prefixes.
			slices.Sort(top)
			wantKeys, wantPrefixes := expectDelimited(keys, "", "/", "")
			wantList(t, "minio delimited", top, nil, slices.Sorted(slices.Values(append(wantKeys, wantPrefixes...))), nil)
		})
	}
}

// TestListingAfterDelete deletes keys and checks that they vanish from
// every kind of listing, prefixes emptied by the deletes included, and that
// the bucket can be deleted once it is empty.
func TestListingAfterDelete(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	const bucket = "deletes"
	mustCreateBucket(t, cl, bucket)
	var keys []string
	for d := range 5 {
		for f := range 12 {
			keys = append(keys, fmt.Sprintf("d%d/f%02d", d, f))
		}
	}
	putMany(t, cl, bucket, keys)

	var kept, gone []string
	for i, k := range keys {
		// Every third key goes, and the whole of d2/.
		if i%3 == 0 || strings.HasPrefix(k, "d2/") {
			gone = append(gone, k)
		} else {
			kept = append(kept, k)
		}
	}
	for _, k := range gone {
		if _, err := cl.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatalf("DeleteObject(%s): %v", k, err)
		}
	}
	for _, max := range []int32{1, 7, 1000} {
		gotKeys, _ := listAllV2(t, cl, bucket, "", "", "", max)
		wantList(t, fmt.Sprintf("v2 max=%d after deletes", max), gotKeys, nil, kept, nil)
		gotKeys, _ = listAllV1(t, cl, bucket, "", "", max)
		wantList(t, fmt.Sprintf("v1 max=%d after deletes", max), gotKeys, nil, kept, nil)
		_, gotPrefixes := listAllV2(t, cl, bucket, "", "/", "", max)
		wantList(t, fmt.Sprintf("v2 delimited max=%d after deletes", max), nil, gotPrefixes, nil, []string{"d0/", "d1/", "d3/", "d4/"})
	}
	for _, k := range gone[:3] {
		_, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if code := errorCode(err); code != "NoSuchKey" {
			t.Errorf("GetObject(%s) after delete = %v (code %q); want NoSuchKey", k, err, code)
		}
	}

	_, err := cl.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	if code := errorCode(err); code != "BucketNotEmpty" {
		t.Fatalf("DeleteBucket with %d keys = %v (code %q); want BucketNotEmpty", len(kept), err, code)
	}
	for _, k := range kept {
		if _, err := cl.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatalf("DeleteObject(%s): %v", k, err)
		}
	}
	if gotKeys, gotPrefixes := listAllV2(t, cl, bucket, "", "/", "", 7); len(gotKeys)+len(gotPrefixes) != 0 {
		t.Errorf("listing of an emptied bucket: %q %q", gotKeys, gotPrefixes)
	}
	if _, err := cl.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("DeleteBucket of an emptied bucket: %v", err)
	}
	_, err = cl.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if code := errorCode(err); code != "NotFound" {
		t.Errorf("HeadBucket after DeleteBucket = %v (code %q); want NotFound", err, code)
	}
}

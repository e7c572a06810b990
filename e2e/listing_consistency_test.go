package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
	"cairn/metadata"
)

// walkV2 lists bucket page by page and returns every key and common prefix
// in the order listed.
func walkV2(t *testing.T, cl *s3.Client, bucket, prefix, delimiter string, maxKeys int32) []string {
	t.Helper()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(maxKeys)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	var items []string
	p := s3.NewListObjectsV2Paginator(cl, in)
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListObjectsV2(%s, prefix %q, delimiter %q): %v", bucket, prefix, delimiter, err)
		}
		var page []string
		for _, o := range out.Contents {
			page = append(page, aws.ToString(o.Key))
		}
		for _, cp := range out.CommonPrefixes {
			page = append(page, aws.ToString(cp.Prefix))
		}
		// Keys and prefixes of one page come in two lists; S3 orders them
		// together.
		slices.Sort(page)
		items = append(items, page...)
	}
	return items
}

// checkListing reports items listed twice or out of order, items that are
// none of the known keys or their prefixes, and stable items missing.
func checkListing(t *testing.T, what string, items []string, stable, known map[string]bool) {
	t.Helper()
	for i := 1; i < len(items); i++ {
		if items[i] <= items[i-1] {
			t.Errorf("%s: %q listed after %q (twice or out of order)", what, items[i], items[i-1])
		}
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		seen[it] = true
		if !known[it] {
			t.Errorf("%s: listed %q, never written", what, it)
		}
	}
	for it := range stable {
		if !seen[it] {
			t.Errorf("%s: %q existed for the whole listing but was not listed", what, it)
		}
	}
}

// itemsOf maps keys to what a listing with delimiter shows of them: the key,
// or its common prefix.
func itemsOf(keys []string, delimiter string) map[string]bool {
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		if i := strings.Index(k, delimiter); delimiter != "" && i >= 0 {
			k = k[:i+len(delimiter)]
		}
		out[k] = true
	}
	return out
}

// TestListingConsistentUnderWrites pages through a bucket with small pages,
// with and without a delimiter, while other clients PUT and DELETE keys
// between and among the listed ones, first with every node up and then with
// one down: no item may be listed twice, and every key that existed for the
// whole listing must be listed.
func TestListingConsistentUnderWrites(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	const bucket = "listing"
	mustCreateBucket(t, cl, bucket)

	// Stable keys stay for the whole test; churn keys, interleaved with
	// them, come and go; doomed keys exist at the start and are deleted
	// during the first listing. Some directories hold only churn keys, so
	// their common prefix appears and disappears.
	var stable, churn, doomed []string
	for d := range 12 {
		for f := range 8 {
			stable = append(stable, fmt.Sprintf("d%02d/f%02d", d, f))
			churn = append(churn, fmt.Sprintf("d%02d/f%02d-c", d, f))
		}
		churn = append(churn, fmt.Sprintf("e%02d/only", d))
		doomed = append(doomed, fmt.Sprintf("d%02d/f99", d))
	}
	for i := range 30 {
		stable = append(stable, fmt.Sprintf("top%03d", 2*i))
		churn = append(churn, fmt.Sprintf("top%03d", 2*i+1))
	}
	putMany(t, cl, bucket, slices.Concat(stable, doomed))
	known := slices.Concat(stable, churn, doomed)

	for _, down := range []bool{false, true} {
		if down {
			if err := c.Nodes[2].Stop(); err != nil {
				t.Fatalf("stop %s: %v", c.Nodes[2].ID, err)
			}
		}
		for _, delimiter := range []string{"", "/"} {
			what := fmt.Sprintf("node down %v, delimiter %q", down, delimiter)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var writes atomic.Int64
			for w := range 3 {
				wg.Go(func() {
					ctx := context.Background()
					for i := w; ; i += 3 {
						select {
						case <-stop:
							return
						default:
						}
						k := churn[i%len(churn)]
						var err error
						if i/len(churn)%2 == 0 {
							_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(k)})
						} else {
							_, err = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
						}
						if err != nil {
							t.Errorf("%s: write %s: %v", what, k, err)
							return
						}
						writes.Add(1)
					}
				})
			}
			if !down && delimiter == "" {
				wg.Go(func() {
					for _, k := range doomed {
						if _, err := cl.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
							t.Errorf("delete %s: %v", k, err)
						}
					}
				})
			}
			maxKeys := int32(5)
			if delimiter != "" {
				maxKeys = 3
			}
			// The writers are under way before the listing starts.
			for writes.Load() == 0 && !t.Failed() {
				time.Sleep(time.Millisecond)
			}
			w0 := writes.Load()
			items := walkV2(t, cl, bucket, "", delimiter, maxKeys)
			w1 := writes.Load()
			close(stop)
			wg.Wait()
			if w1 == w0 {
				t.Errorf("%s: no write overlapped the listing", what)
			}
			checkListing(t, what, items, itemsOf(stable, delimiter), itemsOf(known, delimiter))
		}
	}
}

// TestDelimitedListingStaleNode makes one node hold live records of keys the
// other nodes have newer tombstones of, so that this node's witness of a
// common prefix is deleted: the prefix must be listed only if a key under
// it is live, and the stale keys never.
func TestDelimitedListingStaleNode(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	const bucket = "stale"
	mustCreateBucket(t, cl, bucket)
	// x1/: its first key is stale, a later one live. x2/: only stale keys.
	// x3/: live keys only.
	putMany(t, cl, bucket, []string{"x1/a", "x1/b", "x1/c", "x2/a", "x2/b", "x3/a", "z"})
	ctx := context.Background()
	stale := c.Nodes[0].Node()
	for _, k := range []string{"x1/a", "x1/b", "x2/a", "x2/b"} {
		v, err := stale.GetVersion(ctx, metadata.ObjectKey{Bucket: bucket, Key: k})
		if err != nil {
			t.Fatalf("GetVersion(%s) on %s: %v", k, c.Nodes[0].ID, err)
		}
		tomb := metadata.Version{Bucket: bucket, Key: k, HLC: v.HLC + 1, Deleted: true, ModTime: v.ModTime,
			EC: v.EC, Shards: v.Shards}
		tomb.VersionID = metadata.NewVersionID(tomb.HLC, "test")
		for _, n := range c.Nodes[1:] {
			if err := n.Node().PutVersion(ctx, &tomb); err != nil {
				t.Fatalf("PutVersion(tombstone %s) on %s: %v", k, n.ID, err)
			}
		}
	}
	for _, tc := range []struct {
		delimiter string
		maxKeys   int32
		want      []string
	}{
		{"/", 1000, []string{"x1/", "x3/", "z"}},
		{"/", 1, []string{"x1/", "x3/", "z"}},
		{"", 1000, []string{"x1/c", "x3/a", "z"}},
		{"", 1, []string{"x1/c", "x3/a", "z"}},
	} {
		if got := walkV2(t, cl, bucket, "", tc.delimiter, tc.maxKeys); !slices.Equal(got, tc.want) {
			t.Errorf("list(delimiter %q, max-keys %d) = %v; want %v", tc.delimiter, tc.maxKeys, got, tc.want)
		}
	}
	if got, want := walkV2(t, cl, bucket, "x1/", "/", 1), []string{"x1/c"}; !slices.Equal(got, want) {
		t.Errorf("list(prefix x1/, delimiter /) = %v; want %v", got, want)
	}
}

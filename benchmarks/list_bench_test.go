//go:build unix

package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
	"cairn/metadata"
)

// listKeys is how many objects BenchmarkListMillion loads; CAIRN_LIST_KEYS
// overrides it (a multiple of listFiles*listSubs) for a quick check.
const listKeys = 1_000_000

// The key shape dir%03d/sub%02d/file%04d: a delimited listing of the bucket
// sees listDirs common prefixes, of a dir listSubs, and a sub is one full
// page of listFiles keys.
const (
	listSubs  = 10
	listFiles = 1000
)

func listKey(i int) string {
	return fmt.Sprintf("dir%03d/sub%02d/file%04d", i/(listSubs*listFiles), i/listFiles%listSubs, i%listFiles)
}

// BenchmarkListMillion loads 1,000,000 zero-byte objects into one bucket of
// an in-process 6-node 4+2 cluster and measures ListObjectsV2 through
// aws-sdk-go-v2: the latency of 1,000-key pages without a delimiter (from
// random start-after positions) and with delimiter "/" (at the bucket's root,
// a dir, and a sub of 1,000 files), and the keys/s of a full walk of the
// bucket page by page. It runs once whatever b.N is:
//
//	go test -run '^$' -bench ListMillion -benchtime 1x -timeout 30m ./benchmarks/
//
// The objects are loaded with node.Node.ImportVersions, copying on every node
// the record that node holds for one zero-byte object PUT through the
// gateway (with its own inline fragment), so every listed key is a real,
// readable object; the load is not measured.
func BenchmarkListMillion(b *testing.B) {
	n := listKeys
	if s := os.Getenv("CAIRN_LIST_KEYS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 || v%(listSubs*listFiles) != 0 {
			b.Fatalf("CAIRN_LIST_KEYS=%q: want a positive multiple of %d", s, listSubs*listFiles)
		}
		n = v
	}
	ctx := b.Context()
	c := clustertest.Start(b, clustertest.Options{})
	client := NewClient(ClientOptions{Endpoint: c.Endpoint, Region: clustertest.Region,
		AccessKey: clustertest.AccessKey, SecretKey: clustertest.SecretKey, Concurrency: 4})
	const bucket = "million"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	loadListBucket(ctx, b, c, client, bucket, n)
	fmt.Printf("ListMillion: loaded %d objects on %d nodes in %v\n", n, len(c.Nodes), time.Since(t0).Round(time.Millisecond))

	dirs := n / (listSubs * listFiles)
	rng := rand.New(rand.NewPCG(1, 2))
	page := func(in *s3.ListObjectsV2Input, want int) time.Duration {
		in.Bucket, in.MaxKeys = aws.String(bucket), aws.Int32(1000)
		t := time.Now()
		out, err := client.ListObjectsV2(ctx, in)
		d := time.Since(t)
		if err != nil {
			b.Fatal(err)
		}
		if got := len(out.Contents) + len(out.CommonPrefixes); got != want {
			b.Fatalf("ListObjectsV2(prefix %q, start-after %q) = %d entries; want %d",
				aws.ToString(in.Prefix), aws.ToString(in.StartAfter), got, want)
		}
		return d
	}
	// The process's CPU time per page, which other load on the machine
	// does not inflate as it does latency: the whole cluster and the client
	// run in this process.
	const samples = 40
	var flat, root, dir, leaf []time.Duration
	var flatCPU, delimCPU time.Duration
	for range samples {
		i := rng.IntN(n - 1000)
		c0 := cpuTime()
		flat = append(flat, page(&s3.ListObjectsV2Input{StartAfter: aws.String(listKey(i))}, 1000))
		c1 := cpuTime()
		root = append(root, page(&s3.ListObjectsV2Input{Delimiter: aws.String("/")}, min(dirs, 1000)))
		d := rng.IntN(dirs)
		dir = append(dir, page(&s3.ListObjectsV2Input{Delimiter: aws.String("/"), Prefix: aws.String(fmt.Sprintf("dir%03d/", d))}, listSubs))
		leaf = append(leaf, page(&s3.ListObjectsV2Input{Delimiter: aws.String("/"),
			Prefix: aws.String(fmt.Sprintf("dir%03d/sub%02d/", d, rng.IntN(listSubs)))}, listFiles))
		flatCPU += c1 - c0
		delimCPU += cpuTime() - c1
	}
	delim := slices.Concat(root, dir, leaf)

	t0 = time.Now()
	c0 := cpuTime()
	walked, pages := 0, 0
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1000)})
	prev := ""
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out.Contents {
			if k := aws.ToString(o.Key); k <= prev {
				b.Fatalf("walk: key %q after %q", k, prev)
			} else {
				prev = k
			}
		}
		walked += len(out.Contents)
		pages++
	}
	walk, walkCPU := time.Since(t0), cpuTime()-c0
	if walked != n {
		b.Fatalf("walk listed %d keys; want %d", walked, n)
	}
	rate := float64(walked) / walk.Seconds()

	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Printf("ListMillion: %d keys, 1000-key ListObjectsV2 pages, %d samples each:\n", n, samples)
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"no delimiter", flat}, {"delimiter, all", delim}, {"delimiter, root", root}, {"delimiter, dir", dir}, {"delimiter, sub (1000 keys)", leaf}} {
		fmt.Printf("  %-28s median %7.2f ms  p90 %7.2f ms\n", s.name, ms(quantile(s.d, 0.5)), ms(quantile(s.d, 0.9)))
	}
	fmt.Printf("  full walk: %d keys in %d pages in %v: %.0f keys/s\n", walked, pages, walk.Round(time.Millisecond), rate)
	fmt.Printf("  CPU (client, gateway and nodes): %.2f ms per page without delimiter, %.2f ms with; walk %.2f ms per page\n",
		ms(flatCPU)/samples, ms(delimCPU)/(3*samples), ms(walkCPU)/float64(pages))
	b.ReportMetric(ms(quantile(flat, 0.5)), "page-ms-median")
	b.ReportMetric(ms(quantile(flat, 0.9)), "page-ms-p90")
	b.ReportMetric(ms(quantile(delim, 0.5)), "delim-page-ms-median")
	b.ReportMetric(ms(quantile(delim, 0.9)), "delim-page-ms-p90")
	b.ReportMetric(rate, "walk-keys/s")
	b.ReportMetric(ms(walkCPU)/float64(pages), "walk-cpu-ms/page")
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

// loadListBucket imports n zero-byte objects into bucket on every node. It
// PUTs one through the gateway and copies, on each node, that node's record
// of it, so the imported ones carry each node's own inline fragment.
func loadListBucket(ctx context.Context, b *testing.B, c *clustertest.Cluster, client *s3.Client, bucket string, n int) {
	const tmplKey = "template"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(tmplKey), Body: bytes.NewReader(nil)}); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, cn := range c.Nodes {
		wg.Go(func() {
			nd := cn.Node()
			tmpl, err := nd.GetVersion(ctx, metadata.ObjectKey{Bucket: bucket, Key: tmplKey})
			if err != nil {
				errs[i] = fmt.Errorf("node %s: template: %w", cn.ID, err)
				return
			}
			const chunk = 50_000
			vs := make([]metadata.Version, chunk)
			ptrs := make([]*metadata.Version, chunk)
			for start := 0; start < n; start += chunk {
				ptrs = ptrs[:min(chunk, n-start)]
				for j := range ptrs {
					v := &vs[j]
					*v = *tmpl
					// Distinct HLCs, all older than the template's, as if
					// written in key order a while ago.
					v.HLC = tmpl.HLC - metadata.HLC(n-start-j)
					v.Key = listKey(start + j)
					v.VersionID = metadata.NewVersionID(v.HLC, "import")
					ptrs[j] = v
				}
				if err := nd.ImportVersions(ctx, ptrs); err != nil {
					errs[i] = fmt.Errorf("node %s: %w", cn.ID, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(tmplKey)}); err != nil {
		b.Fatal(err)
	}
	// An imported object reads back like a PUT one.
	k := listKey(n / 2)
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
	if err != nil {
		b.Fatalf("GET imported %s: %v", k, err)
	}
	out.Body.Close()
	if aws.ToInt64(out.ContentLength) != 0 {
		b.Fatalf("GET imported %s: %d bytes; want 0", k, aws.ToInt64(out.ContentLength))
	}
}

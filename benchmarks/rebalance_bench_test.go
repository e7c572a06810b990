package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/adminapi"
	"cairn/internal/clustertest"
	"cairn/internal/objctl"
)

// BenchmarkRebalance adds a seventh node to six holding 96 × 4 MiB objects
// (576 MiB of shards) and measures the move it starts: how many bytes
// moved, how long until no node holds a misplaced shard, the rate against
// the nodes' rebalance limit, and the p99 of 64 KiB GETs while it moves
// against the same GETs right after.
//
//	go test -run '^$' -bench Rebalance -benchtime 1x ./benchmarks/
func BenchmarkRebalance(b *testing.B) {
	const objects, size = 96, 4 << 20
	const rate = 64 << 20 // the default --rebalance-rate
	data := bytes.Repeat([]byte("cairn-rebalance!"), size/16)
	for b.Loop() {
		c := clustertest.Start(b, clustertest.Options{ScanInterval: 200 * time.Millisecond, RebalanceRate: rate,
			RetireGrace: time.Second})
		cl := NewClient(ClientOptions{Endpoint: c.Endpoint, AccessKey: clustertest.AccessKey, SecretKey: clustertest.SecretKey,
			Region: clustertest.Region, Concurrency: 8})
		admin := httptest.NewServer(c.Gateway.AdminHandler())
		ctl, err := objctl.NewClient(admin.URL, clustertest.AccessKey, clustertest.SecretKey, clustertest.Region, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("grow")}); err != nil {
			b.Fatal(err)
		}
		small := bytes.Repeat([]byte("s"), 64<<10)
		for i := range 32 {
			if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("grow"), Key: aws.String(fmt.Sprint("small", i)), Body: bytes.NewReader(small)}); err != nil {
				b.Fatal(err)
			}
		}
		for i := range objects {
			if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("grow"), Key: aws.String(fmt.Sprint("big", i)), Body: bytes.NewReader(data)}); err != nil {
				b.Fatal(err)
			}
		}
		foreground := func(until func() bool) Summary { return smallGets(b, cl, "grow", until) }
		n7 := c.AddNode("z1")
		if _, err := ctl.Stage(ctx, adminapi.LayoutChange{Op: "add-node", Node: n7.ID}); err != nil {
			b.Fatal(err)
		}
		view, err := ctl.Layout(ctx)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := ctl.Apply(ctx); err != nil {
			b.Fatal(err)
		}
		var st *adminapi.Status
		settled := func() bool {
			if st, err = ctl.Status(ctx); err != nil {
				b.Fatal(err)
			}
			for _, n := range st.Nodes {
				if n.LayoutEpoch != st.LayoutEpoch || n.LastScan.Before(start) {
					return false
				}
			}
			return st.Rebalance.Misplaced == 0 && st.Rebalance.Moved > 0
		}
		during := foreground(settled)
		took := time.Since(start)
		end := time.Now().Add(took)
		quiet := foreground(func() bool { return time.Now().After(end) })
		admin.Close()
		b.ReportMetric(float64(view.Preview.PGsMoved), "PGs-moved")
		b.ReportMetric(float64(st.Rebalance.Moved), "shards-moved")
		b.ReportMetric(float64(st.Rebalance.MovedBytes)/(1<<20), "MiB-moved")
		b.ReportMetric(took.Seconds(), "s-to-settle")
		b.ReportMetric(float64(st.Rebalance.MovedBytes)/(1<<20)/took.Seconds(), "MiB/s-moved")
		b.ReportMetric(float64(during.P99.Microseconds()), "p99-us-moving")
		b.ReportMetric(float64(quiet.P99.Microseconds()), "p99-us-quiet")
		b.ReportMetric(float64(during.P99)/float64(quiet.P99), "p99-ratio")
	}
}

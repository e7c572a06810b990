package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
)

// BenchmarkHintReplay measures hinted handoff: with one node down, PUTs
// leave its shards as hints on the others; once it is back, the benchmark
// times how long the hints take to drain and reports the replay rate.
// Run with -benchtime=1x; each iteration is one outage.
func BenchmarkHintReplay(b *testing.B) {
	for _, rate := range []struct {
		name string
		bps  int64
	}{{"default-rate", 0}, {"unthrottled", 1 << 40}} {
		b.Run(rate.name, func(b *testing.B) {
			const objects, size = 24, 4 << 20
			data := bytes.Repeat([]byte("cairn-hint-replay"), size/17+1)[:size]
			for b.Loop() {
				c := clustertest.Start(b, clustertest.Options{HandoffInterval: 20 * time.Millisecond, ReplayRate: rate.bps})
				cl := NewClient(ClientOptions{Endpoint: c.Endpoint, AccessKey: clustertest.AccessKey, SecretKey: clustertest.SecretKey, Region: clustertest.Region, Concurrency: 4})
				ctx := context.Background()
				if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("handoff")}); err != nil {
					b.Fatal(err)
				}
				down := c.Nodes[2]
				if err := down.Stop(); err != nil {
					b.Fatal(err)
				}
				for i := range objects {
					if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("handoff"), Key: aws.String(fmt.Sprint("k", i)), Body: bytes.NewReader(data)}); err != nil {
						b.Fatal(err)
					}
				}
				var hinted int64
				for _, n := range c.Nodes {
					if nd := n.Node(); nd != nil {
						for _, st := range nd.HintStats() {
							hinted += st.Bytes
						}
					}
				}
				start := time.Now()
				if err := down.Restart(); err != nil {
					b.Fatal(err)
				}
				for drained := false; !drained; {
					drained = true
					for _, n := range c.Nodes {
						for _, st := range n.Node().HintStats() {
							if st.Count > 0 {
								drained = false
							}
						}
					}
					if time.Since(start) > 2*time.Minute {
						b.Fatal("hints did not drain in 2 minutes")
					}
					time.Sleep(5 * time.Millisecond)
				}
				secs := time.Since(start).Seconds()
				b.ReportMetric(float64(hinted)/secs/(1<<20), "MiB/s-replayed")
				b.ReportMetric(float64(hinted)/(1<<20), "MiB-hinted")
				b.ReportMetric(secs, "s-to-drain")
			}
		})
	}
}

// BenchmarkReplayInterference measures what hint replay costs foreground
// traffic: the p99 latency of small GETs while a returning node takes back
// its hints, against the same GETs with no replay, in one run. The replay
// runs at the nodes' default rate. Run with -benchtime=1x.
func BenchmarkReplayInterference(b *testing.B) {
	const objects, size = 96, 4 << 20
	data := bytes.Repeat([]byte("cairn-replay-p99"), size/16)
	for b.Loop() {
		c := clustertest.Start(b, clustertest.Options{HandoffInterval: 20 * time.Millisecond})
		cl := NewClient(ClientOptions{Endpoint: c.Endpoint, AccessKey: clustertest.AccessKey, SecretKey: clustertest.SecretKey, Region: clustertest.Region, Concurrency: 8})
		ctx := context.Background()
		if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("p99")}); err != nil {
			b.Fatal(err)
		}
		small := bytes.Repeat([]byte("s"), 64<<10)
		for i := range 32 {
			if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("p99"), Key: aws.String(fmt.Sprint("small", i)), Body: bytes.NewReader(small)}); err != nil {
				b.Fatal(err)
			}
		}
		drained := func() bool {
			for _, n := range c.Nodes {
				for _, st := range n.Node().HintStats() {
					if st.Count > 0 {
						return false
					}
				}
			}
			return true
		}
		foreground := func(until func() bool) Summary { return smallGets(b, cl, "p99", until) }
		down := c.Nodes[1]
		if err := down.Stop(); err != nil {
			b.Fatal(err)
		}
		for i := range objects {
			if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("p99"), Key: aws.String(fmt.Sprint("big", i)), Body: bytes.NewReader(data)}); err != nil {
				b.Fatal(err)
			}
		}
		if err := down.Restart(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		during := foreground(drained)
		replay := time.Since(start)
		end := time.Now().Add(replay)
		quiet := foreground(func() bool { return time.Now().After(end) })
		b.ReportMetric(float64(quiet.P99.Microseconds()), "p99-us-quiet")
		b.ReportMetric(float64(during.P99.Microseconds()), "p99-us-replay")
		b.ReportMetric(float64(during.P99)/float64(quiet.P99), "p99-ratio")
		b.ReportMetric(replay.Seconds(), "s-replaying")
	}
}

// smallGets GETs the 32 objects "small0".."small31" of bucket in turn until
// until says stop, and summarises their latencies: the foreground load whose
// p99 a background job must not ruin.
func smallGets(b *testing.B, cl *s3.Client, bucket string, until func() bool) Summary {
	var lat []time.Duration
	for i := 0; !until(); i++ {
		start := time.Now()
		out, err := cl.GetObject(b.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprint("small", i%32))})
		if err != nil {
			b.Fatal(err)
		}
		out.Body.Close()
		lat = append(lat, time.Since(start))
	}
	return Summarize(lat)
}

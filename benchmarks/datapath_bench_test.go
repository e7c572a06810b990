package benchmarks

import (
	"testing"
	"time"

	"cairn/internal/clustertest"
)

// BenchmarkDataPath runs the DataPathSuite scenarios in one process — the
// S3 client, the gateway and six nodes on loopback, every shard fsynced —
// so that one `go test -bench DataPath/put-1MiB -cpuprofile` profiles the
// whole data path. Each b.N is one request of the scenario; the scenario's
// objects for a GET are written before the timer starts.
//
//	go test -run '^$' -bench 'DataPath/put-1MiB' -benchtime 400x -cpuprofile cpu.out ./benchmarks/
func BenchmarkDataPath(b *testing.B) {
	c := clustertest.Start(b, clustertest.Options{})
	client := NewClient(ClientOptions{Endpoint: c.Endpoint, Region: clustertest.Region,
		AccessKey: clustertest.AccessKey, SecretKey: clustertest.SecretKey, Concurrency: 16})
	r, err := NewRunner(Config{Client: client, Bucket: "datapath", Seed: 1, OpTimeout: 60 * time.Second, SkipReadBack: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.EnsureBucket(b.Context()); err != nil {
		b.Fatal(err)
	}
	for _, sc := range DataPathSuite(0) {
		b.Run(sc.Name, func(b *testing.B) {
			sc.Ops = int64(b.N)
			b.SetBytes(sc.Size)
			res, err := r.Run(b.Context(), sc)
			if err != nil {
				b.Fatal(err)
			}
			for _, o := range res.Ops {
				if o.Errors != 0 {
					b.Fatalf("%s: %s: %d errors: %+v", sc.Name, o.Op, o.Errors, o.ErrorKinds)
				}
			}
			b.ReportMetric(float64(res.Total.Count)/res.Elapsed.Seconds(), "obj/s")
		})
	}
}

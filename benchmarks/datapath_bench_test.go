//go:build unix

package benchmarks

import (
	"syscall"
	"testing"
	"time"

	"cairn/internal/clustertest"
)

// BenchmarkDataPath runs the DataPathSuite scenarios in one process — the
// S3 client, the gateway and six nodes on loopback, every shard fsynced —
// so that one `go test -bench DataPath/put-1MiB -cpuprofile` profiles the
// whole data path. Each b.N is one request of the scenario; a GET
// scenario first writes the objects it reads (in the profile, not in
// cpu-ms/op).
//
// On a shared machine the throughput of a run says little; cpu-ms/op, the
// process's CPU time (user and system) per request of the measured phase,
// says what a change saves. It includes the client's share.
//
//	go test -run '^$' -bench 'DataPath/put-1MiB' -benchtime 400x -cpuprofile cpu.out ./benchmarks/
func BenchmarkDataPath(b *testing.B) {
	c := clustertest.Start(b, clustertest.Options{})
	client := NewClient(ClientOptions{Endpoint: c.Endpoint, Region: clustertest.Region,
		AccessKey: clustertest.AccessKey, SecretKey: clustertest.SecretKey, Concurrency: 16})
	var cpu time.Duration // of the latest measured phase
	measured := func(Scenario) func() {
		t0 := cpuTime()
		return func() { cpu = cpuTime() - t0 }
	}
	r, err := NewRunner(Config{Client: client, Bucket: "datapath", Seed: 1, OpTimeout: 60 * time.Second, SkipReadBack: true,
		Measured: measured})
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
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

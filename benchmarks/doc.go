// Package benchmarks is cairnbench's library: a load generator that speaks
// S3 through aws-sdk-go-v2 to any endpoint, so that Cairn and its peers are
// measured by the same code.
//
// A [Runner] runs a [Scenario] (put, get, mixed or list; object size,
// concurrency, a duration or operation bound) against one bucket and
// returns a [ScenarioResult]: per-operation latency percentiles, throughput,
// errors and a per-second time series. Every GET body is hashed and checked
// against what was written, and after the measured phase every object the
// scenario wrote (and did not delete) is read back once more, so a run also
// answers "was anything lost?".
//
// A scenario may carry a fault schedule ([ParseFaults]: "kill node 3 at
// 10s", "pause node 5 at 5s for 15s", "slow node 2 by 50ms") that is applied
// to a [FaultTarget]; [StartLocal] launches a local cluster of objnode and
// objgw processes that is one. When the target is also a
// [RedundancyTarget] (a local cluster is), the runner times how long the
// cluster takes, after the last restart, to get every object back to full
// redundancy. A [Report] renders results as JSON, a markdown table and PNG
// charts.
//
// The command is benchmarks/cmd/cairnbench; README.md explains how to run
// it and read its outputs.
package benchmarks

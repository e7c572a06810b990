package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// A side-by-side comparison runs each scenario against two servers back
// to back, for a number of rounds, so that each run of one is measured
// within a minute of a run of the other: on a shared machine whose speed
// drifts by tens of percent over an hour, only runs that close together
// make a ratio worth reporting. The order turns every round (B1 S1, S2 B2,
// B3 S3 ...): a run can inherit the one before it (the disk still writing
// back its data, the other server's background work), and always going
// second would bias one side.

// Contender is one server of a comparison: the runner that measures it
// and the report its results go into.
type Contender struct {
	Runner *Runner
	Report *Report
}

// Comparison is the outcome of CompareRuns: both reports (each run is a
// scenario result of its own, named "<scenario>-r<round>") and the
// scenarios in the order they ran.
type Comparison struct {
	Baseline, Subject *Report
	Scenarios         []Scenario
	Rounds            int
}

// CompareRuns runs every scenario rounds times on each contender, the
// two back to back, baseline first in odd rounds and subject first in even
// ones, and appends the results to their reports. progress, if not nil,
// gets a line before each run. An error stops the comparison; the runs
// before it stay in the reports.
func CompareRuns(ctx context.Context, baseline, subject Contender, scenarios []Scenario, rounds int, progress io.Writer) (*Comparison, error) {
	if rounds < 1 {
		return nil, fmt.Errorf("benchmarks: compare: %d rounds", rounds)
	}
	for _, sc := range scenarios {
		if len(sc.Faults) > 0 {
			// A fault schedule applies to a local Cairn cluster only: the
			// two would not run the same scenario.
			return nil, fmt.Errorf("benchmarks: compare: scenario %q has a fault schedule", sc.Name)
		}
	}
	c := &Comparison{Baseline: baseline.Report, Subject: subject.Report, Rounds: rounds}
	for _, sc := range scenarios {
		sc = sc.withDefaults() // names it, if it has no name
		c.Scenarios = append(c.Scenarios, sc)
		for round := 1; round <= rounds; round++ {
			run := sc
			run.Name = roundName(sc.Name, round)
			type side struct {
				c    Contender
				role string
			}
			order := []side{{baseline, "baseline"}, {subject, "subject"}}
			if round%2 == 0 {
				order[0], order[1] = order[1], order[0]
			}
			for _, who := range order {
				if progress != nil {
					fmt.Fprintf(progress, "%s, round %d of %d: %s (%s)\n", sc.Name, round, rounds, who.c.Report.Target, who.role)
				}
				res, err := who.c.Runner.Run(ctx, run)
				if err != nil {
					return c, fmt.Errorf("%s on %s: %w", run.Name, who.c.Report.Target, err)
				}
				who.c.Report.Scenarios = append(who.c.Report.Scenarios, res)
				if ctx.Err() != nil {
					return c, ctx.Err()
				}
			}
		}
	}
	return c, nil
}

func roundName(scenario string, round int) string {
	return fmt.Sprintf("%s-r%d", scenario, round)
}

// RatioRange is the lowest and highest of subject/baseline over rounds,
// each round's subject run against its baseline run, the two made back to
// back. ok is false when no round has both, or a baseline rate is zero.
func RatioRange(baseline, subject []float64) (lo, hi float64, ok bool) {
	for i := range min(len(baseline), len(subject)) {
		if baseline[i] == 0 {
			return 0, 0, false
		}
		r := subject[i] / baseline[i]
		if !ok {
			lo, hi, ok = r, r, true
		}
		lo, hi = min(lo, r), max(hi, r)
	}
	return lo, hi, ok
}

// rate is what a comparison sets side by side for a scenario: MiB/s for
// objects of a MiB and more, requests (LIST: pages) a second otherwise.
func rate(res *ScenarioResult) (v float64, unit string) {
	if res.Scenario.Size >= 1<<20 && res.Scenario.Kind != KindList {
		return res.Total.MiBps, "MiB/s"
	}
	return res.Total.OpsPerSec, "obj/s"
}

// runsOf returns rep's results of the runs of scenario, in round order.
func runsOf(rep *Report, scenario string, rounds int) []*ScenarioResult {
	var out []*ScenarioResult
	for round := 1; round <= rounds; round++ {
		for _, res := range rep.Scenarios {
			if res.Scenario.Name == roundName(scenario, round) {
				out = append(out, res)
				break
			}
		}
	}
	return out
}

// Table is the comparison in markdown: per scenario every run's rate in
// the order they ran and the range of subject/baseline ratios. A run with
// failed requests says how many: its rate is not the server's best.
func (c *Comparison) Table() string {
	var b strings.Builder
	b.WriteString("| scenario | baseline | subject | subject / baseline |\n|---|--:|--:|--:|\n")
	for _, sc := range c.Scenarios {
		base, subj := runsOf(c.Baseline, sc.Name, c.Rounds), runsOf(c.Subject, sc.Name, c.Rounds)
		if len(base) == 0 && len(subj) == 0 {
			continue
		}
		bv, bs := runRates(base)
		sv, ss := runRates(subj)
		ratio := "—"
		if lo, hi, ok := RatioRange(bv, sv); ok {
			ratio = fmt.Sprintf("%.2f–%.2f×", lo, hi)
			if fmt.Sprintf("%.2f", lo) == fmt.Sprintf("%.2f", hi) {
				ratio = fmt.Sprintf("%.2f×", lo)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", sc.Name, bs, ss, ratio)
	}
	return b.String()
}

// LatencyTable is the comparison's latencies in markdown: per scenario
// and round, p50 and p99 of every request on each side.
func (c *Comparison) LatencyTable() string {
	var b strings.Builder
	b.WriteString("| scenario | round | baseline p50 / p99 | subject p50 / p99 |\n|---|--:|--:|--:|\n")
	for _, sc := range c.Scenarios {
		base, subj := runsOf(c.Baseline, sc.Name, c.Rounds), runsOf(c.Subject, sc.Name, c.Rounds)
		for i := range max(len(base), len(subj)) {
			fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", sc.Name, i+1, latencies(base, i), latencies(subj, i))
		}
	}
	return b.String()
}

func latencies(runs []*ScenarioResult, i int) string {
	if i >= len(runs) {
		return "—"
	}
	l := runs[i].Total.Latency
	return fmtLatency(l.P50) + " / " + fmtLatency(l.P99)
}

// runRates returns the runs' rates and how the table shows them.
func runRates(runs []*ScenarioResult) ([]float64, string) {
	if len(runs) == 0 {
		return nil, "—"
	}
	vals := make([]float64, len(runs))
	shown := make([]string, len(runs))
	var unit string
	for i, res := range runs {
		vals[i], unit = rate(res)
		format := "%.0f"
		if unit == "MiB/s" {
			format = "%.1f"
		}
		shown[i] = fmt.Sprintf(format, vals[i])
		if f := res.Failures(); f > 0 {
			shown[i] += fmt.Sprintf(" (%d failed)", f)
		}
	}
	return vals, strings.Join(shown, " / ") + " " + unit
}

// Markdown renders the comparison: what was compared, how, and the table.
// baselineDir and subjectDir are the paths from the markdown file to each
// side's own results.
func (c *Comparison) Markdown(baselineDir, subjectDir string) string {
	var b strings.Builder
	s := c.Subject
	fmt.Fprintf(&b, "# cairnbench side by side, %s", s.Date.Format("2006-01-02 15:04 MST"))
	if s.Commit != "" {
		fmt.Fprintf(&b, ", commit %s", s.Commit)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "- baseline: %s (%s), results in [%s](%s)\n", c.Baseline.Target, c.Baseline.Endpoint, baselineDir, filepath.ToSlash(baselineDir))
	fmt.Fprintf(&b, "- subject: %s (%s), results in [%s](%s)\n", s.Target, s.Endpoint, subjectDir, filepath.ToSlash(subjectDir))
	if s.Host != "" {
		fmt.Fprintf(&b, "- host: %s\n", s.Host)
	}
	if s.Command != "" {
		fmt.Fprintf(&b, "- command: `%s`\n", s.Command)
	}
	fmt.Fprintf(&b, "- %s; each scenario %d times on each, the two back to back, baseline first in odd rounds and subject first in even ones\n", s.Signing, c.Rounds)
	b.WriteString("\nRates are by round. The ratio is the lowest and highest of subject / baseline " +
		"over rounds, each round's two runs made back to back.\n\n")
	b.WriteString(c.Table())
	b.WriteString("\nLatencies of successful requests (a GET's includes reading the whole body):\n\n")
	b.WriteString(c.LatencyTable())
	return b.String()
}

// WriteFiles writes each side's results into dir/baseline and
// dir/subject (see Report.WriteFiles), the comparison into
// dir/comparison.md and, if summary is not empty, a copy of it at that
// path with its links pointing into dir.
func (c *Comparison) WriteFiles(dir, summary string) error {
	errs := []error{
		c.Baseline.WriteFiles(filepath.Join(dir, "baseline"), ""),
		c.Subject.WriteFiles(filepath.Join(dir, "subject"), ""),
		os.WriteFile(filepath.Join(dir, "comparison.md"), []byte(c.Markdown("baseline", "subject")), 0o644),
	}
	if summary != "" {
		rel := relTo(summary, dir)
		errs = append(errs, os.WriteFile(summary, []byte(c.Markdown(filepath.Join(rel, "baseline"), filepath.Join(rel, "subject"))), 0o644))
	}
	return errors.Join(errs...)
}

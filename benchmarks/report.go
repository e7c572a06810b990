package benchmarks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is a whole run: where it ran and every scenario's result.
type Report struct {
	Tool      string            `json:"tool"`
	Date      time.Time         `json:"date"`
	Commit    string            `json:"commit,omitempty"`
	Endpoint  string            `json:"endpoint"`
	Target    string            `json:"target"` // e.g. "cairn local cluster: 6 objnode + objgw, EC 4+2"
	Signing   string            `json:"signing"`
	Bucket    string            `json:"bucket"`
	Seed      uint64            `json:"seed"`
	Host      string            `json:"host,omitempty"` // CPUs, OS
	Command   string            `json:"command,omitempty"`
	Notes     []string          `json:"notes,omitempty"`
	Scenarios []*ScenarioResult `json:"scenarios"`
}

// Failures sums every scenario's errors and lost objects.
func (rep *Report) Failures() int64 {
	var n int64
	for _, s := range rep.Scenarios {
		n += s.Failures()
	}
	return n
}

// Lost sums the objects that read-back found missing, corrupt or
// unreadable.
func (rep *Report) Lost() int {
	n := 0
	for _, s := range rep.Scenarios {
		if s.ReadBack != nil {
			n += s.ReadBack.Lost()
		}
	}
	return n
}

// WriteJSON writes the full report, time series and CDFs included.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// Table is the results table in markdown:
// scenario | op | size | conc | MiB/s | obj/s | p50 | p90 | p99 | max | errors.
func (rep *Report) Table() string {
	var b strings.Builder
	b.WriteString("| scenario | op | size | conc | MiB/s | obj/s | p50 | p90 | p99 | max | errors |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range rep.Scenarios {
		for _, o := range s.Ops {
			errs := fmt.Sprint(o.Errors)
			if o.Mismatches > 0 {
				errs += fmt.Sprintf(" (%d mismatched)", o.Mismatches)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %.1f | %.0f | %s | %s | %s | %s | %s |\n",
				s.Scenario.Name, o.Op, FormatSize(s.Scenario.Size), s.Scenario.Concurrency,
				o.MiBps, o.OpsPerSec, fmtLatency(o.Latency.P50), fmtLatency(o.Latency.P90),
				fmtLatency(o.Latency.P99), fmtLatency(o.Latency.Max), errs)
		}
	}
	return b.String()
}

// Markdown renders the report: a header, the table, and per scenario its
// faults, errors, read-back and charts. chartDir is the path from the
// markdown file to the charts ("" when they sit beside it).
func (rep *Report) Markdown(chartDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# cairnbench results, %s", rep.Date.Format("2006-01-02 15:04 MST"))
	if rep.Commit != "" {
		fmt.Fprintf(&b, ", commit %s", rep.Commit)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "- target: %s\n- endpoint: %s, bucket %s, %s\n", rep.Target, rep.Endpoint, rep.Bucket, rep.Signing)
	if rep.Host != "" {
		fmt.Fprintf(&b, "- host: %s\n", rep.Host)
	}
	if rep.Command != "" {
		fmt.Fprintf(&b, "- command: `%s`\n", rep.Command)
	}
	fmt.Fprintf(&b, "- seed: %d\n", rep.Seed)
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\nLatencies are of successful requests; a GET's includes reading and verifying the whole body. " +
		"obj/s counts successful requests (LIST: pages). errors include content mismatches.\n\n")
	b.WriteString(rep.Table())
	for _, s := range rep.Scenarios {
		sc := s.Scenario
		fmt.Fprintf(&b, "\n## %s\n\n", sc.Name)
		fmt.Fprintf(&b, "- %s, %s objects, concurrency %d, ran %.1fs", sc.Kind, FormatSize(sc.Size), sc.Concurrency, s.Elapsed.Seconds())
		if sc.Ops > 0 {
			fmt.Fprintf(&b, " (bound: %d ops)", sc.Ops)
		}
		if s.Mix != "" {
			fmt.Fprintf(&b, ", mix %s", s.Mix)
		}
		b.WriteString("\n")
		if s.Populated > 0 || s.PopulateErrors > 0 {
			fmt.Fprintf(&b, "- written beforehand: %d objects in %.1fs (%d failed)\n", s.Populated, s.PopulateElapsed.Seconds(), s.PopulateErrors)
			if s.PopulateError != "" {
				fmt.Fprintf(&b, "  - first failure: `%s`\n", strings.ReplaceAll(s.PopulateError, "`", "'"))
			}
		}
		fmt.Fprintf(&b, "- total: %d ok, %d errors, %.1f MiB/s, %.0f ops/s\n", s.Total.Count, s.Total.Errors, s.Total.MiBps, s.Total.OpsPerSec)
		for _, o := range s.Ops {
			if o.TTFB != nil {
				fmt.Fprintf(&b, "- GET time to first byte: p50 %s, p90 %s, p99 %s, max %s\n",
					fmtLatency(o.TTFB.P50), fmtLatency(o.TTFB.P90), fmtLatency(o.TTFB.P99), fmtLatency(o.TTFB.Max))
			}
		}
		if s.Raced > 0 {
			fmt.Fprintf(&b, "- %d reads lost a race with a concurrent DELETE of the same key (not counted)\n", s.Raced)
		}
		if len(s.Faults) > 0 {
			b.WriteString("- faults:")
			for _, f := range s.Faults {
				fmt.Fprintf(&b, " %s at %.1fs", f.Label, f.Actual.Seconds())
				if f.Healed {
					b.WriteString(" (heal)")
				}
				if f.Err != "" {
					fmt.Fprintf(&b, " (FAILED: %s)", f.Err)
				}
				b.WriteString(";")
			}
			b.WriteString("\n")
		}
		for _, o := range s.Ops {
			for _, k := range o.ErrorKinds {
				fmt.Fprintf(&b, "- %s errors: %d × %s, e.g. `%s`\n", o.Op, k.Count, k.Kind, strings.ReplaceAll(k.Example, "`", "'"))
			}
		}
		if rb := s.ReadBack; rb != nil {
			verdict := "nothing lost"
			if rb.Lost() > 0 {
				verdict = fmt.Sprintf("**%d LOST**", rb.Lost())
			}
			fmt.Fprintf(&b, "- read-back of every object written and not deleted: %d objects, %d ok, %d missing, %d corrupt, %d unreadable in %.1fs: %s\n",
				rb.Objects, rb.OK, rb.Missing, rb.Corrupt, rb.Failed, rb.Elapsed.Seconds(), verdict)
			for _, smp := range rb.Samples {
				fmt.Fprintf(&b, "  - `%s`\n", strings.ReplaceAll(smp, "`", "'"))
			}
		}
		if s.Redundancy != nil {
			fmt.Fprintf(&b, "- time to full redundancy %s\n", s.Redundancy.Line())
		}
		tp, cdf := chartNames(sc.Name)
		fmt.Fprintf(&b, "\n![%s throughput](%s) ![%s latency CDF](%s)\n", sc.Name, path(chartDir, tp), sc.Name, path(chartDir, cdf))
	}
	return b.String()
}

func path(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// chartNames are a scenario's chart file names.
func chartNames(scenario string) (throughput, cdf string) {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, scenario)
	return safe + "-throughput.png", safe + "-latency-cdf.png"
}

// fmtLatency prints a latency with three significant digits in a unit
// that suits it.
func fmtLatency(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// WriteFiles writes results.json, results.md and the charts into dir
// (creating it), and, if summary is not empty, a copy of the markdown at
// that path with chart links pointing into dir.
func (rep *Report) WriteFiles(dir, summary string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	f, err := os.Create(filepath.Join(dir, "results.json"))
	if err != nil {
		return err
	}
	errs = append(errs, rep.WriteJSON(f), f.Close())
	errs = append(errs, os.WriteFile(filepath.Join(dir, "results.md"), []byte(rep.Markdown("")), 0o644))
	if summary != "" {
		errs = append(errs, os.WriteFile(summary, []byte(rep.Markdown(filepath.ToSlash(relTo(summary, dir)))), 0o644))
	}
	for _, s := range rep.Scenarios {
		errs = append(errs, WriteCharts(dir, s))
	}
	return errors.Join(errs...)
}

// relTo is the path of dir from the directory of the file at path, for a
// link in that file; dir itself if there is none.
func relTo(path, dir string) string {
	rel, err := filepath.Rel(filepath.Dir(path), dir)
	if err != nil {
		return dir
	}
	return rel
}

package objctl

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"cairn/internal/adminapi"
)

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// errWriter keeps the first write error, so that a formatter can write
// line after line and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

func bytesOf[T int64 | uint64](n T) string { return adminapi.FormatBytes(n) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteStatus writes the cluster's status as objctl status shows it.
func WriteStatus(w io.Writer, st *adminapi.Status) error {
	ew := &errWriter{w: w}
	alive := 0
	for _, n := range st.Nodes {
		if n.Alive {
			alive++
		}
	}
	ew.printf("Gateway %s · EC %d+%d · layout epoch %d (version %d), %d placement groups · %d of %d nodes alive\n\n",
		st.Gateway, st.DataShards, st.ParityShards, st.LayoutEpoch, st.LayoutVersion, st.PGCount, alive, len(st.Nodes))

	tw := newTable(ew)
	fmt.Fprintln(tw, "NODE\tZONE\tSTATE\tALIVE\tUSED / CAPACITY\tSHARDS\tHINTS\tREPAIR\tMISPLACED")
	for _, n := range st.Nodes {
		if !n.Reported {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t(no report)\n", n.ID, n.Zone, n.State, yesNo(n.Alive))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d (%s)\t%d (%s)\t%d\t%d (%s)\n", n.ID, n.Zone, n.State, yesNo(n.Alive),
			capacity(n), n.Shards, bytesOf(n.ShardBytes), n.HintCount, bytesOf(n.HintBytes), n.RepairQueue,
			n.Misplaced, bytesOf(n.MisplacedBytes))
	}
	tw.Flush()

	m := st.ParityShards
	ew.printf("\nDurability: objects by how many more shards they can lose (%d is full)\n", m)
	tw = newTable(ew)
	fmt.Fprintln(tw, "CAN LOSE\tOBJECTS\tBYTES")
	for r := max(m, len(st.Durability.Objects)-1); r >= 0; r-- {
		fmt.Fprintf(tw, "%d\t%d\t%s\n", r, at(st.Durability.Objects, r), bytesOf(at(st.Durability.Bytes, r)))
	}
	fmt.Fprintf(tw, "lost\t%d\t-\n", st.Durability.Lost)
	tw.Flush()

	ew.printf("\nHint debt: %d hints (%s)", st.HintCount, bytesOf(st.HintBytes))
	if st.HintCount > 0 {
		ew.printf(", the oldest %v old", st.HintOldest.Round(1e9))
	}
	ew.printf(". Repair queue: %d.\n", st.RepairQueue)
	ew.printf("Rebalance: %s\n", rebalanceLine(st.Rebalance))
	return ew.err
}

func capacity(n adminapi.NodeStatus) string {
	if n.CapacityBytes == 0 {
		return "unknown"
	}
	used := n.CapacityBytes - min(n.FreeBytes, n.CapacityBytes)
	pct := float64(used) / float64(n.CapacityBytes) * 100
	full := ""
	if n.Full {
		full = ", full"
	}
	return fmt.Sprintf("%s / %s (%.0f%%%s)", bytesOf(used), bytesOf(n.CapacityBytes), pct, full)
}

func rebalanceLine(r adminapi.Rebalance) string {
	moved := fmt.Sprintf("%d shards (%s) moved", r.Moved, bytesOf(r.MovedBytes))
	if r.Active || r.Misplaced > 0 {
		return fmt.Sprintf("%d shards (%s) misplaced, %s.", r.Misplaced, bytesOf(r.MisplacedBytes), moved)
	}
	return fmt.Sprintf("every shard is at home; %s since the nodes started.", moved)
}

func at(s []int64, i int) int64 {
	if i >= 0 && i < len(s) {
		return s[i]
	}
	return 0
}

func weight(w float64) string { return strconv.FormatFloat(w, 'g', -1, 64) }

// WriteLayout writes the applied layout and, if a change is staged, the
// layout it leads to and its preview.
func WriteLayout(w io.Writer, v *adminapi.LayoutView) error {
	ew := &errWriter{w: w}
	ew.printf("Layout epoch %d (version %d): %d placement groups, %d homes each.\n", v.Epoch, v.Version, v.PGCount, v.Homes)
	tw := newTable(ew)
	fmt.Fprintln(tw, "NODE\tZONE\tWEIGHT\tSTATE")
	for _, n := range v.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.ID, n.Zone, weight(n.Weight), n.State)
	}
	tw.Flush()
	if v.Staged == nil {
		ew.printf("\nNothing staged.\n")
		return ew.err
	}
	ew.printf("\nStaged change:\n")
	tw = newTable(ew)
	fmt.Fprintln(tw, "NODE\tZONE\tWEIGHT\tSTATE\tCHANGE")
	for _, row := range stagedRows(v.Nodes, v.Staged) {
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
	ew.printf("\n")
	writePreview(ew, v.Preview)
	return ew.err
}

// stagedRows lists the staged nodes, with what changes for each, then the
// nodes the change removes.
func stagedRows(cur, staged []adminapi.LayoutNode) []string {
	byID := map[string]adminapi.LayoutNode{}
	for _, n := range cur {
		byID[n.ID] = n
	}
	var rows []string
	kept := map[string]bool{}
	for _, n := range staged {
		kept[n.ID] = true
		var change []string
		if old, ok := byID[n.ID]; !ok {
			change = append(change, "new")
		} else {
			if old.Zone != n.Zone {
				change = append(change, fmt.Sprintf("zone %s → %s", old.Zone, n.Zone))
			}
			if old.Weight != n.Weight {
				change = append(change, fmt.Sprintf("weight %s → %s", weight(old.Weight), weight(n.Weight)))
			}
			if old.State != n.State {
				change = append(change, fmt.Sprintf("%s → %s", old.State, n.State))
			}
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s", n.ID, n.Zone, weight(n.Weight), n.State, strings.Join(change, ", ")))
	}
	for _, n := range cur {
		if !kept[n.ID] {
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t-\tremoved", n.ID, n.Zone, weight(n.Weight)))
		}
	}
	return rows
}

// writePreview writes what applying a staged change would do.
func writePreview(w io.Writer, p *adminapi.Preview) {
	if p == nil {
		fmt.Fprintln(w, "No preview: the gateway sent none.")
		return
	}
	if p.ShardsMoved == 0 {
		fmt.Fprintln(w, "Preview: no shard changes home.")
	} else {
		fmt.Fprintf(w, "Preview: %d placement groups get a new home; %d shard moves, about %s to copy.\n",
			p.PGsMoved, p.ShardsMoved, bytesOf(p.BytesMoved))
		fmt.Fprintf(w, "Redundancy during the move: an object of a moving group can lose %d more shards until its shard is copied.\n",
			p.RedundancyDuringMove)
		nodes := maps.Clone(p.In)
		maps.Copy(nodes, p.Out)
		tw := newTable(w)
		fmt.Fprintln(tw, "NODE\tIN\tOUT")
		for _, id := range slices.Sorted(maps.Keys(nodes)) {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", id, p.In[id], p.Out[id])
		}
		tw.Flush()
	}
	if len(p.Problems) > 0 {
		fmt.Fprintln(w, "Problems (apply refuses the change):")
		for _, pr := range p.Problems {
			fmt.Fprintf(w, "  - %s\n", pr)
		}
	}
}

// WriteDurability writes the durability model.
func WriteDurability(w io.Writer, d *adminapi.Durability) error {
	ew := &errWriter{w: w}
	ew.printf("Erasure code %d+%d over %d disks, each failing at %s a year.\n", d.DataShards, d.ParityShards, d.Disks,
		strconv.FormatFloat(d.AFR*100, 'g', 3, 64)+"%")
	how := "assumed: nothing measured yet"
	if d.RepairRateMeasured {
		how = "measured"
	}
	ew.printf("Repairing one failed disk takes %.1f h at %s/s (%s).\n", d.RepairHours, adminapi.FormatBytes(d.RepairRateBytes), how)
	ew.printf("Chance of losing data in a year: %.2g (%.1f nines).\n", d.LossProbability, d.Nines)
	if d.Advice != "" {
		ew.printf("Advice: %s\n", d.Advice)
	}
	return ew.err
}

package objctl

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"cairn/internal/adminapi"
)

// fields splits each line of a table into its columns (two or more spaces
// apart), so that tests do not depend on column widths.
func fields(out string) [][]string {
	sep := regexp.MustCompile(`\s{2,}`)
	var rows [][]string
	for _, l := range strings.Split(out, "\n") {
		rows = append(rows, sep.Split(strings.TrimSpace(l), -1))
	}
	return rows
}

// row returns the table row of out whose first column is first.
func row(t *testing.T, out, first string) []string {
	t.Helper()
	for _, r := range fields(out) {
		if r[0] == first {
			return r
		}
	}
	t.Fatalf("no row %q in\n%s", first, out)
	return nil
}

func TestWriteStatus(t *testing.T) {
	t.Parallel()
	st := &adminapi.Status{
		Gateway: "gw1", DataShards: 4, ParityShards: 2, LayoutEpoch: 9, LayoutVersion: 4, PGCount: 256,
		Nodes: []adminapi.NodeStatus{
			{ID: "n1", Zone: "a", State: "active", Alive: true, Reported: true, CapacityBytes: 4 << 30, FreeBytes: 3 << 30,
				Shards: 120, ShardBytes: 12 << 20, HintCount: 2, HintBytes: 2048, RepairQueue: 1, Misplaced: 3, MisplacedBytes: 3 << 20},
			{ID: "n2", Zone: "b", State: "draining", Alive: false},
			{ID: "n3", Zone: "b", State: "active", Alive: true, Reported: true, CapacityBytes: 4 << 30, FreeBytes: 1 << 30, Full: true},
		},
		Durability: adminapi.Redundancy{Objects: []int64{0, 4, 100}, Bytes: []int64{0, 4096, 1 << 30}, Lost: 1},
		HintCount:  2, HintBytes: 2048, HintOldest: 90*time.Second + 300*time.Millisecond, RepairQueue: 1,
		Rebalance: adminapi.Rebalance{Active: true, Misplaced: 3, MisplacedBytes: 3 << 20, Moved: 9, MovedBytes: 9 << 20},
	}
	var buf bytes.Buffer
	if err := WriteStatus(&buf, st); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	tests := []struct {
		first string
		want  []string
	}{
		{"NODE", []string{"NODE", "ZONE", "STATE", "ALIVE", "USED / CAPACITY", "SHARDS", "HINTS", "REPAIR", "MISPLACED"}},
		{"n1", []string{"n1", "a", "active", "yes", "1.0 GiB / 4.0 GiB (25%)", "120 (12.0 MiB)", "2 (2.0 KiB)", "1", "3 (3.0 MiB)"}},
		{"n2", []string{"n2", "b", "draining", "no", "-", "-", "-", "-", "-", "(no report)"}},
		{"n3", []string{"n3", "b", "active", "yes", "3.0 GiB / 4.0 GiB (75%, full)", "0 (0 B)", "0 (0 B)", "0", "0 (0 B)"}},
		{"2", []string{"2", "100", "1.0 GiB"}},
		{"1", []string{"1", "4", "4.0 KiB"}},
		{"0", []string{"0", "0", "0 B"}},
		{"lost", []string{"lost", "1", "-"}},
	}
	for _, tc := range tests {
		if got := row(t, out, tc.first); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("row %s: %q, want %q", tc.first, got, tc.want)
		}
	}
	for _, want := range []string{
		"Gateway gw1 · EC 4+2 · layout epoch 9 (version 4), 256 placement groups · 2 of 3 nodes alive",
		"Hint debt: 2 hints (2.0 KiB), the oldest 1m30s old. Repair queue: 1.",
		"Rebalance: 3 shards (3.0 MiB) misplaced, 9 shards (9.0 MiB) moved.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	st.Rebalance = adminapi.Rebalance{Moved: 9, MovedBytes: 9 << 20}
	buf.Reset()
	WriteStatus(&buf, st)
	if want := "Rebalance: every shard is at home; 9 shards (9.0 MiB) moved since the nodes started."; !strings.Contains(buf.String(), want) {
		t.Errorf("idle rebalance line missing: %s", buf.String())
	}
}

func TestWriteLayout(t *testing.T) {
	t.Parallel()
	v := &adminapi.LayoutView{Epoch: 5, Version: 3, PGCount: 256, Homes: 6,
		Nodes: []adminapi.LayoutNode{
			{ID: "n1", Zone: "a", Weight: 1, State: "active"},
			{ID: "n2", Zone: "a", Weight: 1, State: "active"},
			{ID: "n3", Zone: "b", Weight: 1, State: "active"},
		},
	}
	var buf bytes.Buffer
	if err := WriteLayout(&buf, v); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "Layout epoch 5 (version 3): 256 placement groups, 6 homes each.\n") || !strings.HasSuffix(out, "\nNothing staged.\n") {
		t.Errorf("unstaged layout:\n%s", out)
	}
	if got := row(t, out, "n3"); strings.Join(got, "|") != "n3|b|1|active" {
		t.Errorf("n3 row %q", got)
	}

	v.Staged = []adminapi.LayoutNode{
		{ID: "n1", Zone: "a", Weight: 2.5, State: "active"},
		{ID: "n3", Zone: "b", Weight: 1, State: "draining"},
		{ID: "n7", Zone: "c", Weight: 1, State: "active"},
	}
	v.Preview = &adminapi.Preview{PGsMoved: 40, ShardsMoved: 52, BytesMoved: 12 << 20, RedundancyDuringMove: 1,
		In: map[string]int{"n7": 40, "n1": 12}, Out: map[string]int{"n3": 50, "n2": 2},
		Problems: []string{"node n2 is active: drain it before removing it"}}
	buf.Reset()
	if err := WriteLayout(&buf, v); err != nil {
		t.Fatal(err)
	}
	out = buf.String()
	staged := out[strings.Index(out, "Staged change:"):]
	tests := []struct {
		first, want string
	}{
		{"n1", "n1|a|2.5|active|weight 1 → 2.5"},
		{"n3", "n3|b|1|draining|active → draining"},
		{"n7", "n7|c|1|active|new"},
		{"n2", "n2|a|1|-|removed"},
	}
	for _, tc := range tests {
		if got := strings.Join(row(t, staged, tc.first), "|"); got != tc.want {
			t.Errorf("staged row %s: %q, want %q", tc.first, got, tc.want)
		}
	}
	moves := staged[strings.Index(staged, "NODE  IN"):]
	for _, want := range []string{"n1|12|0", "n2|0|2", "n3|0|50", "n7|40|0"} {
		if got := strings.Join(row(t, moves, strings.Split(want, "|")[0]), "|"); got != want {
			t.Errorf("move row %q, want %q", got, want)
		}
	}
	for _, want := range []string{
		"Preview: 40 placement groups get a new home; 52 shard moves, about 12.0 MiB to copy.",
		"can lose 1 more shards until its shard is copied",
		"Problems (apply refuses the change):\n  - node n2 is active: drain it before removing it\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("layout lacks %q:\n%s", want, out)
		}
	}
}

func TestWritePreviewWithoutMoves(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	writePreview(&buf, &adminapi.Preview{RedundancyDuringMove: 2})
	if got := buf.String(); got != "Preview: no shard changes home.\n" {
		t.Errorf("got %q", got)
	}
	buf.Reset()
	writePreview(&buf, nil)
	if got := buf.String(); !strings.Contains(got, "No preview") {
		t.Errorf("got %q", got)
	}
}

func TestWriteDurability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    adminapi.Durability
		want []string
	}{
		{"assumed rate, with advice",
			adminapi.Durability{DataShards: 4, ParityShards: 1, Disks: 5, AFR: 0.02, RepairHours: 3.25, RepairRateBytes: 64 << 20,
				LossProbability: 2.5e-6, Nines: 5.6, Advice: "use 4+2"},
			[]string{"Erasure code 4+1 over 5 disks, each failing at 2% a year.",
				"Repairing one failed disk takes 3.2 h at 64.0 MiB/s (assumed: nothing measured yet).",
				"Chance of losing data in a year: 2.5e-06 (5.6 nines).", "Advice: use 4+2"}},
		{"measured rate, no advice",
			adminapi.Durability{DataShards: 4, ParityShards: 2, Disks: 6, AFR: 0.035, RepairHours: 1, RepairRateBytes: 100 << 20,
				RepairRateMeasured: true, LossProbability: 1e-13, Nines: 13},
			[]string{"each failing at 3.5% a year", "at 100 MiB/s (measured)", "1e-13 (13.0 nines)"}},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		if err := WriteDurability(&buf, &tc.d); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("%s: no %q in\n%s", tc.name, w, buf.String())
			}
		}
		if tc.d.Advice == "" && strings.Contains(buf.String(), "Advice") {
			t.Errorf("%s: advice printed without any", tc.name)
		}
	}
}

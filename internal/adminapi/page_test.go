package adminapi

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

func sampleStatus() *Status {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &Status{
		Time: t0, Gateway: "gw1", DataShards: 4, ParityShards: 2, LayoutEpoch: 7, LayoutVersion: 3, PGCount: 256,
		Nodes: []NodeStatus{
			{ID: "n2", Zone: "a", State: "active", Alive: true, Reported: true, Weight: 1,
				CapacityBytes: 1000, FreeBytes: 250, Full: true, Shards: 40, ShardBytes: 4 << 20, HintCount: 3, HintBytes: 3072, RepairQueue: 1},
			{ID: "n1", Zone: "a", State: "draining", Alive: true, Reported: true, Weight: 1,
				CapacityBytes: 2000, FreeBytes: 2000, Shards: 12, ShardBytes: 1 << 20, Misplaced: 12, MisplacedBytes: 1 << 20},
			{ID: "n3", Zone: "b", State: "active", Alive: false, Weight: 2},
			{ID: "n4", Zone: "b", State: "unassigned", Alive: true, Reported: true, CapacityBytes: 500, FreeBytes: 500},
		},
		Durability: Redundancy{Objects: []int64{1, 5, 90}, Bytes: []int64{10, 500, 9000}, Lost: 2},
		Buckets: map[string]Redundancy{
			"photos": {Objects: []int64{0, 5, 80}, Bytes: []int64{0, 500, 8000}},
			"logs":   {Objects: []int64{1, 0, 10}, Bytes: []int64{10, 0, 1000}, Lost: 2},
		},
		HintCount: 3, HintBytes: 3072, HintOldest: 95 * time.Second, RepairQueue: 1,
		Rebalance: Rebalance{Active: true, Misplaced: 12, MisplacedBytes: 1 << 20, Moved: 36, MovedBytes: 3 << 20},
		Throughput: []ThroughputPoint{
			{Time: t0.Add(-20 * time.Second), Requests: 10, BytesIn: 1 << 20},
			{Time: t0.Add(-10 * time.Second), Requests: 40, BytesIn: 2 << 20, BytesOut: 2 << 20},
			{Time: t0, Requests: 20, BytesOut: 1 << 20},
		},
		ThroughputInterval: 10 * time.Second,
	}
}

func render(t *testing.T, st *Status) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := RenderPage(&buf, st); err != nil {
		t.Fatalf("RenderPage: %v", err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("the page does not parse: %v", err)
	}
	return buf.String(), doc
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return slices.Contains(strings.Fields(attr(n, "class")), class)
}

// findAll returns the elements under n, in document order, for which match holds.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

func byTag(tag string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag }
}

func byClass(tag, class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag && hasClass(n, class) }
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func first(t *testing.T, n *html.Node, what string, match func(*html.Node) bool) *html.Node {
	t.Helper()
	all := findAll(n, match)
	if len(all) == 0 {
		t.Fatalf("no %s in the page", what)
	}
	return all[0]
}

func TestRenderPageNodesByZone(t *testing.T) {
	t.Parallel()
	_, doc := render(t, sampleStatus())
	if scripts := findAll(doc, byTag("script")); len(scripts) != 0 {
		t.Errorf("the page has %d script elements; it must work without JavaScript", len(scripts))
	}
	refresh := findAll(doc, func(n *html.Node) bool { return n.Data == "meta" && attr(n, "http-equiv") == "refresh" })
	if len(refresh) != 1 {
		t.Errorf("want one meta refresh, got %d", len(refresh))
	}

	zones := findAll(doc, byClass("div", "zone"))
	got := map[string][]string{}
	var order []string
	for _, z := range zones {
		name := attr(z, "data-zone")
		order = append(order, name)
		for _, svg := range findAll(z, byClass("svg", "node")) {
			got[name] = append(got[name], attr(svg, "data-node"))
		}
	}
	if !slices.Equal(order, []string{"a", "b"}) {
		t.Errorf("zones %q, want [a b] in order", order)
	}
	if want := []string{"n1", "n2"}; !slices.Equal(got["a"], want) {
		t.Errorf("zone a has nodes %q, want %q", got["a"], want)
	}
	if want := []string{"n3", "n4"}; !slices.Equal(got["b"], want) {
		t.Errorf("zone b has nodes %q, want %q", got["b"], want)
	}

	tests := []struct {
		node, liveness, state string
		usedWidth             string // "" when no capacity bar is drawn
		lines                 []string
	}{
		{"n1", "alive", "draining", "0", []string{"0 B / 2.0 KiB (0%)", "shards 12 (1.0 MiB)", "misplaced 12 (1.0 MiB)"}},
		{"n2", "alive", "active", "123", []string{"750 B / 1000 B (75%, full)", "shards 40 (4.0 MiB)", "hints 3 (3.0 KiB) · repair 1"}},
		{"n3", "dead", "active · dead", "", []string{"no report", "shards 0 (0 B)", "weight 2"}},
		{"n4", "alive", "unassigned", "0", []string{"0 B / 500 B (0%)"}},
	}
	for _, tc := range tests {
		svg := first(t, doc, "node "+tc.node, func(n *html.Node) bool { return n.Data == "svg" && attr(n, "data-node") == tc.node })
		dot := first(t, svg, "liveness dot", byTag("circle"))
		if c := attr(dot, "class"); c != tc.liveness {
			t.Errorf("%s: dot class %q, want %q", tc.node, c, tc.liveness)
		}
		if s := text(first(t, svg, "state", byClass("text", "state"))); s != tc.state {
			t.Errorf("%s: state %q, want %q", tc.node, s, tc.state)
		}
		box := first(t, svg, "box", byClass("rect", "box"))
		if !hasClass(box, "state-"+strings.Fields(tc.state)[0]) {
			t.Errorf("%s: box classes %q lack the state", tc.node, attr(box, "class"))
		}
		used := findAll(svg, byClass("rect", "used"))
		switch {
		case tc.usedWidth == "" && len(used) != 0:
			t.Errorf("%s: a capacity bar without a capacity", tc.node)
		case tc.usedWidth != "" && (len(used) != 1 || attr(used[0], "width") != tc.usedWidth):
			t.Errorf("%s: used bar %v, want width %s", tc.node, used, tc.usedWidth)
		}
		body := text(svg)
		for _, l := range tc.lines {
			if !strings.Contains(body, l) {
				t.Errorf("%s: no %q in %q", tc.node, l, body)
			}
		}
	}
}

func TestRenderPageDurabilityRepairRebalance(t *testing.T) {
	t.Parallel()
	_, doc := render(t, sampleStatus())

	groups := findAll(doc, byClass("g", "bar-group"))
	var labels []string
	heights := map[string]string{}
	for _, g := range groups {
		l := attr(g, "data-redundancy")
		labels = append(labels, l)
		heights[l] = attr(first(t, g, "objects bar", byClass("rect", "objects")), "height")
	}
	if want := []string{"lost", "0", "1", "2"}; !slices.Equal(labels, want) {
		t.Errorf("histogram groups %q, want %q", labels, want)
	}
	// 90 objects is the tallest bar: the whole plot height; the rest in proportion.
	if heights["2"] != "120" || heights["1"] != "6.7" || heights["lost"] != "2.7" {
		t.Errorf("bar heights %v, want 2:120 1:6.7 lost:2.7", heights)
	}
	dur := text(first(t, doc, "durability section", func(n *html.Node) bool { return attr(n, "id") == "durability" }))
	for _, want := range []string{"2 objects are lost", "full redundancy is 2", "8.8 KiB", "photos", "logs"} {
		if !strings.Contains(dur, want) {
			t.Errorf("durability section lacks %q: %q", want, dur)
		}
	}
	rows := findAll(first(t, doc, "bucket table", byClass("table", "buckets")), byTag("tr"))
	var cells []string
	for _, r := range rows[1:] {
		var row []string
		for _, td := range findAll(r, byTag("td")) {
			row = append(row, text(td))
		}
		cells = append(cells, strings.Join(row, " "))
	}
	if want := []string{"logs 13 10 1 2", "photos 85 80 5 0"}; !slices.Equal(cells, want) {
		t.Errorf("bucket rows %q, want %q", cells, want)
	}

	repairSec := first(t, doc, "repair section", func(n *html.Node) bool { return attr(n, "id") == "repair" })
	repair := text(repairSec)
	for _, want := range []string{"3 hints", "3.0 KiB", "1m35s"} {
		if !strings.Contains(repair, want) {
			t.Errorf("repair section lacks %q: %q", want, repair)
		}
	}
	if cells := findAll(first(t, repairSec, "queue row", byClass("tr", "queue")), byTag("td")); text(cells[len(cells)-1]) != "1" {
		t.Errorf("repair queue row %q, want 1", text(cells[len(cells)-1]))
	}

	reb := first(t, doc, "rebalance section", func(n *html.Node) bool { return attr(n, "id") == "rebalance" })
	if s := text(reb); !strings.Contains(s, "1.0 MiB misplaced, 3.0 MiB moved (75%)") {
		t.Errorf("rebalance line %q", s)
	}
	if w := attr(first(t, reb, "done bar", byClass("rect", "done")), "width"); w != "390" {
		t.Errorf("rebalance bar width %s, want 390 (75%% of 520)", w)
	}
}

func TestRenderPageThroughput(t *testing.T) {
	t.Parallel()
	_, doc := render(t, sampleStatus())
	lines := findAll(doc, byTag("polyline"))
	if len(lines) != 2 {
		t.Fatalf("want 2 sparklines, got %d", len(lines))
	}
	// Requests 10, 40, 20 over 520×60: the peak touches the top (y=2).
	if got, want := attr(lines[0], "points"), "0,44 260,2 520,30"; got != want {
		t.Errorf("requests points %q, want %q", got, want)
	}
	// MiB/s 1, 4, 1.
	if got, want := attr(lines[1], "points"), "0,44 260,2 520,44"; got != want {
		t.Errorf("traffic points %q, want %q", got, want)
	}
	sec := text(first(t, doc, "throughput section", func(n *html.Node) bool { return attr(n, "id") == "throughput" }))
	for _, want := range []string{"20.0 req/s now, peak 40.0", "1.0 MiB/s now, peak 4.0", "one point per 10s"} {
		if !strings.Contains(sec, want) {
			t.Errorf("throughput section lacks %q: %q", want, sec)
		}
	}
}

func TestRenderPageEscapes(t *testing.T) {
	t.Parallel()
	evilID := `<script>alert(1)</script>`
	evilZone := `"><img src=x onerror=alert(2)>`
	st := &Status{Gateway: `gw<b>1</b>`, ParityShards: 2, Nodes: []NodeStatus{
		{ID: evilID, Zone: evilZone, State: `active" onclick="x`, Alive: true, Addr: `</title><script>`},
	}, Buckets: map[string]Redundancy{`<i>b</i>`: {}}}
	page, doc := render(t, st)
	for _, tag := range []string{"script", "img", "b", "i"} {
		if n := findAll(doc, byTag(tag)); len(n) != 0 {
			t.Errorf("%d <%s> elements made it into the page", len(n), tag)
		}
	}
	if findAll(doc, func(n *html.Node) bool { return attr(n, "onclick") != "" || attr(n, "onerror") != "" }) != nil {
		t.Error("an event handler attribute made it into the page")
	}
	svg := first(t, doc, "node", byClass("svg", "node"))
	if got := attr(svg, "data-node"); got != evilID {
		t.Errorf("data-node %q, want the ID verbatim", got)
	}
	if got := text(first(t, svg, "id", byClass("text", "id"))); got != evilID {
		t.Errorf("id text %q, want the ID verbatim", got)
	}
	if got := attr(first(t, doc, "zone", byClass("div", "zone")), "data-zone"); got != evilZone {
		t.Errorf("data-zone %q, want the zone verbatim", got)
	}
	if !hasClass(first(t, svg, "box", byClass("rect", "box")), "state-unknown") {
		t.Error("an unknown state must not become a class of its own")
	}
	if strings.Contains(page, "<script>") {
		t.Error("raw <script> in the page source")
	}
}

func TestRenderPageEmpty(t *testing.T) {
	t.Parallel()
	page, doc := render(t, &Status{DataShards: 4, ParityShards: 2})
	for _, want := range []string{"No nodes.", "No traffic recorded yet.", "Every shard is at home."} {
		if !strings.Contains(page, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
	if n := len(findAll(doc, byClass("g", "bar-group"))); n != 4 {
		t.Errorf("an empty histogram still has lost and 0..m: want 4 groups, got %d", n)
	}
	if err := RenderPage(&bytes.Buffer{}, nil); err == nil {
		t.Error("RenderPage(nil) succeeded")
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{100 << 20, "100 MiB"},
		{5 << 40, "5.0 TiB"},
		{-2048, "-2.0 KiB"},
	}
	for _, tc := range tests {
		if got := FormatBytes(tc.in); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := FormatBytes(uint64(3 << 30)); got != "3.0 GiB" {
		t.Errorf("FormatBytes(uint64 3 GiB) = %q", got)
	}
}

func TestSparklinePoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []float64
		want   string
	}{
		{"one point spans the width", []float64{5}, "0,2 520,2"},
		{"all zero lies on the baseline", []float64{0, 0, 0}, "0,58 260,58 520,58"},
		{"negative is clamped to zero", []float64{-3, 6}, "0,58 520,2"},
	}
	for _, tc := range tests {
		if got := newSparkline("t", "u", "c", tc.values).Points; got != tc.want {
			t.Errorf("%s: points %q, want %q", tc.name, got, tc.want)
		}
	}
}

package adminapi

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RenderPage writes the cluster page for st: one self-contained HTML
// document whose charts are inline SVG, so that it works without
// JavaScript, behind a plain reverse proxy, and in a headless screenshot.
// It refreshes itself every five seconds.
func RenderPage(w io.Writer, st *Status) error {
	if st == nil {
		return fmt.Errorf("adminapi: no status to render")
	}
	return pageTemplate.Execute(w, newPageView(st))
}

// FormatBytes renders n with IEC units ("1.5 GiB"), as both the cluster page
// and objctl show sizes.
func FormatBytes[T int64 | uint64 | float64](n T) string {
	v := float64(n)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if v < 1024 {
		return sign + strconv.FormatFloat(v, 'f', 0, 64) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	prec := 1
	if v >= 100 {
		prec = 0
	}
	return sign + strconv.FormatFloat(v, 'f', prec, 64) + " " + units[i]
}

var pageTemplate = template.Must(template.New("cluster").Funcs(template.FuncMap{
	"bytes":  FormatBytes[int64],
	"ubytes": FormatBytes[uint64],
	"num": func(v float64) string {
		return strconv.FormatFloat(v, 'f', -1, 64)
	},
	"rate": func(v float64) string {
		return strconv.FormatFloat(v, 'f', 1, 64)
	},
	"when": func(t time.Time) string {
		return t.UTC().Format(time.RFC3339)
	},
	"ago": func(d time.Duration) string {
		return d.Round(time.Second).String()
	},
}).Parse(pageSource))

// The page's geometry, in SVG user units.
const (
	nodeBoxWidth  = 188
	nodeBoxHeight = 150
	capBarX       = 12
	capBarWidth   = nodeBoxWidth - 2*capBarX

	histBarWidth   = 26
	histGroupWidth = 2*histBarWidth + 28
	histPlotHeight = 120
	histTop        = 24

	sparkWidth  = 520
	sparkHeight = 60

	rebalanceWidth = 520
)

type pageView struct {
	*Status
	Zones      []zoneView
	Histogram  histogramView
	Rebalance  rebalanceView
	Sparklines []sparklineView
	// Nodes that answered with figures versus all of them, for the header.
	Alive, Total int
	HasBuckets   bool
	Buckets      []bucketView
}

type zoneView struct {
	Name  string
	Nodes []nodeView
}

type nodeView struct {
	NodeStatus
	W, H          int
	BoxW, BoxH    int // inside the stroke
	CapX, CapW    int
	UsedW         float64
	Used          uint64
	UsedPercent   float64
	HasCapacity   bool
	StateClass    string
	LivenessClass string
}

type histogramView struct {
	Width, Height int
	BaseY         int
	Groups        []histGroup
	// Full is the redundancy every object should have, m.
	Full int
}

type histGroup struct {
	Label                string
	Class                string
	X                    int
	LabelX               int
	ObjX, BytesX         int
	ObjY, BytesY         float64
	ObjH, BytesH         float64
	Objects, Bytes       int64
	ObjLabelY, BytesLabY float64
}

type bucketView struct {
	Name      string
	Total     int64
	Full      int64
	Degraded  int64
	Lost      int64
	FullBytes int64
}

type rebalanceView struct {
	Width    int
	DoneW    float64
	Percent  float64
	ByBytes  bool
	HasWork  bool
	Left     int64
	Moved    int64
	LeftText string
	DoneText string
}

type sparklineView struct {
	Title         string
	Unit          string
	Width, Height int
	Points        string
	Latest, Peak  float64
	Empty         bool
	Class         string
}

func newPageView(st *Status) *pageView {
	v := &pageView{Status: st, Total: len(st.Nodes)}
	byZone := map[string][]nodeView{}
	for _, n := range st.Nodes {
		if n.Alive {
			v.Alive++
		}
		byZone[n.Zone] = append(byZone[n.Zone], newNodeView(n))
	}
	for zone, nodes := range byZone {
		slices.SortFunc(nodes, func(a, b nodeView) int { return cmp.Compare(a.ID, b.ID) })
		v.Zones = append(v.Zones, zoneView{Name: zone, Nodes: nodes})
	}
	slices.SortFunc(v.Zones, func(a, b zoneView) int { return cmp.Compare(a.Name, b.Name) })
	v.Histogram = newHistogramView(st.Durability, st.ParityShards)
	v.Rebalance = newRebalanceView(st.Rebalance)
	v.Sparklines = newSparklines(st.Throughput)
	for name, r := range st.Buckets {
		v.Buckets = append(v.Buckets, newBucketView(name, r, st.ParityShards))
	}
	slices.SortFunc(v.Buckets, func(a, b bucketView) int { return cmp.Compare(a.Name, b.Name) })
	v.HasBuckets = len(v.Buckets) > 0
	return v
}

func newNodeView(n NodeStatus) nodeView {
	v := nodeView{NodeStatus: n, W: nodeBoxWidth, H: nodeBoxHeight, BoxW: nodeBoxWidth - 2, BoxH: nodeBoxHeight - 2, CapX: capBarX, CapW: capBarWidth,
		StateClass: "state-" + n.State, LivenessClass: "dead"}
	switch n.State {
	case "active", "draining", "unassigned":
	default:
		v.StateClass = "state-unknown"
	}
	if n.Alive {
		v.LivenessClass = "alive"
	}
	if n.CapacityBytes > 0 {
		v.HasCapacity = true
		v.Used = n.CapacityBytes - min(n.FreeBytes, n.CapacityBytes)
		frac := float64(v.Used) / float64(n.CapacityBytes)
		v.UsedW = round1(frac * capBarWidth)
		v.UsedPercent = round1(frac * 100)
	}
	return v
}

func newHistogramView(r Redundancy, m int) histogramView {
	groups := max(m+1, len(r.Objects), len(r.Bytes))
	h := histogramView{Full: m, Height: histTop + histPlotHeight + 40, BaseY: histTop + histPlotHeight}
	var maxObj, maxBytes int64 = 1, 1
	for i := range groups {
		maxObj = max(maxObj, at(r.Objects, i))
		maxBytes = max(maxBytes, at(r.Bytes, i))
	}
	maxObj = max(maxObj, r.Lost)
	add := func(label, class string, objects, bytes int64, hasBytes bool) {
		x := 16 + len(h.Groups)*histGroupWidth
		g := histGroup{Label: label, Class: class, X: x, LabelX: x + histBarWidth, ObjX: x, BytesX: x + histBarWidth + 2,
			Objects: objects, Bytes: bytes}
		g.ObjH = round1(float64(objects) / float64(maxObj) * histPlotHeight)
		g.ObjY = float64(h.BaseY) - g.ObjH
		g.ObjLabelY = g.ObjY - 4
		if hasBytes {
			g.BytesH = round1(float64(bytes) / float64(maxBytes) * histPlotHeight)
		}
		g.BytesY = float64(h.BaseY) - g.BytesH
		g.BytesLabY = g.BytesY - 4
		h.Groups = append(h.Groups, g)
	}
	// Lost first, so that the bars read left to right from worst to best.
	add("lost", "red-lost", r.Lost, 0, false)
	for i := range groups {
		class := "red-full"
		switch {
		case i == 0:
			class = "red-none"
		case i < m:
			class = "red-some"
		}
		add(strconv.Itoa(i), class, at(r.Objects, i), at(r.Bytes, i), true)
	}
	h.Width = 32 + len(h.Groups)*histGroupWidth
	return h
}

func newBucketView(name string, r Redundancy, m int) bucketView {
	b := bucketView{Name: name, Lost: r.Lost}
	for i, n := range r.Objects {
		b.Total += n
		if i >= m {
			b.Full += n
			b.FullBytes += at(r.Bytes, i)
		} else {
			b.Degraded += n
		}
	}
	b.Total += r.Lost
	return b
}

func newRebalanceView(r Rebalance) rebalanceView {
	v := rebalanceView{Width: rebalanceWidth, HasWork: r.Active || r.Misplaced > 0}
	v.ByBytes = r.MisplacedBytes > 0 || r.MovedBytes > 0
	if v.ByBytes {
		v.Left, v.Moved = r.MisplacedBytes, r.MovedBytes
		v.LeftText, v.DoneText = FormatBytes(r.MisplacedBytes), FormatBytes(r.MovedBytes)
	} else {
		v.Left, v.Moved = r.Misplaced, r.Moved
		v.LeftText, v.DoneText = fmt.Sprintf("%d shards", r.Misplaced), fmt.Sprintf("%d shards", r.Moved)
	}
	if total := v.Left + v.Moved; total > 0 {
		frac := float64(v.Moved) / float64(total)
		v.DoneW = round1(frac * rebalanceWidth)
		v.Percent = round1(frac * 100)
	} else if !v.HasWork {
		v.DoneW, v.Percent = rebalanceWidth, 100
	}
	return v
}

func newSparklines(points []ThroughputPoint) []sparklineView {
	reqs := make([]float64, len(points))
	mib := make([]float64, len(points))
	for i, p := range points {
		reqs[i] = p.Requests
		mib[i] = (p.BytesIn + p.BytesOut) / (1 << 20)
	}
	return []sparklineView{
		newSparkline("Requests", "req/s", "spark-requests", reqs),
		newSparkline("Traffic in + out", "MiB/s", "spark-bytes", mib),
	}
}

func newSparkline(title, unit, class string, values []float64) sparklineView {
	s := sparklineView{Title: title, Unit: unit, Class: class, Width: sparkWidth, Height: sparkHeight, Empty: len(values) == 0}
	if s.Empty {
		return s
	}
	peak := 0.0
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			peak = max(peak, v)
		}
	}
	s.Peak, s.Latest = peak, values[len(values)-1]
	scale := 1.0
	if peak > 0 {
		scale = (sparkHeight - 4) / peak
	}
	var b strings.Builder
	// One point still draws a line across, at its level.
	xs := len(values) - 1
	if xs == 0 {
		values = append(values, values[0])
		xs = 1
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			v = 0
		}
		x := round1(float64(i) * sparkWidth / float64(xs))
		y := round1(sparkHeight - 2 - v*scale)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(y, 'f', -1, 64))
	}
	s.Points = b.String()
	return s
}

func at(s []int64, i int) int64 {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// pageSource is the page. Colours come from classes, never from data, so
// nothing a node reports can reach a style attribute.
const pageSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cairn cluster</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #1d2330; background: #f6f7f9; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 22px 0 8px; border-bottom: 1px solid #d5d9e0; padding-bottom: 3px; }
h3 { font-size: 14px; margin: 8px 0 6px; color: #4a5468; }
.summary { color: #4a5468; margin: 0; }
.zones { display: flex; flex-wrap: wrap; gap: 18px; }
.zone { background: #fff; border: 1px solid #d5d9e0; border-radius: 6px; padding: 6px 10px 10px; }
.nodes { display: flex; flex-wrap: wrap; gap: 10px; }
.row { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
.column { display: flex; flex-direction: column; }
#durability .panel { max-width: 420px; }
.stack { display: flex; flex-direction: column; gap: 8px; }
.panel h3 { margin: 2px 0 4px; }
.panel { background: #fff; border: 1px solid #d5d9e0; border-radius: 6px; padding: 8px 12px; }
svg text { font: 12px system-ui, sans-serif; fill: #1d2330; }
svg text.id { font-weight: 600; font-size: 14px; }
svg text.small { font-size: 11px; fill: #4a5468; }
rect.box { fill: #fff; stroke: #9aa3b2; stroke-width: 1.5; }
rect.box.state-draining { stroke: #e08a00; stroke-dasharray: 6 3; fill: #fff8ec; }
rect.box.state-unassigned, rect.box.state-unknown { stroke: #9aa3b2; stroke-dasharray: 3 3; fill: #f3f4f6; }
rect.box.dead { fill: #fdecec; stroke: #c62828; }
circle.alive { fill: #22a045; }
circle.dead { fill: #c62828; }
rect.track { fill: #e4e7ec; }
rect.used { fill: #3f6fd8; }
rect.red-lost { fill: #8e0000; }
rect.red-none { fill: #d84315; }
rect.red-some { fill: #f9a825; }
rect.red-full { fill: #2e7d32; }
rect.bytes { opacity: 0.55; }
rect.done { fill: #2e7d32; }
polyline.spark-requests { fill: none; stroke: #3f6fd8; stroke-width: 2; }
polyline.spark-bytes { fill: none; stroke: #7b3fd8; stroke-width: 2; }
line.axis { stroke: #9aa3b2; }
table { border-collapse: collapse; }
td, th { padding: 2px 10px 2px 0; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.warn { color: #c62828; font-weight: 600; }
</style>
</head>
<body>
<header>
<h1>Cairn cluster</h1>
<p class="summary">gateway {{.Gateway}} · EC {{.DataShards}}+{{.ParityShards}} · layout epoch {{.LayoutEpoch}} (version {{.LayoutVersion}}), {{.PGCount}} placement groups · {{.Alive}} of {{.Total}} nodes alive · {{when .Time}}</p>
</header>

<section id="nodes">
<h2>Nodes by zone</h2>
<div class="zones">
{{- range .Zones}}
<div class="zone" data-zone="{{.Name}}">
<h3>zone {{.Name}}</h3>
<div class="nodes">
{{- range .Nodes}}
<svg class="node" data-node="{{.ID}}" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="node {{.ID}}">
<title>{{.ID}}{{if .Addr}} at {{.Addr}}{{end}}: {{.State}}, {{if .Alive}}alive{{else}}dead{{end}}, weight {{num .Weight}}</title>
<rect class="box {{.StateClass}}{{if not .Alive}} dead{{end}}" x="1" y="1" width="{{.BoxW}}" height="{{.BoxH}}" rx="6"/>
<circle class="{{.LivenessClass}}" cx="16" cy="19" r="6"/>
<text class="id" x="28" y="24">{{.ID}}</text>
<text class="state" x="{{.W}}" dx="-12" y="24" text-anchor="end">{{.State}}{{if not .Alive}} · dead{{end}}</text>
{{- if .HasCapacity}}
<rect class="track" x="{{.CapX}}" y="38" width="{{.CapW}}" height="12" rx="2"/>
<rect class="used" x="{{.CapX}}" y="38" width="{{.UsedW}}" height="12" rx="2"/>
<text class="small" x="{{.CapX}}" y="66">{{ubytes .Used}} / {{ubytes .CapacityBytes}} ({{.UsedPercent}}%{{if .Full}}, full{{end}})</text>
{{- else}}
<rect class="track" x="{{.CapX}}" y="38" width="{{.CapW}}" height="12" rx="2"/>
<text class="small" x="{{.CapX}}" y="66">{{if .Reported}}capacity unknown{{else}}no report{{end}}</text>
{{- end}}
<text x="{{.CapX}}" y="86">shards {{.Shards}} ({{bytes .ShardBytes}})</text>
<text x="{{.CapX}}" y="104">hints {{.HintCount}} ({{bytes .HintBytes}}) · repair {{.RepairQueue}}</text>
<text x="{{.CapX}}" y="122">{{if .Misplaced}}misplaced {{.Misplaced}} ({{bytes .MisplacedBytes}}){{else}}nothing misplaced{{end}}</text>
<text class="small" x="{{.CapX}}" y="140">layout epoch {{.LayoutEpoch}} · weight {{num .Weight}}</text>
</svg>
{{- end}}
</div>
</div>
{{- else}}
<p>No nodes.</p>
{{- end}}
</div>
</section>

<div class="row">
<section id="durability">
<h2>Durability: objects by shards they can still lose</h2>
<div class="panel">
<svg class="histogram" width="{{.Histogram.Width}}" height="{{.Histogram.Height}}" viewBox="0 0 {{.Histogram.Width}} {{.Histogram.Height}}" role="img" aria-label="durability histogram">
<line class="axis" x1="8" y1="{{.Histogram.BaseY}}" x2="{{.Histogram.Width}}" y2="{{.Histogram.BaseY}}"/>
{{- range .Histogram.Groups}}
<g class="bar-group" data-redundancy="{{.Label}}">
<rect class="{{.Class}} objects" x="{{.ObjX}}" y="{{.ObjY}}" width="26" height="{{.ObjH}}"><title>{{.Objects}} objects</title></rect>
<rect class="{{.Class}} bytes" x="{{.BytesX}}" y="{{.BytesY}}" width="26" height="{{.BytesH}}"><title>{{bytes .Bytes}}</title></rect>
<text class="small" x="{{.ObjX}}" y="{{.ObjLabelY}}">{{.Objects}}</text>
<text x="{{.LabelX}}" y="{{$.Histogram.BaseY}}" dy="18" text-anchor="middle">{{.Label}}</text>
<text class="small" x="{{.LabelX}}" y="{{$.Histogram.BaseY}}" dy="33" text-anchor="middle">{{bytes .Bytes}}</text>
</g>
{{- end}}
</svg>
<p class="small">Solid bars count objects, pale bars their bytes; full redundancy is {{.Histogram.Full}}.{{if .Durability.Lost}} <span class="warn">{{.Durability.Lost}} objects are lost.</span>{{end}}</p>
{{- if .HasBuckets}}
<table class="buckets">
<tr><th>bucket</th><th>objects</th><th>full</th><th>degraded</th><th>lost</th></tr>
{{- range .Buckets}}
<tr><td>{{.Name}}</td><td>{{.Total}}</td><td>{{.Full}}</td><td>{{.Degraded}}</td><td>{{.Lost}}</td></tr>
{{- end}}
</table>
{{- end}}
</div>
</section>

<div class="column">
<section id="repair">
<h2>Repair</h2>
<div class="panel">
<table>
<tr><td>hint debt</td><td>{{.HintCount}} hints</td><td>{{bytes .HintBytes}}</td></tr>
<tr><td>oldest hint</td><td colspan="2">{{if .HintCount}}{{ago .HintOldest}}{{else}}none{{end}}</td></tr>
<tr class="queue"><td>repair queue</td><td colspan="2">{{.RepairQueue}}</td></tr>
</table>
</div>
</section>

<section id="rebalance">
<h2>Rebalance</h2>
<div class="panel">
<svg class="rebalance" width="{{.Rebalance.Width}}" height="20" viewBox="0 0 {{.Rebalance.Width}} 20" role="img" aria-label="rebalance progress">
<rect class="track" x="0" y="2" width="{{.Rebalance.Width}}" height="16" rx="3"/>
<rect class="done" x="0" y="2" width="{{.Rebalance.DoneW}}" height="16" rx="3"/>
</svg>
<p>{{if .Rebalance.HasWork}}Moving: {{.Rebalance.LeftText}} misplaced, {{.Rebalance.DoneText}} moved ({{.Rebalance.Percent}}%).{{else}}Every shard is at home{{if .Rebalance.Moved}}; {{.Rebalance.DoneText}} moved{{end}}.{{end}}</p>
</div>
</section>

<section id="throughput">
<h2>Recent throughput{{if .ThroughputInterval}} (one point per {{ago .ThroughputInterval}}){{end}}</h2>
<div class="stack">
{{- range .Sparklines}}
<div class="panel">
<h3>{{.Title}}{{if not .Empty}}: {{rate .Latest}} {{.Unit}} now, peak {{rate .Peak}}{{end}}</h3>
{{- if .Empty}}
<p>No traffic recorded yet.</p>
{{- else}}
<svg class="sparkline" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}} in {{.Unit}}">
<line class="axis" x1="0" y1="{{.Height}}" x2="{{.Width}}" y2="{{.Height}}"/>
<polyline class="{{.Class}}" points="{{.Points}}"/>
</svg>
{{- end}}
</div>
{{- end}}
</div>
</section>
</div>
</div>
</body>
</html>
`

package benchmarks

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	faultColor = color.RGBA{R: 200, G: 30, B: 30, A: 255}
	healColor  = color.RGBA{R: 30, G: 140, B: 60, A: 255}
	fullColor  = color.RGBA{R: 120, G: 40, B: 170, A: 255}
	errorColor = color.RGBA{R: 220, G: 50, B: 20, A: 255}
	okColor    = color.RGBA{R: 30, G: 80, B: 200, A: 255}
)

// WriteCharts writes a scenario's two PNG charts into dir: throughput
// over time (MiB/s above; successful and failed requests per second
// below), with fault events and the return to full redundancy as
// labelled vertical lines, and the latency CDF of each operation on a log
// axis.
func WriteCharts(dir string, res *ScenarioResult) (err error) {
	// gonum/plot panics on some degenerate inputs; a chart is not worth
	// losing the run's other outputs over.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("benchmarks: chart for %s: %v", res.Scenario.Name, p)
		}
	}()
	tp, cdf := chartNames(res.Scenario.Name)
	if err := writeThroughput(filepath.Join(dir, tp), res); err != nil {
		return err
	}
	return writeCDF(filepath.Join(dir, cdf), res)
}

// rates turns a series into per-second rates at bucket midpoints; a last
// partial bucket is scaled by the part of it the phase covered, or dropped
// if that is under half a second.
func rates(s Series, elapsed time.Duration, val func(Point) float64) plotter.XYs {
	xys := make(plotter.XYs, 0, len(s))
	for _, p := range s {
		width := min(1, elapsed.Seconds()-float64(p.Sec))
		if width < 0.5 {
			continue // the tail where in-flight requests drain is no rate
		}
		xys = append(xys, plotter.XY{X: float64(p.Sec) + width/2, Y: val(p) / width})
	}
	return xys
}

func maxY(sets ...plotter.XYs) float64 {
	m := 0.0
	for _, s := range sets {
		for _, p := range s {
			m = max(m, p.Y)
		}
	}
	return m
}

func writeThroughput(path string, res *ScenarioResult) error {
	top, bottom := plot.New(), plot.New()
	top.Title.Text = fmt.Sprintf("%s: throughput (%s, %s objects, concurrency %d)",
		res.Scenario.Name, res.Scenario.Kind, FormatSize(res.Scenario.Size), res.Scenario.Concurrency)
	top.Y.Label.Text = "MiB/s"
	bottom.Y.Label.Text = "requests/s"
	bottom.X.Label.Text = "seconds since start of measured phase"
	top.Legend.Top, bottom.Legend.Top = true, true

	mib := func(p Point) float64 { return float64(p.Bytes) / (1 << 20) }
	var topSets []plotter.XYs
	addLine := func(p *plot.Plot, name string, xys plotter.XYs, c color.Color) error {
		if len(xys) == 0 {
			return nil
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color = c
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	withBytes := 0
	for _, o := range res.Ops {
		if o.Bytes > 0 {
			withBytes++
		}
	}
	if withBytes > 1 {
		xys := rates(res.Total.Series, res.Elapsed, mib)
		topSets = append(topSets, xys)
		if err := addLine(top, "all", xys, color.Black); err != nil {
			return err
		}
	}
	for _, o := range res.Ops {
		if o.Bytes == 0 {
			continue
		}
		xys := rates(o.Series, res.Elapsed, mib)
		topSets = append(topSets, xys)
		if err := addLine(top, o.Op.String(), xys, opColor(o.Op)); err != nil {
			return err
		}
	}
	okXY := rates(res.Total.Series, res.Elapsed, func(p Point) float64 { return float64(p.Ops) })
	errXY := rates(res.Total.Series, res.Elapsed, func(p Point) float64 { return float64(p.Errors) })
	if err := addLine(bottom, "ok", okXY, okColor); err != nil {
		return err
	}
	if res.Total.Errors > 0 {
		if err := addLine(bottom, "errors", errXY, errorColor); err != nil {
			return err
		}
	}
	topMax := max(maxY(topSets...)*1.25, 1)
	bottomMax := max(maxY(okXY, errXY)*1.15, 1)
	xMax := max(res.Elapsed.Seconds(), 1)
	type mark struct {
		x     float64
		label string
		c     color.Color
		// left puts the label on the line's left, halfway up: clear of
		// the fault labels and of the legend at the top right.
		left bool
	}
	var marks []mark
	for _, f := range res.Faults {
		c := color.Color(faultColor)
		if f.Healed || f.Action == FaultRestart || f.Action == FaultResume || f.Action == FaultSlow && f.Delay == 0 {
			c = healColor
		}
		label := f.Label
		if f.Err != "" {
			label += " (failed)"
		}
		marks = append(marks, mark{f.Actual.Seconds(), label, c, false})
	}
	if rd := res.Redundancy; rd != nil {
		// Full redundancy often comes after the measured phase: the axis
		// runs on to it, where the throughput lines have ended. A watch that
		// gave up is marked where it did, within the phase's axis.
		x := (rd.From + rd.Took).Seconds()
		label := fmt.Sprintf("full redundancy (+%.1f s)", rd.Took.Seconds())
		if rd.Reached {
			xMax = max(xMax, x+1)
		} else {
			label = "not full yet"
		}
		marks = append(marks, mark{x, label, fullColor, true})
	}
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Min, p.X.Max = 0, xMax
		p.Y.Min = 0
		p.Add(plotter.NewGrid())
	}
	top.Y.Max, bottom.Y.Max = topMax, bottomMax

	var labels plotter.XYLabels
	var labelColors []color.Color
	var labelLeft []bool
	for i, mk := range marks {
		x, c := min(mk.x, xMax), mk.c
		for _, pl := range []struct {
			p    *plot.Plot
			ymax float64
		}{{top, topMax}, {bottom, bottomMax}} {
			l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: pl.ymax}})
			if err != nil {
				return err
			}
			l.Color = c
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			pl.p.Add(l)
		}
		if mk.left {
			labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: topMax * 0.5})
			labels.Labels = append(labels.Labels, mk.label+" ")
		} else {
			labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: topMax * (0.95 - 0.07*float64(i%4))})
			labels.Labels = append(labels.Labels, " "+mk.label)
		}
		labelColors = append(labelColors, c)
		labelLeft = append(labelLeft, mk.left)
	}
	if len(labels.Labels) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Color = labelColors[i]
			if labelLeft[i] {
				l.TextStyle[i].XAlign = draw.XRight
			}
		}
		top.Add(l)
	}

	const w, h = 10 * vg.Inch, 7 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(8), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeCDF(path string, res *ScenarioResult) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: latency CDF (successful requests)", res.Scenario.Name)
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of requests ≤ x"
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top = false
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	toXY := func(pts []CDFPoint) plotter.XYs {
		xys := make(plotter.XYs, 0, len(pts))
		for _, c := range pts {
			xys = append(xys, plotter.XY{X: max(float64(c.D)/float64(time.Millisecond), 0.001), Y: c.F})
		}
		return xys
	}
	n := 0
	add := func(name string, pts []CDFPoint, c color.Color, dashed bool) error {
		if len(pts) == 0 {
			return nil
		}
		l, err := plotter.NewLine(toXY(pts))
		if err != nil {
			return err
		}
		l.Color = c
		l.Width = vg.Points(1.5)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(name, l)
		n++
		return nil
	}
	for _, o := range res.Ops {
		if err := add(o.Op.String(), o.CDF, opColor(o.Op), false); err != nil {
			return err
		}
		if err := add(o.Op.String()+" time to first byte", o.TTFBCDF, opColor(o.Op), true); err != nil {
			return err
		}
	}
	if n > 0 {
		// A log axis needs positive bounds; the data's own are.
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	} else {
		p.Title.Text += ": no successful requests"
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Points(40)
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// opColor gives each operation the same colour on every chart.
func opColor(op Op) color.Color { return plotutil.Color(int(op)) }

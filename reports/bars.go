package reports

import (
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// Colours of the marks drawn over bars: 95% interval error bars and published values. Both are near-black greys
// that no other element of a plot uses, so that they read as annotations rather than series.
var (
	intervalColor  = color.RGBA{R: 51, G: 51, B: 51, A: 255}
	publishedColor = color.RGBA{R: 17, G: 17, B: 17, A: 255}
)

// barData is one model's values in a grouped bar chart, with each group's 95% interval and published value; every
// slice has one entry per group, NaN where absent.
type barData struct {
	model                       string
	value, low, high, published []float64
}

// add appends one group's value, interval and published value of metric in run (published values from info, which
// may be nil).
func (d *barData) add(run results.Run, info *results.Task, metric string) {
	v, lo, hi, pub := math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if x, ok := run.Metrics[metric]; ok {
		v = float64(x)
	}
	if iv, ok := run.Intervals[metric]; ok {
		lo, hi = float64(iv[0]), float64(iv[1])
	}
	if info != nil {
		if x, ok := info.Published[run.Model][metric]; ok {
			pub = float64(x)
		}
	}
	d.value, d.low, d.high, d.published = append(d.value, v), append(d.low, lo), append(d.high, hi), append(d.published, pub)
}

// fractions keeps the metrics that every successful run of tv declares as fractions (or declares nothing of):
// what a percent axis can show.
func fractions(tv *taskView, metrics []string) []string {
	var out []string
	for _, m := range metrics {
		if !slices.ContainsFunc(tv.ok(), func(r results.Run) bool { u := r.Kinds[m].Unit; return u != "" && u != sdk.Fraction }) {
			out = append(out, m)
		}
	}
	return out
}

// barChart draws the headline fraction metrics of every successful run in tv as a grouped bar chart: one group
// per metric, one bar colour per model; undefined (NaN) or missing metrics get no bar. It returns nil when there
// is no bar.
func barChart(tv *taskView, colors map[string]int) *chart {
	metrics := fractions(tv, tv.headline)
	var data []barData
	for _, run := range tv.ok() {
		d := barData{model: run.Model}
		for _, m := range metrics {
			d.add(run, tv.info, m)
		}
		data = append(data, d)
	}
	return groupedBars(tv.name+": headline metrics", metrics, data, colors)
}

// overviewChart draws, for reports of two or more tasks, the first headline fraction metric of each task as a
// grouped bar chart (one group per task, one bar per model): the datasets × models view. It returns nil for fewer
// than two tasks with such a metric.
func overviewChart(views []*taskView, models []string, colors map[string]int) *chart {
	var groups, first []string
	var used []*taskView
	for _, tv := range views {
		if fs := fractions(tv, tv.headline); len(fs) > 0 && len(tv.ok()) > 0 {
			groups = append(groups, tv.name+"\n"+fs[0])
			first = append(first, fs[0])
			used = append(used, tv)
		}
	}
	if len(used) < 2 {
		return nil
	}
	var data []barData
	for _, m := range models {
		d := barData{model: m}
		for j, tv := range used {
			run := results.Run{Model: m}
			if i := slices.IndexFunc(tv.ok(), func(r results.Run) bool { return r.Model == m }); i >= 0 {
				run = tv.ok()[i]
			}
			d.add(run, tv.info, first[j])
		}
		data = append(data, d)
	}
	return groupedBars("overview: first headline metric of each task", groups, data, colors)
}

// groupedBars draws data as bars grouped by groups, a series per model, with a 95% interval error bar where both
// bounds are known and a published value as a dark horizontal mark across its bar. Series without a finite value
// are left out; it returns nil when no series is left. A value outside [0, 1] is drawn as a bar to the axis' edge,
// labelled with the value (a bar of its own height would be drawn point by point far beyond the canvas).
func groupedBars(title string, groups []string, data []barData, colors map[string]int) *chart {
	var c *chart
	var marks []*barMarks
	anyInterval, anyPublished := false, false
	for _, d := range data {
		if !slices.ContainsFunc(d.value, finite) {
			continue
		}
		if c == nil {
			c = newChart(title, "", "value")
			c.plot.NominalX(groups...)
			c.nominal = true
		}
		series := barSeries{na: &plotter.Labels{Offset: vg.Point{Y: vg.Points(2)}}, marks: &barMarks{}}
		for i, v := range d.value {
			if finite(d.low[i]) && finite(d.high[i]) || finite(d.published[i]) {
				series.marks.x = append(series.marks.x, float64(i))
				series.marks.low = append(series.marks.low, d.low[i])
				series.marks.high = append(series.marks.high, d.high[i])
				series.marks.published = append(series.marks.published, d.published[i])
				anyInterval = anyInterval || finite(d.low[i]) && finite(d.high[i])
				anyPublished = anyPublished || finite(d.published[i])
			}
			if !finite(v) {
				series.na.XYs = append(series.na.XYs, plotter.XY{X: float64(i)})
				series.na.Labels = append(series.na.Labels, "n/a")
				series.na.TextStyle = append(series.na.TextStyle, text.Style{
					Color: color.Gray{Y: 96}, Font: sans(9, false), XAlign: draw.XCenter, Handler: c.plot.TextHandler,
				})
				continue
			}
			if v < 0 || v > 1 { // outside the [0, 1] axis: a bar to the axis' edge, labelled with the value
				clamped := math.Max(0, math.Min(1, v))
				series.na.XYs = append(series.na.XYs, plotter.XY{X: float64(i), Y: clamped})
				series.na.Labels = append(series.na.Labels, strconv.FormatFloat(v, 'g', 3, 64))
				series.na.TextStyle = append(series.na.TextStyle, text.Style{
					Color: color.Gray{Y: 96}, Font: sans(9, false), XAlign: draw.XCenter, Handler: c.plot.TextHandler,
				})
				v = clamped
			}
			// The width is set by layoutNominal; NewBarChart cannot fail: v is finite and the width positive.
			bar, err := plotter.NewBarChart(plotter.Values{v}, vg.Points(1))
			if err != nil {
				continue
			}
			bar.XMin, bar.Color, bar.LineStyle.Width = float64(i), seriesColor(colors[d.model]), 0
			c.plot.Add(bar)
			series.bars = append(series.bars, bar)
		}
		if len(series.na.Labels) > 0 {
			c.plot.Add(series.na)
		}
		marks = append(marks, series.marks)
		c.bars = append(c.bars, series)
		c.legend.Add(d.model, series.bars[0])
	}
	if c == nil {
		return nil
	}
	for _, m := range marks { // drawn last, over every bar
		c.plot.Add(m)
	}
	if anyPublished {
		c.legend.Add("published", markThumb{published: true})
	}
	if anyInterval {
		c.legend.Add("95% CI", markThumb{})
	}
	c.grid.Vertical.Color = nil // group boundaries need no lines
	c.plot.X.Min, c.plot.X.Max = -0.5, float64(len(groups))-0.5
	c.fixY()
	return c
}

// barMarks draws one series' interval error bars and published marks at its bars' positions (offset and width are
// set by layoutNominal). Values are clamped to the Y axis range.
type barMarks struct {
	x, low, high, published []float64
	offset, width           vg.Length
}

// Plot implements plot.Plotter.
func (m *barMarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	y := func(v float64) vg.Length { return trY(math.Max(p.Y.Min, math.Min(p.Y.Max, v))) }
	for i, x := range m.x {
		cx := trX(x) + m.offset
		if finite(m.low[i]) && finite(m.high[i]) {
			errorBar(&c, cx, y(m.low[i]), y(m.high[i]), min(m.width/3, vg.Points(6)))
		}
		if finite(m.published[i]) {
			publishedMark(&c, cx, y(m.published[i]), m.width/2+vg.Points(2))
		}
	}
}

// errorBar strokes a vertical bar from lo to hi at x with caps of half-width cap, as one path.
func errorBar(c *draw.Canvas, x, lo, hi, cap vg.Length) {
	var path vg.Path
	path.Move(vg.Point{X: x, Y: lo})
	path.Line(vg.Point{X: x, Y: hi})
	for _, y := range []vg.Length{lo, hi} {
		path.Move(vg.Point{X: x - cap, Y: y})
		path.Line(vg.Point{X: x + cap, Y: y})
	}
	c.SetLineStyle(draw.LineStyle{Color: intervalColor, Width: vg.Points(1.2)})
	c.Stroke(path)
}

// publishedMark strokes a thick horizontal mark at height y, half-width half, centred on x.
func publishedMark(c *draw.Canvas, x, y, half vg.Length) {
	c.StrokeLine2(draw.LineStyle{Color: publishedColor, Width: vg.Points(2.5)}, x-half, y, x+half, y)
}

// markThumb is the legend icon of published marks (published set) or interval error bars.
type markThumb struct{ published bool }

// Thumbnail implements plot.Thumbnailer.
func (t markThumb) Thumbnail(c *draw.Canvas) {
	cx, cy := (c.Min.X+c.Max.X)/2, (c.Min.Y+c.Max.Y)/2
	if t.published {
		publishedMark(c, cx, cy, (c.Max.X-c.Min.X)/2)
		return
	}
	errorBar(c, cx, c.Min.Y, c.Max.Y, (c.Max.X-c.Min.X)/4)
}

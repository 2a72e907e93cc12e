package reports

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"git.sr.ht/~sbinet/gg"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/atomicfile"
)

// Plot geometry: every plot is plotWidth × plotHeight; PNGs are rasterised at plotDPI (900 × 600 pixels).
const (
	plotWidth  = 6 * vg.Inch
	plotHeight = 4 * vg.Inch
	plotDPI    = 150
)

// svgFontFamily is what gonum writes for the Liberation Sans faces used here, and svgFontFallback what replaces it.
// No SVG embeds the faces (gonum's @font-face blocks are ~0.5 MB per face, base64, in every plot: 1.1 MB for a bar
// chart, and most of the time spent drawing it): viewers without Liberation Sans use Arial or Helvetica, which have
// the same metrics the layout was computed with, instead of a serif default.
const (
	svgFontFamily   = "font-family:Liberation Sans;"
	svgFontFallback = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"
)

// seriesColor is the colour of the i-th model in every plot (Okabe–Ito palette, readable with colour blindness).
func seriesColor(i int) color.RGBA {
	palette := [...]color.RGBA{
		{0, 114, 178, 255},   // blue
		{213, 94, 0, 255},    // vermillion
		{0, 158, 115, 255},   // bluish green
		{204, 121, 167, 255}, // reddish purple
		{230, 159, 0, 255},   // orange
		{86, 180, 233, 255},  // sky blue
		{240, 228, 66, 255},  // yellow
	}
	return palette[i%len(palette)]
}

// seriesShape is the point marker of the i-th model in line plots, so series differ without colour too.
func seriesShape(i int) draw.GlyphDrawer {
	shapes := [...]draw.GlyphDrawer{
		draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{},
		draw.BoxGlyph{}, draw.RingGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
	}
	return shapes[i%len(shapes)]
}

// sans returns Liberation Sans (registered by gonum/plot in its default font cache) at size points.
func sans(size vg.Length, bold bool) font.Font {
	f := font.Font{Typeface: "Liberation", Variant: "Sans"}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return font.From(f, size)
}

// chart is a plot together with its legend, which is drawn beside the data area rather than over it.
type chart struct {
	plot   *plot.Plot
	legend plot.Legend
	// nominal marks a chart whose X axis names categories at 0, 1, …: bar charts and confusion matrices.
	nominal bool
	// bars holds a bar chart's series; their widths are set when drawing, from the data area's width.
	bars []barSeries
	grid *plotter.Grid
}

// barSeries is one model's bars, "n/a" labels where its metrics are undefined (and the value where it lies
// outside the axis), and its interval and published marks.
type barSeries struct {
	bars  []*plotter.BarChart
	na    *plotter.Labels
	marks *barMarks
}

// newChart returns an empty chart with the title, axis labels, sans-serif fonts, a grid and Y fixed to [0, 1].
func newChart(title, xLabel, yLabel string) *chart {
	p := plot.New()
	text := newMeasuredText() // every text of the chart is measured through it
	p.TextHandler, p.Title.TextStyle.Handler, p.Legend.TextStyle.Handler = text, text, text
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(13, true)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(11, false)
		a.Tick.Label.Font = sans(10, false)
		a.Label.TextStyle.Handler, a.Tick.Label.Handler = text, text
	}
	p.Y.Tick.Marker = plot.ConstantTicks(fixedTicks([]float64{0, 0.2, 0.4, 0.6, 0.8, 1}))
	grid := plotter.NewGrid()
	p.Add(grid)
	l := plot.NewLegend()
	l.TextStyle.Font, l.TextStyle.Handler = sans(10, false), text
	l.Top, l.Left = true, true
	l.Padding = vg.Points(4)
	return &chart{plot: p, legend: l, grid: grid}
}

// fixedTicks returns labelled ticks at exactly values.
func fixedTicks(values []float64) []plot.Tick {
	ticks := make([]plot.Tick, len(values))
	for i, v := range values {
		ticks[i] = plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)}
	}
	return ticks
}

// fixY pins the Y axis to [0, 1]; call it after adding data, which widens the range.
func (c *chart) fixY() {
	c.plot.Y.Min, c.plot.Y.Max = 0, 1
}

// draw renders the chart onto dc: white background, margins, the plot on the left and the legend on the right.
// filled says that dc is already white (a raster canvas is made so): the background is then not painted again,
// which would rasterise every pixel twice more (the chart's and gonum/plot's own background) for the same pixels.
func (c *chart) draw(dc draw.Canvas, filled bool) {
	background := c.plot.BackgroundColor
	if filled {
		c.plot.BackgroundColor = nil
		defer func() { c.plot.BackgroundColor = background }()
	} else {
		dc.SetColor(color.White)
		dc.Fill(dc.Rectangle.Path())
	}
	margin := vg.Points(8)
	dc = draw.Crop(dc, margin, -margin, margin, -margin)
	legendWidth := c.legend.Rectangle(dc).Size().X
	area := draw.Crop(dc, 0, -(legendWidth + 2*margin), 0, 0)
	c.layoutNominal(area)
	c.plot.Draw(area)
	titleHeight := c.plot.Title.TextStyle.Rectangle(c.plot.Title.Text).Size().Y + c.plot.Title.Padding
	right := dc.Size().X - legendWidth
	c.legend.Draw(draw.Crop(dc, right, 0, 0, -titleHeight))
}

// layoutNominal lays out a chart with named X categories: it slants the names when they would overlap, and pads
// the Y axis so that the first name stays inside area; then it sizes the bars, if any, so that each group fills 80%
// of its share of the data area's width (bars of at most half an inch), the series side by side. The X axis spans
// [-0.5, groups-0.5], so the bars never need padding.
func (c *chart) layoutNominal(area draw.Canvas) {
	if !c.nominal {
		return
	}
	p := c.plot
	groups := vg.Length(p.X.Max - p.X.Min)
	p.Y.Padding = 0
	p.X.Tick.Label.Rotation, p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = 0, draw.XCenter, draw.YTop
	data := p.DataCanvas(area)
	ticks := p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max)
	for _, t := range ticks {
		if p.X.Tick.Label.Width(t.Label) > 0.95*data.Size().X/groups { // names would overlap: slant them
			p.X.Tick.Label.Rotation, p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = math.Pi/6, draw.XRight, draw.YCenter
			data = p.DataCanvas(area)
			break
		}
	}
	for i := 0; i < 4 && len(ticks) > 0; i++ { // each step moves the first name right by at least half the overflow
		first := ticks[0]
		left := data.Min.X + data.Size().X/groups/2 + p.X.Tick.Label.Rectangle(first.Label).Min.X
		if left >= area.Min.X {
			break
		}
		p.Y.Padding += area.Min.X - left
		data = p.DataCanvas(area)
	}
	width := min(0.8*data.Size().X/groups/vg.Length(len(c.bars)), vg.Inch/2)
	for j, series := range c.bars {
		offset := (vg.Length(j) - vg.Length(len(c.bars)-1)/2) * width
		for _, b := range series.bars {
			b.Width, b.Offset = width, offset
		}
		series.na.Offset.X = offset
		series.marks.offset, series.marks.width = offset, width
	}
}

// save writes the chart as base+".png" and/or base+".svg" in dir, as formats asks, and returns the paths written
// and the SVG document (drawn whatever the formats: report.html inlines it); rd supplies and keeps PNGs.
func (c *chart) save(dir, base string, formats []string, rd *Renderer) (files []string, svg []byte, err error) {
	pngData, svg, err := c.render(formats, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("plot %s: %w", base, err)
	}
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".png", pngData}, {".svg", svg}} {
		if !slices.Contains(formats, f.ext[1:]) {
			continue
		}
		path := filepath.Join(dir, base+f.ext)
		if err := atomicfile.Write(path, f.data, 0o644); err != nil {
			return files, nil, fmt.Errorf("writing plot: %w (check that the report folder is writable)", err)
		}
		files = append(files, path)
	}
	return files, svg, nil
}

// render draws the chart as an SVG document and, when formats asks for PNG, as a PNG file: the one rd keeps for
// this SVG document if any, else rasterised (and kept in rd). Panics inside gonum/plot (it panics on some inputs it
// cannot draw) are returned as errors.
func (c *chart) render(formats []string, rd *Renderer) (pngData, svg []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("drawing: %v", v)
		}
	}()
	vs := vgsvg.NewWith(vgsvg.UseWH(plotWidth, plotHeight), vgsvg.EmbedFonts(false))
	c.draw(draw.New(vs), false)
	var buf bytes.Buffer
	if _, err := vs.WriteTo(&buf); err != nil {
		return nil, nil, fmt.Errorf("encoding as SVG: %w", err)
	}
	svg = bytes.ReplaceAll(buf.Bytes(), []byte(svgFontFamily), []byte(svgFontFallback))
	if !slices.Contains(formats, "png") {
		return nil, svg, nil
	}
	key := sha256.Sum256(svg)
	rd.mu.Lock()
	pngData = rd.pngs[key]
	rd.mu.Unlock()
	if pngData != nil {
		return pngData, svg, nil
	}
	// The canvas draws straight into rgba: vgimg's own constructor would hand gg a copy of the image it made (a
	// second frame's allocation and copy per plot). So the context is set up as vgimg sets up its own: butt line
	// caps, Y pointing up; vgimg then paints the background white.
	// Frames are reused from plot to plot (vgimg paints every pixel of the background first).
	rect := image.Rect(0, 0, int(plotWidth.Dots(plotDPI)+0.5), int(plotHeight.Dots(plotDPI)+0.5))
	rgba, _ := rd.frames.Get().(*image.RGBA)
	if rgba == nil || rgba.Rect != rect {
		rgba = image.NewRGBA(rect)
	}
	defer rd.frames.Put(rgba)
	ctx := gg.NewContextForRGBA(rgba)
	ctx.SetLineCapButt()
	ctx.InvertY()
	c.draw(draw.New(newGlyphCanvas(rgba, ctx, plotDPI)), true)
	var out bytes.Buffer
	if err := encodePNG(&out, rgba); err != nil {
		return nil, nil, fmt.Errorf("encoding as PNG: %w", err)
	}
	pngData = out.Bytes()
	rd.mu.Lock()
	if rd.pngs == nil {
		rd.pngs = map[[sha256.Size]byte][]byte{}
	}
	rd.pngs[key] = pngData
	rd.rasterised++
	rd.mu.Unlock()
	return pngData, svg, nil
}

// curveChart plots the curve called name of every successful run in tv, one line with points per model. It returns
// nil when no run has a drawable point of that curve.
func curveChart(tv *taskView, name string, colors map[string]int) (*chart, error) {
	var c *chart
	var xs []float64
	for _, run := range tv.ok() {
		i := slices.IndexFunc(run.Curves, func(cv sdk.Curve) bool { return cv.Name == name })
		if i < 0 {
			continue
		}
		cv := run.Curves[i]
		if len(cv.X) != len(cv.Y) {
			return nil, fmt.Errorf("task %s, model %s: curve %s has %d x values but %d y values; the results file is inconsistent",
				tv.name, run.Model, name, len(cv.X), len(cv.Y))
		}
		var xys plotter.XYs
		for k := range cv.X {
			if finite(cv.X[k]) && finite(cv.Y[k]) { // undefined points are left out, as undefined metrics are
				xys = append(xys, plotter.XY{X: cv.X[k], Y: cv.Y[k]})
				xs = append(xs, cv.X[k])
			}
		}
		if len(xys) == 0 {
			continue
		}
		if c == nil {
			c = newChart(tv.name+": "+name, cv.XLabel, cv.YLabel)
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("task %s, model %s: plotting curve %s: %w", tv.name, run.Model, name, err)
		}
		col := seriesColor(colors[run.Model])
		line.Color, line.Width = col, vg.Points(1.5)
		points.Color, points.Shape, points.Radius = col, seriesShape(colors[run.Model]), vg.Points(3)
		c.plot.Add(line, points)
		c.legend.Add(run.Model, line, points)
	}
	if c == nil {
		return nil, nil
	}
	slices.Sort(xs)
	if xs = slices.Compact(xs); len(xs) <= 12 { // few x values (k of recall@k): label exactly those
		c.plot.X.Tick.Marker = plot.ConstantTicks(fixedTicks(xs))
	}
	c.fixY()
	return c, nil
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0)
}

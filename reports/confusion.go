package reports

import (
	"image/color"
	"maps"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/clipeval/clipeval/harness/results"
)

// confusion is a confusion matrix: counts[t][p] is how many items of class classes[t] were predicted as
// classes[p].
type confusion struct {
	classes []string
	counts  [][]float64
}

// confusions returns the confusion matrices run's metrics carry as their structured values (classes in the
// task's order), by metric name in sorted order.
func confusions(run results.Run) (names []string, cms []*confusion) {
	for _, name := range slices.Sorted(maps.Keys(run.Confusion)) {
		c := run.Confusion[name]
		if c == nil || len(c.Classes) == 0 {
			continue
		}
		cm := &confusion{classes: c.Classes, counts: make([][]float64, len(c.Counts))}
		for t, row := range c.Counts {
			cm.counts[t] = make([]float64, len(row))
			for p, v := range row {
				cm.counts[t][p] = float64(v)
			}
		}
		names, cms = append(names, name), append(cms, cm)
	}
	return names, cms
}

// confusionChart draws cm as a heatmap: truth classes down the Y axis (first class on top), predictions along X,
// each cell's count written in it and its shade the count's share of its truth row (a row-normalised matrix, so
// that shades compare across classes of different sizes; the diagonal is each class's recall). Cells without a
// count are left white with a dash.
func confusionChart(title string, cm *confusion) *chart {
	c := newChart(title, "predicted", "truth")
	c.nominal = true
	n := len(cm.classes)
	ticks := make([]plot.Tick, n)
	yTicks := make([]plot.Tick, n)
	for i, name := range cm.classes {
		ticks[i] = plot.Tick{Value: float64(i), Label: name}
		yTicks[i] = plot.Tick{Value: float64(n - 1 - i), Label: name}
	}
	c.plot.X.Tick.Marker = plot.ConstantTicks(ticks)
	c.plot.Y.Tick.Marker = plot.ConstantTicks(yTicks)
	c.plot.X.Min, c.plot.X.Max = -0.5, float64(n)-0.5
	c.plot.Y.Min, c.plot.Y.Max = -0.5, float64(n)-0.5
	c.plot.X.Padding, c.plot.Y.Padding = 0, 0
	c.grid.Vertical.Color, c.grid.Horizontal.Color = nil, nil
	c.plot.Add(&cells{cm: cm, font: max(6, min(11, vg.Length(120/n)))})
	return c
}

// cells draws a confusion matrix's cells and counts.
type cells struct {
	cm   *confusion
	font vg.Length
}

// shade interpolates from white (share 0) to dark blue (share 1); shades never equal a series colour.
func shade(share float64) color.RGBA {
	lerp := func(to uint8) uint8 { return uint8(math.Round(255 - share*(255-float64(to)))) }
	return color.RGBA{R: lerp(8), G: lerp(48), B: lerp(107), A: 255}
}

// Plot implements plot.Plotter.
func (g *cells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(g.cm.classes)
	style := draw.TextStyle{Font: sans(g.font, false), XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: p.TextHandler}
	for t, row := range g.cm.counts {
		total := 0.0
		for _, v := range row {
			if finite(v) {
				total += v
			}
		}
		y := float64(n - 1 - t)
		for pr, v := range row {
			x := float64(pr)
			rect := vg.Rectangle{Min: vg.Point{X: trX(x - 0.5), Y: trY(y - 0.5)}, Max: vg.Point{X: trX(x + 0.5), Y: trY(y + 0.5)}}
			share, label := 0.0, "–"
			if finite(v) {
				label = strconv.FormatFloat(v, 'f', -1, 64)
				if total > 0 {
					share = v / total
				}
			}
			c.SetColor(shade(share))
			c.Fill(rect.Path())
			style.Color = color.Black
			if share > 0.5 {
				style.Color = color.White
			}
			c.FillText(style, vg.Point{X: (rect.Min.X + rect.Max.X) / 2, Y: (rect.Min.Y + rect.Max.Y) / 2}, label)
		}
	}
}

// DataRange implements plot.DataRanger: the cells span [-0.5, n-0.5] on both axes.
func (g *cells) DataRange() (xmin, xmax, ymin, ymax float64) {
	n := float64(len(g.cm.classes))
	return -0.5, n - 0.5, -0.5, n - 0.5
}

package reports

import (
	"image"
	"image/color"
	"testing"

	"git.sr.ht/~sbinet/gg"
	"github.com/stretchr/testify/assert"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// TestGlyphCanvasDrawsWhereVgimgDoes draws the same strings (upright at several sub-pixel positions, in colour,
// inside pushed and translated states, and rotated) through glyphCanvas and through vgimg, and checks that the ink
// lands in the same place: the same bounding box within a pixel, nearly the same amount of ink, in the colour set.
func TestGlyphCanvasDrawsWhereVgimgDoes(t *testing.T) {
	type drawFn func(c vg.Canvas, f font.Face)
	face := func(size vg.Length, bold bool) font.Face {
		return font.DefaultCache.Lookup(sans(size, bold), size)
	}
	cases := []struct {
		name  string
		size  vg.Length
		color color.RGBA
		draw  drawFn
	}{
		{"at a whole point", 11, color.RGBA{0, 0, 0, 255}, func(c vg.Canvas, f font.Face) {
			c.FillString(f, vg.Point{X: 40, Y: 100}, "recall@k 0.25")
		}},
		{"at fractions of a pixel", 9, color.RGBA{0, 114, 178, 255}, func(c vg.Canvas, f font.Face) {
			c.SetColor(color.RGBA{0, 114, 178, 255})
			c.FillString(f, vg.Point{X: 40.37, Y: 100.81}, "image_retrieval AVWgj")
		}},
		{"translated inside a push", 13, color.RGBA{200, 0, 0, 255}, func(c vg.Canvas, f font.Face) {
			c.Push()
			c.Translate(vg.Point{X: 17.2, Y: -33.9})
			c.SetColor(color.RGBA{200, 0, 0, 255})
			c.FillString(f, vg.Point{X: 40, Y: 150}, "colour-vqa: headline")
			c.Pop()
		}},
		{"rotated (vgimg's own path)", 11, color.RGBA{0, 0, 0, 255}, func(c vg.Canvas, f font.Face) {
			c.Push()
			c.Translate(vg.Point{X: 30, Y: 60})
			c.Rotate(1.5707963267948966)
			c.FillString(f, vg.Point{}, "recall@k")
			c.Pop()
		}},
	}
	render := func(fast bool, size vg.Length, fn drawFn) *image.RGBA {
		rgba := image.NewRGBA(image.Rect(0, 0, 600, 400))
		ctx := gg.NewContextForRGBA(rgba)
		ctx.SetLineCapButt()
		ctx.InvertY()
		var c vg.CanvasSizer = vgimg.NewWith(vgimg.UseImageWithContext(rgba, ctx), vgimg.UseDPI(plotDPI))
		if fast {
			c = newGlyphCanvas(rgba, ctx, plotDPI)
		}
		fn(draw.New(c), face(size, false))
		return rgba
	}
	ink := func(img *image.RGBA) (box image.Rectangle, amount int, darkest color.RGBA) {
		best := 255 * 3
		for y := range img.Rect.Dy() {
			for x := range img.Rect.Dx() {
				p := img.RGBAAt(x, y)
				v := 255*3 - int(p.R) - int(p.G) - int(p.B)
				if v == 0 {
					continue
				}
				box = box.Union(image.Rect(x, y, x+1, y+1))
				amount += v
				if s := int(p.R) + int(p.G) + int(p.B); s < best {
					best, darkest = s, p
				}
			}
		}
		return box, amount, darkest
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantBox, wantInk, _ := ink(render(false, tc.size, tc.draw))
			gotBox, gotInk, darkest := ink(render(true, tc.size, tc.draw))
			if !assert.False(t, wantBox.Empty(), "vgimg drew nothing") {
				return
			}
			for _, d := range []int{gotBox.Min.X - wantBox.Min.X, gotBox.Min.Y - wantBox.Min.Y, gotBox.Max.X - wantBox.Max.X, gotBox.Max.Y - wantBox.Max.Y} {
				assert.LessOrEqual(t, max(d, -d), 1, "ink box %v, vgimg's %v", gotBox, wantBox)
			}
			assert.InEpsilon(t, wantInk, gotInk, 0.05, "amount of ink")
			assert.Equal(t, tc.color, darkest, "the text's colour")
		})
	}
}

// TestMeasuredTextBoxesArePlains checks that measuredText gives text.Plain's box for every string and font, the
// first time and when it answers from what it remembered, and keeps strings and fonts apart.
func TestMeasuredTextBoxesArePlains(t *testing.T) {
	plain, m := text.Plain{Fonts: font.DefaultCache}, newMeasuredText()
	cases := []struct {
		txt string
		fnt font.Font
	}{
		{"0.2", sans(10, false)},
		{"0.2", sans(13, true)},
		{"recall@10", sans(10, false)},
		{"AV Ty", sans(11, false)}, // kerned pairs
		{"", sans(10, false)},
		{"ümlaut ⁂", sans(9, false)},
	}
	for round := range 2 {
		for _, tc := range cases {
			w, h, d := plain.Box(tc.txt, tc.fnt)
			mw, mh, md := m.Box(tc.txt, tc.fnt)
			assert.Equal(t, [3]vg.Length{w, h, d}, [3]vg.Length{mw, mh, md}, "round %d: %q at %v", round, tc.txt, tc.fnt.Size)
		}
	}
	assert.Len(t, m.boxes, len(cases))
}

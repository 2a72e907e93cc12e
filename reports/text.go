package reports

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"sync"

	"git.sr.ht/~sbinet/gg"
	xfont "golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgimg"
)

// glyphCanvas is a vgimg canvas (drawing through ctx into dst) that draws upright text itself: each glyph's
// coverage mask is rasterised once per face, rune and quarter-pixel position and composited straight onto dst.
// vgimg would make a font face for every string, rasterise every glyph again and resample each mask through a
// bilinear transform (gg's text path): most of a plot's rasterising time, and a blur. Rotated text (the y-axis
// label) still goes through vgimg. A glyphCanvas is used by one goroutine.
type glyphCanvas struct {
	*vgimg.Canvas
	ctx *gg.Context
	dst *image.RGBA
	dpi float64
	// colors mirrors vgimg's colour stack (Push, Pop, SetColor): the text colour.
	colors []color.Color
	faces  map[faceKey]xfont.Face
	glyphs map[glyphKey]*glyph
}

// faceKey names an opentype face at one size; glyphKey one glyph of a face at a quarter-pixel offset.
type faceKey struct {
	font *opentype.Font
	size vg.Length
}

type glyphKey struct {
	face   faceKey
	r      rune
	dx, dy fixed.Int26_6 // the dot's offset within its pixel, a multiple of a quarter pixel
}

// glyph is a rasterised glyph: its mask, the mask's rectangle relative to the dot's pixel, its advance; ok is
// false for a rune the face cannot draw.
type glyph struct {
	rect    image.Rectangle
	mask    *image.Alpha
	advance fixed.Int26_6
	ok      bool
}

// newGlyphCanvas draws into dst through ctx (set up as vgimg's own) at dpi.
func newGlyphCanvas(dst *image.RGBA, ctx *gg.Context, dpi float64) *glyphCanvas {
	return &glyphCanvas{Canvas: vgimg.NewWith(vgimg.UseImageWithContext(dst, ctx), vgimg.UseDPI(int(dpi))), ctx: ctx, dst: dst, dpi: dpi,
		colors: []color.Color{color.Black}, faces: map[faceKey]xfont.Face{}, glyphs: map[glyphKey]*glyph{}}
}

// SetColor implements vg.Canvas.
func (c *glyphCanvas) SetColor(clr color.Color) {
	if clr == nil {
		clr = color.Black
	}
	c.colors[len(c.colors)-1] = clr
	c.Canvas.SetColor(clr)
}

// Push implements vg.Canvas.
func (c *glyphCanvas) Push() {
	c.colors = append(c.colors, c.colors[len(c.colors)-1])
	c.Canvas.Push()
}

// Pop implements vg.Canvas.
func (c *glyphCanvas) Pop() {
	if len(c.colors) > 1 {
		c.colors = c.colors[:len(c.colors)-1]
	}
	c.Canvas.Pop()
}

// FillString implements vg.Canvas: str with its baseline starting at pt, as vgimg places it.
func (c *glyphCanvas) FillString(f font.Face, pt vg.Point, str string) {
	if f.Font.Size == 0 {
		return
	}
	// vgimg draws the string at ctx's transform of pt, in the transform's orientation with Y flipped back (its
	// InvertY). Upright text is where that orientation is the identity: x right, y down on the image.
	x, y := pt.X.Dots(c.dpi), pt.Y.Dots(c.dpi)
	ox, oy := c.ctx.TransformPoint(x, y)
	ux, uy := c.ctx.TransformPoint(x+1, y)
	vx, vy := c.ctx.TransformPoint(x, y+1)
	const eps = 1e-9
	if math.Abs(ux-ox-1) > eps || math.Abs(uy-oy) > eps || math.Abs(vx-ox) > eps || math.Abs(vy-oy+1) > eps {
		c.Canvas.FillString(f, pt, str)
		return
	}
	fk := faceKey{f.Face, f.Font.Size}
	face := c.faces[fk]
	if face == nil {
		face = f.FontFace(c.dpi)
		c.faces[fk] = face
	}
	src := image.NewUniform(c.colors[len(c.colors)-1])
	dot := fixed.Point26_6{X: fixed.Int26_6(math.Round(ox * 64)), Y: fixed.Int26_6(math.Round(oy * 64))}
	prev := rune(-1)
	for _, r := range str {
		if prev >= 0 {
			dot.X += face.Kern(prev, r)
		}
		g := c.glyph(face, fk, r, dot)
		if g.ok {
			at := image.Pt(dot.X.Floor(), dot.Y.Floor())
			draw.DrawMask(c.dst, g.rect.Add(at), src, image.Point{}, g.mask, g.mask.Rect.Min, draw.Over)
		}
		dot.X += g.advance
		prev = r
	}
}

// glyph returns face's glyph of r drawn at dot, its offset within the pixel rounded to a quarter pixel.
func (c *glyphCanvas) glyph(face xfont.Face, fk faceKey, r rune, dot fixed.Point26_6) *glyph {
	quarter := func(v fixed.Int26_6) fixed.Int26_6 { return (v&63 + 8) / 16 * 16 } // 0, 16, 32, 48 or 64
	k := glyphKey{face: fk, r: r, dx: quarter(dot.X), dy: quarter(dot.Y)}
	if g, ok := c.glyphs[k]; ok {
		return g
	}
	g := &glyph{}
	dr, mask, mp, advance, ok := face.Glyph(fixed.Point26_6{X: k.dx, Y: k.dy}, r)
	g.advance = advance
	if ok && !dr.Empty() {
		// The face reuses its mask's memory for the next glyph: the cache keeps a copy.
		a := image.NewAlpha(image.Rect(0, 0, dr.Dx(), dr.Dy()))
		draw.Draw(a, a.Rect, mask, mp, draw.Src)
		g.rect, g.mask, g.ok = dr, a, true
	}
	c.glyphs[k] = g
	return g
}

// measuredText is gonum/plot's plain text handler that remembers each string's box: laying out a plot measures the
// same title, tick labels and legend entries many times over, and each measurement walks the font's glyph, kerning
// and advance tables again (allocating as it goes: a large share of a report's allocations). The boxes are
// gonum/plot's own. It is safe for concurrent use.
type measuredText struct {
	text.Plain
	mu    sync.Mutex
	boxes map[boxKey][3]vg.Length
}

// boxKey is one measured string in one font.
type boxKey struct {
	txt string
	fnt font.Font
}

// newMeasuredText returns a measuredText over gonum/plot's fonts.
func newMeasuredText() *measuredText {
	return &measuredText{Plain: text.Plain{Fonts: font.DefaultCache}, boxes: map[boxKey][3]vg.Length{}}
}

// Box returns text.Plain's box of txt in fnt, measured once.
func (m *measuredText) Box(txt string, fnt font.Font) (width, height, depth vg.Length) {
	k := boxKey{txt, fnt}
	m.mu.Lock()
	b, ok := m.boxes[k]
	m.mu.Unlock()
	if !ok {
		b[0], b[1], b[2] = m.Plain.Box(txt, fnt)
		m.mu.Lock()
		m.boxes[k] = b
		m.mu.Unlock()
	}
	return b[0], b[1], b[2]
}

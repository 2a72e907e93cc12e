package imageprep

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file is a slow, whole-image model of Pillow 12.3's Image.resize(size, BICUBIC) written from Pillow's
// source (Image.py resize, Resample.c) without the package's windowing, tap layout or kernels: every output of
// both passes is computed over the whole image and the crop taken at the end. The tests compare the package
// with it on made images.

// refCoeffs is precompute_coeffs for BICUBIC over the box (0, in): per output, the first tap and the
// normalised weights.
func refCoeffs(in, out int) (first []int, weights [][]float64) {
	scale := float64(in) / float64(out)
	fs := math.Max(scale, 1)
	support := 2 * fs
	// bicubic_filter with a = -0.5, each product rounded on its own as C computes it (no fused multiply-add)
	cubic := func(x float64) float64 {
		const a = -0.5
		x = math.Abs(x)
		switch {
		case x < 1:
			return float64(float64(float64(float64((a+2.0)*x)-(a+3.0))*x)*x) + 1
		case x < 2:
			return float64(float64(float64(float64(x-5)*x)+8)*x-4) * a
		}
		return 0
	}
	for o := 0; o < out; o++ {
		center := float64((float64(o) + 0.5) * scale)
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		var w []float64
		sum := 0.0
		for x := lo; x < hi; x++ {
			v := cubic(float64(float64(x)-center+0.5) * (1 / fs))
			w = append(w, v)
			sum += v
		}
		if sum != 0 {
			for i := range w {
				w[i] /= sum
			}
		}
		first, weights = append(first, lo), append(weights, w)
	}
	return first, weights
}

// refFixed is normalize_coeffs_8bpc: each weight times 2^22, rounded half away from zero.
func refFixed(w float64) int64 {
	if w < 0 {
		return int64(-0.5 + float64(w*(1<<22)))
	}
	return int64(0.5 + float64(w*(1<<22)))
}

// refPlane is one band of an image as numbers, row-major.
type refPlane struct {
	w, h int
	v    []float64
}

// refPass resamples a plane along one axis to n samples; store rounds each sum as the mode stores it.
func refPass(p refPlane, n int, horizontal bool, eightBit bool, load func(float64) float64, store func(float64) float64) refPlane {
	in := p.h
	if horizontal {
		in = p.w
	}
	first, weights := refCoeffs(in, n)
	out := refPlane{w: p.w, h: n}
	if horizontal {
		out = refPlane{w: n, h: p.h}
	}
	out.v = make([]float64, out.w*out.h)
	for y := 0; y < out.h; y++ {
		for x := 0; x < out.w; x++ {
			o, line := y, x // output index along the axis, and the line across it
			if horizontal {
				o, line = x, y
			}
			at := func(t int) float64 {
				if horizontal {
					return load(p.v[line*p.w+first[o]+t])
				}
				return load(p.v[(first[o]+t)*p.w+line])
			}
			if eightBit {
				ss := int64(1 << 21)
				for t, w := range weights[o] {
					ss += int64(at(t)) * refFixed(w)
				}
				out.v[y*out.w+x] = math.Max(0, math.Min(255, float64(ss>>22)))
			} else {
				ss := 0.0
				for t, w := range weights[o] {
					ss += float64(at(t) * w)
				}
				out.v[y*out.w+x] = store(ss)
			}
		}
	}
	return out
}

// refResize is Image.resize of one band to nw×nh; vertFirst forces the order (nil: Pillow 12.3's rule).
func refResize(p refPlane, nw, nh int, eightBit bool, load, store func(float64) float64, vertFirst *bool) refPlane {
	tall := p.h > 100*p.w && nh < p.h
	if vertFirst != nil {
		tall = *vertFirst
	}
	if tall {
		if nh != p.h {
			p = refPass(p, nh, false, eightBit, load, store)
		}
		if nw != p.w {
			p = refPass(p, nw, true, eightBit, load, store)
		}
		return p
	}
	if nw != p.w {
		p = refPass(p, nw, true, eightBit, load, store)
	}
	if nh != p.h {
		p = refPass(p, nh, false, eightBit, load, store)
	}
	return p
}

// refCrop is torchvision's center_crop of a plane to size×size.
func refCrop(p refPlane, size int) []float64 {
	x0 := int(math.RoundToEven(float64(p.w-size) / 2))
	y0 := int(math.RoundToEven(float64(p.h-size) / 2))
	out := make([]float64, 0, size*size)
	for y := y0; y < y0+size; y++ {
		out = append(out, p.v[y*p.w+x0:y*p.w+x0+size]...)
	}
	return out
}

func identity(v float64) float64 { return v }

// TestTallImagesResizeVerticallyFirst checks Pillow ≥ 12.2's rule on made 8-bit images: more than 100 times
// taller than wide and shrunk vertically → vertical pass first. Each image is chosen so that the order changes
// pixels (the test fails if it does not), and the package must give the vertical-first result.
func TestTallImagesResizeVerticallyFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name     string
		w, h     int
		size     int
		bands    int
		tall     bool // whether Pillow's rule applies
		rgbPaths bool // also through PreprocessInto (RGB PNG)
	}{
		{"L 3x301 to 2", 3, 301, 2, 1, true, false},
		{"L 5x1000 to 3", 5, 1000, 3, 1, true, false},
		{"RGB 7x1500 to 4", 7, 1500, 4, 3, true, true},
		{"RGB 12x1201 to 5", 12, 1201, 5, 3, true, true},
		{"L exactly 100 times taller: horizontal first", 4, 400, 3, 1, false, false},
		{"L wide image: horizontal first", 301, 3, 2, 1, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pix := make([]uint8, tc.w*tc.h*tc.bands)
			for i := range pix {
				pix[i] = []uint8{0, 255, uint8(rng.Uint32())}[rng.IntN(3)]
			}
			nw, nh := ResizedSize(tc.w, tc.h, tc.size)
			want := make([][]float64, tc.bands)
			other := make([][]float64, tc.bands)
			notTall := !tc.tall
			for b := range tc.bands {
				p := refPlane{w: tc.w, h: tc.h, v: make([]float64, tc.w*tc.h)}
				for i := range p.v {
					p.v[i] = float64(pix[i*tc.bands+b])
				}
				want[b] = refCrop(refResize(p, nw, nh, true, identity, nil, nil), tc.size)
				other[b] = refCrop(refResize(p, nw, nh, true, identity, nil, &notTall), tc.size)
			}
			require.NotEqual(t, want, other, "the made image does not tell the two orders apart")
			mode := map[int]Mode{1: ModeL, 3: ModeRGB}[tc.bands]
			got, err := testConfig(tc.size).ResizeCrop(&Image{Mode: mode, Width: tc.w, Height: tc.h, Pix: pix})
			require.NoError(t, err)
			for b := range tc.bands {
				for i, v := range want[b] {
					require.Equalf(t, uint8(v), got.Pix[i*tc.bands+b], "band %d pixel %d", b, i)
				}
			}
			if tc.rgbPaths {
				// the preprocessing path (RGBX, pooled buffers, fused normalisation) on the same image as a PNG
				data := pngFile(t, tc.w, tc.h, 8, 2, rowsOf(pix, tc.w*3))
				dst, err := preprocess(testConfig(tc.size), data)
				require.NoError(t, err)
				n := tc.size * tc.size
				for b := range 3 {
					for i, v := range want[b] {
						require.Equalf(t, float32(v)/255, dst[b*n+i], "band %d pixel %d", b, i)
					}
				}
			}
		})
	}
}

// rowsOf splits pixels into rows of n bytes.
func rowsOf(pix []uint8, n int) [][]byte {
	var rows [][]byte
	for i := 0; i < len(pix); i += n {
		rows = append(rows, pix[i:i+n])
	}
	return rows
}

// Stores of the wide modes for the reference, written from Resample.c (Pillow 12.3) and ImagingUtils.h.
var (
	refStore16 = func(ss float64) float64 { // CLIP16(ROUND_UP(ss))
		v := math.Trunc(ss + math.Copysign(0.5, ss))
		return math.Max(0, math.Min(65535, v))
	}
	refSwap = func(v float64) float64 { u := uint16(v); return float64(u<<8 | u>>8) }
)

// TestWideModesAgainstReference compares I;16, I;16B, I and F resizes (both orders, up- and downscales, values
// that overshoot 0..65535 at edges) with the reference.
func TestWideModesAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range []struct{ w, h, size int }{{9, 7, 4}, {3, 5, 7}, {40, 3, 3}, {4, 460, 3}, {31, 29, 11}} {
		vals := make([]float64, sz.w*sz.h)
		for i := range vals {
			vals[i] = []float64{0, 65535, float64(rng.IntN(65536)), float64(rng.IntN(300))}[rng.IntN(4)]
		}
		nw, nh := ResizedSize(sz.w, sz.h, sz.size)
		p := refPlane{w: sz.w, h: sz.h, v: vals}
		name := fmt.Sprintf("%dx%d to %d", sz.w, sz.h, sz.size)
		cfg := testConfig(sz.size)
		t.Run("I;16 "+name, func(t *testing.T) {
			want := refCrop(refResize(p, nw, nh, false, identity, refStore16, nil), sz.size)
			im := &Image{Mode: ModeI16, Width: sz.w, Height: sz.h, Pix16: make([]uint16, len(vals))}
			for i, v := range vals {
				im.Pix16[i] = uint16(v)
			}
			got, err := cfg.ResizeCrop(im)
			require.NoError(t, err)
			for i, v := range want {
				require.Equalf(t, uint16(v), got.Pix16[i], "pixel %d", i)
			}
		})
		t.Run("I;16B "+name, func(t *testing.T) {
			// on the stored bytes read little-endian: the swapped values, and each stored sum swapped back
			swapped := refPlane{w: sz.w, h: sz.h, v: make([]float64, len(vals))}
			for i, v := range vals {
				swapped.v[i] = refSwap(v)
			}
			want := refCrop(refResize(swapped, nw, nh, false, identity, refStore16, nil), sz.size)
			im := &Image{Mode: ModeI16B, Width: sz.w, Height: sz.h, Pix16: make([]uint16, len(vals))}
			for i, v := range vals {
				im.Pix16[i] = uint16(v)
			}
			got, err := cfg.ResizeCrop(im)
			require.NoError(t, err)
			for i, v := range want {
				require.Equalf(t, uint16(refSwap(v)), got.Pix16[i], "pixel %d", i)
			}
		})
		t.Run("I "+name, func(t *testing.T) {
			im := &Image{Mode: ModeI, Width: sz.w, Height: sz.h, Pix32: make([]int32, len(vals))}
			for i, v := range vals {
				im.Pix32[i] = int32(v) - 30000
			}
			shifted := refPlane{w: sz.w, h: sz.h, v: make([]float64, len(vals))}
			for i, v := range vals {
				shifted.v[i] = v - 30000
			}
			roundUp := func(ss float64) float64 { return math.Trunc(ss + math.Copysign(0.5, ss)) }
			want := refCrop(refResize(shifted, nw, nh, false, identity, roundUp, nil), sz.size)
			got, err := cfg.ResizeCrop(im)
			require.NoError(t, err)
			for i, v := range want {
				require.Equalf(t, int32(v), got.Pix32[i], "pixel %d", i)
			}
		})
		t.Run("F "+name, func(t *testing.T) {
			want := refCrop(refResize(p, nw, nh, false, identity, func(ss float64) float64 { return float64(float32(ss)) }, nil), sz.size)
			im := &Image{Mode: ModeF, Width: sz.w, Height: sz.h, PixF: make([]float32, len(vals))}
			for i, v := range vals {
				im.PixF[i] = float32(v)
			}
			got, err := cfg.ResizeCrop(im)
			require.NoError(t, err)
			for i, v := range want {
				require.Equalf(t, float32(v), got.PixF[i], "pixel %d", i)
			}
		})
	}
}

// TestI16ClampsNotBytes is a hand-checked case of Pillow 12.3's CLIP16 where the clamped intermediate of the
// horizontal pass changes the vertical pass: 2×2 [[0, 65535], [0, 0]] upscaled to 4×4. Horizontally (weights
// 37/34, -3/34 | 111/140, 29/140 | 29/140, 111/140 | -3/34, 37/34, resample_test.go) the top row becomes
// 0, 13575.1, 51959.9, 71317.9 → 0, 13575, 51960, 65535 (clamped; Pillow ≤ 12.2 kept 0xFF96 = 65430); the bottom
// row stays 0. Vertically, output row 1 of column 3 is 111/140 · 65535 = 51959.9 → 51960 (65430 would give
// 51876.6 → 51877); output row 0 is 37/34 · 65535 = 71317.9 → 65535.
func TestI16ClampsNotBytes(t *testing.T) {
	got := resampleWide([]uint16{0, 65535, 0, 0}, window{w: 2, h: 2, nw: 4, nh: 4, ww: 4, wh: 4}, storeI16)
	assert.Equal(t, []uint16{65535, 51960}, []uint16{got[3], got[7]})
	assert.Equal(t, []uint16{0, 14773, 56545, 65535}, got[:4]) // 37/34 of 0, 13575, 51960, 65535 (clamped)
}

// beTIFF16 writes an uncompressed big-endian ("MM") 16-bit gray TIFF by hand (Go's encoder writes only
// little-endian): one strip, BitsPerSample 16, the given PhotometricInterpretation.
func beTIFF16(w, h int, photometric uint16, vals []uint16) []byte {
	return tiff16(binary.BigEndian, w, h, photometric, vals)
}

// tiff16 writes an uncompressed 16-bit gray TIFF in the byte order be (extra: more SHORT tags, sorted after 279).
func tiff16(be binary.ByteOrder, w, h int, photometric uint16, vals []uint16, extra ...[3]uint32) []byte {
	var ifd bytes.Buffer
	entries := append([][3]uint32{ // tag, type (3 SHORT, 4 LONG), value
		{256, 4, uint32(w)}, {257, 4, uint32(h)}, {258, 3, 16}, {259, 3, 1}, {262, 3, uint32(photometric)},
		{273, 4, 8}, {277, 3, 1}, {278, 4, uint32(h)}, {279, 4, uint32(2 * w * h)},
	}, extra...)
	_ = binary.Write(&ifd, be, uint16(len(entries)))
	for _, e := range entries {
		_ = binary.Write(&ifd, be, uint16(e[0]))
		_ = binary.Write(&ifd, be, uint16(e[1]))
		_ = binary.Write(&ifd, be, uint32(1))
		if e[1] == 3 {
			_ = binary.Write(&ifd, be, uint16(e[2]))
			_ = binary.Write(&ifd, be, uint16(0))
		} else {
			_ = binary.Write(&ifd, be, e[2])
		}
	}
	_ = binary.Write(&ifd, be, uint32(0))
	var out bytes.Buffer
	out.WriteString(map[bool]string{true: "MM\x00*", false: "II*\x00"}[be == binary.BigEndian])
	_ = binary.Write(&out, be, uint32(8+2*w*h))
	for _, v := range vals {
		_ = binary.Write(&out, be, v)
	}
	out.Write(ifd.Bytes())
	return out.Bytes()
}

// TestI16BigEndianTIFF checks the I;16B path end to end on a made big-endian TIFF. [100, 101] resized 2×1 → 4×2
// and cropped to columns 1..2: Pillow's passes compute on the bytes read little-endian, 0x6400 = 25600 and 0x6500
// = 25856: (111·25600 + 29·25856)/140 = 25653.0 → 0x6435, stored back as the value 0x3564 = 13668, and
// (29·25600 + 111·25856)/140 = 25803.0 → 0x64CB → 0xCB64; both are above 255, so convert("RGB") gives 255 (the
// same file read as I;16 would give 100 and 101). A constant image stays constant.
func TestI16BigEndianTIFF(t *testing.T) {
	im, err := Decode(beTIFF16(2, 1, 1, []uint16{100, 101}))
	require.NoError(t, err)
	require.Equal(t, &Image{Mode: ModeI16B, Width: 2, Height: 1, Pix16: []uint16{100, 101}}, im)
	crop, err := testConfig(2).ResizeCrop(im)
	require.NoError(t, err)
	assert.Equal(t, []uint16{0x3564, 0xCB64, 0x3564, 0xCB64}, crop.Pix16)
	got, err := decodeRGB8(testConfig(2), beTIFF16(2, 1, 1, []uint16{100, 101}))
	require.NoError(t, err)
	assert.Equal(t, rgbOf(2, 255, 255, 255), got)

	le := &Image{Mode: ModeI16, Width: 2, Height: 1, Pix16: []uint16{100, 101}}
	rgb, err := testConfig(2).RGB8Image(le)
	require.NoError(t, err)
	assert.Equal(t, grays(100, 101, 100, 101), rgb)

	got, err = decodeRGB8(testConfig(3), beTIFF16(2, 2, 1, []uint16{100, 100, 100, 100}))
	require.NoError(t, err)
	assert.Equal(t, rgbOf(3, 100, 100, 100), got)

	_, err = Decode(beTIFF16(2, 1, 0, []uint16{100, 101}))
	assert.ErrorContains(t, err, "16-bit WhiteIsZero gray in a big-endian file, which Pillow cannot open")
}

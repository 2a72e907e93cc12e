package imageprep

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/clipeval/clipeval/internal/sharedtest"
)

// rgbOf repeats one RGB triple over a size×size image.
func rgbOf(size int, r, g, b uint8) []uint8 { return repeat([]byte{r, g, b}, size*size) }

// grays expands gray levels to RGB triples.
func grays(v ...uint8) []uint8 {
	out := make([]uint8, 0, 3*len(v))
	for _, g := range v {
		out = append(out, g, g, g)
	}
	return out
}

// TestModes runs the whole transform (decode, resize, crop, convert) on small images of every mode the eval
// transform meets, with expectations derived by hand (see resample_test.go for the bicubic numbers).
func TestModes(t *testing.T) {
	be16 := func(v ...uint16) []byte {
		out := make([]byte, 0, 2*len(v))
		for _, x := range v {
			out = append(out, byte(x>>8), byte(x))
		}
		return out
	}
	plte := pngChunk{"PLTE", []byte{255, 0, 0, 0, 255, 0, 0, 0, 255}} // red, green, blue; index 3 is undefined
	redGreen := []byte{255, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0}
	blueBlack := []byte{0, 0, 255, 0, 0, 255, 0, 0, 0, 0, 0, 0}
	for _, tc := range []struct {
		name     string
		data     []byte
		size     int
		wantMode Mode
		want     []uint8
	}{
		{"L constant upscale stays constant", pngFile(t, 3, 2, 8, 0, repeatRows([]byte{77, 77, 77}, 2)), 4, ModeL, rgbOf(4, 77, 77, 77)},
		// 2x1 → 4x2 ([0, 53, 202, 255] per row), centre crop 2 from column 1
		{"L upscale [0,255]", pngFile(t, 2, 1, 8, 0, [][]byte{{0, 255}}), 2, ModeL, grays(53, 202, 53, 202)},
		// 4x4 → 2x2: every row [0,0,255,255] → [21, 234]
		{"L downscale", pngFile(t, 4, 4, 8, 0, repeatRows([]byte{0, 0, 255, 255}, 4)), 2, ModeL, grays(21, 234, 21, 234)},
		{"L 1x1 upscales to a constant", pngFile(t, 1, 1, 8, 0, [][]byte{{9}}), 5, ModeL, rgbOf(5, 9, 9, 9)},
		{"L very wide (1000x1 → 3000x3, crop 3)", pngFile(t, 1000, 1, 8, 0, [][]byte{repeat([]byte{50}, 1000)}), 3, ModeL, rgbOf(3, 50, 50, 50)},
		{"L exact size is not resampled", pngFile(t, 2, 2, 8, 0, [][]byte{{1, 2}, {3, 4}}), 2, ModeL, grays(1, 2, 3, 4)},
		{"L 4-bit scales by 17", pngFile(t, 2, 2, 4, 0, [][]byte{{0x0F}, {0xA0}}), 2, ModeL, grays(0, 255, 170, 0)},
		// 1-bit gray is Pillow's "1": NEAREST, so the 2x2 checkerboard becomes 2x2 blocks at size 4
		{"1 upscale is nearest", pngFile(t, 2, 2, 1, 0, [][]byte{{0x80}, {0x40}}), 4, Mode1,
			grays(255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 255, 255, 0, 0, 255, 255)},
		{"P upscale is nearest, undefined index is black", pngFile(t, 2, 2, 8, 3, [][]byte{{0, 1}, {2, 3}}, plte,
			pngChunk{"tRNS", []byte{0, 128}}), 4, ModeP,
			bytes.Join([][]byte{redGreen, redGreen, blueBlack, blueBlack}, nil)},
		// premultiplied resize: 200 at alpha 128 → 100 → resampled 100 → 255·100/128 = 199; alpha is then dropped
		{"LA resize goes through premultiplied alpha", pngFile(t, 2, 2, 8, 4, repeatRows([]byte{200, 128, 200, 128}, 2)), 4, ModeLA, rgbOf(4, 199, 199, 199)},
		{"LA fully transparent loses its colour when resized", pngFile(t, 2, 2, 8, 4, repeatRows([]byte{200, 0, 200, 0}, 2)), 4, ModeLA, rgbOf(4, 0, 0, 0)},
		{"LA not resized keeps its colour", pngFile(t, 2, 2, 8, 4, repeatRows([]byte{200, 0, 200, 0}, 2)), 2, ModeLA, rgbOf(2, 200, 200, 200)},
		{"LA 16-bit opens as RGBA (high bytes)", pngFile(t, 2, 2, 16, 4, repeatRows(be16(0xC8FF, 0xFFFF, 0xC800, 0xFF00), 2)), 3, ModeRGBA, rgbOf(3, 200, 200, 200)},
		{"RGB constant", pngFile(t, 3, 5, 8, 2, repeatRows(repeat([]byte{10, 20, 30}, 3), 5)), 4, ModeRGB, rgbOf(4, 10, 20, 30)},
		{"RGB 16-bit keeps the high byte", pngFile(t, 2, 2, 16, 2, repeatRows(be16(0x12FF, 0x5600, 0x9A80, 0x12FF, 0x5600, 0x9A80), 2)), 2, ModeRGB, rgbOf(2, 0x12, 0x56, 0x9A)},
		{"RGBA transparent resized is black", pngFile(t, 2, 2, 8, 6, repeatRows(repeat([]byte{10, 20, 30, 0}, 2), 2)), 3, ModeRGBA, rgbOf(3, 0, 0, 0)},
		{"RGBA alpha dropped, not composited", pngFile(t, 2, 2, 8, 6, repeatRows(repeat([]byte{10, 20, 30, 0}, 2), 2)), 2, ModeRGBA, rgbOf(2, 10, 20, 30)},
		{"RGBA opaque resized unchanged", pngFile(t, 2, 2, 8, 6, repeatRows(repeat([]byte{10, 20, 30, 255}, 2), 2)), 5, ModeRGBA, rgbOf(5, 10, 20, 30)},
		// I;16: 2x1 [0, 1000] → [0, 207, 793, 1088] per row; crop [207, 793]; convert clips 793 to 255
		{"I;16 upscale, convert clips", pngFile(t, 2, 1, 16, 0, [][]byte{be16(0, 1000)}), 2, ModeI16, grays(207, 255, 207, 255)},
		{"I;16 small values pass through", pngFile(t, 2, 2, 16, 0, repeatRows(be16(5, 255), 2)), 2, ModeI16, grays(5, 255, 5, 255)},
		{"JPEG gray stays L", grayJPEG(t, 16, 8, 90, true), 4, ModeL, rgbOf(4, 90, 90, 90)},
		{"JPEG YCbCr gray is RGB", grayJPEG(t, 8, 16, 90, false), 4, ModeRGB, rgbOf(4, 90, 90, 90)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := Decode(tc.data)
			require.NoError(t, err)
			assert.Equal(t, tc.wantMode, im.Mode)
			got, err := decodeRGB8(testConfig(tc.size), tc.data)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestWideModes checks "I" and "F" images (which no decoder here produces, but which Pillow resamples with
// float64 taps) through ResizeCrop and ToRGB.
func TestWideModes(t *testing.T) {
	cfg := testConfig(2)
	i, err := cfg.ResizeCrop(&Image{Mode: ModeI, Width: 2, Height: 1, Pix32: []int32{0, 1000}})
	require.NoError(t, err)
	assert.Equal(t, []int32{207, 793, 207, 793}, i.Pix32)
	rgb, err := convertRGB(i)
	require.NoError(t, err)
	assert.Equal(t, grays(207, 255, 207, 255), rgb)

	f, err := cfg.ResizeCrop(&Image{Mode: ModeF, Width: 2, Height: 1, PixF: []float32{0, 1000}})
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{1000 * 29.0 / 140, 1000 * 111.0 / 140}, toF64(f.PixF[:2]), 1e-3)
	rgb, err = convertRGB(f)
	require.NoError(t, err)
	assert.Equal(t, grays(207, 255, 207, 255), rgb) // 207.14 truncated; 792.9 clamped

	for _, tc := range []struct {
		name string
		im   *Image
		want []uint8
	}{
		{"I clamps", &Image{Mode: ModeI, Width: 6, Height: 1, Pix32: []int32{-5, 0, 128, 255, 256, 70000}}, grays(0, 0, 128, 255, 255, 255)},
		{"F truncates and clamps, NaN is 0", &Image{Mode: ModeF, Width: 7, Height: 1,
			PixF: []float32{-1, 0.5, 127.9, 254.99, 255, 1e9, float32(math.NaN())}}, grays(0, 0, 127, 254, 255, 255, 0)},
		{"I;16 over 255 is 255", &Image{Mode: ModeI16, Width: 3, Height: 1, Pix16: []uint16{255, 256, 65535}}, grays(255, 255, 255)},
		// nk = 255-K; v = nk - nk·C/255: (128,64,0,64) → nk 191 → 191-96, 191-48, 191
		{"CMYK formula", &Image{Mode: ModeCMYK, Width: 4, Height: 1, Pix: []uint8{255, 0, 0, 0, 0, 0, 0, 255, 128, 64, 0, 64, 0, 0, 0, 0}},
			[]uint8{0, 255, 255, 0, 0, 0, 95, 143, 191, 255, 255, 255}},
		{"LA takes L", &Image{Mode: ModeLA, Width: 2, Height: 1, Pix: []uint8{7, 0, 9, 255}}, grays(7, 9)},
		{"1 nonzero is white", &Image{Mode: Mode1, Width: 3, Height: 1, Pix: []uint8{0, 1, 255}}, grays(0, 255, 255)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := convertRGB(tc.im)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestNormalize checks ToTensor + Normalize against values torch produced for the reference tensors
// (tiny-a reference.npz, BiomedCLIP mean/std): (float32(v)/255 - mean) / std in float32, bit for bit.
func TestNormalize(t *testing.T) {
	cfg := openAI(1)
	for _, tc := range []struct {
		rgb  [3]uint8
		want [3]uint32 // float32 bits
	}{
		{[3]uint8{0, 0, 0}, [3]uint32{0xbfe568dc, 0xbfe044b8, 0xbfbd77d8}},
		{[3]uint8{1, 127, 128}, [3]uint32{0xbfe38a7f, 0x3e1d9531, 0x3eae0dc4}},
		{[3]uint8{128, 200, 254}, [3]uint32{0x3d9c5620, 0x3f9fee31, 0x40086d66}},
		{[3]uint8{255, 255, 255}, [3]uint32{0x3ff71541, 0x4004cae5, 0x40095660}},
		{[3]uint8{127, 254, 200}, [3]uint32{0x3d7ce092, 0x4003d502, 0x3fae90c9}},
	} {
		dst := make([]float32, 3)
		require.NoError(t, cfg.Normalize(dst, tc.rgb[:]))
		for ch := 0; ch < 3; ch++ {
			assert.Equalf(t, tc.want[ch], math.Float32bits(dst[ch]), "channel %d of %v: got %v", ch, tc.rgb, dst[ch])
		}
	}
	// CHW layout: a 1x2 image's channels are planes
	dst := make([]float32, 3*4)
	require.NoError(t, testConfig(2).Normalize(dst, []uint8{255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0}))
	assert.Equal(t, []float32{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}, dst)
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"openai 224", openAI(224), true},
		{"zero size", openAI(0), false},
		{"negative size", openAI(-3), false},
		{"huge size", openAI(1 << 20), false},
		{"zero std", Config{Size: 4}, false},
		{"NaN mean", Config{Size: 4, Mean: [3]float32{float32(math.NaN())}, Std: [3]float32{1, 1, 1}}, false},
		{"infinite std", Config{Size: 4, Std: [3]float32{1, float32(math.Inf(1)), 1}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.Error(t, err)
			_, err = preprocess(tc.cfg, grayJPEG(t, 8, 8, 1, true))
			assert.Error(t, err, "Preprocess must refuse an invalid config")
		})
	}
}

// TestDecodeFormats checks the Pillow mode each format and layout decodes to, and that pixels survive.
func TestDecodeFormats(t *testing.T) {
	rect := image.Rect(0, 0, 3, 2)
	gray := image.NewGray(rect)
	gray16 := image.NewGray16(rect)
	rgba := image.NewRGBA(rect)
	nrgba := image.NewNRGBA(rect)
	pal := image.NewPaletted(rect, color.Palette{color.RGBA{9, 8, 7, 255}, color.RGBA{1, 2, 3, 255}})
	for i := 0; i < 6; i++ {
		x, y := i%3, i/3
		gray.SetGray(x, y, color.Gray{uint8(40 * i)})
		gray16.SetGray16(x, y, color.Gray16{uint16(1000 * i)})
		rgba.SetRGBA(x, y, color.RGBA{uint8(i), uint8(2 * i), uint8(3 * i), 255})
		nrgba.SetNRGBA(x, y, color.NRGBA{uint8(i), uint8(2 * i), uint8(3 * i), uint8(50 * i)})
		pal.SetColorIndex(x, y, uint8(i%2))
	}
	enc := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		require.NoError(t, f(&b))
		return b.Bytes()
	}
	tiffOf := func(m image.Image) []byte {
		return enc(func(b *bytes.Buffer) error { return tiff.Encode(b, m, nil) })
	}
	bmpOf := func(m image.Image) []byte { return enc(func(b *bytes.Buffer) error { return bmp.Encode(b, m) }) }
	rgbBytes := []uint8{0, 0, 0, 1, 2, 3, 2, 4, 6, 3, 6, 9, 4, 8, 12, 5, 10, 15}
	for _, tc := range []struct {
		name string
		data []byte
		want *Image
	}{
		{"TIFF gray", tiffOf(gray), &Image{Mode: ModeL, Width: 3, Height: 2, Pix: gray.Pix}},
		{"TIFF gray16", tiffOf(gray16), &Image{Mode: ModeI16, Width: 3, Height: 2, Pix16: []uint16{0, 1000, 2000, 3000, 4000, 5000}}},
		{"TIFF RGB (associated alpha, opaque)", tiffOf(rgba), &Image{Mode: ModeRGBA, Width: 3, Height: 2, Pix: rgba.Pix}},
		{"TIFF RGBA", tiffOf(nrgba), &Image{Mode: ModeRGBA, Width: 3, Height: 2, Pix: nrgba.Pix}},
		{"TIFF palette", tiffOf(pal), &Image{Mode: ModeP, Width: 3, Height: 2, Pix: pal.Pix,
			Palette: append([]uint8{9, 8, 7, 1, 2, 3}, make([]uint8, 762)...)}},
		{"BMP gray ramp palette is L", bmpOf(gray), &Image{Mode: ModeL, Width: 3, Height: 2, Pix: gray.Pix}},
		{"BMP palette", bmpOf(pal), &Image{Mode: ModeP, Width: 3, Height: 2, Pix: pal.Pix,
			Palette: append([]uint8{9, 8, 7, 1, 2, 3}, make([]uint8, 762)...)}},
		{"BMP 24-bit", bmpOf(rgba), &Image{Mode: ModeRGB, Width: 3, Height: 2, Pix: rgbBytes}},
		{"BMP 32-bit BI_RGB ignores alpha", bmpOf(nrgba), &Image{Mode: ModeRGB, Width: 3, Height: 2, Pix: rgbBytes}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.data)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("CMYK JPEG fixture", func(t *testing.T) {
		data, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "images", "cmyk_517x333.jpg"))
		require.NoError(t, err)
		im, err := Decode(data)
		require.NoError(t, err)
		assert.Equal(t, ModeCMYK, im.Mode)
		assert.Equal(t, [2]int{517, 333}, [2]int{im.Width, im.Height})
	})
}

package imageprep

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"github.com/stretchr/testify/require"
)

// pngChunk is one extra PNG chunk (PLTE, tRNS) for pngFile.
type pngChunk struct {
	typ  string
	data []byte
}

// pngFile writes a PNG by hand so that tests control bit depth and colour type exactly (Go's encoder never writes
// gray+alpha or 1-bit gray): rows are raw scanlines without the filter byte.
func pngFile(t testing.TB, w, h int, depth, ctype byte, rows [][]byte, extra ...pngChunk) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&out, binary.BigEndian, uint32(len(data)))
		body := append([]byte(typ), data...)
		out.Write(body)
		_ = binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(body))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, ctype
	chunk("IHDR", ihdr)
	for _, c := range extra {
		chunk(c.typ, c.data)
	}
	var raw bytes.Buffer
	zw := zlib.NewWriter(&raw)
	for _, r := range rows {
		_, err := zw.Write(append([]byte{0}, r...))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	chunk("IDAT", raw.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

// repeatRows returns h copies of one scanline.
func repeatRows(row []byte, h int) [][]byte {
	rows := make([][]byte, h)
	for i := range rows {
		rows[i] = row
	}
	return rows
}

// repeat returns n copies of a pixel's bytes.
func repeat(px []byte, n int) []byte {
	return bytes.Repeat(px, n)
}

// grayJPEG encodes a w×h image of one gray level with Go's encoder at quality 100 (all quantisers 1), so any
// libjpeg decodes it back to exactly that level; gray=false writes a 3-component YCbCr JPEG of the same gray.
func grayJPEG(t testing.TB, w, h int, v uint8, gray bool) []byte {
	t.Helper()
	var img image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = v
		}
		img = g
	} else {
		c := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := 0; i < len(c.Pix); i += 4 {
			c.Pix[i], c.Pix[i+1], c.Pix[i+2], c.Pix[i+3] = v, v, v, 255
		}
		img = c
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100}))
	return buf.Bytes()
}

// photoJPEG encodes a w×h RGB image with smooth gradients, edges and noise, like a photograph or scan, at
// quality 90 with Go's encoder (4:2:0 chroma).
func photoJPEG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	seed := uint32(12345)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			seed = seed*1664525 + 1013904223
			n := int(seed>>28) - 8
			r := (x*255/w + n) & 0xFF
			g := (y*255/h + n) & 0xFF
			b := 40
			if (x/32+y/32)%2 == 0 {
				b = 200
			}
			img.SetRGBA(x, y, color.RGBA{uint8(r), uint8(g), uint8(b + n), 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(tb, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

// testConfig is a Config of the given size with mean 0 and std 1, so normalised values are v/255.
func testConfig(size int) Config {
	return Config{Size: size, Std: [3]float32{1, 1, 1}}
}

// openAI is open_clip's default eval config at the given size: OPENAI_DATASET_MEAN/STD.
func openAI(size int) Config {
	return Config{Size: size, Mean: openAIMean, Std: openAIStd}
}

// convertRGB validates an image and converts it to RGB (toRGB), returning Width×Height×3 bytes.
func convertRGB(im *Image) ([]uint8, error) {
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("converting to RGB: %w", err)
	}
	out := make([]uint8, im.Width*im.Height*3)
	toRGB(out, im)
	return out, nil
}

// decodeRGB8 decodes an encoded image and returns its Size×Size×3 HWC RGB bytes under c (RGB8Image).
func decodeRGB8(c Config, data []byte) ([]uint8, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	im, err := Decode(data)
	if err != nil {
		return nil, err
	}
	return c.RGB8Image(im)
}

// preprocess decodes an encoded image and returns its eval transform under c (PreprocessInto): 3×Size×Size CHW
// float32, normalised.
func preprocess(c Config, data []byte) ([]float32, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	dst := make([]float32, 3*c.Size*c.Size)
	if err := c.PreprocessInto(dst, data); err != nil {
		return nil, err
	}
	return dst, nil
}

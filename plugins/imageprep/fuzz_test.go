package imageprep

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// fuzzMaxPixels is the largest image, by the size its header declares, the fuzz target decodes: larger ones
// (up to MaxPixels) are sound but cost hundreds of megabytes an input, which would starve the fuzzer.
const fuzzMaxPixels = 1 << 22

// imageSeeds are small images of every format and layout Decode reads, made with the Go encoders, the tests' own
// PNG, JPEG and TIFF writers, and DICOM-marked files.
func imageSeeds(t testing.TB) [][]byte {
	enc := func(write func(*bytes.Buffer) error) []byte {
		var buf bytes.Buffer
		require.NoError(t, write(&buf))
		return buf.Bytes()
	}
	gray := image.NewGray(image.Rect(0, 0, 5, 3))
	rgba := image.NewRGBA(image.Rect(0, 0, 3, 4))
	nrgba := image.NewNRGBA(image.Rect(0, 0, 4, 2))
	g16 := image.NewGray16(image.Rect(0, 0, 2, 3))
	n64 := image.NewNRGBA64(image.Rect(0, 0, 2, 2))
	pal := image.NewPaletted(image.Rect(0, 0, 3, 3), color.Palette{color.Black, color.White, color.RGBA{200, 10, 10, 255}})
	for i := range gray.Pix {
		gray.Pix[i] = uint8(40 * i)
	}
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(17*i) | 0x80
	}
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(31 * i)
	}
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	seeds := [][]byte{
		enc(func(b *bytes.Buffer) error { return png.Encode(b, gray) }),
		enc(func(b *bytes.Buffer) error { return png.Encode(b, rgba) }),
		enc(func(b *bytes.Buffer) error { return png.Encode(b, nrgba) }),
		enc(func(b *bytes.Buffer) error { return png.Encode(b, g16) }),
		enc(func(b *bytes.Buffer) error { return png.Encode(b, n64) }),
		enc(func(b *bytes.Buffer) error { return png.Encode(b, pal) }),
		pngFile(t, 3, 2, 1, 0, repeatRows([]byte{0xA0}, 2)),
		pngFile(t, 2, 2, 8, 4, repeatRows([]byte{10, 255, 20, 0}, 2)),
		grayJPEG(t, 9, 7, 128, true),
		grayJPEG(t, 8, 8, 60, false),
		photoJPEG(t, 17, 11),
		enc(func(b *bytes.Buffer) error { return tiff.Encode(b, nrgba, &tiff.Options{Compression: tiff.Deflate}) }),
		enc(func(b *bytes.Buffer) error { return tiff.Encode(b, gray, nil) }),
		enc(func(b *bytes.Buffer) error { return tiff.Encode(b, pal, nil) }),
		tiff16(binary.BigEndian, 3, 1, 1, []uint16{0, 100, 65535}),
		tiff16(binary.LittleEndian, 2, 1, 0, []uint16{7, 8}),
		enc(func(b *bytes.Buffer) error { return bmp.Encode(b, rgba) }),
		enc(func(b *bytes.Buffer) error { return bmp.Encode(b, pal) }),
		enc(func(b *bytes.Buffer) error { return bmp.Encode(b, gray) }),
	}
	dicom := func(preamble []byte) []byte {
		data := make([]byte, 128, 200)
		copy(data, preamble)
		return append(append(data, "DICM"...), bytes.Repeat([]byte{2, 0, 0, 0}, 10)...)
	}
	return append(seeds, dicom(nil), dicom(tiff16(binary.LittleEndian, 1, 1, 1, []uint16{1234})), dicom([]byte("MM\x00*\x00\x00\x00\x08")))
}

// declaredSize reads the size an image file's header declares, with the Go decoder of the format Decode finds by
// its first bytes. (Not image.DecodeConfig: it hands the TIFF decoder a reader without ReadAt, which then buffers
// up to whatever offset the file names — gigabytes for a few hostile bytes.)
func declaredSize(data []byte) (image.Config, error) {
	r := bytes.NewReader(data)
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return jpeg.DecodeConfig(r)
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return png.DecodeConfig(r)
	case isTIFF(data):
		return tiff.DecodeConfig(r)
	case bytes.HasPrefix(data, []byte("BM")):
		return bmp.DecodeConfig(r)
	}
	return image.Config{}, fmt.Errorf("no format")
}

// FuzzDecode decodes fuzzed image files. Whatever the bytes: an error, or a valid image of the size the header
// declares, within MaxPixels; the preprocessing path (PreprocessInto, pooled buffers, RGBX) gives exactly the
// floats that Decode followed by PreprocessImageInto gives, or fails exactly when they fail.
func FuzzDecode(f *testing.F) {
	for _, s := range imageSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		declared, cfgErr := declaredSize(data)
		if cfgErr == nil && declared.Width*declared.Height > fuzzMaxPixels {
			t.Skipf("declared %dx%d", declared.Width, declared.Height)
		}
		cfg := openAI(7)
		viaPool := make([]float32, 3*7*7)
		poolErr := cfg.PreprocessInto(viaPool, data)

		im, err := Decode(data)
		if err != nil {
			require.Nil(t, im)
			require.Error(t, poolErr, "PreprocessInto decodes what Decode refuses: %v", err)
			return
		}
		require.NoError(t, im.Validate())
		require.LessOrEqual(t, im.Width*im.Height, MaxPixels)
		if cfgErr == nil && !isDICOM(data) {
			assert.Equal(t, [2]int{declared.Width, declared.Height}, [2]int{im.Width, im.Height}, "the size the header declares")
		}
		fresh := make([]float32, 3*7*7)
		freshErr := cfg.PreprocessImageInto(fresh, im)
		require.Equal(t, freshErr == nil, poolErr == nil, "fresh: %v; pooled: %v", freshErr, poolErr)
		if freshErr == nil {
			assert.Equal(t, fresh, viaPool, "the pooled path gives the fresh path's floats")
		}
	})
}

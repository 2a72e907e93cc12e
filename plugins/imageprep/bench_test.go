package imageprep

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
)

// benchImages returns the benchmark inputs: a realistic 512x512 RGB JPEG, the same as a grayscale JPEG and as an
// RGB PNG, and a VQA-RAD radiograph (the first image of the fixture reference set, 903x976 RGB).
func benchImages(b *testing.B) map[string][]byte {
	vqa, err := os.ReadFile(sharedtest.Path(b, "data", "vqa-rad", "images", "synpic32081.jpg"))
	require.NoError(b, err)
	photo, err := jpeg.Decode(bytes.NewReader(photoJPEG(b, 512, 512)))
	require.NoError(b, err)
	gray, rgb := image.NewGray(photo.Bounds()), image.NewRGBA(photo.Bounds())
	draw.Draw(gray, gray.Rect, photo, image.Point{}, draw.Src)
	draw.Draw(rgb, rgb.Rect, photo, image.Point{}, draw.Src)
	var grayJPEG, rgbPNG bytes.Buffer
	require.NoError(b, jpeg.Encode(&grayJPEG, gray, &jpeg.Options{Quality: 90}))
	require.NoError(b, png.Encode(&rgbPNG, rgb)) // 8-bit RGB
	return map[string][]byte{"jpeg512": photoJPEG(b, 512, 512), "gray-jpeg512": grayJPEG.Bytes(), "png512": rgbPNG.Bytes(), "vqa-rad": vqa}
}

// BenchmarkPreprocess measures the whole eval transform (decode, resize, crop, convert, normalise) at 224 into
// a reused destination, reporting images/s.
func BenchmarkPreprocess(b *testing.B) {
	cfg := openAI(224)
	for name, data := range benchImages(b) {
		b.Run(name, func(b *testing.B) {
			dst := make([]float32, 3*224*224)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := cfg.PreprocessInto(dst, data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkDecode measures decoding alone, to show how the transform's time splits.
func BenchmarkDecode(b *testing.B) {
	for name, data := range benchImages(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkResize measures Pillow-exact bicubic resize + centre crop alone (decoded image in, 224x224 out).
func BenchmarkResize(b *testing.B) {
	cfg := openAI(224)
	for name, data := range benchImages(b) {
		im, err := Decode(data)
		require.NoError(b, err)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cfg.ResizeCrop(im); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

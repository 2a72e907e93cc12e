package reports

import (
	"bytes"
	"compress/zlib"
	"hash/adler32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodePNG checks that image/png decodes encodePNG's files to the pixels encoded, for opaque images of several
// shapes and contents (the Up filter's wrap-around included) and for images that are not opaque (image/png's path).
func TestEncodePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(w, h int, pixel func(x, y int) color.RGBA) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetRGBA(x, y, pixel(x, y))
			}
		}
		return img
	}
	noise := func(int, int) color.RGBA {
		return color.RGBA{uint8(rng.Uint32()), uint8(rng.Uint32()), uint8(rng.Uint32()), 255}
	}
	cases := []struct {
		name string
		img  *image.RGBA
	}{
		{"one pixel", fill(1, 1, func(int, int) color.RGBA { return color.RGBA{1, 2, 3, 255} })},
		{"white", fill(900, 600, func(int, int) color.RGBA { return color.RGBA{255, 255, 255, 255} })},
		{"noise", fill(37, 513, noise)},
		{"wide noise, several IDAT chunks", fill(1200, 300, noise)},
		{"bands", fill(64, 64, func(x, y int) color.RGBA { return color.RGBA{uint8(y * 4), uint8(255 - y*4), uint8(x), 255} })},
		{"translucent", fill(5, 7, func(x, y int) color.RGBA { return color.RGBA{uint8(x * 10), 0, 0, uint8(x*40 + y)} })},
		{"a sub-image", fill(20, 20, noise).SubImage(image.Rect(3, 4, 17, 19)).(*image.RGBA)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, encodePNG(&buf, tc.img))
			got, err := png.Decode(&buf)
			require.NoError(t, err)
			b := tc.img.Bounds()
			require.Equal(t, b.Size(), got.Bounds().Size())
			off := got.Bounds().Min.Sub(b.Min)
			mismatches := 0
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					if color.NRGBAModel.Convert(tc.img.At(x, y)) != color.NRGBAModel.Convert(got.At(x+off.X, y+off.Y)) {
						mismatches++
					}
				}
			}
			assert.Zero(t, mismatches, "pixels that differ")
		})
	}
}

// TestRLEZlib checks that compress/zlib reads back what rleZlib wrote (checksum included): runs of every length
// around the match limits (3, 258) and across Write calls, literals of both code lengths, and empty streams.
func TestRLEZlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var runs []byte
	for n := 1; n <= 530; n++ { // a run of every length 1..530, each of another byte than the one before
		runs = append(runs, bytes.Repeat([]byte{byte(n)}, n)...)
	}
	noise := make([]byte, 5000)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name   string
		writes [][]byte
	}{
		{"empty", nil},
		{"one empty write", [][]byte{{}}},
		{"one byte", [][]byte{{200}}},
		{"runs of every length", [][]byte{runs}},
		{"noise", [][]byte{noise}},
		{"a run across writes", [][]byte{bytes.Repeat([]byte{0}, 100), bytes.Repeat([]byte{0}, 1), bytes.Repeat([]byte{0}, 2), bytes.Repeat([]byte{0}, 300), {7}}},
		{"zeros, 1 MiB", [][]byte{make([]byte, 1<<20)}},
		{"long runs of high bytes between noise", [][]byte{bytes.Repeat([]byte{0xff}, 300000), noise, bytes.Repeat([]byte{0xfe}, 70000), noise}},
		{"noise, 200 KB", [][]byte{bytes.Repeat(noise, 40)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			z := newRLEZlib(&buf)
			var want []byte
			for _, w := range tc.writes {
				n, err := z.Write(w)
				require.NoError(t, err)
				require.Equal(t, len(w), n)
				want = append(want, w...)
			}
			require.NoError(t, z.Close())
			r, err := zlib.NewReader(&buf)
			require.NoError(t, err)
			got, err := io.ReadAll(r)
			require.NoError(t, err)
			require.NoError(t, r.Close())
			assert.Equal(t, len(want), len(got))
			assert.True(t, bytes.Equal(want, got), "decoded bytes differ")
			assert.Equal(t, adler32.Checksum(want), z.sum.sum32(), "Adler-32")
		})
	}
}

package imageprep

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKernelsMatchGo checks the build's 8-bit passes (the vectorised C of the cgo build) against the plain Go
// kernels byte for byte, over random images with 1 to 4 bytes per pixel, up- and downscales from 1:16 to 37:1,
// crop windows anywhere, and row strides with padding: integer sums are the same in any order, so any
// difference is a bug.
func TestKernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 400; i++ {
		c := 1 + rng.IntN(4)
		inW := 1 + rng.IntN(300)
		outW := 1 + rng.IntN(80)
		if rng.IntN(4) == 0 {
			outW = 1 + rng.IntN(16*inW) // upscales too
		}
		outW = min(outW, 1000)
		x0 := rng.IntN(outW)
		ww := 1 + rng.IntN(outW-x0)
		ax := bicubicAxis(inW, outW, x0, ww)
		rows := 1 + rng.IntN(5)
		pad := rng.IntN(9)
		src := make([]uint8, rows*(inW*c+pad))
		for j := range src {
			src[j] = uint8(rng.Uint32())
			if rng.IntN(3) == 0 {
				src[j] = []uint8{0, 255}[rng.IntN(2)] // hard edges: overshoots clip
			}
		}
		t.Run(fmt.Sprintf("h%d_c%d_%d-%d_x%d+%d", i, c, inW, outW, x0, ww), func(t *testing.T) {
			tp := ax.fixedTaps(0)
			outStride := ww*c + rng.IntN(5)
			want := make([]uint8, rows*outStride)
			got := make([]uint8, rows*outStride)
			hpass8Go(want, outStride, src, inW*c+pad, rows, inW, c, tp)
			hpass8(got, outStride, src, inW*c+pad, rows, inW, c, tp)
			require.Equal(t, want, got)
		})
		// The same taps as a vertical pass over inW rows of a random width.
		width := 1 + rng.IntN(200)
		stride := width + rng.IntN(40)
		vsrc := make([]uint8, inW*stride)
		for j := range vsrc {
			vsrc[j] = uint8(rng.Uint32())
		}
		t.Run(fmt.Sprintf("v%d_%d-%d_w%d", i, inW, outW, width), func(t *testing.T) {
			tp := ax.fixedTaps(0)
			want := make([]uint8, ww*width)
			got := make([]uint8, ww*width)
			vpass8Go(want, width, vsrc, stride, width, tp)
			vpass8(got, width, vsrc, stride, width, tp)
			require.Equal(t, want, got)
		})
	}
}

package imageprep

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hand derivations used below. Pillow's bicubic kernel (a = -0.5) at the tap offsets of a 2x upscale:
// k(0.25) = 111/128, k(0.75) = 29/128, k(1.25) = -9/128. Upscaling 2 → 4 samples (scale 0.5, support 2):
//
//	out0: taps at offsets 0.25, 1.25 → weights 111/102, -9/102 → 37/34·a - 3/34·b
//	out1: offsets 0.25, 0.75 (centre 0.75) → 111/140·a + 29/140·b, out2 mirrored, out3 = -3/34·a + 37/34·b
//
// so [0, 255] → [0 (−22.5 clipped), 52.8 → 53, 202.2 → 202, 277.5 → 255] in the 8-bit path.
// Downscaling 4 → 2 (scale 2, support 4, kernel at half the distance): out0 taps k(.25), k(.25), k(.75), k(1.25)
// = 111, 111, 29, -9 (/128), so [0, 0, 255, 255] → 255·20/242 = 21.07 → 21 and out1 → 233.9 → 234.

func TestBicubicKernel(t *testing.T) {
	for _, tc := range []struct{ x, want float64 }{
		{0, 1}, {0.25, 111.0 / 128}, {-0.25, 111.0 / 128}, {0.5, 0.5625}, {0.75, 29.0 / 128},
		{1, 0}, {1.25, -9.0 / 128}, {1.5, -0.0625}, {-1.5, -0.0625}, {2, 0}, {3, 0},
	} {
		assert.Equalf(t, tc.want, bicubic(tc.x), "bicubic(%v)", tc.x)
	}
}

func TestBicubicAxis(t *testing.T) {
	up := bicubicAxis(2, 4, 0, 4)
	assert.Equal(t, 5, up.ksize) // ceil(2)*2+1
	assert.Equal(t, []int{0, 2, 0, 2, 0, 2, 0, 2}, up.bounds)
	assert.InDelta(t, 37.0/34, up.k[0], 1e-15)
	assert.InDelta(t, -3.0/34, up.k[1], 1e-15)
	assert.InDelta(t, 111.0/140, up.k[5], 1e-15)
	assert.InDelta(t, 29.0/140, up.k[6], 1e-15)

	down := bicubicAxis(4, 2, 0, 2)
	assert.Equal(t, 9, down.ksize) // support 2·2 = 4 → 4·2+1
	assert.Equal(t, []int{0, 4, 0, 4}, down.bounds)
	assert.InDelta(t, 111.0/242, down.k[0], 1e-15)
	assert.InDelta(t, -9.0/242, down.k[3], 1e-15)

	// a run of outputs gets the same taps as in the full axis
	part := bicubicAxis(2, 4, 1, 2)
	assert.Equal(t, up.bounds[2:6], part.bounds)
	assert.Equal(t, up.k[5:15], part.k)
	first, k := part.taps(1)
	assert.Equal(t, 0, first)
	assert.Equal(t, up.k[10:12], k)

	// fixed point: round half away from zero of k·2^22
	fx := up.fixed()
	assert.Equal(t, int32(4564390), fx[0]) // 37/34·2^22 = 4564389.65 → +0.5, truncated
	assert.Equal(t, int32(-370086), fx[1]) // -3/34·2^22 = -370085.65 → -0.5, truncated
	assert.Equal(t, int32(0), fx[2])       // unused taps stay 0
}

func TestResample8(t *testing.T) {
	full := func(w, h, nw, nh int) window { return window{w: w, h: h, nw: nw, nh: nh, ww: nw, wh: nh} }
	for _, tc := range []struct {
		name string
		src  []uint8
		c    int
		wd   window
		want []uint8
	}{
		{"upscale 2→4, one row (no vertical pass)", []uint8{0, 255}, 1, full(2, 1, 4, 1), []uint8{0, 53, 202, 255}},
		{"upscale both axes, rows equal", []uint8{0, 255, 0, 255}, 1, full(2, 2, 4, 4),
			[]uint8{0, 53, 202, 255, 0, 53, 202, 255, 0, 53, 202, 255, 0, 53, 202, 255}},
		{"downscale 4→2", []uint8{0, 0, 255, 255}, 1, full(4, 1, 2, 1), []uint8{21, 234}},
		{"downscale vertical 4→2 (column)", []uint8{0, 0, 255, 255}, 1, full(1, 4, 1, 2), []uint8{21, 234}},
		{"three bands independent", []uint8{0, 255, 7, 255, 0, 7}, 3, full(2, 1, 4, 1),
			[]uint8{0, 255, 7, 53, 202, 7, 202, 53, 7, 255, 0, 7}},
		{"window of the upscale", []uint8{0, 255}, 1, window{w: 2, h: 1, nw: 4, nh: 1, x0: 1, ww: 2, wh: 1}, []uint8{53, 202}},
		{"no resize copies the window", []uint8{1, 2, 3, 4, 5, 6}, 1, window{w: 3, h: 2, nw: 3, nh: 2, x0: 1, y0: 1, ww: 2, wh: 1}, []uint8{5, 6}},
		{"constant stays constant (downscale 7→3)", []uint8{200, 200, 200, 200, 200, 200, 200}, 1, full(7, 1, 3, 1), []uint8{200, 200, 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, resample8(tc.src, tc.c, tc.wd))
		})
	}
}

func TestResampleWide(t *testing.T) {
	wd := window{w: 2, h: 1, nw: 4, nh: 1, ww: 4, wh: 1}
	// 1000·[37/34, -3/34] etc.: −88.2, 207.1, 792.9, 1088.2; ROUND_UP then each mode's store.
	assert.Equal(t, []int32{-88, 207, 793, 1088}, resampleWide([]int32{0, 1000}, wd, storeI))
	assert.Equal(t, []uint16{0, 207, 793, 1088}, resampleWide([]uint16{0, 1000}, wd, storeI16))
	f := resampleWide([]float32{0, 1000}, wd, storeF)
	assert.InDeltaSlice(t, []float64{-3000.0 / 34, 1000 * 29.0 / 140, 1000 * 111.0 / 140, 37000.0 / 34}, toF64(f), 1e-3)
	// 65535·29/140 = 13575.1, 65535·111/140 = 51959.9, 65535·37/34 = 71317.9 → 71318: Pillow 12.3's 16bpc store
	// clamps it to 65535 (CLIP16). Pillow ≤ 12.2 clipped each byte on its own, keeping the low byte 0x96 of 0x11696
	// under a clipped high byte: 0xFF96.
	assert.Equal(t, []uint16{0, 13575, 51960, 0xFFFF}, resampleWide([]uint16{0, 65535}, wd, storeI16))
}

func toF64(f []float32) []float64 {
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}

func TestNearest(t *testing.T) {
	// 2x2 → 4x4: every source pixel becomes a 2x2 block.
	got := nearest([]uint8{1, 2, 3, 4}, window{w: 2, h: 2, nw: 4, nh: 4, ww: 4, wh: 4})
	assert.Equal(t, []uint8{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, got)
	// 3 → 2: source positions 0.75 and 2.25 → columns 0 and 2.
	assert.Equal(t, []uint8{10, 30}, nearest([]uint8{10, 20, 30}, window{w: 3, h: 1, nw: 2, nh: 1, ww: 2, wh: 1}))
	// window: columns 1..2 of the 4-wide upscale of one row
	assert.Equal(t, []uint8{1, 2}, nearest([]uint8{1, 2}, window{w: 2, h: 1, nw: 4, nh: 1, x0: 1, ww: 2, wh: 1}))
}

func TestCropOriginAndResizedSize(t *testing.T) {
	for _, tc := range []struct{ n, size, want int }{
		{224, 224, 0}, {225, 224, 0}, {226, 224, 1}, {227, 224, 2}, {229, 224, 2}, {231, 224, 4}, {1493, 224, 634},
	} {
		assert.Equalf(t, tc.want, cropOrigin(tc.n, tc.size), "round((%d-%d)/2) half to even", tc.n, tc.size)
	}
	for _, tc := range []struct{ w, h, size, nw, nh int }{
		{1000, 150, 224, 1493, 224}, {150, 1000, 224, 224, 1493}, {224, 224, 224, 224, 224},
		{517, 333, 224, 347, 224}, {160, 100, 224, 358, 224}, {2, 1, 2, 4, 2}, {3, 7, 5, 5, 11},
	} {
		nw, nh := ResizedSize(tc.w, tc.h, tc.size)
		assert.Equalf(t, [2]int{tc.nw, tc.nh}, [2]int{nw, nh}, "%dx%d to %d", tc.w, tc.h, tc.size)
	}
}

func TestPremultiplyRoundTrip(t *testing.T) {
	// MULDIV255: 200·128/255 = 100.4 → 100; back: 255·100/128 = 199.2 → 199. Alpha 0 loses the colour.
	got := premultiply([]uint8{200, 128, 200, 0, 200, 255}, 2)
	require.Equal(t, []uint8{100, 128, 0, 0, 200, 255}, got)
	unpremultiply(got, 2)
	assert.Equal(t, []uint8{199, 128, 0, 0, 200, 255}, got)
	rgba := premultiply([]uint8{255, 1, 128, 51}, 4)
	assert.Equal(t, []uint8{51, 0, 26, 51}, rgba) // 255·51/255, 1·51/255 = 0.2, 128·51/255 = 25.6
	unpremultiply(rgba, 4)
	assert.Equal(t, []uint8{255, 0, 130, 51}, rgba) // 255·26/51 = 130
}

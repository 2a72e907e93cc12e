package imageprep

import "math"

// This file reproduces Pillow 12.3's Image.resize (src/PIL/Image.py resize, src/libImaging/Resample.c) for the
// BICUBIC filter, and the NEAREST scaling Pillow uses for modes "P" and "1" (ImagingScaleAffine in Geometry.c).
//
// Every function computes only a window of the resized image: each output pixel of Pillow's two-pass resize
// depends only on its own coefficients, so the pixels inside the centre-crop window are the same whether or not
// the rest of the image is computed. Products that C evaluates and rounds separately are wrapped in float64()
// so that Go never fuses them into an FMA (the Go spec lets an explicit conversion block fusion).
//
// The 8-bit passes run in the kernels of kernels_cgo.go (vectorised C) or kernels_go.go (Go, without cgo):
// Pillow's own fixed-point arithmetic, with the same int32 taps and sums, so the same bytes. The wide modes
// (I;16, I;16B, I, F) stay here in Go: their float64 sums depend on the order of the additions, which is
// Pillow's.
//
// Tall images: Pillow ≥ 12.2 resizes an image more than 100 times taller than wide that shrinks vertically with
// the vertical pass first (passPlan.vertFirst); NEAREST ("P", "1") is separable without rounding, so the order
// changes nothing there.

// precisionBits is Pillow's PRECISION_BITS: 32 - 8 - 2 fractional bits of the fixed-point 8-bit coefficients.
const precisionBits = 32 - 8 - 2

// bicubic is Pillow's bicubic_filter: the cubic convolution kernel with a = -0.5, support 2.
func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		p := float64((a + 2) * x)
		p = float64((p - (a + 3)) * x)
		return float64(p*x) + 1
	}
	if x < 2 {
		p := float64((x - 5) * x)
		p = float64((p + 8) * x)
		return (p - 4) * a
	}
	return 0
}

// axis holds Pillow's precompute_coeffs result for a run of outputs o0, o0+1, …: for the i-th of them the taps
// start at input index bounds[2i], there are bounds[2i+1] of them, and their weights are k[i*ksize:].
type axis struct {
	ksize  int
	bounds []int
	k      []float64
}

// bicubicAxis computes the coefficients that map inSize input samples onto outSize outputs, with the box
// (0, inSize) as Pillow's resize passes it (a float, like Pillow's box), for outputs o0..o0+n only (each
// output's taps depend on nothing else, so memory follows the crop, not the resized size).
func bicubicAxis(inSize, outSize, o0, n int) axis {
	const support0 = 2.0 // BICUBIC's support
	in0, in1 := float32(0), float32(inSize)
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := support0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	ax := axis{ksize: ksize, bounds: make([]int, 2*n), k: make([]float64, n*ksize)}
	ss := 1.0 / filterscale
	for i := 0; i < n; i++ {
		center := float64(in0) + float64((float64(o0+i)+0.5)*scale)
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		k := ax.k[i*ksize : (i+1)*ksize]
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := bicubic(float64(float64(x+xmin)-center+0.5) * ss)
			k[x] = w
			ww += w
		}
		if ww != 0 {
			for x := 0; x < xmax; x++ {
				k[x] /= ww
			}
		}
		ax.bounds[2*i], ax.bounds[2*i+1] = xmin, xmax
	}
	return ax
}

// fixed converts the coefficients to Pillow's 8-bit fixed point (normalize_coeffs_8bpc).
func (ax axis) fixed() []int32 {
	out := make([]int32, len(ax.k))
	for i, v := range ax.k {
		p := float64(v * (1 << precisionBits))
		if v < 0 {
			out[i] = int32(-0.5 + p)
		} else {
			out[i] = int32(0.5 + p)
		}
	}
	return out
}

// taps returns the first input index and the weights of the axis's i-th output.
func (ax axis) taps(i int) (first int, k []float64) {
	return ax.bounds[2*i], ax.k[i*ax.ksize : i*ax.ksize+ax.bounds[2*i+1]]
}

// span returns the input range [lo, hi) that the axis's outputs read.
func (ax axis) span() (lo, hi int) {
	last := len(ax.bounds)/2 - 1
	return ax.bounds[0], ax.bounds[2*last] + ax.bounds[2*last+1]
}

// clip8 is Pillow's clip8 for a fixed-point sum: the integer part, clamped to 0..255.
func clip8(ss int32) uint8 {
	v := ss >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// window names the part of a w×h image resized to nw×nh that is wanted: [x0, x0+ww) × [y0, y0+wh).
type window struct {
	w, h, nw, nh   int
	x0, y0, ww, wh int
}

// passPlan is how Pillow's Image.resize computes a window: which passes run (ImagingResampleInner's
// need_horizontal and need_vertical), in which order, with which taps, and the part of the input they read.
type passPlan struct {
	needH, needV bool
	// vertFirst: Pillow ≥ 12.2's Image.resize resizes an image more than 100 times taller than wide that is being
	// shrunk vertically in two calls, vertical first (`if self.size[1] > self.size[0] * 100 and size[1] <
	// self.size[1]`): the first call's box keeps the width, so it runs only the vertical pass, and the second's keeps
	// the new height, so it runs only the horizontal one, each rounding to the mode's samples in between as usual.
	// Every other resize runs the horizontal pass first.
	vertFirst bool
	hor, vert axis
	// horK and vertK are hor's and vert's fixed-point weights.
	horK, vertK []int32
	// r0, r1 and c0, c1 are the input rows and columns the window reads.
	r0, r1, c0, c1 int
}

// plan returns the passes for the window, with the coefficients from s's cache (nil: computed).
func (wd window) plan(s *scratch) passPlan {
	p := passPlan{needH: wd.nw != wd.w, needV: wd.nh != wd.h, vertFirst: wd.h > 100*wd.w && wd.nh < wd.h}
	p.c0, p.c1 = wd.x0, wd.x0+wd.ww
	if p.needH {
		p.hor, p.horK = s.bicubic(wd.w, wd.nw, wd.x0, wd.ww)
		p.c0, p.c1 = p.hor.span()
	}
	p.r0, p.r1 = wd.y0, wd.y0+wd.wh
	if p.needV {
		p.vert, p.vertK = s.bicubic(wd.h, wd.nh, wd.y0, wd.wh)
		p.r0, p.r1 = p.vert.span()
	}
	p.vertFirst = p.vertFirst && p.needH && p.needV
	return p
}

// fixedTaps converts an axis with its fixed-point weights kk to the 8-bit kernels' form, with input indices
// counted from shift.
func fixedTaps(ax axis, kk []int32, shift int) passTaps {
	tp := passTaps{ksize: ax.ksize, bounds: make([]int32, len(ax.bounds)), kk: kk}
	for i := 0; i < len(ax.bounds); i += 2 {
		tp.bounds[i], tp.bounds[i+1] = int32(ax.bounds[i]-shift), int32(ax.bounds[i+1])
	}
	return tp
}

// fixedTaps is fixedTaps of the axis's own fixed-point weights.
func (ax axis) fixedTaps(shift int) passTaps { return fixedTaps(ax, ax.fixed(), shift) }

// resample8 resizes an 8-bit image of c interleaved bytes per pixel with Pillow's BICUBIC 8bpc path (fixed-point
// taps, 8-bit rounding and clipping between the passes, in Pillow's order) and returns the window, ww×wh×c bytes.
func resample8(src []uint8, c int, wd window) []uint8 { return resample8With(src, c, wd, nil) }

// resample8With is resample8 with its buffers from s (nil: fresh ones); the result is s's slot bufOut.
func resample8With(src []uint8, c int, wd window, s *scratch) []uint8 {
	if c == 3 && (wd.nw != wd.w || wd.nh != wd.h) {
		// Resampled as 4-byte pixels (as Pillow stores RGB), for which the kernels have a vector path.
		src4 := s.bytes(bufPremul, 4*wd.w*wd.h)
		for i, j := 0, 0; i+3 <= len(src) && j+4 <= len(src4); i, j = i+3, j+4 {
			d, p := src4[j:j+4:j+4], src[i:i+3:i+3]
			d[0], d[1], d[2], d[3] = p[0], p[1], p[2], 0
		}
		out4 := resample8With(src4, 4, wd, s)
		out := make([]uint8, 3*wd.ww*wd.wh)
		for i, j := 0, 0; i+3 <= len(out) && j+4 <= len(out4); i, j = i+3, j+4 {
			d, p := out[i:i+3:i+3], out4[j:j+4:j+4]
			d[0], d[1], d[2] = p[0], p[1], p[2]
		}
		return out
	}
	p := wd.plan(s)
	stride, inStride := wd.ww*c, wd.w*c
	out := s.bytes(bufOut, wd.wh*stride)
	switch {
	case !p.needH && !p.needV:
		for r := 0; r < wd.wh; r++ {
			copy(out[r*stride:(r+1)*stride], src[(wd.y0+r)*inStride+wd.x0*c:])
		}
	case !p.needV:
		hpass8(out, stride, src[wd.y0*inStride:], inStride, wd.wh, wd.w, c, fixedTaps(p.hor, p.horK, 0))
	case !p.needH:
		vpass8(out, stride, src[wd.x0*c:], inStride, stride, fixedTaps(p.vert, p.vertK, 0))
	case p.vertFirst:
		// the columns the horizontal taps read, resized vertically, then the horizontal pass over them
		cols := p.c1 - p.c0
		tmp := s.bytes(bufTmp, wd.wh*cols*c)
		vpass8(tmp, cols*c, src[p.c0*c:], inStride, cols*c, fixedTaps(p.vert, p.vertK, 0))
		hpass8(out, stride, tmp, cols*c, wd.wh, cols, c, fixedTaps(p.hor, p.horK, p.c0))
	default:
		// the rows the vertical taps read, resized horizontally, then the vertical pass over them
		rows := p.r1 - p.r0
		tmp := s.bytes(bufTmp, rows*stride)
		hpass8(tmp, stride, src[p.r0*inStride:], inStride, rows, wd.w, c, fixedTaps(p.hor, p.horK, 0))
		vpass8(out, stride, tmp, stride, stride, fixedTaps(p.vert, p.vertK, p.r0))
	}
	return out
}

// wide is the sample type of the modes Pillow resamples with float64 coefficients: I;16, I;16B, I and F.
type wide interface{ uint16 | int32 | float32 }

// resampleWide resizes a one-band I;16, I or F image with Pillow's 16bpc/32bpc paths: float64 taps accumulated
// from 0.0 in tap order, and store turning each sum into a sample (rounding as Pillow does for the mode), after
// each pass, in Pillow's pass order.
func resampleWide[T wide](src []T, wd window, store func(float64) T) []T {
	return resampleWideLoad(src, wd, func(v T) float64 { return float64(v) }, store)
}

// resampleWideLoad is resampleWide with the mode's reading of a stored sample as a number (load).
func resampleWideLoad[T wide](src []T, wd window, load func(T) float64, store func(float64) T) []T {
	p := wd.plan(nil)
	hpass := func(out []T, in []T, inStride, rows int, ax axis, shift int) {
		nOut := len(ax.bounds) / 2
		for r := 0; r < rows; r++ {
			line := in[r*inStride:]
			for xx := 0; xx < nOut; xx++ {
				xmin, k := ax.taps(xx)
				ss := 0.0
				for t, kv := range k {
					ss += float64(load(line[xmin-shift+t]) * kv)
				}
				out[r*nOut+xx] = store(ss)
			}
		}
	}
	vpass := func(out []T, in []T, inStride, width int, ax axis, shift int) {
		for yy := 0; yy < len(ax.bounds)/2; yy++ {
			ymin, k := ax.taps(yy)
			for x := 0; x < width; x++ {
				ss := 0.0
				for t, kv := range k {
					ss += float64(load(in[(ymin-shift+t)*inStride+x]) * kv)
				}
				out[yy*width+x] = store(ss)
			}
		}
	}
	out := make([]T, wd.wh*wd.ww)
	switch {
	case !p.needH && !p.needV:
		for r := 0; r < wd.wh; r++ {
			copy(out[r*wd.ww:(r+1)*wd.ww], src[(wd.y0+r)*wd.w+wd.x0:])
		}
	case !p.needV:
		hpass(out, src[wd.y0*wd.w:], wd.w, wd.wh, p.hor, 0)
	case !p.needH:
		vpass(out, src[wd.x0:], wd.w, wd.ww, p.vert, 0)
	case p.vertFirst:
		cols := p.c1 - p.c0
		tmp := make([]T, wd.wh*cols)
		vpass(tmp, src[p.c0:], wd.w, cols, p.vert, 0)
		hpass(out, tmp, cols, wd.wh, p.hor, p.c0)
	default:
		rows := p.r1 - p.r0
		tmp := make([]T, rows*wd.ww)
		hpass(tmp, src[p.r0*wd.w:], wd.w, rows, p.hor, 0)
		vpass(out, tmp, wd.ww, wd.ww, p.vert, p.r0)
	}
	return out
}

// roundUp is Resample.c's ROUND_UP: round half away from zero, then truncate to int.
func roundUp(f float64) int {
	if f >= 0 {
		return int(f + 0.5)
	}
	return int(f - 0.5)
}

// clampByte is ImagingUtils.h's CLIP8 for an int: v <= 0 → 0, v >= 256 → 255.
func clampByte(v int) int {
	if v <= 0 {
		return 0
	}
	if v < 256 {
		return v
	}
	return 255
}

// clamp16 is ImagingUtils.h's CLIP16 (Pillow ≥ 12.3): v <= 0 → 0, v >= 65536 → 65535.
func clamp16(v int) uint16 {
	if v <= 0 {
		return 0
	}
	if v < 65536 {
		return uint16(v)
	}
	return 65535
}

// swap16 exchanges the bytes of a 16-bit sample.
func swap16(v uint16) uint16 { return v<<8 | v>>8 }

// storeI16 stores a 16bpc sum of an I;16 image as Pillow 12.3's ImagingResampleHorizontal_16bpc and
// ImagingResampleVertical_16bpc do: CLIP16(ROUND_UP(ss)), clamped to 0..65535. (Pillow ≤ 12.2 clipped the low
// and the high byte of the rounded sum separately, so a sum past 65535 kept its low byte under a 0xFF high byte.)
func storeI16(ss float64) uint16 { return clamp16(roundUp(ss)) }

// loadI16B and storeI16B are how Pillow 12.3's 16bpc passes read and store I;16B (big-endian) samples on a
// little-endian machine, where every Pillow that clipeval is compared with runs: the passes read a sample's two
// stored bytes as little-endian (the big-endian reading is compiled in for I;16N, and for I;16B only on
// big-endian machines), so they compute on the byte-swapped values and store CLIP16(ROUND_UP(ss)) byte-swapped
// back.
func loadI16B(v uint16) float64 { return float64(swap16(v)) }

func storeI16B(ss float64) uint16 { return swap16(clamp16(roundUp(ss))) }

// storeI stores a 32bpc sum of an "I" image: ROUND_UP.
func storeI(ss float64) int32 { return int32(roundUp(ss)) }

// storeF stores a 32bpc sum of an "F" image: the double narrowed to float.
func storeF(ss float64) float32 { return float32(ss) }

// nearest resizes a one-byte-per-pixel image ("P" or "1") the way Pillow's resize does for those modes: an
// affine NEAREST scale with double-precision source positions accumulated step by step (ImagingScaleAffine).
// Output pixels whose source falls outside the image are 0, as Pillow fills them.
func nearest(src []uint8, wd window) []uint8 {
	tab := func(in, out, o0, n int) []int {
		a := float64(float32(in)) / float64(out)
		pos := a * 0.5
		idx := make([]int, n)
		for i := 0; i < o0+n; i++ {
			if i >= o0 {
				v := -1
				if pos >= 0 {
					v = int(pos)
				}
				if v >= in {
					v = -1
				}
				idx[i-o0] = v
			}
			pos += a
		}
		return idx
	}
	xs := tab(wd.w, wd.nw, wd.x0, wd.ww)
	ys := tab(wd.h, wd.nh, wd.y0, wd.wh)
	out := make([]uint8, wd.ww*wd.wh)
	for y, sy := range ys {
		if sy < 0 {
			continue
		}
		for x, sx := range xs {
			if sx >= 0 {
				out[y*wd.ww+x] = src[sy*wd.w+sx]
			}
		}
	}
	return out
}

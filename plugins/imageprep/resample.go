package imageprep

import "math"

// This file reproduces Pillow's Image.resize (src/libImaging/Resample.c, Pillow 12) for the BICUBIC filter, and
// the NEAREST scaling Pillow uses for modes "P" and "1" (ImagingScaleAffine in Geometry.c).
//
// Every function computes only a window of the resized image: each output pixel of Pillow's two-pass resize
// depends only on its own coefficients, so the pixels inside the centre-crop window are the same whether or not
// the rest of the image is computed. Products that C evaluates and rounds separately are wrapped in float64()
// so that Go never fuses them into an FMA (the Go spec lets an explicit conversion block fusion).

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

// passes returns Pillow's need_horizontal/need_vertical and the vertical coefficients with the input rows the
// window reads.
func (wd window) passes() (needH, needV bool, vert axis, r0, r1 int) {
	needH, needV = wd.nw != wd.w, wd.nh != wd.h
	if needV {
		vert = bicubicAxis(wd.h, wd.nh, wd.y0, wd.wh)
		r0, r1 = vert.span()
	} else {
		r0, r1 = wd.y0, wd.y0+wd.wh
	}
	return needH, needV, vert, r0, r1
}

// resample8 resizes an 8-bit image with c interleaved bands with Pillow's BICUBIC 8bpc path (fixed-point taps,
// horizontal pass first, 8-bit rounding and clipping between the passes) and returns the window, ww×wh×c bytes.
func resample8(src []uint8, c int, wd window) []uint8 {
	needH, needV, vert, r0, r1 := wd.passes()
	rows, stride := r1-r0, wd.ww*c
	// tmp holds rows r0..r1 of the horizontally resized image, columns x0..x0+ww.
	tmp := make([]uint8, rows*stride)
	if needH {
		hor := bicubicAxis(wd.w, wd.nw, wd.x0, wd.ww)
		kk := hor.fixed()
		for r := 0; r < rows; r++ {
			horizontal8(tmp[r*stride:(r+1)*stride], src[(r0+r)*wd.w*c:(r0+r+1)*wd.w*c], c, hor, kk)
		}
	} else {
		for r := 0; r < rows; r++ {
			copy(tmp[r*stride:(r+1)*stride], src[((r0+r)*wd.w+wd.x0)*c:((r0+r)*wd.w+wd.x0+wd.ww)*c])
		}
	}
	if !needV {
		return tmp
	}
	kk := vert.fixed()
	out := make([]uint8, wd.wh*stride)
	acc := make([]int32, stride)
	for yy := 0; yy < wd.wh; yy++ {
		ymin, n := vert.bounds[2*yy], vert.bounds[2*yy+1]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for t, kv := range kk[yy*vert.ksize : yy*vert.ksize+n] {
			in := tmp[(ymin-r0+t)*stride : (ymin-r0+t+1)*stride]
			for i, v := range in {
				acc[i] += int32(v) * kv
			}
		}
		row := out[yy*stride : (yy+1)*stride]
		for i, ss := range acc {
			row[i] = clip8(ss)
		}
	}
	return out
}

// horizontal8 computes one row of the horizontal pass for the axis's output columns:
// out = clip8(half + Σ in·k) per band, in int32 as Pillow's int arithmetic.
func horizontal8(out, in []uint8, c int, hor axis, kk []int32) {
	const half = 1 << (precisionBits - 1)
	for xx := 0; xx < len(out)/c; xx++ {
		xmin, n := hor.bounds[2*xx], hor.bounds[2*xx+1]
		k := kk[xx*hor.ksize : xx*hor.ksize+n]
		px := in[xmin*c : (xmin+n)*c]
		switch c {
		case 1:
			ss := int32(half)
			for t, kv := range k {
				ss += int32(px[t]) * kv
			}
			out[xx] = clip8(ss)
		case 3:
			s0, s1, s2 := int32(half), int32(half), int32(half)
			for _, kv := range k {
				s0 += int32(px[0]) * kv
				s1 += int32(px[1]) * kv
				s2 += int32(px[2]) * kv
				px = px[3:]
			}
			out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
		default:
			for ch := 0; ch < c; ch++ {
				ss := int32(half)
				for t, kv := range k {
					ss += int32(px[t*c+ch]) * kv
				}
				out[xx*c+ch] = clip8(ss)
			}
		}
	}
}

// wide is the sample type of the modes Pillow resamples with float64 coefficients: I;16, I and F.
type wide interface{ uint16 | int32 | float32 }

// resampleWide resizes a one-band I;16, I or F image with Pillow's 16bpc/32bpc paths: float64 taps accumulated
// from 0.0, and store turning each sum into a stored sample (rounding as Pillow does for the mode).
func resampleWide[T wide](src []T, wd window, store func(float64) T) []T {
	needH, needV, vert, r0, r1 := wd.passes()
	rows := r1 - r0
	tmp := make([]T, rows*wd.ww)
	if needH {
		hor := bicubicAxis(wd.w, wd.nw, wd.x0, wd.ww)
		for r := 0; r < rows; r++ {
			in := src[(r0+r)*wd.w : (r0+r+1)*wd.w]
			out := tmp[r*wd.ww : (r+1)*wd.ww]
			for xx := range out {
				xmin, k := hor.taps(xx)
				ss := 0.0
				for t, kv := range k {
					ss += float64(float64(in[xmin+t]) * kv)
				}
				out[xx] = store(ss)
			}
		}
	} else {
		for r := 0; r < rows; r++ {
			copy(tmp[r*wd.ww:(r+1)*wd.ww], src[(r0+r)*wd.w+wd.x0:(r0+r)*wd.w+wd.x0+wd.ww])
		}
	}
	if !needV {
		return tmp
	}
	out := make([]T, wd.wh*wd.ww)
	for yy := 0; yy < wd.wh; yy++ {
		ymin, k := vert.taps(yy)
		for x := 0; x < wd.ww; x++ {
			ss := 0.0
			for t, kv := range k {
				ss += float64(float64(tmp[(ymin-r0+t)*wd.ww+x]) * kv)
			}
			out[yy*wd.ww+x] = store(ss)
		}
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

// storeI16 stores a 16bpc sum as ImagingResampleHorizontal_16bpc does: each byte clipped on its own, so a sum
// past 65535 keeps its low byte under a 0xFF high byte, and a negative sum becomes 0.
func storeI16(ss float64) uint16 {
	v := roundUp(ss)
	return uint16(clampByte(v%256) | clampByte(v>>8)<<8)
}

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

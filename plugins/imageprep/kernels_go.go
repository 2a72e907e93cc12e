package imageprep

// This file holds the 8-bit resampling passes in plain Go: the reference the cgo build's C kernels
// (kernels_cgo.go) are tested against, and the kernels themselves in a build without cgo (kernels_nocgo.go).
//
// Both passes are Pillow's 8bpc fixed-point arithmetic (Resample.c ImagingResampleHorizontal_8bpc and
// ImagingResampleVertical_8bpc): an output sample is clip8(2^21 + Σ in·k) with int32 taps k (precisionBits
// fractional bits) and int32 sums. Integer sums are exact in any order, so any kernel that adds the same products
// gives the same bytes.

// passTaps is one axis of a pass in the form the kernels take: output i reads n = bounds[2i+1] inputs starting at
// bounds[2i] (relative to the pass's input), with weights kk[i*ksize : i*ksize+n].
type passTaps struct {
	ksize  int
	bounds []int32
	kk     []int32
}

// hpass8Go is the horizontal pass: for each of rows rows, the row of inW pixels of c bytes at src[r*srcStride:]
// gives len(bounds)/2 output pixels at out[r*outStride:].
func hpass8Go(out []uint8, outStride int, src []uint8, srcStride, rows, inW, c int, tp passTaps) {
	const half = 1 << (precisionBits - 1)
	nOut := len(tp.bounds) / 2
	for r := 0; r < rows; r++ {
		in := src[r*srcStride : r*srcStride+inW*c]
		row := out[r*outStride : r*outStride+nOut*c]
		for xx := 0; xx < nOut; xx++ {
			xmin, n := int(tp.bounds[2*xx]), int(tp.bounds[2*xx+1])
			k := tp.kk[xx*tp.ksize : xx*tp.ksize+n]
			px := in[xmin*c : (xmin+n)*c]
			switch c {
			case 1:
				px = px[:len(k)]
				ss := int32(half)
				for t, kv := range k {
					ss += int32(px[t]) * kv
				}
				row[xx] = clip8(ss)
			case 3:
				s0, s1, s2 := int32(half), int32(half), int32(half)
				for _, kv := range k {
					s0 += int32(px[0]) * kv
					s1 += int32(px[1]) * kv
					s2 += int32(px[2]) * kv
					px = px[3:]
				}
				row[3*xx], row[3*xx+1], row[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
			case 4:
				s0, s1, s2, s3 := int32(half), int32(half), int32(half), int32(half)
				for _, kv := range k {
					s0 += int32(px[0]) * kv
					s1 += int32(px[1]) * kv
					s2 += int32(px[2]) * kv
					s3 += int32(px[3]) * kv
					px = px[4:]
				}
				row[4*xx], row[4*xx+1], row[4*xx+2], row[4*xx+3] = clip8(s0), clip8(s1), clip8(s2), clip8(s3)
			default:
				for ch := 0; ch < c; ch++ {
					ss := int32(half)
					for t, kv := range k {
						ss += int32(px[t*c+ch]) * kv
					}
					row[xx*c+ch] = clip8(ss)
				}
			}
		}
	}
}

// vpass8Go is the vertical pass: output row yy (width bytes at out[yy*outStride:]) sums the input rows
// bounds[2yy] … (each width bytes at src[row*srcStride:]) weighted by its taps.
func vpass8Go(out []uint8, outStride int, src []uint8, srcStride, width int, tp passTaps) {
	acc := make([]int32, width)
	for yy := 0; yy < len(tp.bounds)/2; yy++ {
		ymin, n := int(tp.bounds[2*yy]), int(tp.bounds[2*yy+1])
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for t, kv := range tp.kk[yy*tp.ksize : yy*tp.ksize+n] {
			in := src[(ymin+t)*srcStride : (ymin+t)*srcStride+width]
			in = in[:len(acc)]
			for i, v := range in {
				acc[i] += int32(v) * kv
			}
		}
		row := out[yy*outStride : yy*outStride+width]
		for i, ss := range acc {
			row[i] = clip8(ss)
		}
	}
}

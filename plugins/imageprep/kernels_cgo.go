//go:build cgo

package imageprep

/*
#cgo CFLAGS: -O2 -Wno-psabi
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The 8-bit resampling passes (see kernels_go.go, their reference). Sums are int32 as in Pillow; they are added
// here as uint32 (wrapping, so that C has no signed overflow to be undefined) and read back as int32: integer
// sums of the same products are the same in any order, so the vector kernels give the Go kernels' bytes.

enum { ipPrecision = 22, ipHalf = 1 << 21 };

static inline uint8_t ip_clip8(uint32_t ss) {
	int32_t v = (int32_t)ss >> ipPrecision;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

static void ip_h8_scalar(uint8_t *out, intptr_t outStride, const uint8_t *src, intptr_t srcStride, int rows, int c,
                         int nOut, const int32_t *bounds, const int32_t *kk, int ksize) {
	for (int r = 0; r < rows; r++) {
		const uint8_t *in = src + r * srcStride;
		uint8_t *o = out + r * outStride;
		for (int xx = 0; xx < nOut; xx++) {
			const uint8_t *px = in + (intptr_t)bounds[2 * xx] * c;
			const int32_t *k = kk + (intptr_t)xx * ksize;
			int n = bounds[2 * xx + 1];
			for (int ch = 0; ch < c; ch++) {
				uint32_t ss = ipHalf;
				for (int t = 0; t < n; t++) {
					ss += (uint32_t)px[t * c + ch] * (uint32_t)k[t];
				}
				o[xx * c + ch] = ip_clip8(ss);
			}
		}
	}
}

static void ip_v8_scalar(uint8_t *out, intptr_t outStride, const uint8_t *src, intptr_t srcStride, int width,
                         int nOut, const int32_t *bounds, const int32_t *kk, int ksize, int from) {
	for (int yy = 0; yy < nOut; yy++) {
		const uint8_t *base = src + (intptr_t)bounds[2 * yy] * srcStride;
		const int32_t *k = kk + (intptr_t)yy * ksize;
		int n = bounds[2 * yy + 1];
		uint8_t *o = out + yy * outStride;
		for (int i = from; i < width; i++) {
			uint32_t ss = ipHalf;
			for (int t = 0; t < n; t++) {
				ss += (uint32_t)base[t * srcStride + i] * (uint32_t)k[t];
			}
			o[i] = ip_clip8(ss);
		}
	}
}

#if defined(__x86_64__)
// ip_taps lays out the taps of each output for a vector loop over groups of g taps: output xx reads L taps (n
// rounded up to g) from xs[xx], its weights shifted so that the zero weights added fall before or after the real
// ones, never outside the row of inW pixels. It returns L, or 0 when some output cannot be laid out so (a row
// narrower than L), in which case the caller uses the scalar kernel. Each weight is written rep times in a row
// (rep = 4 for 4-byte pixels, so that one vector multiplies two pixels' four bands).
static int ip_taps(int nOut, const int32_t *bounds, const int32_t *kk, int ksize, int inW, int g, int rep,
                   int32_t **xsp, int32_t **kp) {
	int L = 0;
	for (int xx = 0; xx < nOut; xx++) {
		int n = bounds[2 * xx + 1];
		if (n > L) L = n;
	}
	L = (L + g - 1) / g * g;
	if (L == 0 || L > inW) return 0;
	int32_t *xs = malloc(sizeof(int32_t) * nOut);
	int32_t *k = calloc((size_t)nOut * L * rep, sizeof(int32_t));
	if (!xs || !k) { free(xs); free(k); return 0; }
	for (int xx = 0; xx < nOut; xx++) {
		int xmin = bounds[2 * xx], n = bounds[2 * xx + 1];
		int s = xmin;
		if (s + L > inW) s = inW - L;
		xs[xx] = s;
		for (int t = 0; t < n; t++) {
			for (int j = 0; j < rep; j++) {
				k[((size_t)xx * L + (xmin - s) + t) * rep + j] = kk[(size_t)xx * ksize + t];
			}
		}
	}
	*xsp = xs;
	*kp = k;
	return L;
}

__attribute__((target("avx2")))
static inline uint32_t ip_hsum256(__m256i v) {
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	return (uint32_t)_mm_cvtsi128_si32(s);
}

// One band: eight taps per multiply, four rows at a time so that each output's weights are loaded once for the
// four and the four sums are reduced together.
__attribute__((target("avx2")))
static int ip_h8_1_avx2(uint8_t *out, intptr_t outStride, const uint8_t *src, intptr_t srcStride, int rows, int inW,
                        int nOut, const int32_t *bounds, const int32_t *kk, int ksize) {
	int32_t *xs, *k;
	int L = ip_taps(nOut, bounds, kk, ksize, inW, 8, 1, &xs, &k);
	if (!L) return 0;
	int r = 0;
	for (; r + 4 <= rows; r += 4) {
		const uint8_t *in = src + r * srcStride;
		uint8_t *o = out + r * outStride;
		for (int xx = 0; xx < nOut; xx++) {
			const uint8_t *px = in + xs[xx];
			const int32_t *kx = k + (size_t)xx * L;
			__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
			for (int t = 0; t < L; t += 8) {
				__m256i kt = _mm256_loadu_si256((const __m256i *)(kx + t));
				const uint8_t *p = px + t;
				a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)), kt));
				a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + srcStride))), kt));
				a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 2 * srcStride))), kt));
				a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 3 * srcStride))), kt));
			}
			// the four rows' sums side by side: lane i of s is row i's
			__m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
			__m128i s = _mm_add_epi32(_mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)), _mm_set1_epi32(ipHalf));
			s = _mm_srai_epi32(s, ipPrecision);
			s = _mm_packus_epi16(_mm_packs_epi32(s, s), s);
			uint32_t v = (uint32_t)_mm_cvtsi128_si32(s);
			o[xx] = (uint8_t)v;
			o[outStride + xx] = (uint8_t)(v >> 8);
			o[2 * outStride + xx] = (uint8_t)(v >> 16);
			o[3 * outStride + xx] = (uint8_t)(v >> 24);
		}
	}
	for (; r < rows; r++) {
		const uint8_t *in = src + r * srcStride;
		uint8_t *o = out + r * outStride;
		for (int xx = 0; xx < nOut; xx++) {
			const uint8_t *px = in + xs[xx];
			const int32_t *kx = k + (size_t)xx * L;
			__m256i acc = _mm256_setzero_si256();
			for (int t = 0; t < L; t += 8) {
				__m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(px + t)));
				acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(v, _mm256_loadu_si256((const __m256i *)(kx + t))));
			}
			o[xx] = ip_clip8(ipHalf + ip_hsum256(acc));
		}
	}
	free(xs);
	free(k);
	return 1;
}

// Four bands (RGBX, RGBA, CMYK): two pixels per multiply, four rows at a time so that each output's weights are
// loaded once for the four.
__attribute__((target("avx2")))
static inline void ip_store4(uint8_t *o, __m256i a) {
	__m128i s = _mm_add_epi32(_mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1)), _mm_set1_epi32(ipHalf));
	s = _mm_srai_epi32(s, ipPrecision);
	s = _mm_packs_epi32(s, s);
	s = _mm_packus_epi16(s, s);
	int32_t v = _mm_cvtsi128_si32(s);
	memcpy(o, &v, 4);
}

__attribute__((target("avx2")))
static int ip_h8_4_avx2(uint8_t *out, intptr_t outStride, const uint8_t *src, intptr_t srcStride, int rows, int inW,
                        int nOut, const int32_t *bounds, const int32_t *kk, int ksize) {
	int32_t *xs, *k;
	int L = ip_taps(nOut, bounds, kk, ksize, inW, 2, 4, &xs, &k);
	if (!L) return 0;
	int r = 0;
	for (; r + 4 <= rows; r += 4) {
		const uint8_t *in = src + r * srcStride;
		uint8_t *o = out + r * outStride;
		for (int xx = 0; xx < nOut; xx++) {
			const uint8_t *px = in + (intptr_t)xs[xx] * 4;
			const int32_t *kx = k + (size_t)xx * L * 4;
			__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
			for (int t = 0; t < L; t += 2) {
				__m256i kt = _mm256_loadu_si256((const __m256i *)(kx + 4 * t));
				const uint8_t *p = px + 4 * t;
				a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)), kt));
				a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + srcStride))), kt));
				a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 2 * srcStride))), kt));
				a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 3 * srcStride))), kt));
			}
			ip_store4(o + 4 * xx, a0);
			ip_store4(o + outStride + 4 * xx, a1);
			ip_store4(o + 2 * outStride + 4 * xx, a2);
			ip_store4(o + 3 * outStride + 4 * xx, a3);
		}
	}
	for (; r < rows; r++) {
		const uint8_t *in = src + r * srcStride;
		uint8_t *o = out + r * outStride;
		for (int xx = 0; xx < nOut; xx++) {
			const uint8_t *px = in + (intptr_t)xs[xx] * 4;
			const int32_t *kx = k + (size_t)xx * L * 4;
			__m256i a = _mm256_setzero_si256();
			for (int t = 0; t < L; t += 2) {
				__m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(px + 4 * t)));
				a = _mm256_add_epi32(a, _mm256_mullo_epi32(v, _mm256_loadu_si256((const __m256i *)(kx + 4 * t))));
			}
			ip_store4(o + 4 * xx, a);
		}
	}
	free(xs);
	free(k);
	return 1;
}

// Any layout: 32 bytes of a row per step, each tap one multiply per eight bytes.
__attribute__((target("avx2")))
static void ip_v8_avx2(uint8_t *out, intptr_t outStride, const uint8_t *src, intptr_t srcStride, int width, int nOut,
                       const int32_t *bounds, const int32_t *kk, int ksize) {
	const __m256i half = _mm256_set1_epi32(ipHalf);
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	int w32 = width / 32 * 32;
	for (int yy = 0; yy < nOut; yy++) {
		const uint8_t *base = src + (intptr_t)bounds[2 * yy] * srcStride;
		const int32_t *k = kk + (intptr_t)yy * ksize;
		int n = bounds[2 * yy + 1];
		uint8_t *o = out + yy * outStride;
		for (int i = 0; i < w32; i += 32) {
			__m256i a0 = half, a1 = half, a2 = half, a3 = half;
			const uint8_t *p = base + i;
			for (int t = 0; t < n; t++, p += srcStride) {
				__m256i kt = _mm256_set1_epi32(k[t]);
				__m256i row = _mm256_loadu_si256((const __m256i *)p);
				__m128i lo = _mm256_castsi256_si128(row), hi = _mm256_extracti128_si256(row, 1);
				a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo), kt));
				a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), kt));
				a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi), kt));
				a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), kt));
			}
			a0 = _mm256_srai_epi32(a0, ipPrecision);
			a1 = _mm256_srai_epi32(a1, ipPrecision);
			a2 = _mm256_srai_epi32(a2, ipPrecision);
			a3 = _mm256_srai_epi32(a3, ipPrecision);
			// packs and packus work within 128-bit lanes; the permutation puts the 4-byte groups back in order.
			__m256i b = _mm256_packus_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3));
			_mm256_storeu_si256((__m256i *)(o + i), _mm256_permutevar8x32_epi32(b, order));
		}
	}
	if (w32 < width) {
		ip_v8_scalar(out, outStride, src, srcStride, width, nOut, bounds, kk, ksize, w32);
	}
}
#endif

static void ip_h8(uint8_t *out, intptr_t outStride, const uint8_t *src, intptr_t srcStride, int rows, int inW, int c,
                  int nOut, const int32_t *bounds, const int32_t *kk, int ksize) {
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2")) {
		if (c == 1 && ip_h8_1_avx2(out, outStride, src, srcStride, rows, inW, nOut, bounds, kk, ksize)) return;
		if (c == 4 && ip_h8_4_avx2(out, outStride, src, srcStride, rows, inW, nOut, bounds, kk, ksize)) return;
	}
#endif
	ip_h8_scalar(out, outStride, src, srcStride, rows, c, nOut, bounds, kk, ksize);
}

static void ip_v8(uint8_t *out, intptr_t outStride, const uint8_t *src, intptr_t srcStride, int width, int nOut,
                  const int32_t *bounds, const int32_t *kk, int ksize) {
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2")) {
		ip_v8_avx2(out, outStride, src, srcStride, width, nOut, bounds, kk, ksize);
		return;
	}
#endif
	ip_v8_scalar(out, outStride, src, srcStride, width, nOut, bounds, kk, ksize, 0);
}
*/
import "C"

import "unsafe"

// hpass8 is hpass8Go in C: vectorised with AVX2 for 1- and 4-byte pixels where the CPU has it, scalar otherwise.
func hpass8(out []uint8, outStride int, src []uint8, srcStride, rows, inW, c int, tp passTaps) {
	nOut := len(tp.bounds) / 2
	if rows == 0 || nOut == 0 {
		return
	}
	// bounds checks here rather than out of bounds in C
	_ = out[(rows-1)*outStride+nOut*c-1]
	_ = src[(rows-1)*srcStride+inW*c-1]
	for i := 0; i < nOut; i++ {
		if x, n := int(tp.bounds[2*i]), int(tp.bounds[2*i+1]); x < 0 || n < 0 || x+n > inW || n > tp.ksize {
			panic("imageprep: internal: taps outside the row")
		}
	}
	_ = tp.kk[nOut*tp.ksize-1]
	C.ip_h8((*C.uint8_t)(unsafe.Pointer(&out[0])), C.intptr_t(outStride), (*C.uint8_t)(unsafe.Pointer(&src[0])),
		C.intptr_t(srcStride), C.int(rows), C.int(inW), C.int(c), C.int(nOut),
		(*C.int32_t)(unsafe.Pointer(&tp.bounds[0])), (*C.int32_t)(unsafe.Pointer(&tp.kk[0])), C.int(tp.ksize))
}

// vpass8 is vpass8Go in C: 32 bytes per step with AVX2 where the CPU has it, scalar otherwise.
func vpass8(out []uint8, outStride int, src []uint8, srcStride, width int, tp passTaps) {
	nOut := len(tp.bounds) / 2
	if width == 0 || nOut == 0 {
		return
	}
	_ = out[(nOut-1)*outStride+width-1]
	for i := 0; i < nOut; i++ {
		y, n := int(tp.bounds[2*i]), int(tp.bounds[2*i+1])
		if y < 0 || n < 0 || n > tp.ksize {
			panic("imageprep: internal: bad vertical taps")
		}
		if n > 0 {
			_ = src[(y+n-1)*srcStride+width-1]
		}
	}
	_ = tp.kk[nOut*tp.ksize-1]
	C.ip_v8((*C.uint8_t)(unsafe.Pointer(&out[0])), C.intptr_t(outStride), (*C.uint8_t)(unsafe.Pointer(&src[0])),
		C.intptr_t(srcStride), C.int(width), C.int(nOut),
		(*C.int32_t)(unsafe.Pointer(&tp.bounds[0])), (*C.int32_t)(unsafe.Pointer(&tp.kk[0])), C.int(tp.ksize))
}

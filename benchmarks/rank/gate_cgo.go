//go:build openblas && cgo

package rank

/*
#include <stdint.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// gate_scan writes to hits the positions j < n where v[j] >= rg or v[j] >= g[j], ascending, and returns their
// count; hits has room for n. On x86-64 it compares four scores per SSE2 instruction (present on every x86-64)
// and eight per AVX2 instruction where the CPU has AVX2, and skips each group of scores that passes no gate with
// one branch; elsewhere it is the plain loop. The comparisons are ordered: a NaN score passes no gate.
static int gate_scan_scalar(const float *v, float rg, const float *g, int32_t *hits, int j, int n, int k) {
	for (; j < n; j++) {
		if (v[j] >= rg || v[j] >= g[j]) {
			hits[k++] = j;
		}
	}
	return k;
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static int gate_scan_avx2(const float *v, float rg, const float *g, int32_t *hits, int n) {
	const __m256 r = _mm256_set1_ps(rg);
	int j = 0, k = 0;
	for (; j + 8 <= n; j += 8) {
		__m256 x = _mm256_loadu_ps(v + j);
		__m256 m = _mm256_or_ps(_mm256_cmp_ps(x, r, _CMP_GE_OQ), _mm256_cmp_ps(x, _mm256_loadu_ps(g + j), _CMP_GE_OQ));
		unsigned bits = (unsigned)_mm256_movemask_ps(m);
		while (bits) {
			hits[k++] = j + __builtin_ctz(bits);
			bits &= bits - 1;
		}
	}
	return gate_scan_scalar(v, rg, g, hits, j, n, k);
}

static int gate_scan_sse2(const float *v, float rg, const float *g, int32_t *hits, int n) {
	const __m128 r = _mm_set1_ps(rg);
	int j = 0, k = 0;
	for (; j + 4 <= n; j += 4) {
		__m128 x = _mm_loadu_ps(v + j);
		__m128 m = _mm_or_ps(_mm_cmpge_ps(x, r), _mm_cmpge_ps(x, _mm_loadu_ps(g + j)));
		unsigned bits = (unsigned)_mm_movemask_ps(m);
		while (bits) {
			hits[k++] = j + __builtin_ctz(bits);
			bits &= bits - 1;
		}
	}
	return gate_scan_scalar(v, rg, g, hits, j, n, k);
}
#endif

static int gate_scan(const float *v, float rg, const float *g, int32_t *hits, int n) {
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2")) {
		return gate_scan_avx2(v, rg, g, hits, n);
	}
	return gate_scan_sse2(v, rg, g, hits, n);
#else
	return gate_scan_scalar(v, rg, g, hits, 0, n, 0);
#endif
}
*/
import "C"

// gateScan writes to hits the positions j of row where row[j] ≥ rowGate or row[j] ≥ colGates[j], ascending, and
// returns how many it wrote: the entries of a tile's row that can change a query's state (see pass.scan). hits
// and colGates are at least as long as row. In this build it is C, vectorised (SSE2 or AVX2 on x86-64), because
// the scan of every score is the part of ranking not done by the GEMM.
func gateScan(row []float32, rowGate float32, colGates []float32, hits []int32) int {
	if len(row) == 0 {
		return 0
	}
	_, _ = colGates[len(row)-1], hits[len(row)-1] // both long enough, or a panic here rather than in C
	return int(C.gate_scan((*C.float)(&row[0]), C.float(rowGate), (*C.float)(&colGates[0]),
		(*C.int32_t)(&hits[0]), C.int(len(row))))
}

package rank

import (
	"runtime"
	"sync"
)

// Tile sizes of gemmGo: a chunk of b's rows small enough to stay in a core's L2 cache while every row group of a
// runs over it.
const (
	goChunkCols = 128
	goRowGroup  = 4
	goColGroup  = 2
)

// smallGEMM is the size (m·n·k multiply-adds) below which an openblas build's tile goes to the pure-Go kernel: a
// few milliseconds of work, less than what opening OpenBLAS costs (its library start spawns a thread per core that
// busy-waits for work for about a tenth of a second, time a small run's other processes need).
const smallGEMM = 1 << 22

// gemmGo writes c[i·ldc+j] = Σ_p a[i·k+p]·b[j·k+p] for i < m, j < n (C = A·Bᵀ, A m×k and B n×k row-major, in
// float32): the pure-Go kernel, used when the build has no BLAS and for small products. It keeps 4×2 sums in registers and spreads
// chunks of B's rows over the CPUs (each chunk writes its own columns of C). Its summation order is plain
// left-to-right over p, unlike a BLAS's; the callers' float64 re-checks make the ranks independent of it.
func gemmGo(m, n, k int, a, b, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	chunks := (n + goChunkCols - 1) / goChunkCols
	workers := min(runtime.GOMAXPROCS(0), chunks)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for ch := w; ch < chunks; ch += workers {
				j0 := ch * goChunkCols
				gemmChunk(m, k, a, b, c, ldc, j0, min(j0+goChunkCols, n))
			}
		})
	}
	wg.Wait()
}

// gemmChunk computes columns j0..j1-1 of C for every row of A (see gemmGo).
func gemmChunk(m, k int, a, b, c []float32, ldc, j0, j1 int) {
	i := 0
	for ; i+goRowGroup <= m; i += goRowGroup {
		a0 := a[i*k : (i+1)*k]
		a1 := a[(i+1)*k : (i+2)*k]
		a2 := a[(i+2)*k : (i+3)*k]
		a3 := a[(i+3)*k : (i+4)*k]
		j := j0
		for ; j+goColGroup <= j1; j += goColGroup {
			b0 := b[j*k : (j+1)*k]
			b1 := b[(j+1)*k : (j+2)*k]
			var s00, s01, s10, s11, s20, s21, s30, s31 float32
			for p, x0 := range a0 {
				x1, x2, x3 := a1[p], a2[p], a3[p]
				y0, y1 := b0[p], b1[p]
				s00 += x0 * y0
				s01 += x0 * y1
				s10 += x1 * y0
				s11 += x1 * y1
				s20 += x2 * y0
				s21 += x2 * y1
				s30 += x3 * y0
				s31 += x3 * y1
			}
			c[i*ldc+j], c[i*ldc+j+1] = s00, s01
			c[(i+1)*ldc+j], c[(i+1)*ldc+j+1] = s10, s11
			c[(i+2)*ldc+j], c[(i+2)*ldc+j+1] = s20, s21
			c[(i+3)*ldc+j], c[(i+3)*ldc+j+1] = s30, s31
		}
		for ; j < j1; j++ {
			for r := range goRowGroup {
				c[(i+r)*ldc+j] = dot32(a[(i+r)*k:(i+r+1)*k], b[j*k:(j+1)*k])
			}
		}
	}
	for ; i < m; i++ {
		for j := j0; j < j1; j++ {
			c[i*ldc+j] = dot32(a[i*k:(i+1)*k], b[j*k:(j+1)*k])
		}
	}
}

// dot32 is the float32 dot product of two equally long vectors, left to right.
func dot32(x, y []float32) float32 {
	y = y[:len(x)]
	var s float32
	for p, v := range x {
		s += v * y[p]
	}
	return s
}

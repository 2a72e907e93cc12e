//go:build !openblas || !cgo

package rank

// Backend names the similarity kernel this build uses: "openblas" (cblas_sgemm, built with -tags openblas) or
// "go" (the pure-Go blocked loop).
const Backend = "go"

// sgemm writes c[i·ldc+j] = Σ_p a[i·k+p]·b[j·k+p] for i < m, j < n (C = A·Bᵀ in float32) with the pure-Go kernel.
func sgemm(m, n, k int, a, b, c []float32, ldc int) { gemmGo(m, n, k, a, b, c, ldc) }

// Kernel says which kernel large products run on: "go" in this build.
func Kernel() string { return Backend }

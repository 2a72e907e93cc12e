//go:build openblas && cgo

package rank

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

// Backend names the similarity kernel this build uses: "openblas" (cblas_sgemm, built with -tags openblas) or
// "go" (the pure-Go blocked loop).
const Backend = "openblas"

// sgemm writes c[i·ldc+j] = Σ_p a[i·k+p]·b[j·k+p] for i < m, j < n (C = A·Bᵀ in float32) with OpenBLAS's
// cblas_sgemm. OpenBLAS runs it on its own threads (OPENBLAS_NUM_THREADS, by default one per core); the caller's
// goroutine waits in the call.
func sgemm(m, n, k int, a, b, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasTrans, C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(&a[0]), C.blasint(k), (*C.float)(&b[0]), C.blasint(k), 0, (*C.float)(&c[0]), C.blasint(ldc))
}

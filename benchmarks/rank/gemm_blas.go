//go:build openblas && cgo

package rank

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <cblas.h>

typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                         float, const float *, blasint, const float *, blasint, float, float *, blasint);

// load_sgemm opens OpenBLAS and returns its cblas_sgemm, or NULL (then *why says what failed).
static sgemm_fn load_sgemm(const char **why) {
	static const char *names[] = {"libopenblas.so.0", "libopenblas.so"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (lib == NULL) {
			*why = dlerror();
			continue;
		}
		sgemm_fn f = (sgemm_fn)dlsym(lib, "cblas_sgemm");
		if (f != NULL) {
			return f;
		}
		*why = dlerror();
	}
	return NULL;
}

static void call_sgemm(sgemm_fn f, blasint m, blasint n, blasint k, const float *a, const float *b, float *c, blasint ldc) {
	f(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, ldc);
}
*/
import "C"

import (
	"sync"
)

// Backend names the similarity kernel this build uses: "openblas" (cblas_sgemm, built with -tags openblas) or
// "go" (the pure-Go blocked loop).
const Backend = "openblas"

// openBLAS is cblas_sgemm from the OpenBLAS library, opened at the first large product rather than when the
// plugin starts (see smallGEMM). A plugin process holds one library, so this is the process's one handle.
var openBLAS = sync.OnceValues(func() (C.sgemm_fn, string) {
	var why *C.char
	f := C.load_sgemm(&why)
	if f == nil {
		return nil, C.GoString(why)
	}
	return f, ""
})

// Kernel says which kernel large products run on: "openblas", or "go" with the reason OpenBLAS could not be
// opened (the ranks are the same either way; only the speed differs).
func Kernel() string {
	if f, why := openBLAS(); f == nil {
		return "go (OpenBLAS could not be opened: " + why + ")"
	}
	return Backend
}

// sgemm writes c[i·ldc+j] = Σ_p a[i·k+p]·b[j·k+p] for i < m, j < n (C = A·Bᵀ in float32) with OpenBLAS's
// cblas_sgemm, or for small products (and where OpenBLAS cannot be opened) with the pure-Go kernel. OpenBLAS runs
// it on its own threads (OPENBLAS_NUM_THREADS, by default one per core); the caller's goroutine waits in the call.
func sgemm(m, n, k int, a, b, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	if m*n*k < smallGEMM {
		gemmGo(m, n, k, a, b, c, ldc)
		return
	}
	f, _ := openBLAS()
	if f == nil {
		gemmGo(m, n, k, a, b, c, ldc)
		return
	}
	C.call_sgemm(f, C.blasint(m), C.blasint(n), C.blasint(k), (*C.float)(&a[0]), (*C.float)(&b[0]),
		(*C.float)(&c[0]), C.blasint(ldc))
}

package rank

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSGEMM checks sgemm against a float64 product on products below and above smallGEMM (the pure-Go kernel and,
// in an openblas build, OpenBLAS), with a leading dimension wider than the product: each entry within float32's
// summation error of the exact value, and the columns past n untouched.
func TestSGEMM(t *testing.T) {
	if Backend == "openblas" {
		require.Equal(t, "openblas", Kernel(), "an openblas build opens the library it was linked against")
	}
	tests := []struct {
		name    string
		m, n, k int
	}{
		{"one entry", 1, 1, 1},
		{"small", 3, 5, 7},
		{"just below the threshold", 127, 128, 256},
		{"above the threshold", 300, 200, 128},
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := make([]float32, tc.m*tc.k), make([]float32, tc.n*tc.k)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			ldc := tc.n + 3
			c := make([]float32, tc.m*ldc)
			for i := range c {
				c[i] = -42
			}
			sgemm(tc.m, tc.n, tc.k, a, b, c, ldc)
			for i := range tc.m {
				for j := range ldc {
					got := c[i*ldc+j]
					if j >= tc.n {
						require.Equal(t, float32(-42), got, "entry (%d, %d) is past the product", i, j)
						continue
					}
					var exact, mag float64
					for p := range tc.k {
						x := float64(a[i*tc.k+p]) * float64(b[j*tc.k+p])
						exact += x
						mag += math.Abs(x)
					}
					bound := float64(tc.k+2) * 0x1p-24 * mag
					require.InDelta(t, exact, float64(got), bound, "entry (%d, %d)", i, j)
				}
			}
		})
	}
	assert.GreaterOrEqual(t, 300*200*128, smallGEMM, "the last case must reach the threshold")
}

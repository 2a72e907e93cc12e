// Package verify compares a model export's outputs with golden outputs, as `clipeval verify-export` reports them:
// per output the largest absolute and relative differences, the 99th percentile of the absolute differences and
// the smallest per-row cosine similarity, with PASS or FAIL against tolerances and the tightest tolerance that
// would have passed.
package verify

import (
	"fmt"
	"math"
	"sort"

	"github.com/clipeval/clipeval/harness/junit"
)

// Tolerance is what an output must meet: every element |got − want| ≤ ATol + RTol·|want| (numpy.allclose's rule)
// and every row's cosine similarity with its golden row ≥ MinCosine.
type Tolerance struct {
	ATol, RTol, MinCosine float64
}

// FP32 is the default for float32 exports: the same graph run by another build of ONNX Runtime or by torch agrees
// to ~1e-6 absolute on CLIP-sized embeddings.
var FP32 = Tolerance{ATol: 1e-5, RTol: 1e-4, MinCosine: 0.99999}

// Stats is the comparison of one output.
type Stats struct {
	Output     string
	Rows, Cols int
	// MaxAbs is max |got − want|; MaxRel is max |got − want| / |want| over elements with want ≠ 0.
	MaxAbs, MaxRel float64
	// P99Abs is the 99th percentile (nearest rank) of |got − want|.
	P99Abs float64
	// MinCosine is the smallest cosine similarity between a row and its golden row.
	MinCosine float64
	// NeedATol is the smallest ATol that passes the element check at the given RTol.
	NeedATol float64
	Pass     bool
}

// Compare checks got against want, both row-major [rows, cols].
func Compare(output string, want, got []float32, rows, cols int, tol Tolerance) (Stats, error) {
	if rows <= 0 || cols <= 0 || len(want) != rows*cols || len(got) != rows*cols {
		return Stats{}, fmt.Errorf("%s: golden has %d values and the export %d; both should be [%d, %d]", output, len(want), len(got), rows, cols)
	}
	s := Stats{Output: output, Rows: rows, Cols: cols, MinCosine: math.Inf(1)}
	diffs := make([]float64, len(want))
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		d := math.Abs(g - w)
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		diffs[i] = d
		s.MaxAbs = math.Max(s.MaxAbs, d)
		if w != 0 {
			s.MaxRel = math.Max(s.MaxRel, d/math.Abs(w))
		}
		s.NeedATol = math.Max(s.NeedATol, d-tol.RTol*math.Abs(w))
	}
	for r := 0; r < rows; r++ {
		s.MinCosine = math.Min(s.MinCosine, cosine(want[r*cols:(r+1)*cols], got[r*cols:(r+1)*cols]))
	}
	sort.Float64s(diffs)
	s.P99Abs = diffs[int(math.Ceil(0.99*float64(len(diffs))))-1]
	s.Pass = s.NeedATol <= tol.ATol && s.MinCosine >= tol.MinCosine
	return s, nil
}

// cosine is the cosine similarity of two vectors in float64 (0 when either is zero, NaN-safe: NaN compares false).
func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		if na == nb {
			return 1
		}
		return 0
	}
	c := dot / math.Sqrt(na*nb)
	if math.IsNaN(c) {
		return math.Inf(-1)
	}
	return c
}

// String formats the stats as one report line.
func (s Stats) String() string {
	verdict := junit.Pass
	if !s.Pass {
		verdict = junit.Fail
	}
	return fmt.Sprintf("%-13s [%d,%d]  max_abs %.3g  max_rel %.3g  p99_abs %.3g  min_cosine %.8f  %s (passes with --atol %.3g, --min-cosine %.8f)",
		s.Output, s.Rows, s.Cols, s.MaxAbs, s.MaxRel, s.P99Abs, s.MinCosine, verdict, math.Max(s.NeedATol, 0), s.MinCosine)
}

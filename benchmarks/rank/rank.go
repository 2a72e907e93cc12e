// Package rank ranks an image–text retrieval gallery exactly at paper scale (DESIGN.md "Ranks, not score
// matrices"): per query the rank of its relevant items and its top item, both directions from one pass over
// blocks of the similarity matrix, which is never held whole.
//
// The similarity of a text and an image is today's cosine, bit for bit: both rows L2-normalised in float64
// (metrics.Normalize) and their dot product summed left to right in float64 (metrics.Dot). Computing every
// entry that way is too slow at N = 10⁵ and more, so each tile of the matrix is computed in float32 by a GEMM
// (OpenBLAS's cblas_sgemm with the build tag openblas, else a pure-Go loop) from float32 copies of the unit rows,
// and only the entries that float32 cannot decide are re-scored in float64: ErrorBound bounds |float32 score −
// float64 score| for every entry, so an entry whose float32 score is more than the bound above (below) a query's
// relevant float64 score is certainly above (below) it, and the rest, those within the bound, are compared in
// float64 with ties broken by index. The ranks and top items are therefore exactly those of the float64 path
// (equal scores ranked by lower index, numpy's stable argsort as CLIP_benchmark uses), whatever the GEMM's
// summation order, threading or FMA use.
//
// Memory: two float32 copies of the unit rows (N·d each way), one rows×cols tile of scores, per-query counters;
// O(N·d + tile), never N×N.
//
// Threads: each tile's GEMM runs on OpenBLAS's own threads (OPENBLAS_NUM_THREADS, by default one per core; the
// pure-Go kernel uses GOMAXPROCS goroutines), then its scan on GOMAXPROCS goroutines, one phase after the other.
// Concurrent Retrieve calls are safe; they share OpenBLAS's threads. BENCHMARKS.md has the measured speeds.
package rank

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// Input is a retrieval gallery and the queries to rank. Logical texts and images are numbered from 0 and map to
// rows of the embedding matrices, which may be shared (deduplicated inputs); the matrices are read, never written.
type Input struct {
	// Texts and Images are the raw (unnormalised) embeddings, one row per distinct text or image.
	Texts, Images sdk.Matrix
	// TextRows[t] is logical text t's row of Texts, ImageRows[i] logical image i's row of Images; nil: row t is
	// text t (row i is image i).
	TextRows, ImageRows []int
	// TextImage[t] is the one image relevant to text t (its caption's image); one entry per logical text.
	TextImage []int
	// TextQueries are the texts to rank the images for (text → image), ImageQueries the images to rank the texts
	// for (image → text); each against the whole gallery. Any order; the Result follows it.
	TextQueries, ImageQueries []int
}

// Result holds the outcome of every query, in the order of Input's query lists. Ranks are 0-based (the number of
// gallery items that rank before the item: a higher score, or an equal score and a lower index), as the metrics
// package's functions take them; the 1-based rank is one more.
type Result struct {
	// TextToImage[q] is the rank of text TextQueries[q]'s image among all images.
	TextToImage []int
	// TextTop[q] is the image ranked first for text TextQueries[q].
	TextTop []int
	// ImageToText[q][j] is the rank, among all texts, of the j-th text of image ImageQueries[q] (its texts in
	// ascending order); empty for an image without texts.
	ImageToText [][]int
	// ImageTop[q] is the text ranked first for image ImageQueries[q].
	ImageTop []int
}

// config sets the tile shape and the scan's parallelism.
type config struct {
	rows, cols int // a tile is rows texts × cols images
	workers    int // goroutines scanning a tile
}

// defaultConfig is the tile Retrieve uses: 1024 × 4096 float32 scores (16 MiB, within the L3 cache of current
// server CPUs), wide enough that the GEMM's packing of each operand costs a few percent of its multiply-adds.
func defaultConfig() config {
	return config{rows: 1024, cols: 4096, workers: runtime.GOMAXPROCS(0)}
}

// Retrieve ranks the gallery for every query of in, both directions (see the package comment for how and why the
// result is exact). It checks ctx between tiles.
func Retrieve(ctx context.Context, in Input) (*Result, error) {
	return retrieve(ctx, in, defaultConfig())
}

// ErrorBound returns a bound on |s32 − s64| for rows of width d, where s64 is the float64 cosine of two rows
// (metrics.Normalize, metrics.Dot) and s32 the float32 dot product of the same unit rows rounded to float32,
// summed in any order, with or without fused multiply-adds.
//
// Derivation (the standard bound for inner products, Higham, Accuracy and Stability of Numerical Algorithms,
// §3.1, γ_n = n·u/(1 − n·u)): with u = 2⁻²⁴ and v = 2⁻⁵³ the unit roundoffs, ‖x̂‖ ≤ ν = 1 + γ_{d+4}(v) for a
// float64 unit row x̂ (a sum of d squares, a square root, a division); rounding x̂ to float32 changes each entry by
// a factor within 1 ± u, so |x̃·ỹ − x̂·ŷ| ≤ (2u + u²)·ν²; the float32 sum of d products errs by at most
// γ_d(u)·Σ|x̃ₖỹₖ| ≤ γ_d(u)·ν²(1 + u)² (Cauchy–Schwarz); the float64 sum by at most γ_d(v)·ν². Underflow adds at
// most d·2⁻¹⁴⁹ in absolute terms. The sum of those is doubled, which also absorbs the rounding of the thresholds
// the scan derives from it.
func ErrorBound(d int) float64 {
	const u, v = 0x1p-24, 0x1p-53
	gamma := func(n int, r float64) float64 { return float64(n) * r / (1 - float64(n)*r) }
	nu := 1 + gamma(d+4, v)
	b := gamma(d, u)*nu*nu*(1+u)*(1+u) + (2*u+u*u)*nu*nu + gamma(d, v)*nu*nu + float64(d)*0x1p-149
	return 2 * b
}

// maxWidth keeps d·u well below 1, where ErrorBound holds.
const maxWidth = 1 << 16

// problem is a checked Input with its unit rows in float32 and the relevant scores in float64.
type problem struct {
	d                 int
	texts, images     sdk.Matrix
	textRow, imageRow []int
	textImage         []int
	captions          [][]int   // logical image → its texts, ascending
	t32, i32          []float32 // unit rows in logical order, row-major
	ref               []float64 // ref[t]: the float64 score of text t and its image
	bound             float64
	workers           int
}

// retrieve is Retrieve with a given tile shape.
func retrieve(ctx context.Context, in Input, cfg config) (*Result, error) {
	p, err := newProblem(in, cfg.workers)
	if err != nil {
		return nil, err
	}
	nT, nI := len(p.textRow), len(p.imageRow)
	qT, qI := distinct(in.TextQueries), distinct(in.ImageQueries)
	t2iRank, t2iTop := make([]int, nT), make([]int, nT)
	i2tRanks, i2tTop := make([][]int, nI), make([]int, nI)
	out := outputs{t2iRank: t2iRank, t2iTop: t2iTop, i2tRanks: i2tRanks, i2tTop: i2tTop}

	// One pass over every tile serves both directions; when the query subsets are small, two passes over their
	// rows (text queries × every image) and columns (every text × image queries) cost fewer multiply-adds.
	all := func(n int) []int {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	var passes []*pass
	switch {
	case len(qT) == 0 && len(qI) == 0:
	case nT*nI <= len(qT)*nI+nT*len(qI):
		passes = append(passes, p.newPass(all(nT), all(nI), mask(nT, qT), mask(nI, qI)))
	default:
		if len(qT) > 0 {
			passes = append(passes, p.newPass(qT, all(nI), mask(nT, qT), nil))
		}
		if len(qI) > 0 {
			passes = append(passes, p.newPass(all(nT), qI, nil, mask(nI, qI)))
		}
	}
	for _, ps := range passes {
		if err := ps.run(ctx, cfg, out); err != nil {
			return nil, err
		}
	}

	res := &Result{TextToImage: make([]int, len(in.TextQueries)), TextTop: make([]int, len(in.TextQueries)),
		ImageToText: make([][]int, len(in.ImageQueries)), ImageTop: make([]int, len(in.ImageQueries))}
	for q, t := range in.TextQueries {
		res.TextToImage[q], res.TextTop[q] = t2iRank[t], t2iTop[t]
	}
	for q, i := range in.ImageQueries {
		res.ImageToText[q], res.ImageTop[q] = slices.Clone(i2tRanks[i]), i2tTop[i]
	}
	return res, nil
}

// outputs are the per-item results the passes fill, indexed by logical text or image.
type outputs struct {
	t2iRank, t2iTop []int
	i2tRanks        [][]int
	i2tTop          []int
}

// newProblem checks in and prepares its unit rows and relevant scores.
func newProblem(in Input, workers int) (*problem, error) {
	if err := metrics.CheckEmbeddings("text", in.Texts, -1); err != nil {
		return nil, fmt.Errorf("ranking: %w", err)
	}
	if err := metrics.CheckEmbeddings("image", in.Images, -1); err != nil {
		return nil, fmt.Errorf("ranking: %w", err)
	}
	p := &problem{texts: in.Texts, images: in.Images, textImage: in.TextImage, workers: max(workers, 1)}
	var err error
	if p.textRow, err = rowMap("text", in.TextRows, in.Texts.Rows); err != nil {
		return nil, err
	}
	if p.imageRow, err = rowMap("image", in.ImageRows, in.Images.Rows); err != nil {
		return nil, err
	}
	nT, nI := len(p.textRow), len(p.imageRow)
	switch {
	case nT > 0 && nI > 0 && in.Texts.Cols != in.Images.Cols:
		return nil, fmt.Errorf("ranking: text embeddings have width %d, image embeddings %d", in.Texts.Cols, in.Images.Cols)
	case len(in.TextImage) != nT:
		return nil, fmt.Errorf("ranking: %d relevant images for %d texts", len(in.TextImage), nT)
	case len(in.TextQueries) > 0 && nI == 0:
		return nil, fmt.Errorf("ranking: %d text queries but the image gallery is empty", len(in.TextQueries))
	case len(in.ImageQueries) > 0 && nT == 0:
		return nil, fmt.Errorf("ranking: %d image queries but the text gallery is empty", len(in.ImageQueries))
	}
	p.d = max(in.Texts.Cols, in.Images.Cols)
	if p.d > maxWidth {
		return nil, fmt.Errorf("ranking: width %d is over %d, where the float32 error bound no longer holds", p.d, maxWidth)
	}
	p.captions = make([][]int, nI)
	for t, i := range in.TextImage {
		if i < 0 || i >= nI {
			return nil, fmt.Errorf("ranking: text %d's image is %d of %d", t, i, nI)
		}
		p.captions[i] = append(p.captions[i], t)
	}
	for _, q := range []struct {
		what string
		idx  []int
		n    int
	}{{"text", in.TextQueries, nT}, {"image", in.ImageQueries, nI}} {
		for j, x := range q.idx {
			if x < 0 || x >= q.n {
				return nil, fmt.Errorf("ranking: %s query %d is %s %d of %d", q.what, j, q.what, x, q.n)
			}
		}
	}
	p.bound = ErrorBound(p.d)
	p.t32 = p.unit32(in.Texts, p.textRow)
	p.i32 = p.unit32(in.Images, p.imageRow)
	p.ref = make([]float64, nT)
	p.parallel(nT, func(lo, hi int) {
		a, b := make([]float64, p.d), make([]float64, p.d)
		for t := lo; t < hi; t++ {
			p.ref[t] = metrics.Dot(p.unitText(a, t), p.unitImage(b, p.textImage[t]))
		}
	})
	return p, nil
}

// rowMap returns rows checked against n rows, or the identity over n when rows is nil.
func rowMap(what string, rows []int, n int) ([]int, error) {
	if rows == nil {
		rows = make([]int, n)
		for i := range rows {
			rows[i] = i
		}
		return rows, nil
	}
	for i, r := range rows {
		if r < 0 || r >= n {
			return nil, fmt.Errorf("ranking: %s %d maps to embedding row %d of %d", what, i, r, n)
		}
	}
	return rows, nil
}

// unit32 returns the float32 roundings of the float64 unit rows m.Row(rows[i]), in order.
func (p *problem) unit32(m sdk.Matrix, rows []int) []float32 {
	out := make([]float32, len(rows)*p.d)
	p.parallel(len(rows), func(lo, hi int) {
		buf := make([]float64, p.d)
		for i := lo; i < hi; i++ {
			for k, x := range metrics.NormalizeInto(buf, m.Row(rows[i])) {
				out[i*p.d+k] = float32(x)
			}
		}
	})
	return out
}

// unitText writes text t's float64 unit row into buf and returns it (metrics.Normalize, bit for bit).
func (p *problem) unitText(buf []float64, t int) []float64 {
	return metrics.NormalizeInto(buf, p.texts.Row(p.textRow[t]))
}

// unitImage writes image i's float64 unit row into buf and returns it (metrics.Normalize, bit for bit).
func (p *problem) unitImage(buf []float64, i int) []float64 {
	return metrics.NormalizeInto(buf, p.images.Row(p.imageRow[i]))
}

// parallel runs f over n items split into one contiguous range per worker.
func (p *problem) parallel(n int, f func(lo, hi int)) {
	w := min(p.workers, max(n, 1))
	per := (n + w - 1) / w
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		wg.Go(func() { f(lo, min(lo+per, n)) })
	}
	wg.Wait()
}

// distinct returns the distinct values of idx, ascending.
func distinct(idx []int) []int {
	out := slices.Clone(idx)
	slices.Sort(out)
	return slices.Compact(out)
}

// mask returns n flags, set at idx.
func mask(n int, idx []int) []bool {
	m := make([]bool, n)
	for _, i := range idx {
		m[i] = true
	}
	return m
}

// up32 returns the least float32 ≥ x, down32 the greatest float32 ≤ x.
func up32(x float64) float32 {
	f := float32(x)
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

func down32(x float64) float32 {
	f := float32(x)
	if float64(f) > x {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

// better reports whether score s of item i ranks before score best of item j: higher, or equal and a lower index.
func better(s float64, i int, best float64, j int) bool {
	return s > best || (s == best && i < j)
}

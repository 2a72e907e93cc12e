// Package metrics holds the pure metric functions the benchmark tasks share: embedding normalisation, cosine
// similarity, deterministic ranking, zero-shot classification, retrieval and accuracy metrics, and the glue to
// the stats package: bootstrap intervals and per-item values of those metrics, and the options and modes every
// task shares.
//
// Every function computes in float64 from the float32 embeddings the model returns, never panics on bad input
// (it returns an error instead) and breaks ties deterministically: among equal scores the lower index ranks first.
package metrics

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// CheckEmbeddings reports an error naming what and the first bad row when m's shape does not hold together, its
// row count is not rows (rows < 0 skips that check), or it holds a NaN or infinite value.
func CheckEmbeddings(what string, m sdk.Matrix, rows int) error {
	if err := m.Check(); err != nil {
		return fmt.Errorf("%s embeddings: %w", what, err)
	}
	if rows >= 0 && m.Rows != rows {
		return fmt.Errorf("%s embeddings: got %d rows, the loaded dataset needs %d (one per %s, in Load's order)",
			what, m.Rows, rows, what)
	}
	if m.Rows > 0 && m.Cols == 0 {
		return fmt.Errorf("%s embeddings have width 0", what)
	}
	for i, v := range m.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s embeddings: row %d holds %v; the model output is not finite", what, i/m.Cols, v)
		}
	}
	return nil
}

// Normalize returns v divided by its L2 norm, in float64. A zero vector stays zero (torch's F.normalize clamps the
// norm the same way instead of dividing by zero).
func Normalize(v []float32) []float64 {
	return NormalizeInto(make([]float64, len(v)), v)
}

// NormalizeInto writes Normalize(v) into dst[:len(v)], bit for bit, and returns that slice; dst must hold len(v)
// values. It lets a caller that normalises one row at a time (the blocked retrieval ranking's float64 re-checks)
// reuse a buffer and still get today's values exactly.
func NormalizeInto(dst []float64, v []float32) []float64 {
	out := dst[:len(v)]
	var ss float64
	for i, x := range v {
		out[i] = float64(x)
		ss += out[i] * out[i]
	}
	if ss == 0 {
		return out
	}
	n := math.Sqrt(ss)
	for i := range out {
		out[i] /= n
	}
	return out
}

// NormalizeRows returns every row of m L2-normalised (see Normalize).
func NormalizeRows(m sdk.Matrix) ([][]float64, error) {
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("normalising rows: %w", err)
	}
	out := make([][]float64, m.Rows)
	for i := range out {
		out[i] = Normalize(m.Row(i))
	}
	return out, nil
}

// Dot returns the dot product of two equally long vectors (it reads min(len(a), len(b)) values).
func Dot(a, b []float64) float64 {
	var s float64
	for i := range min(len(a), len(b)) {
		s += a[i] * b[i]
	}
	return s
}

// scaledProducts returns scale · a_i · b_j for every pair of rows, rows of a spread over the available CPUs.
func scaledProducts(a, b [][]float64, scale float64) [][]float64 {
	out := make([][]float64, len(a))
	workers := min(runtime.GOMAXPROCS(0), max(len(a), 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(a); i += workers {
				row := make([]float64, len(b))
				for j := range b {
					row[j] = scale * Dot(a[i], b[j])
				}
				out[i] = row
			}
		})
	}
	wg.Wait()
	return out
}

// ClassEmbeddings builds zero-shot class weights as CLIP_benchmark's zero_shot_classifier does
// (zeroshot_classification.py): for class c, the text embeddings of rows groups[c] (one per prompt template) are
// each L2-normalised, averaged, and the mean is L2-normalised again.
func ClassEmbeddings(texts sdk.Matrix, groups [][]int) ([][]float64, error) {
	if err := texts.Check(); err != nil {
		return nil, fmt.Errorf("class embeddings: %w", err)
	}
	out := make([][]float64, len(groups))
	for c, rows := range groups {
		if len(rows) == 0 {
			return nil, fmt.Errorf("class embeddings: class %d has no prompt texts", c)
		}
		mean := make([]float64, texts.Cols)
		for _, r := range rows {
			if r < 0 || r >= texts.Rows {
				return nil, fmt.Errorf("class embeddings: class %d names text row %d of %d", c, r, texts.Rows)
			}
			for k, x := range Normalize(texts.Row(r)) {
				mean[k] += x
			}
		}
		for k := range mean {
			mean[k] /= float64(len(rows))
		}
		out[c] = normalize64(mean)
	}
	return out, nil
}

// normalize64 scales v in place to unit L2 norm (a zero vector stays zero) and returns it.
func normalize64(v []float64) []float64 {
	n := math.Sqrt(Dot(v, v))
	if n == 0 {
		return v
	}
	for i := range v {
		v[i] /= n
	}
	return v
}

// ZeroShotLogits returns the zero-shot classification logits of CLIP_benchmark (zeroshot_classification.py, run
// with the model's logit scale): logits[i][c] = scale · (image_i / ||image_i||) · classes[c], where classes are the
// unit class weights from ClassEmbeddings.
func ZeroShotLogits(images sdk.Matrix, classes [][]float64, scale float64) ([][]float64, error) {
	for c, w := range classes {
		if len(w) != images.Cols {
			return nil, fmt.Errorf("zero-shot logits: class %d weights have width %d, image embeddings %d",
				c, len(w), images.Cols)
		}
	}
	ni, err := NormalizeRows(images)
	if err != nil {
		return nil, err
	}
	return scaledProducts(ni, classes, scale), nil
}

// CheckScoreRequest validates a ScoreRequest's embeddings against the numbers of images and texts the dataset's
// Load returned: shapes, row counts, finite values and equal widths of the two towers.
func CheckScoreRequest(req sdk.ScoreRequest, images, texts int) error {
	if err := CheckEmbeddings("image", req.ImageEmbeddings, images); err != nil {
		return err
	}
	if err := CheckEmbeddings("text", req.TextEmbeddings, texts); err != nil {
		return err
	}
	if images > 0 && texts > 0 && req.ImageEmbeddings.Cols != req.TextEmbeddings.Cols {
		return fmt.Errorf("image embeddings have width %d but text embeddings %d; both towers must project to the same space",
			req.ImageEmbeddings.Cols, req.TextEmbeddings.Cols)
	}
	return nil
}

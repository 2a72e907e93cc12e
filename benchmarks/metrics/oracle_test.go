package metrics

import (
	"fmt"
	"slices"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// This file holds the tests' reference implementations: the full N×N score matrix and ranks computed from it,
// which the rankings of the tasks must reproduce exactly.

// cosineMatrix returns the cosine similarity of every row of a with every row of b: out[i][j] = â_i · b̂_j with
// both rows L2-normalised. Rows are computed in parallel; the result does not depend on the number of workers.
func cosineMatrix(a, b sdk.Matrix) ([][]float64, error) {
	if a.Cols != b.Cols {
		return nil, fmt.Errorf("cosine similarity: embedding widths differ (%d and %d)", a.Cols, b.Cols)
	}
	na, err := NormalizeRows(a)
	if err != nil {
		return nil, err
	}
	nb, err := NormalizeRows(b)
	if err != nil {
		return nil, err
	}
	return scaledProducts(na, nb, 1), nil
}

// retrievalRanks holds, for image-text retrieval, where the relevant items land in each ranking. Rankings order
// by descending cosine score, equal scores by lower index first (stable order); ranks are 0-based.
type retrievalRanks struct {
	// TextToImage is, for each text, the rank of its image among all images (text → image retrieval).
	TextToImage []int
	// ImageToText is, for each image, the ranks of its texts among all texts, ascending (image → text
	// retrieval); empty for an image without texts.
	ImageToText [][]int
}

// ranks computes the retrievalRanks from scores (one row per text, one column per image) and the image of each
// text.
func ranks(scores [][]float64, textImage []int) (*retrievalRanks, error) {
	if len(scores) != len(textImage) {
		return nil, fmt.Errorf("retrieval ranks: %d score rows for %d texts", len(scores), len(textImage))
	}
	if len(scores) == 0 || len(scores[0]) == 0 {
		return nil, fmt.Errorf("retrieval ranks: no texts or no images")
	}
	ni := len(scores[0])
	r := &retrievalRanks{TextToImage: make([]int, len(scores)), ImageToText: make([][]int, ni)}
	for t, row := range scores {
		if len(row) != ni {
			return nil, fmt.Errorf("retrieval ranks: score row %d has %d images, row 0 has %d", t, len(row), ni)
		}
		img := textImage[t]
		if img < 0 || img >= ni {
			return nil, fmt.Errorf("retrieval ranks: text %d names image %d of %d", t, img, ni)
		}
		r.TextToImage[t], _ = Rank(row, img)
	}
	// Image → text: the column of image i, ranking text t: entries above it in score, or equal with lower index.
	for t, img := range textImage {
		s := scores[t][img]
		rank := 0
		for u := range scores {
			if v := scores[u][img]; v > s || (v == s && u < t) {
				rank++
			}
		}
		r.ImageToText[img] = append(r.ImageToText[img], rank)
	}
	for _, ranks := range r.ImageToText {
		slices.Sort(ranks)
	}
	return r, nil
}

// firstRanks returns FirstRanks of the image → text ranks.
func (r *retrievalRanks) firstRanks() []int { return FirstRanks(r.ImageToText) }

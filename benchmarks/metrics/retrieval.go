package metrics

import (
	"fmt"
	"math"
	"slices"
)

// NoRank is the rank of an image that has no texts: it is never within any top k.
const NoRank = math.MaxInt

// RetrievalRanks holds, for image-text retrieval, where the relevant items land in each ranking. Rankings order
// by descending cosine score, equal scores by lower index first (stable order); ranks are 0-based.
type RetrievalRanks struct {
	// TextToImage is, for each text, the rank of its image among all images (text → image retrieval).
	TextToImage []int
	// ImageToText is, for each image, the ranks of its texts among all texts, ascending (image → text
	// retrieval); empty for an image without texts.
	ImageToText [][]int
}

// Ranks computes the RetrievalRanks from scores (one row per text, one column per image) and the image of each
// text.
func Ranks(scores [][]float64, textImage []int) (*RetrievalRanks, error) {
	if len(scores) != len(textImage) {
		return nil, fmt.Errorf("retrieval ranks: %d score rows for %d texts", len(scores), len(textImage))
	}
	if len(scores) == 0 || len(scores[0]) == 0 {
		return nil, fmt.Errorf("retrieval ranks: no texts or no images")
	}
	ni := len(scores[0])
	r := &RetrievalRanks{TextToImage: make([]int, len(scores)), ImageToText: make([][]int, ni)}
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

// FirstRanks returns, for each image, the rank of its best-ranked text (NoRank for an image without texts).
func (r *RetrievalRanks) FirstRanks() []int {
	out := make([]int, len(r.ImageToText))
	for i, ranks := range r.ImageToText {
		out[i] = NoRank
		if len(ranks) > 0 {
			out[i] = ranks[0]
		}
	}
	return out
}

// Hits returns each query's hit@k: 1 when its first relevant item ranks within the top k (0-based rank < k), else
// 0 (NoRank never does). Their mean is HitRate; the same per-item values serve top-k accuracy (ranks of the true
// class) and the bootstrap.
func Hits(ranks []int, k int) []float64 {
	out := make([]float64, len(ranks))
	for q, r := range ranks {
		if r < k {
			out[q] = 1
		}
	}
	return out
}

// HitRate returns the share of queries whose first relevant item ranks within the top k (rank < k), the mean of
// Hits: the recall@k of CLIP_benchmark zeroshot_retrieval and of CLIP papers. With TextToImage it is
// image_retrieval_recall@k (averaged over texts); with FirstRanks it is text_retrieval_recall@k (an image counts
// when any of its texts is in its top k, averaged over images). NaN for no queries. (Mean sums the 0/1 values
// exactly, so this is the hit count over the query count, bit for bit.)
func HitRate(ranks []int, k int) float64 { return Mean(Hits(ranks, k)) }

// TrueRecalls returns each query's |relevant ∩ top k| / |relevant| (DESIGN.md "true recall"; 0 for a query without
// relevant items), from the 0-based ranks of its relevant items. Their mean is TrueRecall.
func TrueRecalls(ranks [][]int, k int) []float64 {
	out := make([]float64, len(ranks))
	for q, rs := range ranks {
		in := 0
		for _, r := range rs {
			if r < k {
				in++
			}
		}
		if len(rs) > 0 {
			out[q] = float64(in) / float64(len(rs))
		}
	}
	return out
}

// TrueRecall returns the mean of TrueRecalls (DESIGN.md "true recall"). With ImageToText it is
// text_retrieval_true_recall@k. NaN for no queries.
func TrueRecall(ranks [][]int, k int) float64 { return Mean(TrueRecalls(ranks, k)) }

// Reciprocals returns each query's reciprocal rank of its first relevant item, 1/(rank+1) with 0-based ranks (0
// for NoRank: no relevant item). Their mean is MRR.
func Reciprocals(first []int) []float64 {
	out := make([]float64, len(first))
	for q, r := range first {
		if r != NoRank {
			out[q] = 1 / float64(r+1)
		}
	}
	return out
}

// MRR returns the mean reciprocal rank of the first relevant item, the mean of Reciprocals (as retrieval papers
// report it). NaN for no queries.
func MRR(first []int) float64 { return Mean(Reciprocals(first)) }

// MedianRank returns the median 1-based rank of the first relevant item (the "MedR" of retrieval papers); with an
// even count the mean of the two middle ranks, as numpy's median. A query without a relevant item ranks +Inf. NaN
// for no queries.
func MedianRank(first []int) float64 {
	if len(first) == 0 {
		return math.NaN()
	}
	v := make([]float64, len(first))
	for q, r := range first {
		v[q] = math.Inf(1)
		if r != NoRank {
			v[q] = float64(r + 1)
		}
	}
	slices.Sort(v)
	m := len(v) / 2
	if len(v)%2 == 1 {
		return v[m]
	}
	return (v[m-1] + v[m]) / 2
}

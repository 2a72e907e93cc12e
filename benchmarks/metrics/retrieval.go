package metrics

import (
	"math"
	"slices"
)

// NoRank is the rank of an image that has no texts: it is never within any top k.
const NoRank = math.MaxInt

// FirstRanks returns, for each image query, the 0-based rank of its best-ranked text given the ranks of its texts
// (ascending, as rank.Retrieve returns them after sorting), NoRank for an image without texts.
func FirstRanks(imageToText [][]int) []int {
	out := make([]int, len(imageToText))
	for i, ranks := range imageToText {
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

package metrics

import (
	"math"
	"slices"
)

// NoRank is the rank of an image that has no texts: it is never within any top k.
const NoRank = math.MaxInt

// FirstRanks returns, for each image, the rank of its best-ranked text (NoRank for an image without texts), given
// the ascending ranks of each image's texts in its image → text ranking (QueryRanks): the ranks text_retrieval
// hit rates count.
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

// HitRate returns the share of queries whose first relevant item ranks within the top k (rank < k): the
// recall@k of CLIP_benchmark zeroshot_retrieval and of CLIP papers. With the text → image ranks it is
// image_retrieval_recall@k (averaged over texts); with FirstRanks it is text_retrieval_recall@k (an image counts
// when any of its texts is in its top k, averaged over images). NaN for no queries.
func HitRate(ranks []int, k int) float64 {
	if len(ranks) == 0 {
		return math.NaN()
	}
	hits := 0
	for _, r := range ranks {
		if r < k {
			hits++
		}
	}
	return float64(hits) / float64(len(ranks))
}

// TrueRecall returns the mean over queries of |relevant ∩ top k| / |relevant| (DESIGN.md "true recall"; a query
// without relevant items counts 0). With ImageToText it is text_retrieval_true_recall@k. NaN for no queries.
func TrueRecall(ranks [][]int, k int) float64 {
	if len(ranks) == 0 {
		return math.NaN()
	}
	per := make([]float64, len(ranks))
	for q, rs := range ranks {
		in := 0
		for _, r := range rs {
			if r < k {
				in++
			}
		}
		if len(rs) > 0 {
			per[q] = float64(in) / float64(len(rs))
		}
	}
	return Mean(per)
}

// MRR returns the mean reciprocal rank of the first relevant item, 1/(rank+1) with 0-based ranks (a query without
// one counts 0). NaN for no queries.
func MRR(first []int) float64 {
	if len(first) == 0 {
		return math.NaN()
	}
	per := make([]float64, len(first))
	for q, r := range first {
		if r != NoRank {
			per[q] = 1 / float64(r+1)
		}
	}
	return Mean(per)
}

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

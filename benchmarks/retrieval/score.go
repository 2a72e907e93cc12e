package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// ks are the k of recall@k CLIP_benchmark zeroshot_retrieval reports.
var ks = []int{1, 5, 10}

// Streams of the PCG generator drawing the query subsets, one per direction.
const (
	streamTextQueries  = 1
	streamImageQueries = 2
)

// Score ranks images for caption queries and captions for image queries by cosine similarity (each query against
// the whole gallery; equal scores rank the lower index, manifest order, first) and reports, for k in 1, 5, 10:
//   - image_retrieval_recall@k (text → image): the share of caption queries whose image is among the k most
//     similar images (hit rate; CLIP_benchmark zeroshot_retrieval);
//   - text_retrieval_recall@k (image → text): the share of image queries with at least one of their captions
//     among the k most similar captions (hit rate; CLIP_benchmark zeroshot_retrieval);
//   - text_retrieval_true_recall@k: the mean over image queries of |own captions ∩ top k| / |own captions|
//     (DESIGN.md "true recall"); image_retrieval_true_recall@k, the same for caption queries, equals the hit rate
//     (one relevant image per caption) and is reported under its own name for symmetry;
//   - image_retrieval_mrr, text_retrieval_mrr: the mean over queries of 1/rank of the first relevant item (1-based);
//   - image_retrieval_median_rank, text_retrieval_median_rank: the median 1-based rank of the first relevant item;
//
// plus the curves recall@k for k = 1..min(max_k, gallery size) both ways, the top-1 outcome of every query, the
// per-query values of recall@k, true recall@k and MRR (ItemValues), and 95% bootstrap intervals of those means
// (queries resampled, one bootstrap per direction). With the queries option, each direction evaluates a seeded
// random subset of that many queries (the same for every model) against the full gallery; no score matrix is kept.
func (t *task) Score(_ context.Context, req sdk.ScoreRequest) (*sdk.Scores, error) {
	l, err := t.loaded.Get(req.DatasetID)
	if err != nil {
		return nil, err
	}
	if err := metrics.CheckScoreRequest(req, l.images, l.texts); err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	textRows, err := metrics.NormalizeRows(req.TextEmbeddings)
	if err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	imageRows, err := metrics.NormalizeRows(req.ImageEmbeddings)
	if err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	texts, images := pick(textRows, l.textRow), pick(imageRows, l.imageRow)
	captionsOf := make([][]int, len(images))
	for ti, img := range l.textImage {
		captionsOf[img] = append(captionsOf[img], ti)
	}

	// Text → image: each caption query's one relevant image.
	textQ := querySubset(len(texts), l.queries, l.stats.Seed, streamTextQueries)
	relevant := make([][]int, len(textQ))
	for q, ti := range textQ {
		relevant[q] = []int{l.textImage[ti]}
	}
	ranks, textTop, err := metrics.QueryRanks(pick(texts, textQ), images, relevant)
	if err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	t2i := make([]int, len(textQ))
	for q, r := range ranks {
		t2i[q] = r[0]
	}

	// Image → text: each image query's captions, ranks ascending.
	imageQ := querySubset(len(images), l.queries, l.stats.Seed, streamImageQueries)
	relevant = make([][]int, len(imageQ))
	for q, i := range imageQ {
		relevant[q] = captionsOf[i]
	}
	i2t, imageTop, err := metrics.QueryRanks(pick(images, imageQ), texts, relevant)
	if err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	best := make([]int, len(imageQ)) // each image query's best-ranked own caption (−1: none)
	for q, r := range i2t {
		best[q] = -1
		if len(r) > 0 {
			best[q] = relevant[q][slices.Index(r, slices.Min(r))]
		}
		slices.Sort(r)
	}
	first := metrics.FirstRanks(i2t)

	s := &sdk.Scores{Mode: metrics.ModeZeroShot, Metrics: map[string]float64{
		"image_retrieval_mrr":         metrics.MRR(t2i),
		"text_retrieval_mrr":          metrics.MRR(first),
		"image_retrieval_median_rank": metrics.MedianRank(t2i),
		"text_retrieval_median_rank":  metrics.MedianRank(first),
	}}
	t2iItems := map[string][]float64{"image_retrieval_mrr": reciprocal(t2i)}
	i2tItems := map[string][]float64{"text_retrieval_mrr": reciprocal(first)}
	for _, k := range ks {
		t2iName, i2tName := fmt.Sprintf("image_retrieval_recall@%d", k), fmt.Sprintf("text_retrieval_recall@%d", k)
		s.Headline = append(s.Headline, t2iName, i2tName)
		s.Metrics[t2iName] = metrics.HitRate(t2i, k)
		s.Metrics[i2tName] = metrics.HitRate(first, k)
		s.Metrics[fmt.Sprintf("image_retrieval_true_recall@%d", k)] = s.Metrics[t2iName]
		s.Metrics[fmt.Sprintf("text_retrieval_true_recall@%d", k)] = metrics.TrueRecall(i2t, k)
		t2iItems[t2iName] = hits(t2i, k)
		i2tItems[i2tName] = hits(first, k)
		i2tItems[fmt.Sprintf("text_retrieval_true_recall@%d", k)] = trueRecalls(i2t, k)
	}
	for _, items := range []map[string][]float64{t2iItems, i2tItems} {
		metrics.AddItemValues(s, "", items)
		iv, err := stats.MeanIntervals(items, l.stats)
		if err != nil {
			return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
		}
		metrics.AddIntervals(s, "", iv)
	}
	for _, k := range ks { // true recall text → image is the hit rate, and so is its interval
		if iv, ok := s.Intervals[fmt.Sprintf("image_retrieval_recall@%d", k)]; ok {
			s.Intervals[fmt.Sprintf("image_retrieval_true_recall@%d", k)] = iv
		}
	}
	s.Curves = []sdk.Curve{
		recallCurve("image_retrieval_recall@k", t2i, min(l.maxK, len(images))),
		recallCurve("text_retrieval_recall@k", first, min(l.maxK, len(texts))),
	}
	for q, ti := range textQ {
		top := textTop[q]
		s.Predictions = append(s.Predictions, sdk.Prediction{Item: l.captions[ti], Truth: l.names[l.textImage[ti]],
			Predicted: l.names[top], Correct: top == l.textImage[ti], Group: "image_retrieval"})
	}
	for q, i := range imageQ {
		top := imageTop[q]
		p := sdk.Prediction{Item: l.names[i], Predicted: l.captions[top], Correct: l.textImage[top] == i,
			Group: "text_retrieval"}
		if best[q] >= 0 {
			p.Truth = l.captions[best[q]]
		}
		s.Predictions = append(s.Predictions, p)
	}
	return s, nil
}

// pick returns rows[idx[i]] for each i, sharing the rows.
func pick(rows [][]float64, idx []int) [][]float64 {
	out := make([][]float64, len(idx))
	for i, j := range idx {
		out[i] = rows[j]
	}
	return out
}

// querySubset returns the queries to evaluate out of n: all of them when want is 0 or at least n, otherwise want
// of them drawn without replacement by PCG(seed, stream) (a partial Fisher–Yates shuffle), in ascending order.
func querySubset(n, want int, seed, stream uint64) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if want <= 0 || want >= n {
		return idx
	}
	r := rand.New(rand.NewPCG(seed, stream))
	for i := range want {
		j := i + r.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	idx = idx[:want]
	slices.Sort(idx)
	return idx
}

// hits returns 1 for each rank below k and 0 otherwise: a query's hit@k, whose mean is metrics.HitRate.
func hits(ranks []int, k int) []float64 {
	out := make([]float64, len(ranks))
	for q, r := range ranks {
		if r < k {
			out[q] = 1
		}
	}
	return out
}

// reciprocal returns 1/(rank+1) for each 0-based rank (0 for metrics.NoRank): the terms of metrics.MRR.
func reciprocal(ranks []int) []float64 {
	out := make([]float64, len(ranks))
	for q, r := range ranks {
		if r != metrics.NoRank {
			out[q] = 1 / float64(r+1)
		}
	}
	return out
}

// trueRecalls returns each query's |relevant ∩ top k| / |relevant| (0 without relevant items): the terms of
// metrics.TrueRecall.
func trueRecalls(ranks [][]int, k int) []float64 {
	out := make([]float64, len(ranks))
	for q, rs := range ranks {
		for _, r := range rs {
			if r < k {
				out[q]++
			}
		}
		if len(rs) > 0 {
			out[q] /= float64(len(rs))
		}
	}
	return out
}

// recallCurve is the hit rate of ranks at k = 1..maxK.
func recallCurve(curve string, ranks []int, maxK int) sdk.Curve {
	c := sdk.Curve{Name: curve, XLabel: "k", YLabel: "recall@k"}
	for k := 1; k <= maxK; k++ {
		c.X = append(c.X, float64(k))
		c.Y = append(c.Y, metrics.HitRate(ranks, k))
	}
	return c
}

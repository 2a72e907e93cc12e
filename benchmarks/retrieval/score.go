package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/benchmarks/rank"
	"github.com/clipeval/clipeval/plugins/sdk"
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
// per-query values of recall@k, true recall@k and MRR (each metric's ItemValues, whose mean is its value), and 95%
// bootstrap intervals of those means (queries resampled, one bootstrap per direction). The embeddings are read,
// never written, and not kept. The ranks come from rank.Retrieve: one blocked pass over the similarity matrix
// (float32 GEMM tiles, re-checked in float64 wherever float32 cannot decide, so the ranks are those of float64
// cosines exactly), memory O(N·d + tile), never N×N. With the queries option, each direction evaluates a seeded
// random subset of that many queries (the same for every model) against the full gallery.
func (t *task) Score(ctx context.Context, req sdk.ScoreRequest) (*sdk.Scores, error) {
	l, err := t.loaded.Get(req.DatasetID)
	if err != nil {
		return nil, err
	}
	if err := metrics.CheckScoreRequest(req, l.images, l.texts); err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	if len(req.SkippedImages) > 0 {
		kept, err := req.KeptImages(l.images)
		if err != nil {
			return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
		}
		l = l.without(kept)
	}
	captionsOf := make([][]int, len(l.imageRow))
	for ti, img := range l.textImage {
		captionsOf[img] = append(captionsOf[img], ti)
	}
	textQ := querySubset(len(l.textRow), l.queries, l.stats.Seed, streamTextQueries)
	imageQ := querySubset(len(l.imageRow), l.queries, l.stats.Seed, streamImageQueries)
	// Both directions from one blocked pass: text → image ranks each caption query's one image, image → text each
	// image query's captions (in caption order).
	r, err := rank.Retrieve(ctx, rank.Input{Texts: req.TextEmbeddings, Images: req.ImageEmbeddings,
		TextRows: l.textRow, ImageRows: l.imageRow, TextImage: l.textImage, TextQueries: textQ, ImageQueries: imageQ})
	if err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	t2i, textTop, i2t, imageTop := r.TextToImage, r.TextTop, r.ImageToText, r.ImageTop
	best := make([]int, len(imageQ)) // each image query's best-ranked own caption (−1: none)
	for q, rs := range i2t {
		best[q] = -1
		if len(rs) > 0 {
			best[q] = captionsOf[imageQ[q]][slices.Index(rs, slices.Min(rs))]
		}
		slices.Sort(rs)
	}
	first := metrics.FirstRanks(i2t)

	s := &sdk.Scores{Mode: metrics.ModeZeroShot}
	var t2iNames, i2tNames []string // the item-mean metrics of each direction, bootstrapped together
	for _, k := range ks {
		t2iName, i2tName := fmt.Sprintf("image_retrieval_recall@%d", k), fmt.Sprintf("text_retrieval_recall@%d", k)
		s.Headline = append(s.Headline, t2iName, i2tName)
		// Hit rate, CLIP_benchmark zeroshot_retrieval: per caption query, 1 when its image is in the top k.
		s.Add(metrics.NewMean(t2iName, metrics.Hits(t2i, k), sdk.HigherIsBetter, sdk.Fraction,
			fmt.Sprintf("text → image: share of caption queries whose image is among the %d most similar (CLIP_benchmark)", k)))
		// Hit rate, CLIP_benchmark zeroshot_retrieval: per image query, 1 when any of its captions is in the top k.
		s.Add(metrics.NewMean(i2tName, metrics.Hits(first, k), sdk.HigherIsBetter, sdk.Fraction,
			fmt.Sprintf("image → text: share of image queries with one of their captions among the %d most similar (CLIP_benchmark)", k)))
		t2iNames, i2tNames = append(t2iNames, t2iName), append(i2tNames, i2tName)
	}
	for _, k := range ks {
		// True recall (DESIGN.md): one relevant image per caption, so it is the hit rate, by value and interval;
		// it carries no item values of its own (those are the hit rate's).
		s.Add(metrics.New(fmt.Sprintf("image_retrieval_true_recall@%d", k), s.Value(fmt.Sprintf("image_retrieval_recall@%d", k)),
			sdk.HigherIsBetter, sdk.Fraction, fmt.Sprintf("text → image true recall@%d: equals image_retrieval_recall@%d (one image per caption)", k, k)))
		// True recall (DESIGN.md): per image query, |own captions ∩ top k| / |own captions|.
		name := fmt.Sprintf("text_retrieval_true_recall@%d", k)
		s.Add(metrics.NewMean(name, metrics.TrueRecalls(i2t, k), sdk.HigherIsBetter, sdk.Fraction,
			fmt.Sprintf("image → text: mean share of an image's captions among the %d most similar (DESIGN.md true recall)", k)))
		i2tNames = append(i2tNames, name)
	}
	// MRR, as retrieval papers report it: the mean of 1/rank of the first relevant item (1-based).
	s.Add(metrics.NewMean("image_retrieval_mrr", metrics.Reciprocals(t2i), sdk.HigherIsBetter, sdk.Fraction,
		"text → image mean reciprocal rank of the caption's image"))
	s.Add(metrics.NewMean("text_retrieval_mrr", metrics.Reciprocals(first), sdk.HigherIsBetter, sdk.Fraction,
		"image → text mean reciprocal rank of the image's best-ranked caption"))
	t2iNames, i2tNames = append(t2iNames, "image_retrieval_mrr"), append(i2tNames, "text_retrieval_mrr")
	// Median rank (MedR of retrieval papers): the median 1-based rank of the first relevant item, numpy's median.
	s.Add(metrics.New("image_retrieval_median_rank", metrics.MedianRank(t2i), sdk.LowerIsBetter, sdk.Rank,
		"text → image median 1-based rank of the caption's image (MedR)"))
	s.Add(metrics.New("text_retrieval_median_rank", metrics.MedianRank(first), sdk.LowerIsBetter, sdk.Rank,
		"image → text median 1-based rank of the image's best-ranked caption (MedR)"))
	for _, names := range [][]string{t2iNames, i2tNames} {
		if err := metrics.AddMeanIntervals(s, names, l.stats); err != nil {
			return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
		}
	}
	for _, k := range ks { // true recall text → image is the hit rate, and so is its interval
		if iv := s.Metric(fmt.Sprintf("image_retrieval_recall@%d", k)).Interval; iv != nil {
			s.Metric(fmt.Sprintf("image_retrieval_true_recall@%d", k)).Interval = &sdk.Interval{Low: iv.Low, High: iv.High}
		}
	}
	s.Curves = []sdk.Curve{
		recallCurve("image_retrieval_recall@k", t2i, min(l.maxK, len(l.imageRow))),
		recallCurve("text_retrieval_recall@k", first, min(l.maxK, len(l.textRow))),
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

// recallCurve is the hit rate of ranks at k = 1..maxK.
func recallCurve(curve string, ranks []int, maxK int) sdk.Curve {
	c := sdk.Curve{Name: curve, XLabel: "k", YLabel: "recall@k"}
	for k := 1; k <= maxK; k++ {
		c.X = append(c.X, float64(k))
		c.Y = append(c.Y, metrics.HitRate(ranks, k))
	}
	return c
}

package main

import (
	"context"
	"fmt"

	"github.com/clipeval/clipeval/benchmarks/datasets"
	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// name is the task's name in configs and reports.
const name = "retrieval"

// task is the zero-shot image–text retrieval task. Its zero value is ready; Load may be called many times.
type task struct {
	loaded datasets.Store[loaded]
}

// datasetConfig is the task's `dataset:` mapping.
type datasetConfig struct {
	Format   string `json:"format"`
	Manifest string `json:"manifest"`
}

// options is the task's `options:` mapping.
type options struct {
	MaxK int `json:"max_k"`
}

// loaded is what Load keeps for Score. Logical images are manifest lines, logical texts their captions in order;
// both map to rows of the deduplicated embedding matrices.
type loaded struct {
	names     []string // manifest image name of each logical image
	captions  []string // each logical text
	imageRow  []int    // logical image → embedding row
	textRow   []int    // logical text → embedding row
	textImage []int    // logical text → logical image
	images    int      // distinct images (embedding rows)
	texts     int      // distinct texts (embedding rows)
	maxK      int
}

// Info describes the task and its config keys.
func (t *task) Info(context.Context) (*sdk.TaskInfo, error) {
	return &sdk.TaskInfo{
		Name:        name,
		Description: "zero-shot image-text retrieval: recall@k both ways (CLIP_benchmark zeroshot_retrieval)",
		DatasetFields: []sdk.Field{
			{Name: "format", Type: sdk.FieldString, Required: true, Choices: []string{"jsonl"},
				Help: "dataset format: jsonl, one {\"image\": ..., \"captions\": [...]} object a line"},
			{Name: "manifest", Type: sdk.FieldPath, Required: true,
				Help: "the JSON Lines manifest; image paths are relative to its folder"},
		},
		OptionFields: []sdk.Field{
			{Name: "max_k", Type: sdk.FieldInt, Help: "largest k of the recall@k curves (default 10)"},
		},
	}, nil
}

// Load reads the manifest and lists the distinct images and captions to encode.
func (t *task) Load(_ context.Context, req sdk.LoadRequest) (*sdk.Dataset, error) {
	var dc datasetConfig
	if err := datasets.Decode("retrieval dataset", req.Dataset, &dc); err != nil {
		return nil, err
	}
	opt := options{MaxK: 10}
	if err := datasets.Decode("retrieval options", req.Options, &opt); err != nil {
		return nil, err
	}
	if dc.Format != "jsonl" {
		return nil, fmt.Errorf("retrieval dataset: format %q is not supported; use jsonl", dc.Format)
	}
	if err := datasets.CheckAbs("manifest", dc.Manifest); err != nil {
		return nil, fmt.Errorf("retrieval dataset: %w", err)
	}
	if opt.MaxK < 1 {
		return nil, fmt.Errorf("retrieval options: max_k is %d; it must be at least 1", opt.MaxK)
	}
	items, err := datasets.ReadCaptions(dc.Manifest)
	if err != nil {
		return nil, err
	}
	l := &loaded{maxK: opt.MaxK}
	var in datasets.Inputs
	for i, it := range items {
		l.names = append(l.names, it.Name)
		l.imageRow = append(l.imageRow, in.Image(it.Image))
		for _, c := range it.Captions {
			l.captions = append(l.captions, c)
			l.textRow = append(l.textRow, in.Text(c))
			l.textImage = append(l.textImage, i)
		}
	}
	d := in.Dataset(len(items), fmt.Sprintf("%d images, %d captions from %s", len(items), len(l.captions),
		dc.Manifest), dc.Manifest)
	l.images, l.texts = len(d.Images), len(d.Texts)
	d.ID = t.loaded.Add(name, l)
	return d, nil
}

// Score ranks images for every caption and captions for every image by cosine similarity and reports:
//   - image_retrieval_recall@k (text → image): the share of captions whose image is among the k most similar
//     images (CLIP_benchmark zeroshot_retrieval);
//   - text_retrieval_recall@k (image → text): the share of images with at least one of their captions among the
//     k most similar captions (hit rate; CLIP_benchmark zeroshot_retrieval);
//   - text_retrieval_true_recall@k: the mean over images of the share of their captions in their top k
//     (DESIGN.md; for text → image it equals the hit rate, one image per caption, so it is not repeated);
//   - image_retrieval_mrr, text_retrieval_mrr: the mean of 1/rank of the first relevant item (1-based);
//   - image_retrieval_median_rank, text_retrieval_median_rank: the median 1-based rank of the first relevant item;
//
// for k in 1, 5, 10, plus the curves recall@k for k = 1..min(max_k, pool size) both ways. Equal scores rank the
// lower index (manifest order) first.
func (t *task) Score(_ context.Context, req sdk.ScoreRequest) (*sdk.Scores, error) {
	l, err := t.loaded.Get(req.DatasetID)
	if err != nil {
		return nil, err
	}
	if err := metrics.CheckScoreRequest(req, l.images, l.texts); err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	scores, err := metrics.CosineMatrix(metrics.GatherRows(req.TextEmbeddings, l.textRow),
		metrics.GatherRows(req.ImageEmbeddings, l.imageRow))
	if err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	ranks, err := metrics.Ranks(scores, l.textImage)
	if err != nil {
		return nil, fmt.Errorf("retrieval %s: %w", req.DatasetID, err)
	}
	first := ranks.FirstRanks()
	s := &sdk.Scores{Metrics: map[string]float64{
		"image_retrieval_mrr":         metrics.MRR(ranks.TextToImage),
		"text_retrieval_mrr":          metrics.MRR(first),
		"image_retrieval_median_rank": metrics.MedianRank(ranks.TextToImage),
		"text_retrieval_median_rank":  metrics.MedianRank(first),
	}}
	for _, k := range []int{1, 5, 10} { // the k CLIP_benchmark zeroshot_retrieval reports
		s.Headline = append(s.Headline, fmt.Sprintf("image_retrieval_recall@%d", k), fmt.Sprintf("text_retrieval_recall@%d", k))
		s.Metrics[fmt.Sprintf("image_retrieval_recall@%d", k)] = metrics.HitRate(ranks.TextToImage, k)
		s.Metrics[fmt.Sprintf("text_retrieval_recall@%d", k)] = metrics.HitRate(first, k)
		s.Metrics[fmt.Sprintf("text_retrieval_true_recall@%d", k)] = metrics.TrueRecall(ranks.ImageToText, k)
	}
	s.Curves = []sdk.Curve{
		recallCurve("image_retrieval_recall@k", ranks.TextToImage, min(l.maxK, len(l.names))),
		recallCurve("text_retrieval_recall@k", first, min(l.maxK, len(l.captions))),
	}
	s.Predictions = predictions(l, scores)
	return s, nil
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

// predictions lists the top-1 outcome of every query: for each caption (group "image_retrieval") the most similar
// image, for each image (group "text_retrieval") the most similar caption, correct when it is one of its own.
func predictions(l *loaded, scores [][]float64) []sdk.Prediction {
	var out []sdk.Prediction
	for ti, row := range scores {
		top := metrics.Argmax(row)
		out = append(out, sdk.Prediction{Item: l.captions[ti], Truth: l.names[l.textImage[ti]],
			Predicted: l.names[top], Correct: top == l.textImage[ti], Group: "image_retrieval"})
	}
	column := make([]float64, len(scores))
	best := make([]int, len(l.names)) // the best-ranked own caption of each image
	for i := range best {
		best[i] = -1
	}
	for i := range l.names {
		for ti := range scores {
			column[ti] = scores[ti][i]
			if l.textImage[ti] == i && (best[i] < 0 || column[ti] > column[best[i]]) {
				best[i] = ti
			}
		}
		top := metrics.Argmax(column)
		p := sdk.Prediction{Item: l.names[i], Predicted: l.captions[top], Correct: l.textImage[top] == i,
			Group: "text_retrieval"}
		if best[i] >= 0 {
			p.Truth = l.captions[best[i]]
		}
		out = append(out, p)
	}
	return out
}

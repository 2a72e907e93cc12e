package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// handMade loads the "hand-made" case of TestScore with opts and scores it: images a=(1,0), b=(0,2), c=(-1,0);
// texts red, crimson (image a), blue (b), green (c) = (2,0), (0,3), (-1,0), (0,-1).
func handMade(t *testing.T, opts string) *sdk.Scores {
	t.Helper()
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{"a.png": "", "b.png": "", "c.png": "", "m.jsonl": `{"image": "a.png", "captions": ["red", "crimson"]}
{"image": "b.png", "captions": ["blue"]}
{"image": "c.png", "captions": ["green"]}`})
	tk := &task{}
	d, err := tk.Load(context.Background(), request(filepath.Join(dir, "m.jsonl"), opts))
	require.NoError(t, err)
	s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID,
		ImageEmbeddings: sdk.Matrix{Rows: 3, Cols: 2, Data: []float32{1, 0, 0, 2, -1, 0}},
		TextEmbeddings:  sdk.Matrix{Rows: 4, Cols: 2, Data: []float32{2, 0, 0, 3, -1, 0, 0, -1}}})
	require.NoError(t, err)
	require.NoError(t, s.Check(), "the scores keep the contract")
	return s
}

func TestScoreItemValuesAndIntervals(t *testing.T) {
	s := handMade(t, "")
	assert.Equal(t, "zero-shot", s.Mode)
	for _, m := range s.Metrics {
		assert.NotEmpty(t, m.Help, m.Name)
		want := sdk.Metric{Direction: sdk.HigherIsBetter, Unit: sdk.Fraction}
		if strings.HasSuffix(m.Name, "median_rank") {
			want = sdk.Metric{Direction: sdk.LowerIsBetter, Unit: sdk.Rank}
		}
		assert.Equal(t, [2]string{string(want.Direction), string(want.Unit)}, [2]string{string(m.Direction), string(m.Unit)}, m.Name)
	}
	// Text → image ranks 0, 1, 1, 1; image → text own-caption ranks a: 0, 1; b: 2; c: 2 (see TestScore).
	third := 1.0 / 3
	assert.Equal(t, map[string][]float64{
		"image_retrieval_recall@1": {1, 0, 0, 0}, "image_retrieval_recall@5": {1, 1, 1, 1},
		"image_retrieval_recall@10": {1, 1, 1, 1}, "image_retrieval_mrr": {1, 0.5, 0.5, 0.5},
		"text_retrieval_recall@1": {1, 0, 0}, "text_retrieval_recall@5": {1, 1, 1}, "text_retrieval_recall@10": {1, 1, 1},
		"text_retrieval_true_recall@1": {0.5, 0, 0}, "text_retrieval_true_recall@5": {1, 1, 1},
		"text_retrieval_true_recall@10": {1, 1, 1}, "text_retrieval_mrr": {1, third, third},
	}, testutil.ItemValues(s))
	for name, values := range testutil.ItemValues(s) {
		assert.Equal(t, testutil.Values(s)[name], mean(values), "the mean of %s's item values is the metric", name)
	}
	// 14 intervals: the 11 item-mean metrics and the 3 text → image true recalls (the hit rates' intervals).
	assert.Len(t, testutil.Intervals(s), 14)
	assert.Equal(t, sdk.Interval{Low: 1, High: 1}, testutil.Intervals(s)["text_retrieval_recall@5"])
	assert.Equal(t, testutil.Intervals(s)["image_retrieval_recall@1"], testutil.Intervals(s)["image_retrieval_true_recall@1"])
	// Hit@1 {1, 0, 0, 0}: the resampled mean is k/4 for k ~ Binomial(4, 1/4) draws of the hit: P(k = 0) = 0.32,
	// P(k ≥ 3) = 0.051, P(k = 4) = 0.004, so of 1,000 resamples the 25th and 26th smallest are 0 and the 25th and
	// 26th largest 3/4.
	assert.Equal(t, sdk.Interval{Low: 0, High: 0.75}, testutil.Intervals(s)["image_retrieval_recall@1"])

	off := handMade(t, `{"bootstrap": 0}`)
	assert.Nil(t, testutil.Intervals(off))
	assert.Equal(t, testutil.ItemValues(s), testutil.ItemValues(off))
	assert.Equal(t, s, handMade(t, ""), "scores are reproducible")
}

// mean is the plain mean of v.
func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func TestScoreQueries(t *testing.T) {
	full := handMade(t, `{"bootstrap": 0}`)
	sub := handMade(t, `{"bootstrap": 0, "queries": 2, "seed": 3}`)
	// Two of the four caption queries and two of the three image queries, each evaluated against the whole
	// gallery: their predictions and item values are those of the full evaluation.
	var chosen [2][]int // per direction: indices into the full evaluation's queries
	for _, p := range sub.Predictions {
		i := slices.IndexFunc(full.Predictions, func(q sdk.Prediction) bool { return q.Item == p.Item })
		require.GreaterOrEqual(t, i, 0)
		assert.Equal(t, full.Predictions[i], p)
		if p.Group == "image_retrieval" {
			chosen[0] = append(chosen[0], i)
		} else {
			chosen[1] = append(chosen[1], i-4)
		}
	}
	require.Len(t, chosen[0], 2)
	require.Len(t, chosen[1], 2)
	assert.IsIncreasing(t, chosen[0])
	assert.IsIncreasing(t, chosen[1])
	for name, values := range testutil.ItemValues(sub) {
		dir := 1
		if name[:5] == "image" {
			dir = 0
		}
		want := []float64{testutil.ItemValues(full)[name][chosen[dir][0]], testutil.ItemValues(full)[name][chosen[dir][1]]}
		assert.Equal(t, want, values, name)
		assert.Equal(t, mean(want), testutil.Values(sub)[name], name)
	}
	assert.Equal(t, sub, handMade(t, `{"bootstrap": 0, "queries": 2, "seed": 3}`), "the subset is seeded")
	// As many queries as there are, or more: the full evaluation.
	assert.Equal(t, full, handMade(t, `{"bootstrap": 0, "queries": 4}`))
}

func TestQuerySubset(t *testing.T) {
	all := []int{0, 1, 2, 3, 4}
	tests := []struct {
		name    string
		n, want int
		size    int
	}{
		{"every query", 5, 0, 5},
		{"as many as there are", 5, 5, 5},
		{"more than there are", 5, 9, 5},
		{"a subset", 5, 3, 3},
		{"one", 5, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := querySubset(tc.n, tc.want, 7, 1)
			assert.Len(t, got, tc.size)
			assert.IsIncreasing(t, got)
			assert.Subset(t, all, got)
			assert.Equal(t, got, querySubset(tc.n, tc.want, 7, 1), "same seed, same subset")
		})
	}
	a, b := querySubset(1000, 10, 0, 1), querySubset(1000, 10, 1, 1)
	assert.NotEqual(t, a, b, "another seed draws another subset")
	assert.NotEqual(t, a, querySubset(1000, 10, 0, 2), "another stream draws another subset")
}

func TestLoadQueriesErrors(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{"a.png": "", "m.jsonl": `{"image": "a.png", "captions": ["x"]}`})
	for opts, want := range map[string]string{
		`{"queries": -1}`:   "queries is -1",
		`{"bootstrap": -5}`: "bootstrap is -5",
		`{"seed": -1}`:      "seed is -1",
	} {
		_, err := (&task{}).Load(context.Background(), request(filepath.Join(dir, "m.jsonl"), opts))
		assert.ErrorContains(t, err, want, opts)
	}
}

package metrics

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
)

var nan = math.NaN()

func mat(rows, cols int, v ...float32) sdk.Matrix { return sdk.Matrix{Rows: rows, Cols: cols, Data: v} }

func TestNormalizeAndCosine(t *testing.T) {
	assert.Equal(t, []float64{0.6, 0.8}, Normalize([]float32{3, 4}))
	assert.Equal(t, []float64{0, 0}, Normalize([]float32{0, 0}))
	// texts (3,4), (0,2), (-1,0) against images (1,0), (0,5).
	s, err := cosineMatrix(mat(3, 2, 3, 4, 0, 2, -1, 0), mat(2, 2, 1, 0, 0, 5))
	require.NoError(t, err)
	assert.Equal(t, [][]float64{{0.6, 0.8}, {0, 1}, {-1, 0}}, s)

	_, err = cosineMatrix(mat(1, 2, 1, 0), mat(1, 3, 1, 0, 0))
	assert.ErrorContains(t, err, "widths differ")
	_, err = cosineMatrix(mat(2, 2, 1, 0), mat(1, 2, 1, 0))
	assert.ErrorContains(t, err, "does not match")
}

func TestCheckEmbeddings(t *testing.T) {
	tests := []struct {
		name string
		m    sdk.Matrix
		rows int
		err  string
	}{
		{"ok", mat(2, 1, 1, 2), 2, ""},
		{"any rows", mat(2, 1, 1, 2), -1, ""},
		{"wrong rows", mat(2, 1, 1, 2), 3, "got 2 rows, the loaded dataset needs 3"},
		{"bad shape", mat(2, 2, 1, 2), 2, "does not match 2 values"},
		{"nan", mat(2, 1, 1, float32(math.NaN())), 2, "row 1 holds NaN"},
		{"inf", mat(1, 2, float32(math.Inf(-1)), 0), 1, "row 0 holds -Inf"},
		{"zero width", mat(2, 0), 2, "width 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckEmbeddings("image", tc.m, tc.rows)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
		})
	}
}

func TestZeroShot(t *testing.T) {
	// Class 0 from texts (2,0) and (0,3): normalised (1,0),(0,1), mean (.5,.5), renormalised (1/√2, 1/√2).
	// Class 1 from text (0,-7) alone: (0,-1).
	w, err := ClassEmbeddings(mat(3, 2, 2, 0, 0, 3, 0, -7), [][]int{{0, 1}, {2}})
	require.NoError(t, err)
	r := 1 / math.Sqrt(2)
	assert.InDeltaSlice(t, []float64{r, r}, w[0], 1e-16)
	assert.Equal(t, []float64{0, -1}, w[1])
	// Image (5,0) → (1,0); logits = 10·(1/√2, 0).
	l, err := ZeroShotLogits(mat(1, 2, 5, 0), [][]float64{{0.6, 0.8}, {0, -1}}, 10)
	require.NoError(t, err)
	assert.Equal(t, [][]float64{{6, 0}}, l)

	_, err = ClassEmbeddings(mat(1, 2, 1, 0), [][]int{{}})
	assert.ErrorContains(t, err, "class 0 has no prompt texts")
	_, err = ClassEmbeddings(mat(1, 2, 1, 0), [][]int{{1}})
	assert.ErrorContains(t, err, "names text row 1 of 1")
	_, err = ZeroShotLogits(mat(1, 2, 1, 0), [][]float64{{1, 0, 0}}, 1)
	assert.ErrorContains(t, err, "class 0 weights have width 3")
}

func TestRanking(t *testing.T) {
	x := []float64{0.5, 0.9, 0.5, 0.9, 0.1}
	tests := []struct {
		target, rank int
	}{{1, 0}, {3, 1}, {0, 2}, {2, 3}, {4, 4}}
	for _, tc := range tests {
		r, err := Rank(x, tc.target)
		require.NoError(t, err)
		assert.Equal(t, tc.rank, r, "target %d", tc.target)
	}
	_, err := Rank(x, 5)
	assert.ErrorContains(t, err, "target 5 is outside the 5 scores")
	assert.Equal(t, 1, Argmax(x))
	assert.Equal(t, -1, Argmax(nil))
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		logits   [][]float64
		truth    []int
		positive int
		want     Classification
	}{
		{
			// Preds 0,0,1,2 (row 1 ties 0/1 → 0), 3 of 4 right. Class 0: 1/1, class 1: 1/2, class 2: 1/1; class 3:
			// no items, excluded from the mean.
			name: "four classes",
			logits: [][]float64{
				{3, 1, 0, 0},
				{2, 2, 1, 0},
				{0, 5, 1, 0},
				{0, 1, 4, 0},
			},
			truth: []int{0, 1, 1, 2},
			want: Classification{
				Pred: []int{0, 0, 1, 2}, Acc1: 0.75, Acc5: nan,
				Recall:             []float64{1, 0.5, 1, nan},
				MeanPerClassRecall: 2.5 / 3,
				Confusion:          [][]int{{1, 0, 0, 0}, {1, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 0}},
				AUROC:              nan,
			},
		},
		{
			// Truth 5 ranks 6th in row 0 (tie with class 0 broken toward 0, so classes 0..4 come first) and 1st
			// in row 1; acc5 = 1/2.
			name: "six classes acc5",
			logits: [][]float64{
				{1, 1, 1, 1, 1, 1},
				{0, 0, 0, 0, 0, 2},
			},
			truth: []int{5, 5},
			want: Classification{
				Pred: []int{0, 5}, Acc1: 0.5, Acc5: 0.5,
				Recall:             []float64{nan, nan, nan, nan, nan, 0.5},
				MeanPerClassRecall: 0.5,
				Confusion: [][]int{
					{0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0},
					{1, 0, 0, 0, 0, 1},
				},
				AUROC: nan,
			},
		},
		{
			// Margins (class 1 − class 0): 1, -1, 0, 0.5; positives (class 1) are items 0 and 2, negatives 1 and 3.
			// Pairs: (1>-1) 1, (1>.5) 1, (0>-1) 1, (0<.5) 0 → 3/4.
			name:     "binary",
			logits:   [][]float64{{0, 1}, {1, 0}, {2, 2}, {0, 0.5}},
			truth:    []int{1, 0, 1, 0},
			positive: 1,
			want: Classification{
				Pred: []int{1, 0, 0, 1}, Acc1: 0.5, Acc5: nan,
				Recall: []float64{0.5, 0.5}, MeanPerClassRecall: 0.5,
				Confusion: [][]int{{1, 1}, {1, 1}},
				AUROC:     0.75,
			},
		},
		{
			// Same items with class 0 positive: margins (class 0 − class 1) -1, 1, 0, -0.5; positives items 1, 3
			// (1, -0.5), negatives items 0, 2 (-1, 0). Pairs: 1>-1, 1>0, -0.5>-1, -0.5<0 → 3/4.
			name:     "binary positive 0",
			logits:   [][]float64{{0, 1}, {1, 0}, {2, 2}, {0, 0.5}},
			truth:    []int{1, 0, 1, 0},
			positive: 0,
			want: Classification{
				Pred: []int{1, 0, 0, 1}, Acc1: 0.5, Acc5: nan,
				Recall: []float64{0.5, 0.5}, MeanPerClassRecall: 0.5,
				Confusion: [][]int{{1, 1}, {1, 1}},
				AUROC:     0.75,
			},
		},
		{
			name:     "binary one class only",
			logits:   [][]float64{{0, 1}, {1, 0}},
			truth:    []int{1, 1},
			positive: 1,
			want: Classification{
				Pred: []int{1, 0}, Acc1: 0.5, Acc5: nan,
				Recall: []float64{nan, 0.5}, MeanPerClassRecall: 0.5,
				Confusion: [][]int{{0, 0}, {1, 1}},
				AUROC:     nan,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Classify(tc.logits, tc.truth, tc.positive)
			require.NoError(t, err)
			assert.Equal(t, tc.want.Pred, got.Pred)
			assertFloat(t, tc.want.Acc1, got.Acc1, "acc1")
			assertFloat(t, tc.want.Acc5, got.Acc5, "acc5")
			require.Len(t, got.Recall, len(tc.want.Recall))
			for c := range got.Recall {
				assertFloat(t, tc.want.Recall[c], got.Recall[c], "recall")
			}
			assertFloat(t, tc.want.MeanPerClassRecall, got.MeanPerClassRecall, "mean per-class recall")
			assert.Equal(t, tc.want.Confusion, got.Confusion)
			assertFloat(t, tc.want.AUROC, got.AUROC, "auroc")
		})
	}
}

// assertFloat checks exact equality, NaN equal to NaN.
func assertFloat(t *testing.T, want, got float64, what string) {
	t.Helper()
	if math.IsNaN(want) {
		assert.True(t, math.IsNaN(got), "%s: want NaN, got %v", what, got)
		return
	}
	assert.Equal(t, want, got, what)
}

func TestClassifyErrors(t *testing.T) {
	tests := []struct {
		name     string
		logits   [][]float64
		truth    []int
		positive int
		err      string
	}{
		{"empty", nil, nil, 0, "no items"},
		{"length", [][]float64{{0, 1}}, []int{0, 1}, 0, "1 logit rows for 2 labels"},
		{"one class", [][]float64{{0}}, []int{0}, 0, "1 classes; at least 2"},
		{"ragged", [][]float64{{0, 1}, {1}}, []int{0, 0}, 0, "row 1 has 1 classes"},
		{"label", [][]float64{{0, 1}}, []int{2}, 0, "class 2, outside 0..1"},
		{"positive", [][]float64{{0, 1}}, []int{0}, 2, "positive class 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Classify(tc.logits, tc.truth, tc.positive)
			assert.ErrorContains(t, err, tc.err)
		})
	}
}

func TestBinaryAUROC(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"inverted", []float64{0.1, 0.2, 0.8, 0.9}, []bool{true, true, false, false}, 0},
		{"all tied", []float64{1, 1, 1}, []bool{true, false, false}, 0.5},
		// pos 3 beats 1 and ties 3 (1.5), pos 2 beats 1 (1): 2.5/4.
		{"some ties", []float64{3, 1, 3, 2}, []bool{true, false, false, true}, 0.625},
		{"no negatives", []float64{1, 2}, []bool{true, true}, nan},
		{"empty", nil, nil, nan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BinaryAUROC(tc.scores, tc.pos)
			require.NoError(t, err)
			assertFloat(t, tc.want, got, "auroc")
		})
	}
	_, err := BinaryAUROC([]float64{1}, nil)
	assert.ErrorContains(t, err, "1 scores for 0 labels")
}

func TestMean(t *testing.T) {
	assertFloat(t, nan, Mean(nil), "empty")
	assert.Equal(t, 2.0, Mean([]float64{1, 2, 3}))
	// Eight values go into eight partial sums combined as a tree: ((1e16+1) + (1+1)) + ((1+1) + (1+1)) =
	// (1e16 + 2) + 4 (1e16+1 rounds to even, 1e16), where a running sum would stay at 1e16.
	assert.Equal(t, 1.0000000000000006e16, pairwiseSum([]float64{1e16, 1, 1, 1, 1, 1, 1, 1}))
	// Seven values are summed in order: 1e16+1 = 1e16 six times.
	assert.Equal(t, 1e16, pairwiseSum([]float64{1e16, 1, 1, 1, 1, 1, 1}))
	// Over 200 ones the split is at 96: exact either way.
	ones := make([]float64, 200)
	for i := range ones {
		ones[i] = 1
	}
	assert.Equal(t, 200.0, pairwiseSum(ones))
}

func TestRetrievalRanks(t *testing.T) {
	// 4 texts × 3 images; texts 0,1 → image 0, text 2 → image 1, text 3 → image 0; image 2 has no text.
	scores := [][]float64{
		{0.9, 0.1, 0.5},
		{0.2, 0.2, 0.2},
		{0.3, 0.1, 0.8},
		{0.2, 0.6, 0.1},
	}
	r, err := ranks(scores, []int{0, 0, 1, 0})
	require.NoError(t, err)
	// Text→image: t0 ranks image 0 first; t1 all tied → image 0 first; t2: image 1 (0.1) is last; t3: 0.2 second.
	assert.Equal(t, []int{0, 0, 2, 1}, r.TextToImage)
	// Image 0's column 0.9, 0.2, 0.3, 0.2 → order t0, t2, t1, t3: ranks of t0, t1, t3 = 0, 2, 3.
	// Image 1's column 0.1, 0.2, 0.1, 0.6 → order t3, t1, t0, t2: t2 ranks 3.
	assert.Equal(t, [][]int{{0, 2, 3}, {3}, nil}, r.ImageToText)
	first := r.firstRanks()
	assert.Equal(t, []int{0, 3, NoRank}, first)

	tests := []struct {
		k                  int
		t2i, i2t, trueRecl float64
	}{
		{1, 0.5, 1.0 / 3, (1.0 / 3) / 3},
		{2, 0.75, 1.0 / 3, (1.0 / 3) / 3},
		{3, 1, 1.0 / 3, (2.0 / 3) / 3},
		{4, 1, 2.0 / 3, (1 + 1.0) / 3},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.t2i, HitRate(r.TextToImage, tc.k), "t2i@%d", tc.k)
		assert.Equal(t, tc.i2t, HitRate(first, tc.k), "i2t@%d", tc.k)
		assert.Equal(t, tc.trueRecl, TrueRecall(r.ImageToText, tc.k), "true recall@%d", tc.k)
	}
	// MRR over texts: 1, 1, 1/3, 1/2, summed in order (as numpy does for fewer than 8 values), over 4.
	third := 1.0 / 3
	assert.Equal(t, (1+1+third+0.5)/4, MRR(r.TextToImage))
	assert.Equal(t, (1+0.25+0)/3, MRR(first))
	// 1-based ranks 1,1,3,2 → sorted 1,1,2,3 → (1+2)/2; images: 1, 4, +Inf → 4.
	assert.Equal(t, 1.5, MedianRank(r.TextToImage))
	assert.Equal(t, 4.0, MedianRank(first))
	assert.Equal(t, math.Inf(1), MedianRank([]int{NoRank, 0}))
	for _, v := range []float64{HitRate(nil, 1), TrueRecall(nil, 1), MRR(nil), MedianRank(nil)} {
		assert.True(t, math.IsNaN(v))
	}
}

func TestRetrievalRanksErrors(t *testing.T) {
	tests := []struct {
		name      string
		scores    [][]float64
		textImage []int
		err       string
	}{
		{"length", [][]float64{{1}}, nil, "1 score rows for 0 texts"},
		{"empty", nil, nil, "no texts or no images"},
		{"ragged", [][]float64{{1, 2}, {1}}, []int{0, 0}, "row 1 has 1 images"},
		{"image", [][]float64{{1, 2}}, []int{2}, "text 0 names image 2 of 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ranks(tc.scores, tc.textImage)
			assert.ErrorContains(t, err, tc.err)
		})
	}
}

package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

func TestAccuracyScores(t *testing.T) {
	outcomes := []answered{
		{item: "q1", truth: "Yes", predicted: "yes", closed: true},
		{item: "q2", truth: "no", predicted: "yes", closed: true},
		{item: "q3", truth: "The Liver.", predicted: "liver"},
		{item: "q4", truth: "no", predicted: "no", closed: true},
		{item: "q5", truth: "lung", predicted: "heart"},
	}
	s, err := accuracyScores(outcomes, "zero-shot", stats.Options{Resamples: 1000})
	require.NoError(t, err)
	require.NoError(t, s.Check())
	assert.Equal(t, "zero-shot", s.Mode)
	for _, m := range s.Metrics {
		assert.Equal(t, [2]string{"higher", "fraction"}, [2]string{string(m.Direction), string(m.Unit)}, m.Name)
		assert.NotEmpty(t, m.Help, m.Name)
	}
	assert.Equal(t, map[string]float64{"closed_accuracy": 2.0 / 3, "open_accuracy": 0.5, "overall_accuracy": 0.6}, testutil.Values(s))
	assert.Equal(t, map[string][]float64{"overall_accuracy": {1, 0, 1, 1, 0}, "closed_accuracy": {1, 0, 1},
		"open_accuracy": {1, 0}}, testutil.ItemValues(s))
	assert.Equal(t, []string{"overall_accuracy", "closed_accuracy", "open_accuracy"}, s.Headline)
	assert.Len(t, testutil.Intervals(s), 3)
	for name, iv := range testutil.Intervals(s) {
		assert.True(t, iv.Low <= testutil.Values(s)[name] && testutil.Values(s)[name] <= iv.High, "%s %v in %v", name, testutil.Values(s)[name], iv)
	}
	assert.Equal(t, sdk.Prediction{Item: "q3", Truth: "The Liver.", Predicted: "liver", Correct: true, Group: "open"},
		s.Predictions[2])

	// Closed questions only: no open values, no open interval, open accuracy NaN. Every closed question right:
	// a zero-width interval.
	s, err = accuracyScores(outcomes[:1], "linear-head", stats.Options{Resamples: 1000})
	require.NoError(t, err)
	assert.True(t, math.IsNaN(testutil.Values(s)["open_accuracy"]))
	assert.Equal(t, map[string][]float64{"overall_accuracy": {1}, "closed_accuracy": {1}}, testutil.ItemValues(s))
	assert.Equal(t, map[string]sdk.Interval{"overall_accuracy": {Low: 1, High: 1}, "closed_accuracy": {Low: 1, High: 1}},
		testutil.Intervals(s))

	s, err = accuracyScores(outcomes, "zero-shot", stats.Options{})
	require.NoError(t, err)
	assert.Nil(t, testutil.Intervals(s), "bootstrap 0")
}

// headSample is a made-up VQA-RAD where the image decides the answer: every training question on image a is
// answered yes, on b no, on c lung, on d liver (three questions each). The test asks one question per image; the
// one on d expects heart, which no training question answers.
func headSample() []testutil.VQARow {
	var rows []testutil.VQARow
	answers := map[string]string{"a.jpg": "yes", "b.jpg": "no", "c.jpg": "lung", "d.jpg": "liver"}
	for i, img := range []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg"} {
		kind := "OPEN"
		if i < 2 {
			kind = "CLOSED"
		}
		for j := range 3 {
			rows = append(rows, testutil.VQARow{QID: len(rows), Image: img, Question: fmt.Sprintf("question %d?", j),
				Answer: answers[img], AnswerType: kind, PhraseType: "freeform"})
		}
	}
	truth := map[string]string{"a.jpg": "Yes", "b.jpg": "no", "c.jpg": "the lung", "d.jpg": "heart"}
	for i, img := range []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg"} {
		kind := "OPEN"
		if i < 2 {
			kind = "CLOSED"
		}
		rows = append(rows, testutil.VQARow{QID: len(rows), Image: img, Question: "test question?", Answer: truth[img],
			AnswerType: kind, PhraseType: "test_freeform"})
	}
	return rows
}

func TestScoreLinearHead(t *testing.T) {
	root := testutil.WriteVQARAD(t, t.TempDir(), headSample())
	tk := &task{}
	d, err := tk.Load(context.Background(), vqaRequest(root, `{"mode": "linear-head", "l2_grid": ["0.001", "0.01"]}`))
	require.NoError(t, err)
	assert.Equal(t, 4, d.Size)
	// The training questions' images and texts, then the test questions'; no candidate prompts.
	assert.Equal(t, []string{"question 0?", "question 1?", "question 2?", "test question?"}, d.Texts)
	assert.Len(t, d.Images, 4)
	assert.Contains(t, d.Description, "linear head over 4 answers of 12 training questions")
	// Images are unit vectors a..d; every question text is (1,1,1,1), carrying no information.
	unit := map[string][]float32{"a.jpg": {1, 0, 0, 0}, "b.jpg": {0, 1, 0, 0}, "c.jpg": {0, 0, 1, 0}, "d.jpg": {0, 0, 0, 1}}
	images := sdk.Matrix{Rows: 4, Cols: 4}
	for _, img := range d.Images {
		images.Data = append(images.Data, unit[filepath.Base(img.Path)]...)
	}
	texts := sdk.Matrix{Rows: 4, Cols: 4, Data: []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}
	s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: images, TextEmbeddings: texts})
	require.NoError(t, err)
	// One of each answer's three training questions is held out; both strengths answer them all right, so the
	// larger is chosen. The head answers by image: closed 2 of 2, open 1 of 2 (heart is not an answer class).
	assert.Equal(t, "linear-head", s.Mode)
	assert.Equal(t, map[string]float64{"closed_accuracy": 1, "open_accuracy": 0.5, "overall_accuracy": 0.75,
		"l2": 0.01, "answer_classes": 4}, testutil.Values(s))
	assert.Equal(t, []sdk.Prediction{
		{Item: "qid 12 a.jpg: test question?", Truth: "Yes", Predicted: "yes", Correct: true, Group: "closed"},
		{Item: "qid 13 b.jpg: test question?", Truth: "no", Predicted: "no", Correct: true, Group: "closed"},
		{Item: "qid 14 c.jpg: test question?", Truth: "the lung", Predicted: "lung", Correct: true, Group: "open"},
		{Item: "qid 15 d.jpg: test question?", Truth: "heart", Predicted: "liver", Group: "open"},
	}, s.Predictions)
	assert.Equal(t, []float64{1, 1, 1, 0}, testutil.ItemValues(s)["overall_accuracy"])
	assert.Len(t, testutil.Intervals(s), 3)

	again, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: images, TextEmbeddings: texts})
	require.NoError(t, err)
	assert.Equal(t, s, again, "deterministic")
}

func TestLoadLinearHeadErrors(t *testing.T) {
	root := testutil.WriteVQARAD(t, t.TempDir(), headSample())
	oneAnswer := testutil.WriteVQARAD(t, t.TempDir(), []testutil.VQARow{
		{QID: 0, Image: "a.jpg", Question: "q?", Answer: "yes", AnswerType: "CLOSED", PhraseType: "freeform"},
		{QID: 1, Image: "a.jpg", Question: "q?", Answer: "yes", AnswerType: "CLOSED", PhraseType: "test_freeform"},
	})
	tests := []struct {
		name, root, opts, want string
	}{
		{"grid in zero-shot mode", root, `{"l2_grid": ["1"]}`, "l2_grid applies to mode linear-head"},
		{"unknown mode", root, `{"mode": "linear-probe"}`, `mode "linear-probe" is not zero-shot or linear-head`},
		{"empty grid", root, `{"mode": "linear-head", "l2_grid": []}`, "l2_grid is empty"},
		{"negative strength", root, `{"mode": "linear-head", "l2_grid": ["-1"]}`, "L2 strength -1 in l2_grid is not positive"},
		{"one answer", oneAnswer, `{"mode": "linear-head"}`, "1 distinct answers"},
		{"negative seed", root, `{"mode": "linear-head", "seed": -3}`, "seed is -3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&task{}).Load(context.Background(), vqaRequest(tc.root, tc.opts))
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// TestScoreLinearHeadSkips checks that skipping a bad image scores as the data set without its questions: its
// training questions leave the head (and their answer its classes), its test question the metrics.
func TestScoreLinearHeadSkips(t *testing.T) {
	unit := map[string][]float32{"a.jpg": {1, 0, 0, 0}, "b.jpg": {0, 1, 0, 0}, "c.jpg": {0, 0, 1, 0}, "d.jpg": {0, 0, 0, 1}}
	score := func(t *testing.T, rows []testutil.VQARow, skip string) *sdk.Scores {
		tk := &task{}
		d, err := tk.Load(context.Background(), vqaRequest(testutil.WriteVQARAD(t, t.TempDir(), rows), `{"mode": "linear-head", "l2_grid": ["0.001", "0.01"]}`))
		require.NoError(t, err)
		images := sdk.Matrix{Rows: len(d.Images), Cols: 4}
		var skipped []int
		for i, img := range d.Images {
			if filepath.Base(img.Path) == skip {
				skipped = append(skipped, i)
				images.Data = append(images.Data, 0, 0, 0, 0)
				continue
			}
			images.Data = append(images.Data, unit[filepath.Base(img.Path)]...)
		}
		texts := sdk.Matrix{Rows: len(d.Texts), Cols: 4}
		for range d.Texts {
			texts.Data = append(texts.Data, 1, 1, 1, 1)
		}
		s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: images, TextEmbeddings: texts, SkippedImages: skipped})
		require.NoError(t, err)
		return s
	}
	for _, bad := range []string{"a.jpg", "c.jpg"} {
		t.Run(bad, func(t *testing.T) {
			var without []testutil.VQARow
			for _, r := range headSample() {
				if r.Image != bad {
					without = append(without, r)
				}
			}
			want := score(t, without, "")
			got := score(t, headSample(), bad)
			same, w, g := testutil.Same(want, got)
			assert.True(t, same, "want\n%s\ngot\n%s", w, g)
			assert.Equal(t, 3.0, testutil.Values(got)["answer_classes"], "the bad image's answer is no class")
			assert.Len(t, got.Predictions, 3)
		})
	}
	t.Run("too few answers left", func(t *testing.T) {
		tk := &task{}
		rows := headSample()[:6] // a.jpg yes, b.jpg no: two answers
		rows = append(rows, headSample()[12:14]...)
		d, err := tk.Load(context.Background(), vqaRequest(testutil.WriteVQARAD(t, t.TempDir(), rows), `{"mode": "linear-head"}`))
		require.NoError(t, err)
		var skipped []int
		for i, img := range d.Images {
			if filepath.Base(img.Path) == "a.jpg" {
				skipped = append(skipped, i)
			}
		}
		images := sdk.Matrix{Rows: len(d.Images), Cols: 4, Data: make([]float32, 4*len(d.Images))}
		texts := sdk.Matrix{Rows: len(d.Texts), Cols: 4, Data: make([]float32, 4*len(d.Texts))}
		for i := range images.Data {
			images.Data[i] = 1
		}
		for i := range texts.Data {
			texts.Data[i] = 1
		}
		_, err = tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: images, TextEmbeddings: texts, SkippedImages: skipped})
		assert.ErrorContains(t, err, "have 1 distinct answers; it needs at least 2")
	})
}

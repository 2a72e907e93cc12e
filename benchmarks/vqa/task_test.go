package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// sample returns a made-up VQA-RAD: four training and four test questions, a numeric answer, "CLOSED " with a
// space.
func sample() []testutil.VQARow {
	return []testutil.VQARow{
		{QID: "0", Image: "a.jpg", Question: "Is it big?", Answer: "Yes", AnswerType: "CLOSED", PhraseType: "freeform", Organ: "HEAD"},
		{QID: 1, Image: "a.jpg", Question: "What organ?", Answer: "The Brain.", AnswerType: "OPEN", PhraseType: "para", Organ: "HEAD"},
		{QID: 2, Image: "b.jpg", Question: "How many?", Answer: 4, AnswerType: "OPEN", PhraseType: "freeform", Organ: "CHEST"},
		{QID: 3, Image: "b.jpg", Question: "Is it?", Answer: "no", AnswerType: "CLOSED ", PhraseType: "freeform", Organ: "CHEST"},
		{QID: 4, Image: "a.jpg", Question: "Is there a mass?", Answer: "yes", AnswerType: "CLOSED", PhraseType: "test_freeform", Organ: "HEAD"},
		{QID: 5, Image: "b.jpg", Question: "Which organ?", Answer: "brain", AnswerType: "OPEN", PhraseType: "test_para", Organ: "CHEST"},
		{QID: 6, Image: "c.jpg", Question: "How many lesions?", Answer: "4", AnswerType: "OPEN", PhraseType: "test_freeform", Organ: "ABD"},
		{QID: 7, Image: "c.jpg", Question: "Is it normal?", Answer: "No", AnswerType: "CLOSED ", PhraseType: "test_para", Organ: "ABD"},
	}
}

// vqaRequest builds a LoadRequest for a VQA-RAD root with raw options JSON.
func vqaRequest(root, opts string) sdk.LoadRequest {
	ds, _ := json.Marshal(map[string]string{"format": "vqa-rad", "root": root})
	return sdk.LoadRequest{Dataset: ds, Options: json.RawMessage(opts)}
}

func TestInfo(t *testing.T) {
	info, err := (&task{}).Describe(context.Background(), sdk.DescribeRequest{})
	require.NoError(t, err)
	assert.Equal(t, "vqa", info.Name)
	var names []string
	for _, f := range append(info.DatasetFields, info.OptionFields...) {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"format", "root", "split", "prompt", "closed_candidates", "open_candidates", "mode", "l2_grid",
		"bootstrap", "seed"}, names)
	assert.Equal(t, "dev", info.Version)
}

func TestLoad(t *testing.T) {
	root := testutil.WriteVQARAD(t, t.TempDir(), sample())
	img := func(n string) string { return filepath.Join(root, "images", n) }
	tests := []struct {
		name   string
		opts   string
		images []string
		texts  []string
	}{
		{
			// Open candidates: every training answer normalised and sorted: 4, brain, no, yes.
			name:   "defaults",
			images: []string{"a.jpg", "b.jpg", "c.jpg"},
			texts: []string{"Is there a mass? yes", "Is there a mass? no",
				"Which organ? 4", "Which organ? brain", "Which organ? no", "Which organ? yes",
				"How many lesions? 4", "How many lesions? brain", "How many lesions? no", "How many lesions? yes",
				"Is it normal? yes", "Is it normal? no"},
		},
		{
			// Training split, open candidates from open training questions only (4, brain), own prompt and
			// closed candidates.
			name:   "train split",
			opts:   `{"split": "train", "open_candidates": "train_open", "prompt": "Q: {question} A: {answer}", "closed_candidates": ["no", "yes"]}`,
			images: []string{"a.jpg", "b.jpg"},
			texts: []string{"Q: Is it big? A: no", "Q: Is it big? A: yes", "Q: What organ? A: 4", "Q: What organ? A: brain",
				"Q: How many? A: 4", "Q: How many? A: brain", "Q: Is it? A: no", "Q: Is it? A: yes"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := (&task{}).Load(context.Background(), vqaRequest(root, tc.opts))
			require.NoError(t, err)
			assert.Equal(t, 4, d.Size)
			var want []sdk.ImageInput
			files := []string{filepath.Join(root, "VQA_RAD_Dataset_Public.json")}
			for _, n := range tc.images {
				want = append(want, sdk.ImageInput{Path: img(n), Root: filepath.Join(root, "images")})
				files = append(files, img(n))
			}
			assert.Equal(t, want, d.Images)
			assert.Equal(t, tc.texts, d.Texts)
			assert.Equal(t, files, d.Files)
		})
	}
}

func TestPrompt(t *testing.T) {
	assert.Equal(t, "what is {answer}? yes / yes", prompt("{question} {answer} / {answer}", "what is {answer}?", "yes"))
}

func TestLoadErrors(t *testing.T) {
	root := testutil.WriteVQARAD(t, t.TempDir(), sample())
	bad := func(change func(r *testutil.VQARow)) string {
		rs := sample()
		change(&rs[5])
		return testutil.WriteVQARAD(t, t.TempDir(), rs)
	}
	trainOnly := testutil.WriteVQARAD(t, t.TempDir(), sample()[:4])
	tests := []struct {
		name string
		req  sdk.LoadRequest
		err  string
	}{
		{"prompt without answer", vqaRequest(root, `{"prompt": "{question}"}`), `prompt "{question}" has no {answer}`},
		{"one closed candidate", vqaRequest(root, `{"closed_candidates": ["yes"]}`), "closed_candidates has 1 answers"},
		{"repeated candidate", vqaRequest(root, `{"closed_candidates": ["yes", "Yes."]}`), `closed candidate "Yes." repeats another`},
		{"blank candidate", vqaRequest(root, `{"closed_candidates": ["yes", "the"]}`), `closed candidate "the" is blank`},
		{"bad split", vqaRequest(root, `{"split": "val"}`), `VQA-RAD split "val" is not "test" or "train"`},
		{"bad open candidates", vqaRequest(root, `{"open_candidates": "all"}`), `open_candidates "all" is not`},
		{"unknown option", vqaRequest(root, `{"splits": "test"}`), `vqa options: json: unknown field "splits"`},
		{"unknown dataset key", sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "vqa-rad", "root": "` + root + `", "manifest": "x"}`)}, `vqa dataset: json: unknown field "manifest"`},
		{"bad format", sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "jsonl", "root": "` + root + `"}`)}, `format "jsonl" is not supported`},
		{"relative root", vqaRequest("vqa-rad", ""), "is not absolute"},
		{"missing file", vqaRequest(t.TempDir(), ""), "reading VQA-RAD"},
		{"bad answer type", vqaRequest(bad(func(r *testutil.VQARow) { r.AnswerType = "MAYBE" }), ""), `row 5: qid 5: answer_type "MAYBE" is neither CLOSED nor OPEN`},
		{"bad phrase type", vqaRequest(bad(func(r *testutil.VQARow) { r.PhraseType = "dev" }), ""), `phrase_type "dev" is not`},
		{"empty question", vqaRequest(bad(func(r *testutil.VQARow) { r.Question = " " }), ""), `field "question" is empty`},
		{"answer not scalar", vqaRequest(bad(func(r *testutil.VQARow) { r.Answer = []string{"a"} }), ""), `field "answer" is ["a"], not a string or number`},
		{"escaping image", vqaRequest(bad(func(r *testutil.VQARow) { r.Image = "../../x.jpg" }), ""), `row 5 (qid 5): image path "../../x.jpg" leaves`},
		{"no test questions", vqaRequest(trainOnly, ""), `split "test" has no questions`},
		{"empty file", vqaRequest(testutil.WriteVQARAD(t, t.TempDir(), []testutil.VQARow{}), ""), "holds no questions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&task{}).Load(context.Background(), tc.req)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func TestScore(t *testing.T) {
	root := testutil.WriteVQARAD(t, t.TempDir(), sample())
	tk := &task{}
	d, err := tk.Load(context.Background(), vqaRequest(root, ""))
	require.NoError(t, err)
	require.Len(t, d.Texts, 12) // as in TestLoad "defaults"
	// Images a=(1,0), b=(0,1), c=(1,1).
	// q4 (a): yes (1,0) 1 > no (0,1) 0 → yes ✓.
	// q5 (b): 4 (0,1) 1, brain (1,1) .71, no (1,0) 0, yes (0,1) 1 → tie 4/yes → 4 ✗ (brain).
	// q6 (c): 4 (1,1) 1, brain (1,0) .71, no (0,1) .71, yes (-1,0) -.71 → 4 ✓ ("4" from the number 4).
	// q7 (c): yes (1,0) .71 < no (1,1) 1 → no ✓ ("No").
	s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID,
		ImageEmbeddings: sdk.Matrix{Rows: 3, Cols: 2, Data: []float32{1, 0, 0, 1, 1, 1}},
		TextEmbeddings: sdk.Matrix{Rows: 12, Cols: 2, Data: []float32{
			1, 0, 0, 1,
			0, 1, 1, 1, 1, 0, 0, 1,
			1, 1, 1, 0, 0, 1, -1, 0,
			1, 0, 1, 1,
		}}})
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"closed_accuracy": 1, "open_accuracy": 0.5, "overall_accuracy": 0.75}, testutil.Values(s))
	assert.Equal(t, []string{"overall_accuracy", "closed_accuracy", "open_accuracy"}, s.Headline)
	assert.Equal(t, []sdk.Prediction{
		{Item: "qid 4 a.jpg: Is there a mass?", Truth: "yes", Predicted: "yes", Correct: true, Group: "closed"},
		{Item: "qid 5 b.jpg: Which organ?", Truth: "brain", Predicted: "4", Group: "open"},
		{Item: "qid 6 c.jpg: How many lesions?", Truth: "4", Predicted: "4", Correct: true, Group: "open"},
		{Item: "qid 7 c.jpg: Is it normal?", Truth: "No", Predicted: "no", Correct: true, Group: "closed"},
	}, s.Predictions)

	_, err = tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID,
		ImageEmbeddings: sdk.Matrix{Rows: 3, Cols: 2, Data: []float32{1, 0, 0, 1, 1, 1}},
		TextEmbeddings:  sdk.Matrix{Rows: 11, Cols: 2, Data: make([]float32, 22)}})
	assert.ErrorContains(t, err, "text embeddings: got 11 rows, the loaded dataset needs 12")
	_, err = tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: "vqa-99"})
	assert.ErrorContains(t, err, `dataset "vqa-99" was not loaded`)
}

// TestLoadRealVQARAD loads the real VQA-RAD test split: 451 questions, 272 closed and 179 open, on 203 images.
func TestLoadRealVQARAD(t *testing.T) {
	root := sharedtest.Path(t, "data", "vqa-rad")
	tk := &task{}
	d, err := tk.Load(context.Background(), vqaRequest(root, ""))
	require.NoError(t, err)
	assert.Equal(t, 451, d.Size)
	assert.Len(t, d.Images, 203)
	l, err := tk.loaded.Get(d.ID)
	require.NoError(t, err)
	closed, open := 0, 0
	for _, q := range l.questions {
		if q.closed {
			closed++
			assert.Equal(t, []string{"yes", "no"}, q.candidates)
		} else {
			open++
		}
	}
	assert.Equal(t, 272, closed)
	assert.Equal(t, 179, open)
}

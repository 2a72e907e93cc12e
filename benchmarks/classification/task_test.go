package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// manifest writes a classification manifest of images (name → label, in the order given as pairs) and empty image
// files into a fresh folder and returns the manifest's path.
func manifest(t *testing.T, pairs ...string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	var lines string
	for i := 0; i+1 < len(pairs); i += 2 {
		files[pairs[i]] = ""
		b, err := json.Marshal(map[string]string{"image": pairs[i], "label": pairs[i+1]})
		require.NoError(t, err)
		lines += string(b) + "\n"
	}
	files["m.jsonl"] = lines
	testutil.WriteFiles(t, dir, files)
	return filepath.Join(dir, "m.jsonl")
}

// jsonlRequest builds a LoadRequest for a jsonl manifest with raw options JSON.
func jsonlRequest(m, opts string) sdk.LoadRequest {
	ds, _ := json.Marshal(map[string]string{"format": "jsonl", "manifest": m})
	return sdk.LoadRequest{Dataset: ds, Options: json.RawMessage(opts)}
}

func TestInfo(t *testing.T) {
	info, err := (&task{}).Describe(context.Background(), sdk.DescribeRequest{})
	require.NoError(t, err)
	assert.Equal(t, "classification", info.Name)
	var names []string
	for _, f := range append(info.DatasetFields, info.OptionFields...) {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"format", "manifest", "root", "label_field", "label_map", "images", "image_column",
		"label_column", "shards", "max_expansion", "templates", "classes", "positive_class", "mode", "train_manifest", "val_manifest",
		"train_fractions", "l2_grid", "seeds", "bootstrap", "seed"}, names)
	assert.Equal(t, "dev", info.Version)
}

func TestLoad(t *testing.T) {
	m := manifest(t, "a.png", "red", "b/b.png", "blue", "a.png", "red")
	d, err := (&task{}).Load(context.Background(), jsonlRequest(m, `{"templates": ["a {} photo", "{c}", "{}"]}`))
	require.NoError(t, err)
	dir := filepath.Dir(m)
	// Classes default to the sorted labels: blue, red. "{c}" and "{}" give the same prompt, encoded once.
	assert.Equal(t, []string{"a blue photo", "blue", "a red photo", "red"}, d.Texts)
	assert.Equal(t, []sdk.ImageInput{{Path: filepath.Join(dir, "a.png"), Root: dir}, {Path: filepath.Join(dir, "b", "b.png"), Root: dir}}, d.Images)
	assert.Equal(t, 3, d.Size)
	assert.Equal(t, []string{m, filepath.Join(dir, "a.png"), filepath.Join(dir, "b", "b.png")}, d.Files)
	assert.Equal(t, "classification-1", d.ID)
}

func TestLoadErrors(t *testing.T) {
	m := manifest(t, "a.png", "red", "b.png", "blue")
	root := testutil.WriteVQARAD(t, t.TempDir(), []testutil.VQARow{
		{QID: 0, Image: "x.jpg", Question: "q?", Answer: "yes", AnswerType: "CLOSED", PhraseType: "freeform", Organ: "HEAD"},
		{QID: 1, Image: "x.jpg", Question: "q?", Answer: "no", AnswerType: "CLOSED", PhraseType: "test_para", Organ: "CHEST"},
	})
	tpl := `{"templates": ["a {} photo"]}`
	vqa := func(extra string) sdk.LoadRequest {
		return sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "vqa-rad", "root": "` + root + `"` + extra + `}`),
			Options: json.RawMessage(tpl)}
	}
	tests := []struct {
		name string
		req  sdk.LoadRequest
		err  string
	}{
		{"template without placeholder", jsonlRequest(m, `{"templates": ["a photo"]}`), `template "a photo" has no {}`},
		{"no templates", jsonlRequest(m, `{}`), "templates are required"},
		{"one class configured", jsonlRequest(m, `{"templates": ["{}"], "classes": ["red"]}`), "1 classes"},
		{"one label found", jsonlRequest(manifest(t, "a.png", "red"), tpl), `1 classes (["red"]); at least 2`},
		{"label not among classes", jsonlRequest(m, `{"templates": ["{}"], "classes": ["red", "green"]}`), `label "blue" of b.png is not among the classes`},
		{"class twice", jsonlRequest(m, `{"templates": ["{}"], "classes": ["red", "blue", "red"]}`), `class "red" is listed twice`},
		{"empty class", jsonlRequest(m, `{"templates": ["{}"], "classes": ["red", "blue", ""]}`), "class 2 is empty"},
		{"positive not a class", jsonlRequest(m, `{"templates": ["{}"], "positive_class": "green"}`), `positive_class "green" is not among`},
		{"positive with 3 classes", jsonlRequest(m, `{"templates": ["{}"], "classes": ["red", "blue", "green"], "positive_class": "red"}`), "applies to two-class tasks"},
		{"unknown option", jsonlRequest(m, `{"templates": ["{}"], "prompt": "x"}`), `classification options: json: unknown field "prompt"`},
		{"empty manifest", jsonlRequest(manifest(t), tpl), "holds no items"},
		{"missing manifest", jsonlRequest(filepath.Join(t.TempDir(), "none.jsonl"), tpl), "reading manifest"},
		{"escaping path", jsonlRequest(func() string {
			p := manifest(t, "a.png", "red")
			require.NoError(t, os.WriteFile(p, []byte(`{"image": "../a.png", "label": "red"}`), 0o644))
			return p
		}(), tpl), `m.jsonl:1: image path "../a.png" leaves the manifest's folder`},
		{"label not mapped", sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "jsonl", "manifest": "` + m + `", "label_map": {"red": "r"}}`),
			Options: json.RawMessage(tpl)}, `label "blue" of b.png is not in label_map`},
		{"root with jsonl", sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "jsonl", "manifest": "` + m + `", "root": "/x"}`),
			Options: json.RawMessage(tpl)}, "format jsonl does not read root (it reads manifest)"},
		{"bad format", sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "xml"}`), Options: json.RawMessage(tpl)}, `format "xml" is not supported`},
		{"manifest with vqa-rad", vqa(`, "manifest": "` + m + `"`), "format vqa-rad does not read manifest"},
		{"conflicting labels", vqa(""), `image x.jpg has image_organ "HEAD" and "CHEST" (qid 1)`},
		{"image not in dataset", vqa(`, "images": ["y.jpg"], "label_field": "answer_type"`), `image "y.jpg" is not in VQA-RAD`},
		{"image twice", vqa(`, "images": ["x.jpg", "x.jpg"], "label_field": "answer_type"`), `image "x.jpg" is listed twice`},
		{"no label field", vqa(`, "label_field": "modality"`), `has no field "modality"`},
		{"missing VQA-RAD", sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "vqa-rad", "root": "` + t.TempDir() + `"}`),
			Options: json.RawMessage(tpl)}, "reading VQA-RAD"},
		{"relative root", sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "vqa-rad", "root": "data"}`), Options: json.RawMessage(tpl)}, "is not absolute"},
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
	nan := math.NaN()
	tests := []struct {
		name     string
		pairs    []string // image, label, ...
		opts     string
		images   sdk.Matrix
		texts    sdk.Matrix
		scale    float64
		metrics  map[string]float64
		confused [][]int64 // the confusion matrix, true class rows, predicted class columns
		headline []string
		preds    []string // predicted class per image
	}{
		{
			// Class weights red (1,0,0), green (0,1,0), blue (0,0,1): both prompts of a class point the same way.
			// Images: (5,1,0) → red ✓; (1,2,0) → green ✗ (red); (0,1,1) green/blue tie → green ✓;
			// (1,0,1) red/blue tie → red ✗ (blue); (0,0,3) → blue ✓.
			name:   "three classes",
			pairs:  []string{"a.png", "red", "b.png", "red", "c.png", "green", "d.png", "blue", "e.png", "blue"},
			opts:   `{"templates": ["a {} photo", "{c}"], "classes": ["red", "green", "blue"]}`,
			images: sdk.Matrix{Rows: 5, Cols: 3, Data: []float32{5, 1, 0, 1, 2, 0, 0, 1, 1, 1, 0, 1, 0, 0, 3}},
			texts: sdk.Matrix{Rows: 6, Cols: 3, Data: []float32{
				1, 0, 0, 2, 0, 0, // a red photo, red
				0, 3, 0, 0, 1, 0, // a green photo, green
				0, 0, 1, 0, 0, 7, // a blue photo, blue
			}},
			scale: 100,
			metrics: map[string]float64{
				"acc1": 0.6, "acc5": nan, "mean_per_class_recall": 2.0 / 3,
				"recall/red": 0.5, "recall/green": 1, "recall/blue": 0.5,
			},
			confused: [][]int64{{1, 1, 0}, {0, 1, 0}, {1, 0, 1}},
			headline: []string{"acc1", "mean_per_class_recall"},
			preds:    []string{"red", "green", "green", "red", "blue"},
		},
		{
			// Classes sorted: neg (1,0), pos (0,1); positive = pos. Margins pos − neg in cosine units: (0,1) → 1,
			// (1,1) → 0 (tie → neg), (1,0) → -1, (1,2) → 1/√5. Positives {1, 0}, negatives {-1, 1/√5}: 3 of 4
			// pairs ordered → AUROC 0.75. A logit scale of 0 means unknown and is taken as 1.
			name:   "binary",
			pairs:  []string{"a.png", "pos", "b.png", "pos", "c.png", "neg", "d.png", "neg"},
			opts:   `{"templates": ["{}"]}`,
			images: sdk.Matrix{Rows: 4, Cols: 2, Data: []float32{0, 1, 1, 1, 1, 0, 1, 2}},
			texts:  sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, 1}},
			scale:  0,
			metrics: map[string]float64{
				"acc1": 0.5, "acc5": nan, "mean_per_class_recall": 0.5, "auroc": 0.75,
				"recall/neg": 0.5, "recall/pos": 0.5,
			},
			confused: [][]int64{{1, 1}, {1, 1}},
			headline: []string{"acc1", "mean_per_class_recall", "auroc"},
			preds:    []string{"pos", "neg", "neg", "pos"},
		},
		{
			// Same with neg as the positive class: margins negate and labels swap, so the AUROC is the same.
			name:   "binary positive_class",
			pairs:  []string{"a.png", "pos", "b.png", "pos", "c.png", "neg", "d.png", "neg"},
			opts:   `{"templates": ["{}"], "positive_class": "neg"}`,
			images: sdk.Matrix{Rows: 4, Cols: 2, Data: []float32{0, 1, 1, 1, 1, 0, 1, 2}},
			texts:  sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, 1}},
			scale:  50,
			metrics: map[string]float64{
				"acc1": 0.5, "acc5": nan, "mean_per_class_recall": 0.5, "auroc": 0.75,
				"recall/neg": 0.5, "recall/pos": 0.5,
			},
			confused: [][]int64{{1, 1}, {1, 1}},
			headline: []string{"acc1", "mean_per_class_recall", "auroc"},
			preds:    []string{"pos", "neg", "neg", "pos"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := &task{}
			d, err := tk.Load(context.Background(), jsonlRequest(manifest(t, tc.pairs...), tc.opts))
			require.NoError(t, err)
			s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: tc.images,
				TextEmbeddings: tc.texts, LogitScale: tc.scale})
			require.NoError(t, err)
			require.NoError(t, s.Check())
			values := testutil.Values(s)
			assert.True(t, math.IsNaN(values["acc5"]), "acc5 is NaN below 5 classes")
			delete(values, "acc5")
			delete(tc.metrics, "acc5")
			assert.Equal(t, tc.metrics, values)
			l, err := tk.loaded.Get(d.ID)
			require.NoError(t, err)
			assert.Equal(t, &sdk.Confusion{Classes: l.classes, Counts: tc.confused}, s.Metric("acc1").Confusion)
			for _, m := range s.Metrics {
				assert.Equal(t, [2]string{"higher", "fraction"}, [2]string{string(m.Direction), string(m.Unit)}, m.Name)
				assert.NotEmpty(t, m.Help, m.Name)
			}
			assert.Equal(t, tc.headline, s.Headline)
			require.Len(t, s.Predictions, len(tc.preds))
			for i, p := range s.Predictions {
				assert.Equal(t, tc.pairs[2*i], p.Item)
				assert.Equal(t, tc.pairs[2*i+1], p.Truth)
				assert.Equal(t, tc.preds[i], p.Predicted)
				assert.Equal(t, p.Truth == p.Predicted, p.Correct)
			}
		})
	}
}

func TestScoreErrors(t *testing.T) {
	tk := &task{}
	d, err := tk.Load(context.Background(), jsonlRequest(manifest(t, "a.png", "x", "b.png", "y"), `{"templates": ["{}"]}`))
	require.NoError(t, err)
	two := sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, 1}}
	tests := []struct {
		name string
		req  sdk.ScoreRequest
		err  string
	}{
		{"unknown dataset", sdk.ScoreRequest{DatasetID: "nope", ImageEmbeddings: two, TextEmbeddings: two}, `dataset "nope" was not loaded`},
		{"image rows", sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: sdk.Matrix{Rows: 1, Cols: 2, Data: []float32{1, 0}}, TextEmbeddings: two}, "image embeddings: got 1 rows, the loaded dataset needs 2"},
		{"text widths", sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: two, TextEmbeddings: sdk.Matrix{Rows: 2, Cols: 1, Data: []float32{1, 0}}}, "image embeddings have width 2 but text embeddings 1"},
		{"not finite", sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: two, TextEmbeddings: sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, float32(math.NaN())}}}, "text embeddings: row 1 holds NaN"},
		{"negative scale", sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: two, TextEmbeddings: two, LogitScale: -1}, "logit scale -1 is not a positive number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tk.Score(context.Background(), tc.req)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

// TestLoadVQARAD loads organ classification over the 24 VQA-RAD images of the tiny-a reference, in the reference's
// order, and checks the labels against reference.json's organ_labels and the prompts against its
// <model>_zeroshot_organ classes and templates.
func TestLoadVQARAD(t *testing.T) {
	b, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.json"))
	require.NoError(t, err)
	var ref struct {
		Images      []string          `json:"images"`
		OrganLabels map[string]string `json:"organ_labels"`
		ZeroShot    struct {
			Classes   []string `json:"classes"`
			Templates []string `json:"templates"`
		} `json:"biomedclip_zeroshot_organ"`
	}
	require.NoError(t, json.Unmarshal(b, &ref))
	var names []string
	for _, p := range ref.Images[:24] {
		names = append(names, filepath.Base(p))
	}
	root := sharedtest.Path(t, "data", "vqa-rad")
	ds, err := json.Marshal(map[string]any{"format": "vqa-rad", "root": root, "images": names,
		"label_map": map[string]string{"HEAD": "head", "CHEST": "chest", "ABD": "abdomen"}})
	require.NoError(t, err)
	opts, err := json.Marshal(map[string]any{"classes": ref.ZeroShot.Classes, "templates": ref.ZeroShot.Templates})
	require.NoError(t, err)
	tk := &task{}
	d, err := tk.Load(context.Background(), sdk.LoadRequest{Dataset: ds, Options: opts})
	require.NoError(t, err)
	assert.Equal(t, 24, d.Size)
	assert.Equal(t, []string{"a radiology image of the head", "head presented in image", "a radiology image of the chest",
		"chest presented in image", "a radiology image of the abdomen", "abdomen presented in image"}, d.Texts)
	require.Len(t, d.Images, 24)
	assert.Equal(t, filepath.Join(root, "images", names[0]), d.Images[0].Path)
	assert.Equal(t, filepath.Join(root, "VQA_RAD_Dataset_Public.json"), d.Files[0])
	assert.Len(t, d.Files, 25)

	// Scoring with each image's own class direction as its embedding gets every label right, which checks the
	// labels against organ_labels through the predictions.
	l, err := tk.loaded.Get(d.ID)
	require.NoError(t, err)
	img := sdk.Matrix{Rows: 24, Cols: 3, Data: make([]float32, 72)}
	for i, c := range l.truth {
		img.Data[3*i+c] = 1
	}
	txt := sdk.Matrix{Rows: 6, Cols: 3, Data: []float32{1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1}}
	s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: img, TextEmbeddings: txt, LogitScale: 50})
	require.NoError(t, err)
	assert.Equal(t, 1.0, s.Value("acc1"))
	organ := map[string]string{"HEAD": "head", "CHEST": "chest", "ABD": "abdomen"}
	for i, p := range s.Predictions {
		assert.Equal(t, names[i], p.Item)
		assert.Equal(t, organ[ref.OrganLabels[ref.Images[i]]], p.Truth, p.Item)
	}
}

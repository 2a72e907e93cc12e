package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// request builds a LoadRequest for a manifest and raw options JSON ("" for none).
func request(manifest, opts string) sdk.LoadRequest {
	ds, _ := json.Marshal(map[string]string{"format": "jsonl", "manifest": manifest})
	return sdk.LoadRequest{Dataset: ds, Options: json.RawMessage(opts)}
}

func TestInfo(t *testing.T) {
	info, err := (&task{}).Describe(context.Background(), sdk.DescribeRequest{})
	require.NoError(t, err)
	assert.Equal(t, "retrieval", info.Name)
	var names []string
	for _, f := range append(info.DatasetFields, info.OptionFields...) {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"format", "manifest", "image_column", "caption_column", "root", "shards", "caption_key",
		"max_expansion", "max_k", "queries", "bootstrap", "seed"}, names)
	assert.Equal(t, "dev", info.Version)
	bounds := map[string]float64{}
	for _, f := range info.OptionFields {
		if f.Min != nil {
			bounds[f.Name] = *f.Min
		}
	}
	assert.Equal(t, map[string]float64{"max_k": 1, "queries": 0, "bootstrap": 0, "seed": 0}, bounds)
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{"images/a.png": "", "outside.png": ""})
	tests := []struct {
		name     string
		manifest string // content; "-" for no manifest file
		req      func(manifest string) sdk.LoadRequest
		err      string
	}{
		{"missing manifest", "-", nil, "reading manifest"},
		{"bad JSON line", "{\"image\": \"images/a.png\", \"captions\": [\"x\"]}\n{oops\n", nil, "m.jsonl:2: bad JSON line"},
		{"unknown key", `{"image": "images/a.png", "captions": ["x"], "label": "y"}`, nil, `m.jsonl:1: bad JSON line: json: unknown field "label"`},
		{"trailing data", `{"image": "images/a.png", "captions": ["x"]} {}`, nil, "m.jsonl:1: bad JSON line: unexpected data"},
		{"escaping path", "\n" + `{"image": "../outside.png", "captions": ["x"]}`, nil, `m.jsonl:2: image path "../outside.png" leaves the manifest's folder`},
		{"absolute path", `{"image": "` + filepath.Join(dir, "outside.png") + `", "captions": ["x"]}`, nil, "m.jsonl:1: image path"},
		{"missing image", `{"image": "images/b.png", "captions": ["x"]}`, nil, `m.jsonl:1: image "images/b.png"`},
		{"no image", `{"captions": ["x"]}`, nil, "m.jsonl:1: image path is empty"},
		{"no captions", `{"image": "images/a.png"}`, nil, `m.jsonl:1: image "images/a.png" has no "captions"`},
		{"empty captions", `{"image": "images/a.png", "captions": []}`, nil, `m.jsonl:1: image "images/a.png" has no "captions"`},
		{"empty manifest", "\n\n", nil, "holds no items"},
		{"unknown dataset key", "", func(m string) sdk.LoadRequest {
			return sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "jsonl", "manifest": "` + m + `", "labels": "/x"}`)}
		}, `retrieval dataset: json: unknown field "labels"`},
		{"bad format", "", func(m string) sdk.LoadRequest {
			return sdk.LoadRequest{Dataset: json.RawMessage(`{"format": "xml", "manifest": "` + m + `"}`)}
		}, `format "xml" is not supported`},
		{"relative manifest", "", func(string) sdk.LoadRequest { return request("m.jsonl", "") }, "is not absolute"},
		{"no manifest", "", func(string) sdk.LoadRequest { return request("", "") }, `"manifest" is required`},
		{"max_k", "", func(m string) sdk.LoadRequest { return request(m, `{"max_k": 0}`) }, "max_k is 0"},
		{"unknown option", "", func(m string) sdk.LoadRequest { return request(m, `{"k": 3}`) }, `retrieval options: json: unknown field "k"`},
		{"option type", "", func(m string) sdk.LoadRequest { return request(m, `{"max_k": "3"}`) }, "retrieval options: json: cannot unmarshal string"},
	}
	m := filepath.Join(dir, "m.jsonl")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.RemoveAll(m))
			if tc.manifest != "-" {
				content := tc.manifest
				if content == "" {
					content = `{"image": "images/a.png", "captions": ["x"]}`
				}
				testutil.WriteFiles(t, dir, map[string]string{"m.jsonl": content})
			}
			req := request(m, "")
			if tc.req != nil {
				req = tc.req(m)
			}
			_, err := (&task{}).Load(context.Background(), req)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func TestLoadDeduplicates(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{
		"a.png": "", "img/b.png": "",
		"m.jsonl": `{"image": "a.png", "captions": ["x", "y"]}` + "\n" + `{"image": "img/b.png", "captions": ["x"]}` +
			"\n\n" + `{"image": "./a.png", "captions": ["z"]}` + "\n",
	})
	tk := &task{}
	d, err := tk.Load(context.Background(), request(filepath.Join(dir, "m.jsonl"), ""))
	require.NoError(t, err)
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "img", "b.png")
	assert.Equal(t, []sdk.ImageInput{{Path: a, Root: dir}, {Path: b, Root: dir}}, d.Images)
	assert.Equal(t, []string{"x", "y", "z"}, d.Texts)
	assert.Equal(t, 3, d.Size, "one item per manifest line")
	assert.Equal(t, []string{filepath.Join(dir, "m.jsonl"), a, b}, d.Files)
	assert.Equal(t, "retrieval-1", d.ID)

	// A second load gets its own ID and state.
	d2, err := tk.Load(context.Background(), request(filepath.Join(dir, "m.jsonl"), `{"max_k": 2}`))
	require.NoError(t, err)
	assert.Equal(t, "retrieval-2", d2.ID)
}

func TestScore(t *testing.T) {
	third := 1.0 / 3
	tests := []struct {
		name     string
		manifest string
		opts     string
		images   sdk.Matrix // distinct images in Load order
		texts    sdk.Matrix // distinct texts in Load order
		metrics  map[string]float64
		curves   []sdk.Curve
		preds    []sdk.Prediction
	}{
		{
			// Images a=(1,0), b=(0,2), c=(-1,0); texts red=(2,0), crimson=(0,3), blue=(-1,0), green=(0,-1).
			// Text → image ranks of the own image: red 0; crimson 1 (b first, a before c on the 0 tie); blue 1;
			// green 1 (a before c on the 0 tie). Image → text ranks of own texts: a: red 0, crimson 1; b: blue 2
			// (crimson, red, blue); c: green 2 (blue, crimson, green).
			name: "hand-made",
			manifest: `{"image": "a.png", "captions": ["red", "crimson"]}
{"image": "b.png", "captions": ["blue"]}
{"image": "c.png", "captions": ["green"]}`,
			images: sdk.Matrix{Rows: 3, Cols: 2, Data: []float32{1, 0, 0, 2, -1, 0}},
			texts:  sdk.Matrix{Rows: 4, Cols: 2, Data: []float32{2, 0, 0, 3, -1, 0, 0, -1}},
			metrics: map[string]float64{
				"image_retrieval_recall@1": 0.25, "image_retrieval_recall@5": 1, "image_retrieval_recall@10": 1,
				"text_retrieval_recall@1": third, "text_retrieval_recall@5": 1, "text_retrieval_recall@10": 1,
				"text_retrieval_true_recall@1": 0.5 / 3, "text_retrieval_true_recall@5": 1,
				"text_retrieval_true_recall@10": 1, "image_retrieval_true_recall@1": 0.25,
				"image_retrieval_true_recall@5": 1, "image_retrieval_true_recall@10": 1,
				"image_retrieval_mrr": (1 + 0.5 + 0.5 + 0.5) / 4, "text_retrieval_mrr": (1 + third + third) / 3,
				"image_retrieval_median_rank": 2, "text_retrieval_median_rank": 3,
			},
			curves: []sdk.Curve{
				{Name: "image_retrieval_recall@k", XLabel: "k", YLabel: "recall@k", X: []float64{1, 2, 3}, Y: []float64{0.25, 1, 1}},
				{Name: "text_retrieval_recall@k", XLabel: "k", YLabel: "recall@k", X: []float64{1, 2, 3, 4}, Y: []float64{third, third, 1, 1}},
			},
			preds: []sdk.Prediction{
				{Item: "red", Truth: "a.png", Predicted: "a.png", Correct: true, Group: "image_retrieval"},
				{Item: "crimson", Truth: "a.png", Predicted: "b.png", Group: "image_retrieval"},
				{Item: "blue", Truth: "b.png", Predicted: "c.png", Group: "image_retrieval"},
				{Item: "green", Truth: "c.png", Predicted: "a.png", Group: "image_retrieval"},
				{Item: "a.png", Truth: "red", Predicted: "red", Correct: true, Group: "text_retrieval"},
				{Item: "b.png", Truth: "blue", Predicted: "crimson", Group: "text_retrieval"},
				{Item: "c.png", Truth: "green", Predicted: "blue", Group: "text_retrieval"},
			},
		},
		{
			// Duplicates: a.png on lines 1 and 3, caption x on lines 1 and 2. Images a=(1,0), b=(0,1); texts
			// x=(1,0), y=(0,1), z=(1,1). Logical texts x→0, y→0, x→1, z→2. Text → image ranks: x: 0 (0 and 2 tie,
			// 0 first); y: 1; x (image 1 scores 0, images 0 and 2 score 1): 2; z: all tie, image 2 last: 2.
			// Image → text first ranks: image 0: x 0; image 1: x (second x ties the first, comes after it and y, z): 3;
			// image 2: z 2 (after the two x).
			name: "duplicates tie by index",
			manifest: `{"image": "a.png", "captions": ["x", "y"]}
{"image": "b.png", "captions": ["x"]}
{"image": "a.png", "captions": ["z"]}`,
			opts:   `{"max_k": 2}`,
			images: sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, 1}},
			texts:  sdk.Matrix{Rows: 3, Cols: 2, Data: []float32{1, 0, 0, 1, 1, 1}},
			metrics: map[string]float64{
				"image_retrieval_recall@1": 0.25, "image_retrieval_recall@5": 1, "image_retrieval_recall@10": 1,
				"text_retrieval_recall@1": third, "text_retrieval_recall@5": 1, "text_retrieval_recall@10": 1,
				"text_retrieval_true_recall@1": 0.5 / 3, "text_retrieval_true_recall@5": 1,
				"text_retrieval_true_recall@10": 1, "image_retrieval_true_recall@1": 0.25,
				"image_retrieval_true_recall@5": 1, "image_retrieval_true_recall@10": 1,
				"image_retrieval_mrr": (1 + 0.5 + third + third) / 4, "text_retrieval_mrr": (1 + 0.25 + third) / 3,
				"image_retrieval_median_rank": 2.5, "text_retrieval_median_rank": 3,
			},
			curves: []sdk.Curve{
				{Name: "image_retrieval_recall@k", XLabel: "k", YLabel: "recall@k", X: []float64{1, 2}, Y: []float64{0.25, 0.5}},
				{Name: "text_retrieval_recall@k", XLabel: "k", YLabel: "recall@k", X: []float64{1, 2}, Y: []float64{third, third}},
			},
			preds: []sdk.Prediction{
				{Item: "x", Truth: "a.png", Predicted: "a.png", Correct: true, Group: "image_retrieval"},
				{Item: "y", Truth: "a.png", Predicted: "b.png", Group: "image_retrieval"},
				{Item: "x", Truth: "b.png", Predicted: "a.png", Group: "image_retrieval"},
				{Item: "z", Truth: "a.png", Predicted: "a.png", Group: "image_retrieval"},
				{Item: "a.png", Truth: "x", Predicted: "x", Correct: true, Group: "text_retrieval"},
				{Item: "b.png", Truth: "x", Predicted: "y", Group: "text_retrieval"},
				{Item: "a.png", Truth: "z", Predicted: "x", Group: "text_retrieval"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			testutil.WriteFiles(t, dir, map[string]string{"a.png": "", "b.png": "", "c.png": "", "m.jsonl": tc.manifest})
			tk := &task{}
			d, err := tk.Load(context.Background(), request(filepath.Join(dir, "m.jsonl"), tc.opts))
			require.NoError(t, err)
			s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: tc.images,
				TextEmbeddings: tc.texts, LogitScale: 100})
			require.NoError(t, err)
			assert.Equal(t, tc.metrics, testutil.Values(s))
			assert.Equal(t, []string{"image_retrieval_recall@1", "text_retrieval_recall@1", "image_retrieval_recall@5",
				"text_retrieval_recall@5", "image_retrieval_recall@10", "text_retrieval_recall@10"}, s.Headline)
			assert.Equal(t, tc.curves, s.Curves)
			assert.Equal(t, tc.preds, s.Predictions)
		})
	}
}

func TestScoreErrors(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{"a.png": "", "m.jsonl": `{"image": "a.png", "captions": ["x", "y"]}`})
	tk := &task{}
	d, err := tk.Load(context.Background(), request(filepath.Join(dir, "m.jsonl"), ""))
	require.NoError(t, err)
	one := sdk.Matrix{Rows: 1, Cols: 2, Data: []float32{1, 0}}
	two := sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, 1}}
	tests := []struct {
		name string
		req  sdk.ScoreRequest
		err  string
	}{
		{"unknown dataset", sdk.ScoreRequest{DatasetID: "retrieval-9", ImageEmbeddings: one, TextEmbeddings: two}, `dataset "retrieval-9" was not loaded`},
		{"image rows", sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: two, TextEmbeddings: two}, "image embeddings: got 2 rows, the loaded dataset needs 1"},
		{"text rows", sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: one, TextEmbeddings: one}, "text embeddings: got 1 rows, the loaded dataset needs 2"},
		{"widths", sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: sdk.Matrix{Rows: 1, Cols: 1, Data: []float32{1}}, TextEmbeddings: two}, "image embeddings have width 1 but text embeddings 2"},
		{"bad matrix", sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: sdk.Matrix{Rows: 1, Cols: 2, Data: []float32{1}}, TextEmbeddings: two}, "does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tk.Score(context.Background(), tc.req)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

// TestScoreReference scores the tiny-a reference embeddings (reference.npz: the first 24 image rows are the
// VQA-RAD images, text rows 2k and 2k+1 are image k's captions) through Load and Score, with the reference texts as
// captions ("" and control characters included), and compares with reference.json's <model>_retrieval, which must
// match exactly.
func TestScoreReference(t *testing.T) {
	ref := sharedtest.Path(t, "fixtures", "tiny-a", "reference")
	arrays, err := npy.ReadNPZ(filepath.Join(ref, "reference.npz"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(ref, "reference.json"))
	require.NoError(t, err)
	var want map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &want))
	var texts []string
	require.NoError(t, json.Unmarshal(want["texts"], &texts))
	require.Len(t, texts, 48)

	dir := t.TempDir()
	var lines []string
	files := map[string]string{}
	for k := range 24 {
		files[fmt.Sprintf("%d.jpg", k)] = ""
		line, err := json.Marshal(map[string]any{"image": fmt.Sprintf("%d.jpg", k), "captions": texts[2*k : 2*k+2]})
		require.NoError(t, err)
		lines = append(lines, string(line))
	}
	files["m.jsonl"] = strings.Join(lines, "\n")
	testutil.WriteFiles(t, dir, files)
	for _, model := range []string{"biomedclip", "clip"} {
		t.Run(model, func(t *testing.T) {
			tk := &task{}
			d, err := tk.Load(context.Background(), request(filepath.Join(dir, "m.jsonl"), ""))
			require.NoError(t, err)
			require.Equal(t, texts, d.Texts) // all distinct, in reference order
			img, txt := arrays[model+"_image_embeds"], arrays[model+"_text_embeds"]
			require.Equal(t, []int{31, 32}, img.Shape)
			require.Equal(t, []int{48, 32}, txt.Shape)
			s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID,
				ImageEmbeddings: sdk.Matrix{Rows: 24, Cols: 32, Data: img.Float32[:24*32]},
				TextEmbeddings:  sdk.Matrix{Rows: 48, Cols: 32, Data: txt.Float32}})
			require.NoError(t, err)
			var values map[string]any
			require.NoError(t, json.Unmarshal(want[model+"_retrieval"], &values))
			for _, k := range []int{1, 5, 10} {
				for _, m := range []string{"image_retrieval_recall@%d", "text_retrieval_recall@%d"} {
					key := fmt.Sprintf(m, k)
					assert.Equal(t, values[key], testutil.Values(s)[key], key)
				}
			}
		})
	}
}

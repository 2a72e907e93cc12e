package demogen

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readTree returns every file under dir by its slash path relative to dir.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return err
	}))
	return files
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	ea, err := Generate(a)
	require.NoError(t, err)
	eb, err := Generate(b)
	require.NoError(t, err)
	require.Equal(t, ea, eb)
	ta, tb := readTree(t, a), readTree(t, b)
	require.Equal(t, ta, tb, "two runs must write byte-identical trees")

	var want []string
	for _, f := range []string{"open_clip_config.json", "vocab.txt", "tokenizer_config.json", "image.onnx", "text.onnx"} {
		want = append(want, "model/"+f)
	}
	for _, s := range images() {
		want = append(want, "data/images/"+s.name)
	}
	for _, s := range vqaImages() {
		want = append(want, "data/vqa/images/"+s.name)
	}
	want = append(want, "data/retrieval.jsonl", "data/classification.jsonl", "data/vqa/VQA_RAD_Dataset_Public.json")
	var got []string
	for name := range ta {
		got = append(got, name)
	}
	require.ElementsMatch(t, want, got)
}

func TestGenerateOverwritesAndFails(t *testing.T) {
	dir := t.TempDir()
	_, err := Generate(dir)
	require.NoError(t, err)
	first := readTree(t, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model", "vocab.txt"), []byte("stale"), 0o644))
	_, err = Generate(dir)
	require.NoError(t, err)
	require.Equal(t, first, readTree(t, dir), "a second run over a tree restores it")

	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = Generate(file)
	require.ErrorContains(t, err, "generating the demo")
}

// TestExpectedFollowsFromItems recounts every metric of Expected from its per-item outcomes.
func TestExpectedFollowsFromItems(t *testing.T) {
	e := expected(len(vocabulary()))
	share := func(n, of int) float64 { return float64(n) / float64(of) }
	count := func(ranks []int, k int) int {
		n := 0
		for _, r := range ranks {
			if r <= k {
				n++
			}
		}
		return n
	}
	r := e.Retrieval
	require.Len(t, r.TextToImageRank, r.Texts)
	require.Len(t, r.ImageToTextRanks, r.Images)
	var best []int
	for _, ranks := range r.ImageToTextRanks {
		best = append(best, slices.Min(ranks))
	}
	c := e.Classification
	hits, support := map[string]int{}, map[string]int{}
	var top1 int
	for i, l := range c.Labels {
		support[l]++
		if c.Predicted[i] == l {
			top1++
			hits[l]++
		}
		assert.Equal(t, c.Predicted[i] == l, c.LabelRank[i] == 1, "item %d", i)
	}
	var mpcr float64
	for _, cl := range c.Classes {
		mpcr += share(hits[cl], support[cl]) / float64(len(c.Classes))
	}
	v := e.VQA
	var okClosed, okOpen int
	for i, a := range v.Answers {
		if !strings.EqualFold(a, v.Predicted[i]) {
			continue
		}
		if v.AnswerTypes[i] == "CLOSED" {
			okClosed++
		} else {
			okOpen++
		}
	}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"image_retrieval_recall@1", r.ImageRetrievalRecall[1], share(count(r.TextToImageRank, 1), r.Texts)},
		{"image_retrieval_recall@5", r.ImageRetrievalRecall[5], share(count(r.TextToImageRank, 5), r.Texts)},
		{"image_retrieval_recall@10", r.ImageRetrievalRecall[10], share(count(r.TextToImageRank, 10), r.Texts)},
		{"text_retrieval_recall@1", r.TextRetrievalRecall[1], share(count(best, 1), r.Images)},
		{"text_retrieval_recall@5", r.TextRetrievalRecall[5], share(count(best, 5), r.Images)},
		{"text_retrieval_recall@10", r.TextRetrievalRecall[10], share(count(best, 10), r.Images)},
		{"acc1", c.Acc1, share(top1, len(c.Labels))},
		{"acc5", c.Acc5, share(count(c.LabelRank, 5), len(c.Labels))},
		{"mean_per_class_recall", c.MeanPerClassRecall, mpcr},
		{"closed", v.ClosedAccuracy, share(okClosed, v.Closed)},
		{"open", v.OpenAccuracy, share(okOpen, v.Open)},
		{"overall", v.OverallAccuracy, share(okClosed+okOpen, v.Closed+v.Open)},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.InDelta(t, tc.want, tc.got, 1e-12) })
	}
	// The hand-written fractions, so a changed table cannot silently move them.
	assert.Equal(t, []float64{0.8, 0.92, 0.96}, []float64{r.ImageRetrievalRecall[1], r.ImageRetrievalRecall[5], r.ImageRetrievalRecall[10]})
	assert.InDelta(t, 0.9166666666666666, r.TextRetrievalRecall[1], 1e-15)
	assert.InDelta(t, 0.7692307692307693, c.Acc1, 1e-15)
	assert.InDelta(t, 0.8611111111111112, c.MeanPerClassRecall, 1e-15)
	assert.InDelta(t, 0.7857142857142857, v.OverallAccuracy, 1e-15)
}

// analyticEncoder embeds with the closed-form model: images from the mean colour of the written PNG (resize and
// crop keep it: the images are ImageSize square, or solid), texts as the sum of their word vectors.
func analyticEncoder() encoder {
	vocab := vocabulary()
	return encoder{
		images: func(t *testing.T, paths []string) [][]float64 {
			var out [][]float64
			for _, p := range paths {
				w, h, at := decodePNG(t, p)
				var sum [3]float64
				for y := range h {
					for x := range w {
						for c, v := range at(x, y) {
							sum[c] += float64(v)
						}
					}
				}
				for c := range sum {
					sum[c] /= float64(w * h)
				}
				e := imageEmbedding(sum)
				out = append(out, e[:])
			}
			return out
		},
		texts: func(t *testing.T, texts []string) [][]float64 {
			var out [][]float64
			for _, s := range texts {
				e, err := textEmbedding(s, vocab)
				require.NoError(t, err)
				out = append(out, e[:])
			}
			return out
		},
	}
}

// TestAnalyticOutcomes scores the written data with the closed-form model: every outcome must be the expected one,
// and every deciding comparison must have a cosine gap of at least 0.009, so that float32 rounding (~1e-6) in ONNX
// Runtime or the harness cannot change a result. With "yes"/"no" among the open candidates nothing changes.
func TestAnalyticOutcomes(t *testing.T) {
	dir := t.TempDir()
	exp, err := Generate(dir)
	require.NoError(t, err)
	for _, withYesNo := range []bool{false, true} {
		o := evaluate(t, dir, analyticEncoder(), withYesNo)
		requireMatches(t, exp, o)
		require.GreaterOrEqual(t, o.margin, 0.009, "smallest deciding cosine gap")
	}
}

func TestGeneratedFiles(t *testing.T) {
	dir := t.TempDir()
	exp, err := Generate(dir)
	require.NoError(t, err)

	var cfg struct {
		ModelCfg struct {
			EmbedDim  int `json:"embed_dim"`
			VisionCfg struct {
				ImageSize int `json:"image_size"`
			} `json:"vision_cfg"`
			TextCfg struct {
				HFTokenizerName string `json:"hf_tokenizer_name"`
				ContextLength   int    `json:"context_length"`
			} `json:"text_cfg"`
		} `json:"model_cfg"`
		PreprocessCfg struct {
			Mean []float64 `json:"mean"`
			Std  []float64 `json:"std"`
		} `json:"preprocess_cfg"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "model", "open_clip_config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &cfg))
	assert.Equal(t, 8, cfg.ModelCfg.EmbedDim)
	assert.Equal(t, 32, cfg.ModelCfg.VisionCfg.ImageSize)
	assert.Equal(t, 16, cfg.ModelCfg.TextCfg.ContextLength)
	assert.NotEmpty(t, cfg.ModelCfg.TextCfg.HFTokenizerName)
	assert.Equal(t, []float64{0.48145466, 0.4578275, 0.40821073}, cfg.PreprocessCfg.Mean)
	assert.Equal(t, []float64{0.26862954, 0.26130258, 0.27577711}, cfg.PreprocessCfg.Std)

	var tok map[string]any
	b, err = os.ReadFile(filepath.Join(dir, "model", "tokenizer_config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &tok))
	assert.Equal(t, true, tok["do_lower_case"])
	assert.Equal(t, "BertTokenizer", tok["tokenizer_class"])

	b, err = os.ReadFile(filepath.Join(dir, "model", "vocab.txt"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Len(t, lines, exp.Model.Vocab)
	assert.Equal(t, []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}, lines[:5])
	for _, w := range lines {
		assert.NotContains(t, w, "##", "every demo word is whole")
	}

	for _, tc := range []struct {
		path string
		w, h int
		rgb  [3]uint8
	}{
		{"data/images/red.png", 32, 32, [3]uint8{255, 0, 0}},
		{"data/images/grey.png", 32, 32, [3]uint8{128, 128, 128}},
		{"data/images/red_wide.png", 64, 48, [3]uint8{255, 0, 0}},
		{"data/images/magenta_tall.png", 48, 64, [3]uint8{255, 0, 255}},
		{"data/vqa/images/orange.png", 32, 32, [3]uint8{255, 128, 0}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w, h, at := decodePNG(t, filepath.Join(dir, tc.path))
			require.Equal(t, [2]int{tc.w, tc.h}, [2]int{w, h})
			for _, p := range [][2]int{{0, 0}, {w - 1, h - 1}, {w / 2, h / 2}} {
				assert.Equal(t, tc.rgb, at(p[0], p[1]))
			}
		})
	}
	_, _, at := decodePNG(t, filepath.Join(dir, "data/images/red_green.png"))
	assert.Equal(t, [3]uint8{255, 0, 0}, at(15, 7))
	assert.Equal(t, [3]uint8{0, 255, 0}, at(16, 7))

	var rows []map[string]any
	b, err = os.ReadFile(filepath.Join(dir, "data", "vqa", "VQA_RAD_Dataset_Public.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rows))
	phrases := map[string]int{}
	for _, r := range rows {
		phrases[r["phrase_type"].(string)]++
		for _, f := range []string{"qid", "image_name", "image_organ", "question", "answer", "answer_type", "question_type"} {
			assert.Contains(t, r, f)
		}
		_, err := os.Stat(filepath.Join(dir, "data", "vqa", "images", r["image_name"].(string)))
		assert.NoError(t, err)
	}
	assert.Equal(t, map[string]int{"freeform": 8, "test_freeform": exp.VQA.Closed + exp.VQA.Open}, phrases)
}

func TestTokenIDs(t *testing.T) {
	ids := vocabIDs(vocabulary())
	for _, tc := range []struct {
		text    string
		want    []string // tokens between [CLS] and [SEP]
		wantErr string
	}{
		{text: "a red image.", want: []string{"a", "red", "image", "."}},
		{text: "Half RED,  half green", want: []string{"half", "red", ",", "half", "green"}},
		{text: "is the image yellow? yes", want: []string{"is", "the", "image", "yellow", "?", "yes"}},
		{text: "a purple image", wantErr: `word "purple" is not in the demo vocabulary`},
		{text: strings.Repeat("red ", 15), wantErr: "at most 14 fit"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, err := tokenIDs(tc.text, ids)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			want := []int64{clsID}
			for _, w := range tc.want {
				want = append(want, ids[w])
			}
			want = append(want, sepID)
			want = append(want, make([]int64, ContextLength-len(want))...)
			require.Equal(t, want, got)
		})
	}
	_, err := textEmbedding("the image.", vocabulary())
	require.ErrorContains(t, err, "zero vector")
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/internal/sharedtest"
)

// paperVars are the variables configs/biomedclip-paper.yaml needs, in the order it reports them.
var paperVars = []string{"BIOMEDCLIP_DIR", "CLIP_DIR", "PCAM_DIR", "LC25000_DIR", "LC25000_DIR", "TCGA_TIL_DIR", "RSNA_DIR", "PMC15M_TEST_DIR", "VQA_RAD_DIR", "SLAKE_DIR"}

func TestPaperConfigExplainsWhatIsMissing(t *testing.T) {
	for _, v := range paperVars {
		t.Setenv(v, "")
	}
	cfg := filepath.Join(sharedtest.RepoRoot(), "configs", "biomedclip-paper.yaml")
	code, _, errOut := cli(t, "validate", cfg)
	assert.Equal(t, 2, code)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Len(t, lines, len(paperVars)+1, errOut)
	for i, v := range paperVars {
		assert.Contains(t, lines[i], "variable "+v+" is not set")
		assert.True(t, strings.HasPrefix(lines[i], cfg+":"), lines[i])
	}
	assert.Equal(t, "clipeval: 10 problem(s) in the config", lines[len(lines)-1])
}

func TestPaperConfigValidatesAgainstTheTaskPlugins(t *testing.T) {
	root := t.TempDir()
	mk := func(rel ...string) string {
		p := filepath.Join(append([]string{root}, rel...)...)
		require.NoError(t, os.MkdirAll(p, 0o755))
		return p
	}
	file := func(dir, name string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("image,label\n"), 0o644))
	}
	vars := map[string]string{"BIOMEDCLIP_DIR": mk("biomedclip"), "CLIP_DIR": mk("clip"), "PCAM_DIR": mk("pcam"),
		"LC25000_DIR": mk("lc25000"), "TCGA_TIL_DIR": mk("til"), "RSNA_DIR": mk("rsna"), "PMC15M_TEST_DIR": mk("pmc"),
		"VQA_RAD_DIR": mk("vqa-rad"), "SLAKE_DIR": mk("slake")}
	mk("lc25000", "lung_image_sets")
	mk("lc25000", "colon_image_sets")
	file(vars["TCGA_TIL_DIR"], "test.csv")
	file(vars["RSNA_DIR"], "test.csv")
	for k, v := range vars {
		t.Setenv(k, v)
	}
	cfgPath := filepath.Join(sharedtest.RepoRoot(), "configs", "biomedclip-paper.yaml")
	// The folders exist but are empty: validate reports every model folder and every dataset at once, each at its
	// line and column, before any model runs (exit 2), as run would reject them.
	code, _, errOut := cli(t, "validate", cfgPath)
	require.Equal(t, 2, code, errOut)
	for _, want := range []string{
		`biomedclip-paper.yaml:18:11: model "biomedclip": model folder ` + vars["BIOMEDCLIP_DIR"] + `: open ` + vars["BIOMEDCLIP_DIR"] + `/open_clip_config.json: no such file`,
		`biomedclip-paper.yaml:20:11: model "openai-clip-vit-b16": model folder ` + vars["CLIP_DIR"],
		`biomedclip-paper.yaml:24:5: task "pcam": loading the dataset: plugin "classification": Load: ImageFolder ` + vars["PCAM_DIR"] + ` holds no class folders`,
		`biomedclip-paper.yaml:35:5: task "lc25000-lung": loading the dataset:`,
		`biomedclip-paper.yaml:46:5: task "lc25000-colon": loading the dataset:`,
		`biomedclip-paper.yaml:57:5: task "tcga-til": loading the dataset: plugin "classification": Load: manifest ` + vars["TCGA_TIL_DIR"] + `/test.csv holds no items`,
		`biomedclip-paper.yaml:69:5: task "rsna-pneumonia": loading the dataset:`,
		`biomedclip-paper.yaml:83:5: task "pmc15m-retrieval": loading the dataset: plugin "retrieval": Load: retrieval dataset: shard pattern "*.tar" matches no file in ` + vars["PMC15M_TEST_DIR"],
		`biomedclip-paper.yaml:107:5: task "vqa-rad": loading the dataset:`,
		`biomedclip-paper.yaml:117:5: task "slake-en": loading the dataset:`,
		"clipeval: 10 problem(s) in the config",
	} {
		assert.Contains(t, errOut, want)
	}

	// The published numbers are the paper's, as fractions.
	cfg, err := config.Load(cfgPath, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	require.NoError(t, err)
	published := map[string]map[string]map[string]float64{}
	for _, tk := range cfg.Tasks {
		published[tk.Name] = tk.Published
	}
	assert.InDelta(t, 0.7341, published["pcam"]["biomedclip"]["acc1"], 1e-12)
	assert.InDelta(t, 0.6704, published["tcga-til"]["biomedclip"]["auroc"], 1e-12)
	assert.InDelta(t, 0.0848, published["pmc15m-retrieval"]["openai-clip-vit-b16"]["image_retrieval_recall@1"], 1e-12)
	assert.InDelta(t, 0.861, published["slake-en"]["biomedclip"]["overall_accuracy"], 1e-12)
	assert.Equal(t, 0.5, cfg.Tolerance.Default, "percentage points, as written")
}

// TestValidateReportsWhatRunWouldReject writes a config with one of each problem `run` would reject and checks that
// validate reports all of them in one pass, each at its line and column: a model folder without image.onnx, an
// image.onnx that is not ONNX, an open_clip_config.json whose embed_dim disagrees with the ONNX outputs, a misspelt
// model option, an image path escaping the dataset's folder, and a task option out of range.
func TestValidateReportsWhatRunWouldReject(t *testing.T) {
	dir := t.TempDir()
	fixture := sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	model := func(name string, edit func(dir string)) {
		d := filepath.Join(dir, name)
		require.NoError(t, os.Mkdir(d, 0o755))
		for _, f := range []string{"open_clip_config.json", "vocab.txt", "tokenizer_config.json", "image.onnx", "text.onnx"} {
			b, err := os.ReadFile(filepath.Join(fixture, f))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(d, f), b, 0o644))
		}
		edit(d)
	}
	model("no-image", func(d string) { require.NoError(t, os.Remove(filepath.Join(d, "image.onnx"))) })
	model("not-onnx", func(d string) {
		require.NoError(t, os.WriteFile(filepath.Join(d, "image.onnx"), []byte("not ONNX"), 0o644))
	})
	model("dim", func(d string) {
		require.NoError(t, os.WriteFile(filepath.Join(d, "open_clip_config.json"), []byte(`{"model_cfg": {"embed_dim": 16,
			"vision_cfg": {"image_size": 224}, "text_cfg": {"hf_tokenizer_name": "x", "context_length": 256}}}`), 0o644))
	})
	model("good", func(string) {})
	require.NoError(t, os.Mkdir(filepath.Join(dir, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "outside.png"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "in.png"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "escape.jsonl"), []byte(`{"image": "in.png", "captions": ["a"]}
{"image": "../outside.png", "captions": ["b"]}
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "cls.jsonl"), []byte(`{"image": "in.png", "label": "a"}
`), 0o644))
	cfg := filepath.Join(dir, "exp.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`models:
  - name: no-image
    path: no-image
  - name: not-onnx
    path: not-onnx
  - name: dim
    path: dim
  - name: typo
    path: good
    options: {logit_scal: 50}
tasks:
  - name: escape
    task: retrieval
    dataset: {format: jsonl, manifest: data/escape.jsonl}
  - name: boot
    task: classification
    dataset: {format: jsonl, manifest: data/cls.jsonl}
    options: {classes: [a, b], bootstrap: -1}
`), 0o644))
	code, out, errOut := cli(t, "validate", cfg)
	assert.Equal(t, 2, code, out)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	want := []string{
		cfg + `:3:11: model "no-image": model ` + filepath.Join(dir, "no-image") + `: image tower: stat ` + filepath.Join(dir, "no-image", "image.onnx") + `: no such file or directory`,
		cfg + `:5:11: model "not-onnx": model ` + filepath.Join(dir, "not-onnx") + `: image tower: reading inputs and outputs of ` + filepath.Join(dir, "not-onnx", "image.onnx"),
		cfg + `:7:11: model "dim": model ` + filepath.Join(dir, "dim") + `: ` + filepath.Join(dir, "dim", "image.onnx") + ` outputs 32 values but open_clip_config.json says embed_dim 16`,
		cfg + `:10:15: unknown key "logit_scal" in model "typo" options (known: logit_scale, bpe, text_padding, threads, inter_op_threads, graph_optimization, spinning, thread_affinity, execution_provider)`,
		cfg + `:12:5: task "escape": loading the dataset: plugin "retrieval": Load: ` + filepath.Join(dir, "data", "escape.jsonl") + `:2: image path "../outside.png" leaves the manifest's folder ` + filepath.Join(dir, "data"),
		cfg + `:18:43: bootstrap must be at least 0, is -1`,
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, w)
		}
		assert.True(t, found, "want a line starting %q in:\n%s", w, errOut)
	}
	assert.Equal(t, "clipeval: 7 problem(s) in the config", lines[len(lines)-1], errOut)
}

// TestValidateYAMLSyntaxErrorPosition: a syntax error is reported at its own line and column.
func TestValidateYAMLSyntaxErrorPosition(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "exp.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("models:\n  - name: a\n    path: \"m\n  - name: b\n"), 0o644))
	code, _, errOut := cli(t, "validate", cfg)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, cfg+":3:11: invalid YAML:")
}

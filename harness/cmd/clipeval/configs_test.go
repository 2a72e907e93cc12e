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

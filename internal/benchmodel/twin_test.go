package benchmodel

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// pythonWithTorch returns the first of $CLIPEVAL_PYTHON, python3 on PATH and /usr/bin/python3 (where Debian's
// python3-torch lives, when PATH leads to another Python first) that imports torch, onnx and numpy. Without one the
// test is skipped, and failed when CI is set (CI installs python3-torch, python3-onnx and python3-numpy).
func pythonWithTorch(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, py := range []string{os.Getenv("CLIPEVAL_PYTHON"), "python3", "/usr/bin/python3"} {
		if py == "" {
			continue
		}
		path, err := exec.LookPath(py)
		if err != nil {
			tried = append(tried, py+": not found")
			continue
		}
		// find_spec locates the modules without importing them (importing torch takes seconds).
		out, err := exec.Command(path, "-c", "import importlib.util as u, sys; "+
			"missing = [m for m in ('torch', 'onnx', 'numpy') if u.find_spec(m) is None]; "+
			"print('missing', ', '.join(missing)) if missing else None; sys.exit(1 if missing else 0)").CombinedOutput()
		if err == nil {
			return path
		}
		tried = append(tried, path+": "+strings.TrimSpace(string(out)))
	}
	msg := "the torch twin needs a python3 with torch, onnx and numpy (Debian: python3-torch python3-onnx python3-numpy; " +
		"or set CLIPEVAL_PYTHON): " + strings.Join(tried, "; ")
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestTorchTwinMatchesONNXRuntime runs torch_twin.py on the small model and checks its embeddings equal ONNX
// Runtime's within 1e-4 relative, so that timing one against the other compares the same computation.
func TestTorchTwinMatchesONNXRuntime(t *testing.T) {
	py := pythonWithTorch(t)
	startORT(t)
	cfg := smallConfig()
	dir := writeSmall(t, cfg)

	const nImages, nTexts, ctx = 3, 4, 24
	pixels := testPixels(nImages, cfg.Vision.ImageSize)
	texts := [][]int64{{2, 9, 10, 11, 12, 3}, {2, 13, 14, 3}, {2, 7, 19, 20, 8, 16, 17, 18, 3}, {2, 22, 21, 15, 6, 5, 3}}
	ids := make([]int64, nTexts*ctx)
	mask := make([]int64, nTexts*ctx)
	for i, tx := range texts {
		for j, id := range tx {
			ids[i*ctx+j], mask[i*ctx+j] = id, 1
		}
	}
	flat := func(rows [][]float32) []float32 {
		var out []float32
		for _, r := range rows {
			out = append(out, r...)
		}
		return out
	}
	imgEmb := flat(runImage(t, dir, pixels, nImages, cfg.Vision.ImageSize))
	txtEmb := flat(runText(t, dir, ids, mask, nTexts))
	golden := filepath.Join(t.TempDir(), "golden.npz")
	s := cfg.Vision.ImageSize
	require.NoError(t, npy.WriteNPZ(golden, map[string]*npy.Array{
		"pixels":       npy.Float32Array([]int{nImages, 3, s, s}, pixels),
		"token_ids":    npy.Int64Array([]int{nTexts, ctx}, ids),
		"image_embeds": npy.Float32Array([]int{nImages, cfg.EmbedDim}, imgEmb),
		"text_embeds":  npy.Float32Array([]int{nTexts, cfg.EmbedDim}, txtEmb),
	}))

	out := filepath.Join(t.TempDir(), "torch.npz")
	cmd := exec.Command(py, "torch_twin.py", "check", "--model", dir, "--golden", golden, "--out", out, "--threads", "1")
	stdout, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "torch_twin.py check: %s%s", stdout, stderr)
	var report struct {
		OK          bool    `json:"ok"`
		ImageMaxRel float64 `json:"image_embeds_max_rel"`
		TextMaxRel  float64 `json:"text_embeds_max_rel"`
	}
	require.NoError(t, json.Unmarshal(stdout, &report), "%s", stdout)
	assert.True(t, report.OK, "%s", stdout)
	t.Logf("torch twin against ONNX Runtime: image %.3g, text %.3g relative", report.ImageMaxRel, report.TextMaxRel)

	got, err := npy.ReadNPZ(out)
	require.NoError(t, err)
	for name, want := range map[string][]float32{"image_embeds": imgEmb, "text_embeds": txtEmb} {
		a := got[name]
		require.NotNil(t, a, "%s missing from the twin's output", name)
		require.Equal(t, []int{len(want) / cfg.EmbedDim, cfg.EmbedDim}, a.Shape, name)
		for r := 0; r < a.Shape[0]; r++ {
			row := want[r*cfg.EmbedDim : (r+1)*cfg.EmbedDim]
			d := relDiff(a.Float32[r*cfg.EmbedDim:(r+1)*cfg.EmbedDim], row)
			assert.LessOrEqualf(t, d, 1e-4, "%s row %d: torch and ONNX Runtime differ by %.3g relative", name, r, d)
		}
	}

	// The bench mode runs and reports both rates.
	stdout, err = exec.Command(py, "torch_twin.py", "bench", "--model", dir, "--batch", "2", "--iters", "1", "--threads", "1").Output()
	require.NoError(t, err, "torch_twin.py bench")
	var bench map[string]any
	require.NoError(t, json.Unmarshal(stdout, &bench), "%s", stdout)
	assert.Greater(t, bench["images_per_s"], 0.0)
	assert.Greater(t, bench["texts_per_s"], 0.0)
	assert.EqualValues(t, 24, bench["seq"])
}

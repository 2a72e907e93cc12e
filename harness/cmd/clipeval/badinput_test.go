package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// TestBadInputExits2WithTheError: inputs that only fail once a model runs (a corrupt image, a model folder ONNX
// Runtime cannot load), an --out that cannot be written and malformed texts or token ids are bad input: exit 2,
// with the actual error on the console, not only "see results.json".
func TestBadInputExits2WithTheError(t *testing.T) {
	demo := func(t *testing.T, edit func(dir string)) {
		dir := t.TempDir()
		_, err := demogen.Generate(dir)
		require.NoError(t, err)
		edit(dir)
		t.Setenv("CLIPEVAL_DEMO", dir)
	}
	config := filepath.Join(sharedtest.RepoRoot(), "configs", "demo.yaml")
	tmp := t.TempDir()
	aFile := filepath.Join(tmp, "a-file")
	require.NoError(t, os.WriteFile(aFile, []byte("x"), 0o644))
	texts := filepath.Join(tmp, "texts.json")
	require.NoError(t, os.WriteFile(texts, []byte(`["ok", null]`), 0o644))
	okTexts := filepath.Join(tmp, "ok.json")
	require.NoError(t, os.WriteFile(okTexts, []byte(`["ok"]`), 0o644))
	ids := make([]int64, 256)
	ids[5] = -1
	golden := filepath.Join(tmp, "negative.npz")
	require.NoError(t, npy.WriteNPZ(golden, map[string]*npy.Array{goldenTokenIDs: npy.Int64Array([]int{1, 256}, ids),
		goldenTextEmbeds: npy.Float32Array([]int{1, 32}, make([]float32, 32))}))
	overflow := filepath.Join(tmp, "overflow.npz") // token_ids of shape (2, 2^62): 2^63 elements overflow an int
	func() {
		f, err := os.Create(overflow)
		require.NoError(t, err)
		defer f.Close()
		zw := zip.NewWriter(f)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "token_ids.npy", Method: zip.Store})
		require.NoError(t, err)
		h := "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 4611686018427387904), }\n"
		_, err = w.Write([]byte("\x93NUMPY\x01\x00" + string([]byte{byte(len(h)), 0}) + h))
		require.NoError(t, err)
		require.NoError(t, zw.Close())
	}()
	model := fixtureArgs(t, "biomedclip")
	saved := writeResults(t, tmp, "results.json", okRun("m", "t", 0.5, 0.5))
	huge := writeResults(t, tmp, "huge.json", okRun("m", "t", 1e308, 0.5)) // once spun `report` for ever
	tests := []struct {
		name  string
		setup func(t *testing.T)
		args  []string
		want  []string
	}{
		{"corrupt image", func(t *testing.T) {
			demo(t, func(dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "images", "blue.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644))
			})
		}, []string{"run", config, "--out", filepath.Join(tmp, "out-image"), "--quiet"}, []string{
			`clipeval: model "demo-colour" on task "colour-retrieval" failed: encoding images 1-8 of 12: plugin "onnx": EncodeImages: image `,
			`clipeval: model "demo-colour" on task "colour-classification" failed: encoding images 1-8 of 13: plugin "onnx": EncodeImages: image `,
			"/data/images/blue.png: imageprep: PNG data is truncated or has no IHDR chunk first\n",
			"clipeval: 2 of 3 runs failed (their errors are in " + filepath.Join(tmp, "out-image", "results.json") + ")",
		}},
		{"model ONNX Runtime cannot load", func(t *testing.T) {
			demo(t, func(dir string) {
				p := filepath.Join(dir, "model", "image.onnx")
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(p, bytes.ReplaceAll(b, []byte("MatMul"), []byte("MatMux")), 0o644))
			})
		}, []string{"run", config, "--out", filepath.Join(tmp, "out-model"), "--quiet"}, []string{
			`clipeval: model "demo-colour" on tasks "colour-retrieval", "colour-classification", "colour-vqa" failed: model "demo-colour": plugin "onnx": Info: model `,
			"No Op registered for MatMux",
		}},
		{"run --out a file", func(t *testing.T) { demo(t, func(string) {}) }, []string{"run", config, "--out", aFile, "--quiet"},
			[]string{"clipeval: run: the output folder " + aFile + " is a file: give a folder (--out DIR; it is created when missing)"}},
		{"report --out a file", func(*testing.T) {}, []string{"report", saved, "--out", aFile},
			[]string{"clipeval: report: the output folder " + aFile + " is a file"}},
		{"report of a fraction of 1e308", func(*testing.T) {}, []string{"report", huge, "--out", filepath.Join(tmp, "report-huge")},
			[]string{`clipeval: report: results ` + huge + `: model "m", task "t": metric acc1 is a fraction but has the value 1e+308, outside [0, 1]`}},
		{"null text", func(*testing.T) {}, append([]string{"embed", "--texts", texts, "--out", filepath.Join(tmp, "e.npy")}, model...),
			[]string{"clipeval: embed: " + texts + `: text 1 is null; every entry must be a string (write "" for an empty text)`}},
		{"embed into a missing folder", func(*testing.T) {}, append([]string{"embed", "--texts", okTexts, "--out", filepath.Join(tmp, "nowhere", "e.npy")}, model...),
			[]string{"clipeval: embed: --out " + filepath.Join(tmp, "nowhere", "e.npy") + ": the folder " + filepath.Join(tmp, "nowhere") + " does not exist (create it first)"}},
		{"golden shape overflowing", func(*testing.T) {}, append([]string{"verify-export", "--golden", overflow}, model...),
			[]string{"clipeval: npz: " + overflow + ": member token_ids.npy: npy: shape (2, 4611686018427387904) holds more than"}},
		{"negative token id", func(*testing.T) {}, append([]string{"verify-export", "--golden", golden}, model...),
			[]string{"token id -1 at row 0, position 5 is negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(t)
			code, _, errOut := cli(t, tc.args...)
			assert.Equal(t, 2, code, errOut)
			for _, w := range tc.want {
				assert.Contains(t, errOut, w)
			}
		})
	}
}

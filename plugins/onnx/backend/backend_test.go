package backend

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/modelfolder"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/digest"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// fixtureRef returns the ModelRef of a tiny-a fixture model ("biomedclip" or "clip").
func fixtureRef(t testing.TB, name string) sdk.ModelRef {
	ref := sdk.ModelRef{Dir: sharedtest.Path(t, "fixtures", "tiny-a", name), Options: map[string]string{"logit_scale": "50"}}
	if name == "clip" {
		ref.Options["bpe"] = sharedtest.Path(t, "vocab", "bpe_simple_vocab_16e6.txt.gz")
	}
	return ref
}

// assertClose checks every value within 1e-5 relative to the largest magnitude of its row.
func assertClose(t *testing.T, want []float32, got sdk.Matrix, what string) {
	t.Helper()
	require.Equal(t, len(want), len(got.Data), what)
	for r := 0; r < got.Rows; r++ {
		scale := 0.0
		for _, v := range want[r*got.Cols : (r+1)*got.Cols] {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for c := 0; c < got.Cols; c++ {
			w, g := float64(want[r*got.Cols+c]), float64(got.Data[r*got.Cols+c])
			require.LessOrEqualf(t, math.Abs(w-g), 1e-5*scale, "%s row %d col %d: want %g, got %g", what, r, c, w, g)
		}
	}
}

func TestFixtureEmbeddingsFromReferenceInputs(t *testing.T) {
	ref, err := npy.ReadNPZ(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.npz"))
	require.NoError(t, err)
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	for _, name := range []string{"biomedclip", "clip"} {
		t.Run(name, func(t *testing.T) {
			m, err := b.load(fixtureRef(t, name))
			require.NoError(t, err)
			assert.Equal(t, 32, m.info.EmbedDim)
			assert.Equal(t, 50.0, m.info.LogitScale)
			assert.Contains(t, m.info.Runtime, "onnxruntime 1.30.0")

			pixels := ref["pixels"]
			n := pixels.Shape[0]
			got, err := m.EncodePixels(context.Background(), pixels.Float32, n)
			require.NoError(t, err)
			all := ref[name+"_image_embeds"]
			var want []float32
			for _, idx := range ref["pixels_index"].Int64 {
				want = append(want, all.Float32[int(idx)*32:(int(idx)+1)*32]...)
			}
			assertClose(t, want, got, "image embeddings")

			ids := ref[name+"_token_ids"]
			got, err = m.EncodeIDs(context.Background(), ids.Int64, ids.Shape[0])
			require.NoError(t, err)
			assertClose(t, ref[name+"_text_embeds"].Float32, got, "text embeddings")
		})
	}
}

func TestFixtureFilesAreHashed(t *testing.T) {
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	info, err := b.Info(context.Background(), sdk.ModelInfoRequest{Model: fixtureRef(t, "biomedclip")})
	require.NoError(t, err)
	for _, f := range []string{"open_clip_config.json", "image.onnx", "text.onnx", "vocab.txt", "tokenizer.json"} {
		assert.Len(t, info.Files[f], 64, f)
	}
	assert.Equal(t, "biomedclip", info.Name)
	assert.Equal(t, 256, info.ContextLength)
	assert.Equal(t, 224, info.ImageSize)
}

func TestFixtureFileDigestsAreRemembered(t *testing.T) {
	memo := filepath.Join(t.TempDir(), digest.MemoFile)
	var files []map[string]string
	for range 2 { // two plugin processes, one after the other
		b := New(sharedtest.ORTLib(t))
		b.Digests = digest.NewMemo(memo)
		info, err := b.Info(context.Background(), sdk.ModelInfoRequest{Model: fixtureRef(t, "clip")})
		require.NoError(t, err)
		files = append(files, info.Files)
		require.NoError(t, b.Close())
	}
	assert.Equal(t, files[0], files[1])
	want, err := modelfolder.HashFiles(nil, sharedtest.Path(t, "fixtures", "tiny-a", "clip"), []string{"open_clip_config.json", "image.onnx", "text.onnx"},
		sharedtest.Path(t, "vocab", "bpe_simple_vocab_16e6.txt.gz"))
	require.NoError(t, err)
	assert.Equal(t, want, files[1])
	raw, err := os.ReadFile(memo)
	require.NoError(t, err)
	for _, name := range []string{"image.onnx", "text.onnx", "bpe_simple_vocab_16e6.txt.gz"} {
		assert.Contains(t, string(raw), name)
	}
}

func TestModelFolderErrors(t *testing.T) {
	fixture := sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	copyDir := func(t *testing.T, edit func(dir string)) string {
		dir := t.TempDir()
		for _, f := range []string{"open_clip_config.json", "vocab.txt", "tokenizer_config.json", "image.onnx", "text.onnx"} {
			b, err := os.ReadFile(filepath.Join(fixture, f))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
		}
		edit(dir)
		return dir
	}
	write := func(name, content string) func(string) {
		return func(dir string) { require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)) }
	}
	tests := []struct {
		name    string
		edit    func(dir string)
		options map[string]string
		want    string
		key     string // of CheckModel's first problem
	}{
		{"no config", func(d string) { os.Remove(filepath.Join(d, "open_clip_config.json")) }, nil, "open_clip_config.json: no such file", "path"},
		{"bad json", write("open_clip_config.json", "{"), nil, "open_clip_config.json: unexpected end of JSON input", "path"},
		{"no image model", func(d string) { os.Remove(filepath.Join(d, "image.onnx")) }, nil, "image tower", "path"},
		{"swapped towers", write(ManifestFile, "image_model: text.onnx\n"), nil, "text.onnx: input \"input_ids\" is ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64; clipeval feeds float32 pixels", "path"},
		{"wrong size", write("open_clip_config.json", `{"model_cfg": {"embed_dim": 32, "vision_cfg": {"image_size": 96}, "text_cfg": {"hf_tokenizer_name": "x", "context_length": 256}}}`), nil, "takes 224x224 images but open_clip_config.json says image_size 96", "path"},
		{"bad manifest key", write(ManifestFile, "imag_model: x.onnx\n"), nil, "field imag_model not found", "path"},
		{"unknown option", func(string) {}, map[string]string{"colour": "red"}, `unknown option "colour"`, "options.colour"},
		{"bad logit scale", func(string) {}, map[string]string{"logit_scale": "-1"}, "logit_scale \"-1\": want a positive number", "options.logit_scale"},
		{"clip without bpe", write(ManifestFile, "tokenizer: clip\n"), nil, "no BPE vocabulary", "path"},
		{"not onnx", write("image.onnx", "this is not an ONNX file"), nil, "image tower: reading inputs and outputs of", "path"},
		{"embed dim", write("open_clip_config.json", `{"model_cfg": {"embed_dim": 16, "vision_cfg": {"image_size": 224}, "text_cfg": {"hf_tokenizer_name": "x", "context_length": 256}}}`), nil, "outputs 32 values but open_clip_config.json says embed_dim 16", "path"},
		{"huge config", write("open_clip_config.json", strings.Repeat(" ", modelfolder.MaxFileBytes+1)), nil, "open_clip_config.json is 16777217 bytes, more than the 16777216 clipeval reads from such a file", "path"},
		{"missing bpe file", func(string) {}, map[string]string{"bpe": "/nonexistent/bpe.txt.gz"}, "option bpe: stat /nonexistent/bpe.txt.gz", "options.bpe"},
	}
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := sdk.ModelRef{Dir: copyDir(t, tc.edit), Options: tc.options}
			_, err := b.Info(context.Background(), sdk.ModelInfoRequest{Model: ref})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, sdk.IsInvalidInput(err), "a broken model folder is bad input")
			// CheckModel finds the same problem without loading the model.
			check, err := b.CheckModel(context.Background(), sdk.CheckModelRequest{Model: ref})
			require.NoError(t, err)
			require.NotEmpty(t, check.Problems)
			assert.Contains(t, check.Problems[0].Message, tc.want)
			assert.Equal(t, tc.key, check.Problems[0].Key)
		})
	}
}

// TestBadInputsRefused: a corrupt image, wrong pixels and negative token ids are refused as bad input (a negative
// id was fed to ONNX Gather, which reads it from the end of the vocabulary).
func TestBadInputsRefused(t *testing.T) {
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	ref := fixtureRef(t, "biomedclip")
	ctx := context.Background()
	ids := make([]int64, 2*256)
	ids[256+3] = -7
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"corrupt image", func() error {
			_, err := b.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: []sdk.ImageInput{{Name: "x.png", Data: []byte("\x89PNG\r\n\x1a\nbroken")}}})
			return err
		}, "image x.png: "},
		{"negative token id", func() error {
			_, err := b.EncodeTokens(ctx, sdk.EncodeTokensRequest{Model: ref, IDs: &npy.Array{Shape: []int{2, 256}, DType: "<i8", Int64: ids}})
			return err
		}, "token id -7 at row 1, position 3 is negative; token ids index the vocabulary from 0 (as clipeval tokenize writes them)"},
		{"pixels of another size", func() error {
			_, err := b.EncodePixels(ctx, sdk.EncodePixelsRequest{Model: ref, Pixels: npy.Float32Array([]int{1, 3, 2, 2}, make([]float32, 12))})
			return err
		}, "pixels are <f4 [1 3 2 2]; model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, sdk.IsInvalidInput(err), "bad input: %v", err)
		})
	}
}

func TestCheckModelAcceptsTheFixtures(t *testing.T) {
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	for _, name := range []string{"biomedclip", "clip"} {
		check, err := b.CheckModel(context.Background(), sdk.CheckModelRequest{Model: fixtureRef(t, name)})
		require.NoError(t, err)
		assert.Empty(t, check.Problems, name)
	}
}

func TestMissingLibrary(t *testing.T) {
	b := New(filepath.Join(t.TempDir(), "libonnxruntime.so.1"))
	_, err := b.Info(context.Background(), sdk.ModelInfoRequest{Model: sdk.ModelRef{Dir: t.TempDir()}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make runtime")
}

// TestWarm checks the background load of ONNX Runtime: a model loads after it, Close waits for it, and a missing
// library is still reported by the call that needs it.
func TestWarm(t *testing.T) {
	cases := []struct {
		name    string
		lib     func(t testing.TB) string
		info    bool
		wantErr string
	}{
		{"closed at once", sharedtest.ORTLib, false, ""},
		{"then a model", sharedtest.ORTLib, true, ""},
		{"no library", func(t testing.TB) string { return filepath.Join(t.TempDir(), "libonnxruntime.so.1") }, true, "ONNX Runtime library"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.lib(t))
			b.Warm()
			if tc.info {
				info, err := b.Info(context.Background(), sdk.ModelInfoRequest{Model: fixtureRef(t, "biomedclip")})
				if tc.wantErr != "" {
					require.ErrorContains(t, err, tc.wantErr)
				} else {
					require.NoError(t, err)
					assert.Equal(t, 32, info.EmbedDim)
				}
			}
			require.NoError(t, b.Close())
		})
	}
}

// TestTelemetryIsOff loads a model in a fresh process (ONNX Runtime decides once per process) whose home and cache
// folders are empty, and checks that ONNX Runtime wrote nothing there (its telemetry queue and device id live under
// ~/.cache/Microsoft) unless the user set ORT_DISABLE_TELEMETRY=0, which the backend leaves alone.
func TestTelemetryIsOff(t *testing.T) {
	if dir := os.Getenv("CLIPEVAL_TELEMETRY_CHILD"); dir != "" {
		b := New(os.Getenv(LibEnvVar))
		_, err := b.Info(context.Background(), sdk.ModelInfoRequest{Model: sdk.ModelRef{Dir: dir, Options: map[string]string{"logit_scale": "50"}}})
		require.NoError(t, err)
		require.NoError(t, b.Close())
		return
	}
	lib, model := sharedtest.ORTLib(t), sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	cases := []struct {
		name   string
		env    []string
		writes bool
	}{
		{"default", nil, false},
		{"user opted out", []string{TelemetryEnvVar + "=1"}, false},
		{"user left ONNX Runtime's default", []string{TelemetryEnvVar + "=0"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run", "^TestTelemetryIsOff$")
			cmd.Env = append([]string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
				"CLIPEVAL_TELEMETRY_CHILD=" + model, LibEnvVar + "=" + lib, "PATH=" + os.Getenv("PATH")}, tc.env...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			var written []string
			require.NoError(t, filepath.WalkDir(home, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					written = append(written, path)
				}
				return err
			}))
			if tc.writes {
				assert.NotEmpty(t, written, "with the opt-out at 0 ONNX Runtime records its events (else this test proves nothing)")
			} else {
				assert.Empty(t, written)
			}
		})
	}
}

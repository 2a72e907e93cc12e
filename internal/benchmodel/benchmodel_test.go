package benchmodel

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/onnx/backend"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// smallConfig is a model pair small enough to generate and run in milliseconds, with every dimension distinct so
// that a transposed weight or a swapped axis fails.
func smallConfig() Config {
	return Config{
		Vision:   VisionConfig{ImageSize: 32, Patch: 8, Width: 24, Layers: 2, Heads: 3, MLP: 40},
		Text:     TextConfig{Vocab: 50, MaxPositions: 40, TypeVocab: 2, Width: 32, Layers: 2, Heads: 4, MLP: 48, ContextLength: 24},
		EmbedDim: 16,
		Seed:     7,
	}
}

// testVocab is a BERT vocabulary with the special tokens at BiomedBERT's ids.
var testVocab = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "a", "the", "of", "chest", "x", "-", "ray",
	"ct", "scan", "head", "abdomen", "showing", "normal", "lung", "##s", "mri", "brain"}

// tokenizerDir writes a minimal BERT tokenizer folder (vocab.txt and tokenizer_config.json).
func tokenizerDir(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(testVocab, "\n")+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"),
		[]byte(`{"do_lower_case": true, "tokenizer_class": "BertTokenizer"}`), 0o644))
	return dir
}

// writeSmall generates the small model folder into a temporary directory.
func writeSmall(t *testing.T, cfg Config) string {
	dir := filepath.Join(t.TempDir(), "bench")
	_, err := WriteFolder(dir, cfg, tokenizerDir(t), nil)
	require.NoError(t, err)
	return dir
}

// startORT loads ONNX Runtime once per test binary (the environment is process-wide).
func startORT(t *testing.T) {
	t.Helper()
	lib := sharedtest.ORTLib(t)
	if ort.IsInitialized() {
		return
	}
	ort.SetSharedLibraryPath(lib)
	require.NoError(t, ort.InitializeEnvironment(), "loading ONNX Runtime from %s", lib)
}

// runORT runs an ONNX file on the given inputs and returns its one output's rows.
func runORT(t *testing.T, path string, names []string, inputs []ort.Value, output string) [][]float32 {
	t.Helper()
	s, err := ort.NewDynamicAdvancedSession(path, names, []string{output}, nil)
	require.NoError(t, err)
	defer s.Destroy()
	outs := []ort.Value{nil}
	require.NoError(t, s.Run(inputs, outs))
	defer outs[0].Destroy()
	y, ok := outs[0].(*ort.Tensor[float32])
	require.True(t, ok, "output %s is %T", output, outs[0])
	shape := y.GetShape()
	require.Len(t, shape, 2)
	rows := make([][]float32, shape[0])
	for i := range rows {
		rows[i] = append([]float32(nil), y.GetData()[i*int(shape[1]):(i+1)*int(shape[1])]...)
	}
	return rows
}

func runImage(t *testing.T, dir string, pixels []float32, n, size int) [][]float32 {
	t.Helper()
	x, err := ort.NewTensor(ort.NewShape(int64(n), 3, int64(size), int64(size)), pixels)
	require.NoError(t, err)
	defer x.Destroy()
	return runORT(t, filepath.Join(dir, ImageFile), []string{ImageInput}, []ort.Value{x}, ImageOutput)
}

func runText(t *testing.T, dir string, ids, mask []int64, n int) [][]float32 {
	t.Helper()
	shape := ort.NewShape(int64(n), int64(len(ids)/n))
	x, err := ort.NewTensor(shape, ids)
	require.NoError(t, err)
	defer x.Destroy()
	m, err := ort.NewTensor(shape, mask)
	require.NoError(t, err)
	defer m.Destroy()
	return runORT(t, filepath.Join(dir, TextFile), []string{TextInput, TextMask}, []ort.Value{x, m}, TextOutput)
}

// testPixels returns n images' worth of values in about the range normalised pixels have.
func testPixels(n, size int) []float32 {
	p := make([]float32, n*3*size*size)
	for i := range p {
		p[i] = float32(math.Sin(float64(i)*0.37)) * 1.8
	}
	return p
}

// relDiff is the largest |a−b| over the largest |b|.
func relDiff(a, b []float32) float64 {
	var d, m float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / m
}

func requireFinite(t *testing.T, rows [][]float32, what string) {
	t.Helper()
	for i, r := range rows {
		nonzero := false
		for _, v := range r {
			require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), "%s row %d: %v", what, i, r)
			nonzero = nonzero || v != 0
		}
		require.True(t, nonzero, "%s row %d is all zeros", what, i)
	}
}

func TestTowersRunInONNXRuntime(t *testing.T) {
	startORT(t)
	cfg := smallConfig()
	dir := writeSmall(t, cfg)

	ins, outs, err := ort.GetInputOutputInfo(filepath.Join(dir, ImageFile))
	require.NoError(t, err)
	require.Len(t, ins, 1)
	assert.Equal(t, ImageInput, ins[0].Name)
	assert.Equal(t, ort.NewShape(-1, 3, 32, 32), ins[0].Dimensions)
	require.Len(t, outs, 1)
	assert.Equal(t, ImageOutput, outs[0].Name)
	assert.Equal(t, ort.NewShape(-1, 16), outs[0].Dimensions)
	img := runImage(t, dir, testPixels(3, 32), 3, 32)
	require.Len(t, img, 3)
	require.Len(t, img[0], 16)
	requireFinite(t, img, "image embeddings")
	assert.NotEqual(t, img[0], img[1], "different images embed differently")

	ins, outs, err = ort.GetInputOutputInfo(filepath.Join(dir, TextFile))
	require.NoError(t, err)
	require.Len(t, ins, 2)
	for i, name := range []string{TextInput, TextMask} {
		assert.Equal(t, name, ins[i].Name)
		assert.EqualValues(t, ort.TensorElementDataTypeInt64, ins[i].DataType)
		assert.Equal(t, ort.NewShape(-1, -1), ins[i].Dimensions, "batch and sequence are dynamic")
	}
	assert.Equal(t, ort.NewShape(-1, 16), outs[0].Dimensions)
	for _, length := range []int{2, 7, 24, 40} {
		ids := make([]int64, 2*length)
		mask := make([]int64, 2*length)
		for i := range ids {
			ids[i], mask[i] = int64(5+i%40), 1
		}
		ids[0], ids[length] = 2, 2
		txt := runText(t, dir, ids, mask, 2)
		require.Len(t, txt, 2, "length %d", length)
		require.Len(t, txt[0], 16)
		requireFinite(t, txt, "text embeddings")
	}

	meta, err := ort.GetModelMetadata(filepath.Join(dir, TextFile))
	require.NoError(t, err)
	defer meta.Destroy()
	js, ok, err := meta.LookupCustomMetadataMap(MetadataKey)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Contains(t, js, `"tower":"text"`)
	assert.Contains(t, js, `"layer_norm_eps":1e-12`)
}

// TestPaddingIsMasked checks what running texts without padding waste relies on: a text padded with
// attention_mask = 0 embeds as the same text cut to its length, to float32 rounding.
func TestPaddingIsMasked(t *testing.T) {
	startORT(t)
	dir := writeSmall(t, smallConfig())
	texts := [][]int64{{2, 9, 10, 11, 12, 3}, {2, 13, 14, 3}, {2, 7, 19, 20, 8, 16, 17, 18, 3}}
	worst := 0.0
	for _, padTo := range []int{9, 16, 40} {
		var ids, mask []int64
		for _, tx := range texts {
			for j := range padTo {
				if j < len(tx) {
					ids, mask = append(ids, tx[j]), append(mask, 1)
				} else {
					ids, mask = append(ids, 0), append(mask, 0)
				}
			}
		}
		padded := runText(t, dir, ids, mask, len(texts))
		for i, tx := range texts {
			ones := make([]int64, len(tx))
			for j := range ones {
				ones[j] = 1
			}
			cut := runText(t, dir, tx, ones, 1)[0]
			d := relDiff(padded[i], cut)
			worst = math.Max(worst, d)
			assert.LessOrEqualf(t, d, 1e-6, "text %d padded to %d differs from the cut text by %.3g relative", i, padTo, d)
		}
	}
	t.Logf("largest relative difference, padded against cut: %.3g", worst)

	// The mask matters: the same padded ids with every position attended embed differently.
	ids := []int64{2, 13, 14, 3, 0, 0, 0, 0}
	masked := runText(t, dir, ids, []int64{1, 1, 1, 1, 0, 0, 0, 0}, 1)[0]
	unmasked := runText(t, dir, ids, []int64{1, 1, 1, 1, 1, 1, 1, 1}, 1)[0]
	assert.Greater(t, relDiff(unmasked, masked), 1e-3)
}

func TestGELUFormsAgree(t *testing.T) {
	startORT(t)
	erf := smallConfig()
	op := smallConfig()
	op.GELU = GELUOp
	a, b := writeSmall(t, erf), writeSmall(t, op)
	pix := testPixels(2, 32)
	assert.Less(t, relDiff(runImage(t, b, pix, 2, 32)[1], runImage(t, a, pix, 2, 32)[1]), 1e-5)
	ids, mask := []int64{2, 9, 10, 11, 3}, []int64{1, 1, 1, 1, 1}
	assert.Less(t, relDiff(runText(t, b, ids, mask, 1)[0], runText(t, a, ids, mask, 1)[0]), 1e-5)
}

func TestSameSeedSameBytes(t *testing.T) {
	cfg := smallConfig()
	a, b := writeSmall(t, cfg), writeSmall(t, cfg)
	for _, name := range []string{ImageFile, TextFile, ConfigFile, "vocab.txt", "tokenizer_config.json"} {
		x, err := os.ReadFile(filepath.Join(a, name))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, name))
		require.NoError(t, err)
		assert.Truef(t, bytes.Equal(x, y), "%s differs between two generations with seed %d", name, cfg.Seed)
	}
	cfg.Seed++
	m1, err := ImageModel(smallConfig())
	require.NoError(t, err)
	m2, err := ImageModel(cfg)
	require.NoError(t, err)
	b1, err := m1.Marshal()
	require.NoError(t, err)
	b2, err := m2.Marshal()
	require.NoError(t, err)
	assert.Equal(t, len(b1), len(b2))
	assert.NotEqual(t, b1, b2, "another seed gives other weights")
}

func TestWeightsAreScaled(t *testing.T) {
	m, err := TextModel(smallConfig())
	require.NoError(t, err)
	seen := 0
	for _, in := range m.Graph.Initializers {
		if !strings.HasSuffix(in.Name, ".weight") || strings.Contains(in.Name, "LayerNorm") || len(in.Float32) < 1000 {
			continue
		}
		seen++
		var sum, sq float64
		for _, v := range in.Float32 {
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		n := float64(len(in.Float32))
		mean, std := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
		assert.InDeltaf(t, 0, mean, 0.003, "%s mean", in.Name)
		assert.InDeltaf(t, weightStd, std, 0.002, "%s std", in.Name)
	}
	assert.Greater(t, seen, 5)
}

func TestUpToDate(t *testing.T) {
	cfg := smallConfig()
	tok := tokenizerDir(t)
	dir := filepath.Join(t.TempDir(), "m")
	ok, reason, err := UpToDate(dir, cfg, tok)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Contains(t, reason, "no "+StampFile)

	stamp, err := WriteFolder(dir, cfg, tok, nil)
	require.NoError(t, err)
	require.Len(t, stamp.Files, 5)
	ok, reason, err = UpToDate(dir, cfg, tok)
	require.NoError(t, err)
	assert.True(t, ok, reason)
	require.NoError(t, os.Rename(filepath.Join(tok, "tokenizer_config.json"), filepath.Join(t.TempDir(), "x")))
	ok, reason, _ = UpToDate(dir, cfg, tok)
	assert.False(t, ok)
	assert.Contains(t, reason, "a tokenizer file copied before is gone from "+tok)
	require.NoError(t, os.WriteFile(filepath.Join(tok, "tokenizer_config.json"),
		[]byte(`{"do_lower_case": true, "tokenizer_class": "BertTokenizer"}`), 0o644))

	other := cfg
	other.Seed = 99
	ok, reason, _ = UpToDate(dir, other, tok)
	assert.False(t, ok)
	assert.Contains(t, reason, "another configuration")

	require.NoError(t, os.WriteFile(filepath.Join(tok, "vocab.txt"), []byte(strings.Join(testVocab[:20], "\n")+"\n"), 0o644))
	ok, reason, _ = UpToDate(dir, cfg, tok)
	assert.False(t, ok)
	assert.Contains(t, reason, "vocab.txt changed in "+tok)
	require.NoError(t, os.WriteFile(filepath.Join(tok, "vocab.txt"), []byte(strings.Join(testVocab, "\n")+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(tok, "tokenizer.json"), []byte(`{"model": {"vocab": {"[PAD]": 0}}}`), 0o644))
	ok, reason, _ = UpToDate(dir, cfg, tok)
	assert.False(t, ok)
	assert.Contains(t, reason, "tokenizer.json is new in "+tok)
	require.NoError(t, os.Remove(filepath.Join(tok, "tokenizer.json")))
	ok, reason, _ = UpToDate(dir, cfg, tok)
	assert.True(t, ok, reason)

	require.NoError(t, os.Truncate(filepath.Join(dir, TextFile), 10))
	ok, reason, _ = UpToDate(dir, cfg, tok)
	assert.False(t, ok)
	assert.Contains(t, reason, "text.onnx has 10 bytes")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp-", "no temporary file is left behind")
	}
}

func TestConfigErrors(t *testing.T) {
	cfg := smallConfig()
	cfg.Vision.ImageSize = 30
	cfg.Text.Heads = 5
	cfg.Text.ContextLength = 41
	cfg.GELU = "tanh"
	cfg.EmbedDim = 0
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{"vision.image_size 30 is not a multiple of vision.patch 8",
		"text.width 32 is not a multiple of text.heads 5", "text.context_length 41 is more than text.max_positions 40",
		`gelu "tanh"`, "embed_dim is 0"} {
		assert.ErrorContains(t, err, want)
	}
	_, err = ImageModel(cfg)
	assert.ErrorContains(t, err, "benchmodel config")
	require.NoError(t, BiomedCLIP().Validate())

	small := smallConfig()
	small.Text.Vocab = 10
	_, err = WriteFolder(t.TempDir(), small, tokenizerDir(t), nil)
	assert.ErrorContains(t, err, "has 23 tokens but the text tower's vocab is 10")
	_, err = WriteFolder(t.TempDir(), smallConfig(), t.TempDir(), nil)
	assert.ErrorContains(t, err, "neither vocab.txt nor tokenizer.json")
	_, err = WriteFolder(t.TempDir(), smallConfig(), "/nonexistent/tok", nil)
	assert.ErrorContains(t, err, "benchmodel: tokenizer folder: stat /nonexistent/tok: no such file or directory")
}

// TestFolderLoadsWithTheONNXBackend loads the generated folder as clipeval does and encodes an image and texts.
func TestFolderLoadsWithTheONNXBackend(t *testing.T) {
	lib := sharedtest.ORTLib(t)
	// The backend initialises the process-wide environment itself (and Close destroys it).
	if ort.IsInitialized() {
		require.NoError(t, ort.DestroyEnvironment())
	}
	dir := writeSmall(t, smallConfig())
	b := backend.New(lib)
	defer b.Close()
	ref := sdk.ModelRef{Dir: dir}
	ctx := context.Background()
	info, err := b.Info(ctx, sdk.ModelInfoRequest{Model: ref})
	require.NoError(t, err)
	assert.Equal(t, 16, info.EmbedDim)
	assert.Equal(t, 32, info.ImageSize)
	assert.Equal(t, 24, info.ContextLength)
	assert.Equal(t, "bert-wordpiece", info.Tokenizer)
	assert.Contains(t, info.Files, ImageFile)

	var png1 bytes.Buffer
	im := image.NewRGBA(image.Rect(0, 0, 40, 36))
	for y := range 36 {
		for x := range 40 {
			im.Set(x, y, color.RGBA{uint8(6 * x), uint8(7 * y), 90, 255})
		}
	}
	require.NoError(t, png.Encode(&png1, im))
	ie, err := b.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: []sdk.ImageInput{{Name: "a.png", Data: png1.Bytes()}}})
	require.NoError(t, err)
	assert.Equal(t, 1, ie.Embeddings.Rows)
	assert.Equal(t, 16, ie.Embeddings.Cols)

	te, err := b.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: ref, Texts: []string{"chest x-ray showing normal lungs", "brain MRI"}})
	require.NoError(t, err)
	assert.Equal(t, 2, te.Embeddings.Rows)
	assert.Equal(t, 16, te.Embeddings.Cols)
}

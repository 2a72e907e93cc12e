package modelfolder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/imageprep"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// TestReadAppliesTheSharedOptions: logit_scale and bpe are applied, and any other key is left to the backend.
func TestReadAppliesTheSharedOptions(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"model_cfg": {"embed_dim": 8, "vision_cfg": {"image_size": 32}, "text_cfg": {"context_length": 16}}}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bpe.txt.gz"), []byte("x"), 0o644))
	tests := []struct {
		name     string
		manifest string
		options  map[string]string
		want     func(f *Folder) any
		wantVal  any
		wantErr  string
	}{
		{"defaults", "", nil, func(f *Folder) any {
			return []any{f.Name, f.EmbedDim, f.ContextLength, f.Image.Size, f.LogitScale, f.HFTokenizer, f.Manifest.ImageModel}
		},
			[]any{filepath.Base(dir), 8, 16, 32, 100.0, false, "image.onnx"}, ""},
		{"the option's logit scale over the manifest's", "logit_scale: 30\n", map[string]string{OptionLogitScale: "50"}, func(f *Folder) any { return f.LogitScale }, 50.0, ""},
		{"the manifest's logit scale", "logit_scale: 30\nname: m\n", nil, func(f *Folder) any { return []any{f.LogitScale, f.Name} }, []any{30.0, "m"}, ""},
		{"bpe relative to the base folder", "", map[string]string{OptionBPE: "bpe.txt.gz"}, func(f *Folder) any { return f.BPE }, filepath.Join(dir, "bpe.txt.gz"), ""},
		{"other options are the backend's", "", map[string]string{"threads": "x", "url": "h:1"}, func(f *Folder) any { return f.LogitScale }, 100.0, ""},
		{"bad logit scale", "", map[string]string{OptionLogitScale: "0"}, nil, nil, `option logit_scale "0": want a positive number`},
		{"missing bpe", "", map[string]string{OptionBPE: "nope.gz"}, nil, nil, "option bpe: stat " + filepath.Join(dir, "nope.gz")},
		{"bad manifest", "tokenizer: sentencepiece\n", nil, nil, nil, `tokenizer "sentencepiece": want bert or clip`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			man := filepath.Join(dir, ManifestFile)
			os.Remove(man)
			if tc.manifest != "" {
				require.NoError(t, os.WriteFile(man, []byte(tc.manifest), 0o644))
			}
			f, err := Read(dir, tc.options, dir)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantVal, tc.want(f))
		})
	}
	_, err := Read(t.TempDir(), nil, "")
	assert.ErrorContains(t, err, "a model folder holds open_clip_config.json and tokenizer files")
}

func TestCheckOption(t *testing.T) {
	tests := []struct {
		k, v      string
		wantKnown bool
		wantErr   string
	}{
		{OptionLogitScale, "100", true, ""},
		{OptionLogitScale, "inf", true, "want a positive number"},
		{OptionBPE, t.TempDir(), true, "has no vocab.json"},
		{"url", "h:1", false, ""},
	}
	for _, tc := range tests {
		known, err := CheckOption(tc.k, tc.v, "")
		assert.Equal(t, tc.wantKnown, known, tc.k)
		if tc.wantErr == "" {
			assert.NoError(t, err, tc.k)
		} else {
			assert.ErrorContains(t, err, tc.wantErr, tc.k)
		}
	}
}

// TestPreprocessEqualsReference preprocesses the tiny-a reference images with the BiomedCLIP fixture's folder: the
// pixels of open_clip's eval transform bit for bit, and the tokenizer and digests of the folder.
func TestPreprocessEqualsReference(t *testing.T) {
	fixture := sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	f, err := Read(fixture, nil, "")
	require.NoError(t, err)
	ref, err := npy.ReadNPZ(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.npz"))
	require.NoError(t, err)
	raw, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.json"))
	require.NoError(t, err)
	var js struct {
		Images []string `json:"images"`
	}
	require.NoError(t, json.Unmarshal(raw, &js))
	var images []sdk.ImageInput
	for _, idx := range ref["pixels_index"].Int64 {
		p := js.Images[idx]
		if rest, ok := strings.CutPrefix(p, "vqa-rad/"); ok {
			p = sharedtest.Path(t, "data", "vqa-rad", rest)
		} else {
			p = filepath.Join(sharedtest.Dir(t), "fixtures", "tiny-a", "reference", p)
		}
		images = append(images, sdk.ImageInput{Path: p})
	}
	pixels := make([]float32, len(images)*f.PixelsPerImage())
	require.NoError(t, f.PreprocessInto(context.Background(), imageprep.NewBudget(imageprep.DefaultBudgetBytes), pixels, images))
	assert.Equal(t, ref["pixels"].Float32, pixels)
	assert.ErrorContains(t, f.PreprocessInto(context.Background(), nil, pixels[:10], images), "into a buffer of 10")

	broken := filepath.Join(t.TempDir(), "broken.png")
	require.NoError(t, os.WriteFile(broken, []byte("not a png"), 0o644))
	err = f.PreprocessInto(context.Background(), nil, pixels, []sdk.ImageInput{{Path: broken}})
	assert.True(t, sdk.IsInvalidInput(err), "a corrupt image is bad input: %v", err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, f.PreprocessInto(ctx, nil, pixels, images), context.Canceled)

	tok, err := f.Tokenizer()
	require.NoError(t, err)
	assert.Equal(t, 256, tok.ContextLength())
	files, err := f.Digests(nil, "image.onnx")
	require.NoError(t, err)
	for _, name := range []string{ConfigFile, "vocab.txt", "tokenizer.json", "tokenizer_config.json", "image.onnx"} {
		assert.Len(t, files[name], 64, name)
	}
	assert.NotContains(t, files, "text.onnx", "only the files asked for")
}

func TestTokenizerWithoutVocabulary(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{}`), 0o644))
	f, err := Read(dir, nil, "")
	require.NoError(t, err)
	_, err = f.Tokenizer()
	assert.ErrorContains(t, err, "no BPE vocabulary in "+dir)
}

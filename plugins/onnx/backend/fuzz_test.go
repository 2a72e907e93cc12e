package backend

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/imageprep"
)

// FuzzReadFolder reads model folders holding a fuzzed open_clip_config.json and, when the second input is not
// empty, a fuzzed clipeval.yaml. Whatever the bytes: an error, or a folder whose every field is usable — an image
// transform that validates and is the one imageprep reads from the same file, a context length a tokenizer takes,
// a non-negative embedding size, a positive logit scale, the ONNX file names set.
func FuzzReadFolder(f *testing.F) {
	biomed := `{"model_cfg": {"embed_dim": 512, "vision_cfg": {"image_size": 224}, "text_cfg": {"hf_tokenizer_name": "microsoft/BiomedNLP", "context_length": 256}}, ` +
		`"preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}}`
	f.Add([]byte(biomed), []byte(""))
	f.Add([]byte(`{"model_cfg": {"embed_dim": 32, "vision_cfg": {"image_size": [96, 96]}, "text_cfg": {"context_length": 64}}, "preprocess_cfg": {"mean": 0.5, "std": 0.25, "interpolation": "random"}}`),
		[]byte("name: tiny\nimage_model: i.onnx\ntokenizer: clip\nbpe: vocab/bpe.txt.gz\nlogit_scale: 50\n"))
	f.Add([]byte(`{"model_cfg": {"vision_cfg": {"image_size": [96, 64]}}, "preprocess_cfg": {"resize_mode": "squash", "fill_color": [0]}}`), []byte(""))
	f.Add([]byte(`{"model_cfg": {"embed_dim": -3, "text_cfg": {"context_length": -1}}}`), []byte("logit_scale: -2\n"))
	f.Add([]byte(`{"model_cfg": {}, "preprocess_cfg": {"std": [0, 1, 1]}}`), []byte("unknown: 1\n"))
	f.Add([]byte(`{}`), []byte("logit_scale: .nan\ntokenizer: bert\n"))
	f.Add([]byte(`{"preprocess_cfg": {"mean": [1e300], "mode": "RGB"}}`), []byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, config, manifest []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "open_clip_config.json"), config, 0o644))
		if len(manifest) > 0 {
			require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), manifest, 0o644))
		}
		folder, err := ReadFolder(dir, nil, "")
		again, err2 := ReadFolder(dir, nil, "")
		assert.Equal(t, folder, again, "reading the same folder twice")
		assert.Equal(t, err, err2, "reading the same folder twice")
		if err != nil {
			require.Nil(t, folder)
			return
		}
		require.NoError(t, folder.Image.Validate())
		img, err := imageprep.ConfigFromOpenCLIP(config)
		require.NoError(t, err)
		assert.Equal(t, img, folder.Image)
		assert.GreaterOrEqual(t, folder.ContextLength, 2, "a context length holds start and end of text")
		assert.GreaterOrEqual(t, folder.EmbedDim, 0)
		assert.True(t, folder.LogitScale > 0 && !math.IsInf(folder.LogitScale, 0), "logit scale %v", folder.LogitScale)
		assert.NotEmpty(t, folder.Name)
		assert.NotEmpty(t, folder.Manifest.ImageModel)
		assert.NotEmpty(t, folder.Manifest.TextModel)
		assert.Contains(t, []string{PaddingLongest, PaddingFull}, folder.TextPadding)
		switch folder.Manifest.Tokenizer {
		case "bert":
			assert.True(t, folder.HFTokenizer)
		case "clip":
			assert.False(t, folder.HFTokenizer)
		}
	})
}

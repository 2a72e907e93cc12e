package backend

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/imageprep"
)

func TestReadFolderImageTransform(t *testing.T) {
	openAIMean := [3]float32{0.48145466, 0.4578275, 0.40821073}
	openAIStd := [3]float32{0.26862954, 0.26130258, 0.27577711}
	tests := []struct {
		name, preprocess string
		want             imageprep.Config
		wantErr          string
	}{
		{"defaults", `{}`, imageprep.Config{Size: 96, Mean: openAIMean, Std: openAIStd}, ""},
		// open_clip accepts a scalar mean/std (repeated per channel) and "random" interpolation (bicubic at eval).
		{"scalar mean and std", `{"mean": 0.5, "std": 0.25}`,
			imageprep.Config{Size: 96, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.25, 0.25, 0.25}}, ""},
		{"random interpolation", `{"interpolation": "random", "resize_mode": "shortest"}`,
			imageprep.Config{Size: 96, Mean: openAIMean, Std: openAIStd}, ""},
		{"squash", `{"resize_mode": "squash"}`, imageprep.Config{},
			"open_clip_config.json: imageprep: preprocess_cfg.resize_mode squash: open_clip's eval transform resizes to exactly 96x96"},
		{"bad mean", `{"mean": [0.5, 0.5]}`, imageprep.Config{}, "open_clip_config.json: imageprep: preprocess_cfg.mean [0.5,0.5]: want a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := `{"model_cfg": {"embed_dim": 32, "vision_cfg": {"image_size": [96, 96]}, "text_cfg": {"context_length": 64}}, ` +
				`"preprocess_cfg": ` + tc.preprocess + `}`
			require.NoError(t, os.WriteFile(filepath.Join(dir, "open_clip_config.json"), []byte(cfg), 0o644))
			f, err := ReadFolder(dir, nil, "")
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, f.Image)
			assert.Equal(t, 32, f.EmbedDim)
			assert.Equal(t, 64, f.ContextLength)
		})
	}
}

// Numbers a model folder states that no model can have are refused where they are written (found by FuzzReadFolder:
// a negative embed_dim, a context_length of -1 and a manifest logit_scale of -2 or NaN were accepted).
func TestReadFolderRefusesImpossibleNumbers(t *testing.T) {
	tests := []struct {
		name, config, manifest, want string
	}{
		{"negative embed_dim", `{"model_cfg": {"embed_dim": -3}}`, "",
			"open_clip_config.json: model_cfg.embed_dim -3 is negative; write the embedding size"},
		{"negative context_length", `{"model_cfg": {"text_cfg": {"context_length": -1}}}`, "",
			"open_clip_config.json: model_cfg.text_cfg.context_length -1: want at least 2 (start and end of text), or leave it out for 77"},
		{"context_length 1", `{"model_cfg": {"text_cfg": {"context_length": 1}}}`, "", "context_length 1: want at least 2"},
		{"negative logit_scale", `{}`, "logit_scale: -2\n", "clipeval.yaml: logit_scale -2: want a positive number"},
		{"NaN logit_scale", `{}`, "logit_scale: .nan\n", "clipeval.yaml: logit_scale NaN: want a positive number"},
		{"infinite logit_scale", `{}`, "logit_scale: .inf\n", "clipeval.yaml: logit_scale +Inf: want a positive number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "open_clip_config.json"), []byte(tc.config), 0o644))
			if tc.manifest != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(tc.manifest), 0o644))
			}
			_, err := ReadFolder(dir, nil, "")
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

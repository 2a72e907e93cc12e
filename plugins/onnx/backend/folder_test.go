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

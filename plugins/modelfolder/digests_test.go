package modelfolder

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHashFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"open_clip_config.json": "{}\n", "image.onnx": "aaa", "bpe.txt.gz": "bb"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "vocab.txt"), 0o755))
	// sha256sum of "{}\n", "aaa" and "bb".
	const config, image, bpe = "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356",
		"9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
		"3b64db95cb55c763391c707108489ae18b4112d783300de38e033b4c98c3deaf"
	tests := []struct {
		name    string
		names   []string
		extra   string
		want    map[string]string
		wantErr string
	}{
		{"missing files are left out", []string{"open_clip_config.json", "image.onnx", "text.onnx"}, "",
			map[string]string{"open_clip_config.json": config, "image.onnx": image}, ""},
		{"extra by its base name", []string{"image.onnx"}, filepath.Join(dir, "bpe.txt.gz"),
			map[string]string{"image.onnx": image, "bpe.txt.gz": bpe}, ""},
		{"a missing or folder extra is left out", []string{"image.onnx"}, dir, map[string]string{"image.onnx": image}, ""},
		{"nothing there", []string{"text.onnx"}, filepath.Join(dir, "nope"), map[string]string{}, ""},
		{"a folder where a file should be", []string{"vocab.txt"}, "", nil, "vocab.txt: is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HashFiles(nil, dir, tc.names, tc.extra)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

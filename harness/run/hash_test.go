package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHashFilesIgnoresLocationAndOrder(t *testing.T) {
	write := func(files map[string]string) []string {
		dir := t.TempDir()
		var paths []string
		for name, content := range files {
			p := filepath.Join(dir, name)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
			paths = append(paths, p)
		}
		return paths
	}
	files := map[string]string{"data.jsonl": "{}\n", "images/a.png": "aaa", "images/b.png": "bb"}
	a := write(files)
	b := write(files)
	reversed := []string{b[2], b[1], b[0], b[1]} // another order, with a duplicate
	ha, err := hashFiles(a)
	require.NoError(t, err)
	hb, err := hashFiles(reversed)
	require.NoError(t, err)
	assert.Equal(t, ha, hb)
	assert.Equal(t, 3, ha.files)
	assert.Equal(t, int64(8), ha.bytes)

	files["images/b.png"] = "bc"
	hc, err := hashFiles(write(files))
	require.NoError(t, err)
	assert.NotEqual(t, ha.sum, hc.sum, "one changed byte changes the digest")

	_, err = hashFiles([]string{filepath.Join(t.TempDir(), "missing.png")})
	assert.ErrorContains(t, err, "no such file")
}

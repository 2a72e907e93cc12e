package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// TestHashFilesStaysInTheDatasetFolder checks that a dataset image swapped for a link out of its folder is left out
// of the digest unread, whatever it points at, while a manifest (no folder) is hashed as it is and a missing file
// is an error.
func TestHashFilesStaysInTheDatasetFolder(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	manifest, a, b := filepath.Join(data, "m.jsonl"), filepath.Join(data, "a.png"), filepath.Join(data, "b.png")
	for p, s := range map[string]string{manifest: "{}\n", a: "aaa", b: "bb"} {
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
	}
	secret := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("root:x:0:0"), 0o644))
	images := []sdk.ImageInput{{Path: a, Root: data}, {Path: b, Root: data}}
	paths := []string{manifest, a, b}

	whole, err := hashFiles(paths, images)
	require.NoError(t, err)
	assert.Equal(t, 3, whole.files)
	assert.Equal(t, int64(8), whole.bytes)
	withoutB, err := hashFiles([]string{manifest, a}, images)
	require.NoError(t, err)

	require.NoError(t, os.Remove(b))
	require.NoError(t, os.Symlink(secret, b))
	linked, err := hashFiles(paths, images)
	require.NoError(t, err)
	assert.Equal(t, withoutB, linked, "the link is left out, its target unread")
	rooted := images[:1] // b without its folder: the link is followed, as any file of a task
	followed, err := hashFiles(paths, rooted)
	require.NoError(t, err)
	assert.Equal(t, int64(3+3+10), followed.bytes)

	require.NoError(t, os.Remove(a))
	_, err = hashFiles(paths, images)
	assert.ErrorContains(t, err, "no such file")
}

package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteReplacesALinkInsteadOfFollowingIt: a symbolic link planted at the target is replaced by the file; the
// file it pointed to is untouched; nothing but the target is left in the folder.
func TestWriteReplacesALinkInsteadOfFollowingIt(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o600))
	target := filepath.Join(dir, "report.md")
	require.NoError(t, os.Symlink(victim, target))
	require.NoError(t, Write(target, []byte("# report\n"), 0o644))
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "precious", string(b))
	st, err := os.Lstat(target)
	require.NoError(t, err)
	assert.True(t, st.Mode().IsRegular(), "the link is replaced by a file")
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	b, err = os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "# report\n", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left")

	err = Write(filepath.Join(dir, "missing", "x"), nil, 0o644)
	assert.ErrorContains(t, err, "writing "+filepath.Join(dir, "missing", "x")+": ")
}

func TestRealDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, RealDir(filepath.Join(dir, "a", "plots"), 0o755))
	require.NoError(t, RealDir(filepath.Join(dir, "a", "plots"), 0o755), "an existing folder is fine")
	elsewhere := t.TempDir()
	link := filepath.Join(dir, "linked")
	require.NoError(t, os.Symlink(elsewhere, link))
	assert.EqualError(t, RealDir(link, 0o755), link+" is a symbolic link or not a folder; outputs are written into real folders only: remove it")
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	assert.ErrorContains(t, RealDir(file, 0o755), "creating "+file+": ")
}

package sdk

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenInRoot: files and links staying inside the root open; a link (relative or absolute) or ".." leading out
// of it is refused at open time, by openat2 and by the checked fallback alike.
func TestOpenInRoot(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(secret, []byte("root:x:0:0"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "images"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "images", "a.png"), []byte("inside"), 0o644))
	require.NoError(t, os.Symlink("a.png", filepath.Join(root, "images", "rel.png")))
	require.NoError(t, os.Symlink(filepath.Join(root, "images", "a.png"), filepath.Join(root, "images", "abs.png")))
	require.NoError(t, os.Symlink(secret, filepath.Join(root, "images", "out.png")))
	require.NoError(t, os.Symlink("../../"+filepath.Base(filepath.Dir(secret))+"/passwd", filepath.Join(root, "images", "dotdot.png")))
	tests := []struct {
		name, path string
		inside     bool
	}{
		{"file", "images/a.png", true},
		{"relative link inside", "images/rel.png", true},
		{"absolute link inside", "images/abs.png", true},
		{"link out", "images/out.png", false},
		{"relative link out", "images/dotdot.png", false},
		{"dot-dot path", "../passwd", false},
	}
	opens := map[string]func(root, path string) (*os.File, error){"OpenInRoot": OpenInRoot, "fallback": openChecked}
	for _, tc := range tests {
		for name, open := range opens {
			t.Run(tc.name+" "+name, func(t *testing.T) {
				f, err := open(root, filepath.Join(root, tc.path))
				if !tc.inside {
					require.Error(t, err)
					assert.True(t, errors.Is(err, ErrOutsideRoot) || errors.Is(err, os.ErrNotExist), "%v", err)
					assert.NotContains(t, err.Error(), "root:x")
					return
				}
				require.NoError(t, err)
				defer f.Close()
				b, err := io.ReadAll(f)
				require.NoError(t, err)
				assert.Equal(t, "inside", string(b))
			})
		}
	}
}

// TestImageReplacedByALinkAfterLoad: an image that was a file when the dataset was loaded and is a link to another
// file when the backend reads it is refused as bad input, and none of that file's bytes are read.
func TestImageReplacedByALinkAfterLoad(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(secret, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644))
	p := filepath.Join(root, "a.png")
	require.NoError(t, os.WriteFile(p, []byte("\x89PNG"), 0o644))
	for _, im := range []ImageInput{{Path: p, Root: root}, {Path: p, Root: root, Offset: 1, Size: 2}} {
		b, err := im.Bytes()
		require.NoError(t, err)
		assert.NotEmpty(t, b)
	}
	require.NoError(t, os.Remove(p))
	require.NoError(t, os.Symlink(secret, p))
	for _, im := range []ImageInput{{Path: p, Root: root}, {Path: p, Root: root, Offset: 1, Size: 2}} {
		_, err := im.Bytes()
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrOutsideRoot)
		assert.True(t, IsInvalidInput(err))
		assert.NotContains(t, err.Error(), "root:x")
	}
	b, err := ImageInput{Path: p}.Bytes()
	require.NoError(t, err, "without a root a link is followed, as before")
	assert.Equal(t, "root:x:0:0:root:/root:/bin/bash\n", string(b))
}

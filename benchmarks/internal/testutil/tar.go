package testutil

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TarMember is one file of a tar archive written by WriteTar.
type TarMember struct {
	Name    string
	Content string
	// Dir makes the member a folder instead of a regular file.
	Dir bool
}

// WriteTar writes the members, in order, as the tar archive at path (its folder created) and returns path.
func WriteTar(t testing.TB, path string, members ...TarMember) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w := tar.NewWriter(f)
	for _, m := range members {
		h := &tar.Header{Name: m.Name, Mode: 0o644, Size: int64(len(m.Content)), Typeflag: tar.TypeReg}
		if m.Dir {
			h = &tar.Header{Name: m.Name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		require.NoError(t, w.WriteHeader(h))
		if !m.Dir {
			_, err := w.Write([]byte(m.Content))
			require.NoError(t, err)
		}
	}
	require.NoError(t, w.Close())
	return path
}

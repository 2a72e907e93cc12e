package digest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Digests of the fixture files, as `sha256sum` prints them.
const (
	sumJSONL = "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356" // "{}\n"
	sumA     = "9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0" // "aaa"
	sumB     = "3b64db95cb55c763391c707108489ae18b4112d783300de38e033b4c98c3deaf" // "bb"
	sumEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // ""
)

// write creates the files (name → content) in a new temporary folder and returns the folder.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// fixture is a small dataset: a manifest and two images in a subfolder.
var fixture = map[string]string{"data.jsonl": "{}\n", "images/a.png": "aaa", "images/b.png": "bb", "empty": ""}

func TestFile(t *testing.T) {
	dir := write(t, fixture)
	tests := []struct {
		name, want string
		size       int64
	}{
		{"data.jsonl", sumJSONL, 3},
		{"images/a.png", sumA, 3},
		{"images/b.png", sumB, 2},
		{"empty", sumEmpty, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			got, err := File(p)
			require.NoError(t, err)
			assert.Equal(t, Sum{Path: p, SHA256: tc.want, Size: tc.size}, got)
		})
	}
	_, err := File(filepath.Join(dir, "missing.png"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, "digest: open "+filepath.Join(dir, "missing.png")+": no such file or directory")
}

func TestFiles(t *testing.T) {
	dir := write(t, fixture)
	a, b, j := filepath.Join(dir, "images/a.png"), filepath.Join(dir, "images/b.png"), filepath.Join(dir, "data.jsonl")
	got, err := Files([]string{b, a, j, a})
	require.NoError(t, err)
	assert.Equal(t, []Sum{{b, sumB, 2}, {a, sumA, 3}, {j, sumJSONL, 3}, {a, sumA, 3}}, got, "in the order given")

	got, err = Files(nil)
	require.NoError(t, err)
	assert.Empty(t, got)

	_, err = Files([]string{a, filepath.Join(dir, "x"), filepath.Join(dir, "y")})
	assert.ErrorContains(t, err, filepath.Join(dir, "x")+": no such file", "the first failing path in order")
}

func TestDatasetOf(t *testing.T) {
	three := map[string]string{"data.jsonl": "{}\n", "images/a.png": "aaa", "images/b.png": "bb"}
	tests := []struct {
		name  string
		files map[string]string
		paths []string // relative to the files' folder
		want  Dataset
	}{
		// sha256 of "data.jsonl\t3\t" + sumJSONL + "\nimages/a.png\t3\t" + sumA + "\nimages/b.png\t2\t" + sumB + "\n".
		{"sorted", three, []string{"data.jsonl", "images/a.png", "images/b.png"},
			Dataset{SHA256: "c5fa70ff0a6c1a8ba4d2d090d9cf46e2ecaab1172c4b1c163db9cd30d0b7cd7a", Files: 3, Bytes: 8}},
		{"another order, a duplicate", three, []string{"images/b.png", "images/a.png", "data.jsonl", "images/a.png"},
			Dataset{SHA256: "c5fa70ff0a6c1a8ba4d2d090d9cf46e2ecaab1172c4b1c163db9cd30d0b7cd7a", Files: 3, Bytes: 8}},
		// One file: its folder is the root, so the line is "a.png\t3\t" + sumA + "\n".
		{"one file", three, []string{"images/a.png"},
			Dataset{SHA256: "fcbb2ae06f0f318503f9cce299353c1e6e653b9a5f06db4605d46226c46c29ef", Files: 1, Bytes: 3}},
		// No files: the sha256 of no lines.
		{"no files", three, nil, Dataset{SHA256: sumEmpty, Files: 0, Bytes: 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, tc.files)
			paths := make([]string, len(tc.paths))
			for i, p := range tc.paths {
				paths[i] = filepath.Join(dir, p)
			}
			got, err := DatasetOf(paths, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	changed := map[string]string{"data.jsonl": "{}\n", "images/a.png": "aaa", "images/b.png": "bc"}
	dir := write(t, changed)
	got, err := DatasetOf([]string{filepath.Join(dir, "data.jsonl"), filepath.Join(dir, "images/a.png"), filepath.Join(dir, "images/b.png")}, nil)
	require.NoError(t, err)
	assert.NotEqual(t, "c5fa70ff0a6c1a8ba4d2d090d9cf46e2ecaab1172c4b1c163db9cd30d0b7cd7a", got.SHA256, "one changed byte changes the digest")

	_, err = DatasetOf([]string{filepath.Join(t.TempDir(), "missing.png")}, nil)
	assert.ErrorContains(t, err, "no such file")
}

func TestCommonDir(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"none", nil, ""},
		{"one file", []string{"/data/set/a.png"}, "/data/set"},
		{"siblings", []string{"/data/set/a.png", "/data/set/b.png"}, "/data/set"},
		{"nested", []string{"/data/set/x.jsonl", "/data/set/images/a.png"}, "/data/set"},
		{"a shared name prefix is not a folder", []string{"/data/set1/a.png", "/data/set2/b.png"}, "/data"},
		{"only the root", []string{"/a/x", "/b/y"}, "/"},
		{"relative", []string{"a/x", "b/y"}, "."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, commonDir(tc.paths))
		})
	}
}

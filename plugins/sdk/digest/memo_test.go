package digest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingMemo returns a memo in a temporary folder whose hashing counts the files it reads and whose clock is
// ahead by more than RacyWindow, so that the files a test has just written are old enough to be remembered (a
// file's status-change time cannot be set back).
func countingMemo(t *testing.T) (*Memo, *int) {
	m := NewMemo(filepath.Join(t.TempDir(), "cache", MemoFile))
	m.now = ahead
	hashed := new(int)
	m.hash = func(paths []string) ([]Sum, error) {
		*hashed += len(paths)
		return Files(paths)
	}
	return m, hashed
}

// ahead is a clock RacyWindow and a second ahead.
func ahead() time.Time { return time.Now().Add(RacyWindow + time.Second) }

func TestMemo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the memo remembers nothing outside Linux")
	}
	tests := []struct {
		name string
		// step runs between a first Files call (which hashes both files) and a second one; it returns the files
		// the second call must hash.
		step func(t *testing.T, m *Memo, a, b string) int
	}{
		{"unchanged files are not read again", func(*testing.T, *Memo, string, string) int { return 0 }},
		{"a rewritten file is hashed again, even with its size and mtime put back", func(t *testing.T, _ *Memo, a, _ string) int {
			st, err := os.Stat(a)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(a, []byte("AAA"), 0o644))
			require.NoError(t, os.Chtimes(a, st.ModTime(), st.ModTime()))
			return 1
		}},
		{"a file replaced by another (new inode) is hashed again", func(t *testing.T, _ *Memo, a, _ string) int {
			tmp := a + ".new"
			require.NoError(t, os.WriteFile(tmp, []byte("aaa"), 0o644))
			require.NoError(t, os.Rename(tmp, a))
			return 1
		}},
		{"a corrupt memo is ignored", func(t *testing.T, m *Memo, _, _ string) int {
			raw, err := os.ReadFile(m.Path())
			require.NoError(t, err)
			raw[len(raw)-3] ^= 1
			require.NoError(t, os.WriteFile(m.Path(), raw, 0o644))
			return 2
		}},
		{"a memo cut short is ignored", func(t *testing.T, m *Memo, _, _ string) int {
			raw, err := os.ReadFile(m.Path())
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(m.Path(), raw[:len(raw)/2], 0o644))
			return 2
		}},
		{"a memo of another format is ignored", func(t *testing.T, m *Memo, _, _ string) int {
			require.NoError(t, os.WriteFile(m.Path(), []byte("[]"), 0o644))
			return 2
		}},
		{"a missing memo is rebuilt", func(t *testing.T, m *Memo, _, _ string) int {
			require.NoError(t, os.Remove(m.Path()))
			return 2
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, map[string]string{"a.onnx": "aaa", "b.onnx": "bb"})
			a, b := filepath.Join(dir, "a.onnx"), filepath.Join(dir, "b.onnx")
			m, hashed := countingMemo(t)
			want := []Sum{{Path: a, SHA256: sumA, Size: 3}, {Path: b, SHA256: sumB, Size: 2}}
			got, err := m.Files([]string{a, b})
			require.NoError(t, err)
			assert.Equal(t, want, got)
			require.Equal(t, 2, *hashed)

			*hashed = 0
			wantHashed := tc.step(t, m, a, b)
			got, err = m.Files([]string{a, b})
			require.NoError(t, err)
			assert.Equal(t, wantHashed, *hashed, "files hashed")
			if content, _ := os.ReadFile(a); string(content) == "AAA" {
				want[0].SHA256 = "cb1ad2119d8fafb69566510ee712661f9f14b83385006ef92aec47f523a38358" // sha256 of "AAA"
			}
			assert.Equal(t, want, got)
			// Whatever the memo held, it now holds a valid memo again (when a file could be remembered).
			if wantHashed == 2 {
				_, err := m.read()
				assert.NoError(t, err)
			}
		})
	}
}

func TestMemoDoesNotRememberRecentFiles(t *testing.T) {
	dir := write(t, map[string]string{"a.onnx": "aaa"})
	a := filepath.Join(dir, "a.onnx")
	m, hashed := countingMemo(t)
	m.now = time.Now
	for range 2 {
		got, err := m.Files([]string{a})
		require.NoError(t, err)
		assert.Equal(t, []Sum{{Path: a, SHA256: sumA, Size: 3}}, got)
	}
	assert.Equal(t, 2, *hashed, "a file changed within RacyWindow is hashed every time")
	_, err := os.Stat(m.Path())
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing to remember, nothing written")
}

func TestMemoErrors(t *testing.T) {
	dir := write(t, map[string]string{"a.onnx": "aaa"})
	a := filepath.Join(dir, "a.onnx")
	tests := []struct {
		name    string
		memo    func(t *testing.T) *Memo
		paths   []string
		want    []Sum
		wantErr string
	}{
		{"a missing file is the hash's error", func(t *testing.T) *Memo { m, _ := countingMemo(t); return m },
			[]string{a, filepath.Join(dir, "missing.onnx")}, nil, "digest: open " + filepath.Join(dir, "missing.onnx") + ": no such file or directory"},
		{"a folder is the hash's error", func(t *testing.T) *Memo { m, _ := countingMemo(t); return m },
			[]string{dir}, nil, "is a directory"},
		{"a memo that cannot be written costs nothing but the hash", func(t *testing.T) *Memo {
			blocker := filepath.Join(t.TempDir(), "file")
			require.NoError(t, os.WriteFile(blocker, nil, 0o644))
			return NewMemo(filepath.Join(blocker, MemoFile)) // its folder is a file
		}, []string{a}, []Sum{{Path: a, SHA256: sumA, Size: 3}}, ""},
		{"a nil memo hashes", func(*testing.T) *Memo { return nil }, []string{a}, []Sum{{Path: a, SHA256: sumA, Size: 3}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.memo(t).Files(tc.paths)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				if tc.name == "a missing file is the hash's error" {
					assert.ErrorIs(t, err, fs.ErrNotExist)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMemoKeepsOneEntryPerPathAndMergesWriters(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the memo remembers nothing outside Linux")
	}
	dir := write(t, map[string]string{"a.onnx": "aaa", "b.onnx": "bb"})
	a, b := filepath.Join(dir, "a.onnx"), filepath.Join(dir, "b.onnx")
	path := filepath.Join(t.TempDir(), MemoFile)
	// Two processes' memos on one file: each remembers its own file, and neither loses the other's.
	m1, m2 := NewMemo(path), NewMemo(path)
	m1.now, m2.now = ahead, ahead
	_, err := m1.Files([]string{a})
	require.NoError(t, err)
	_, err = m2.Files([]string{b})
	require.NoError(t, err)
	entries, err := m1.read()
	require.NoError(t, err)
	assert.Len(t, entries, 2)
	// a changes: its new digest replaces the old entry instead of joining it.
	require.NoError(t, os.WriteFile(a, []byte("bb"), 0o644))
	m1.now = func() time.Time { return ahead().Add(time.Second) } // later than the first entry
	got, err := m1.Files([]string{a})
	require.NoError(t, err)
	assert.Equal(t, sumB, got[0].SHA256)
	entries, err = m1.read()
	require.NoError(t, err)
	assert.Len(t, entries, 2)
}

func TestCacheDir(t *testing.T) {
	tests := []struct {
		name, cacheDir, xdg, home, want string
	}{
		{"CLIPEVAL_CACHE_DIR", "/c", "/x", "/h", "/c"},
		{"XDG_CACHE_HOME", "", "/x", "/h", "/x/clipeval"},
		{"HOME", "", "", "/h", "/h/.cache/clipeval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CLIPEVAL_CACHE_DIR", tc.cacheDir)
			t.Setenv("XDG_CACHE_HOME", tc.xdg)
			t.Setenv("HOME", tc.home)
			got, err := CacheDir()
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, filepath.Join(tc.want, MemoFile), DefaultMemo().Path())
		})
	}
	t.Setenv("CLIPEVAL_CACHE_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	_, err := CacheDir()
	assert.ErrorContains(t, err, "set CLIPEVAL_CACHE_DIR")
	assert.Nil(t, DefaultMemo())
}

// TestMemoKeepsConcurrentCallsEntries checks that Files calls of one memo from many goroutines at once (the
// harness checks its plugins in parallel) each keep their entries: none is dropped by another's save.
func TestMemoKeepsConcurrentCallsEntries(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the memo remembers nothing outside Linux")
	}
	const n = 32
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("plugin%02d", i)] = strings.Repeat("x", i+1)
	}
	dir := write(t, files)
	m := NewMemo(filepath.Join(t.TempDir(), MemoFile))
	m.now = ahead
	start := make(chan struct{})
	var wg sync.WaitGroup
	for name := range files {
		wg.Go(func() {
			<-start
			_, err := m.Files([]string{filepath.Join(dir, name)})
			assert.NoError(t, err)
		})
	}
	close(start)
	wg.Wait()
	entries, err := m.read()
	require.NoError(t, err)
	assert.Equal(t, n, len(entries), "entries kept")
}

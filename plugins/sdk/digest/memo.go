package digest

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memo remembers the digests of files between runs, so that a model's 784 MB of ONNX files are not read again
// (0.7 s) every time it is loaded. A file's digest is looked up by what identifies its content without reading it:
// its absolute path, size, modification and status-change times (in nanoseconds) and device and inode numbers. Any
// write to a file changes its status-change time, which no program can set back, so a remembered digest is that of
// the file's current content. A file changed in the same clock tick as it was hashed could keep all of these, so a
// file modified less than RacyWindow before it is hashed is hashed but not remembered (git's "racy clean" rule).
//
// The memo is one small file, rewritten whole: to a temporary file beside it and renamed over it, so that a crash
// leaves the old memo or the new one. It begins with the SHA-256 of the rest; a memo that is cut short, corrupt or
// of another format is ignored (every file is hashed) and replaced. Two processes updating it at once can each lose
// the other's new entries, which costs a hash next time, never a wrong digest; calls of one *Memo (from any
// goroutines) keep all of theirs. A memo that cannot be read or written
// costs only the hashing: Files still returns every digest.
//
// A nil *Memo remembers nothing: its Files is the package's Files.
type Memo struct {
	path string
	now  func() time.Time
	hash func(paths []string) ([]Sum, error)
	// saving is held while the memo file is read, merged and replaced, so that concurrent Files calls of this
	// memo do not drop each other's entries.
	saving sync.Mutex
}

// MemoFile is the memo's file name in clipeval's cache folder.
const MemoFile = "file-digests.memo"

// RacyWindow is how long before hashing a file must have last changed for its digest to be remembered.
const RacyWindow = 2 * time.Second

// MaxMemoEntries bounds the memo: beyond it the entries added longest ago are dropped.
const MaxMemoEntries = 4096

// memoHeader is the memo's first line; the second is the hex SHA-256 of the JSON that follows it.
const memoHeader = "clipeval digest memo v1\n"

// NewMemo returns a memo kept in the file at path (created when first written, its folder too).
func NewMemo(path string) *Memo {
	return &Memo{path: path, now: time.Now, hash: Files}
}

// DefaultMemo returns the memo in clipeval's cache folder (CacheDir), or nil (no memo) when there is none.
func DefaultMemo() *Memo {
	dir, err := CacheDir()
	if err != nil {
		return nil
	}
	return NewMemo(filepath.Join(dir, MemoFile))
}

// CacheDir returns clipeval's cache folder, by the rule the harness's embedding store follows (and a plugin
// inherits the harness's environment): $CLIPEVAL_CACHE_DIR, else $XDG_CACHE_HOME/clipeval, else
// ~/.cache/clipeval (os.UserCacheDir's rule).
func CacheDir() (string, error) {
	if d := os.Getenv("CLIPEVAL_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("digest: finding the cache folder: %w (set CLIPEVAL_CACHE_DIR)", err)
	}
	return filepath.Join(d, "clipeval"), nil
}

// Path returns the memo's file.
func (m *Memo) Path() string { return m.path }

// fileID is what identifies a file's content without reading it.
type fileID struct {
	Path             string // absolute
	Size             int64
	MtimeNS, CtimeNS int64
	Dev, Ino         uint64
}

// memoEntry is one remembered digest.
type memoEntry struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	CtimeNS int64  `json:"ctime_ns"`
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	SHA256  string `json:"sha256"`
	// Added is when the digest was computed (Unix seconds), for dropping the oldest entries.
	Added int64 `json:"added"`
}

func (e memoEntry) id() fileID {
	return fileID{Path: e.Path, Size: e.Size, MtimeNS: e.MtimeNS, CtimeNS: e.CtimeNS, Dev: e.Dev, Ino: e.Ino}
}

// identify stats a file; ok is false when it cannot (the hash then reports why) or the platform gives no inode.
func identify(path string) (fileID, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fileID{}, false
	}
	st, err := os.Stat(abs)
	if err != nil || !st.Mode().IsRegular() {
		return fileID{}, false
	}
	id, ok := statID(st)
	id.Path, id.Size = abs, st.Size()
	return id, ok
}

// Files returns the digests of the files at paths in their order, as the package's Files does, taking each from
// the memo when the file is unchanged since it was remembered and hashing (in parallel) and remembering the rest.
func (m *Memo) Files(paths []string) ([]Sum, error) {
	if m == nil {
		return Files(paths)
	}
	start := m.now()
	known := m.load()
	sums := make([]Sum, len(paths))
	ids := make([]fileID, len(paths))
	okIDs := make([]bool, len(paths))
	var miss []int
	for i, p := range paths {
		ids[i], okIDs[i] = identify(p)
		if e, hit := known[ids[i]]; okIDs[i] && hit {
			sums[i] = Sum{Path: p, SHA256: e.SHA256, Size: e.Size}
			continue
		}
		miss = append(miss, i)
	}
	if len(miss) == 0 {
		return sums, nil
	}
	missPaths := make([]string, len(miss))
	for j, i := range miss {
		missPaths[j] = paths[i]
	}
	got, err := m.hash(missPaths)
	if err != nil {
		return nil, err
	}
	var added []memoEntry
	racy := start.Add(-RacyWindow).UnixNano()
	for j, i := range miss {
		sums[i] = got[j]
		after, ok := identify(paths[i])
		// Remember only what was hashed from a file that did not change while, or just before, it was read.
		if !okIDs[i] || !ok || after != ids[i] || got[j].Size != after.Size || after.MtimeNS >= racy || after.CtimeNS >= racy {
			continue
		}
		added = append(added, memoEntry{Path: after.Path, Size: after.Size, MtimeNS: after.MtimeNS, CtimeNS: after.CtimeNS,
			Dev: after.Dev, Ino: after.Ino, SHA256: got[j].SHA256, Added: start.Unix()})
	}
	if len(added) > 0 {
		_ = m.save(added) // a memo that cannot be written costs the next run a hash, nothing else
	}
	return sums, nil
}

// load reads the memo; a missing, unreadable or invalid memo is empty.
func (m *Memo) load() map[fileID]memoEntry {
	out := map[fileID]memoEntry{}
	entries, err := m.read()
	if err != nil {
		return out
	}
	for _, e := range entries {
		out[e.id()] = e
	}
	return out
}

// read reads and verifies the memo file.
func (m *Memo) read() ([]memoEntry, error) {
	raw, err := os.ReadFile(m.path)
	if err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(raw, []byte(memoHeader))
	if !ok {
		return nil, errors.New("not a digest memo")
	}
	sum, body, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return nil, errors.New("digest memo cut short")
	}
	if want := sha256.Sum256(body); hex.EncodeToString(want[:]) != string(sum) {
		return nil, errors.New("digest memo corrupt: checksum mismatch")
	}
	var entries []memoEntry
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, fmt.Errorf("digest memo: %w", err)
	}
	for _, e := range entries {
		if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != sha256.Size || e.Size < 0 || !filepath.IsAbs(e.Path) {
			return nil, errors.New("digest memo: a malformed entry")
		}
	}
	return entries, nil
}

// save merges added into the memo as it is on disk now (another process may have written it since load) and
// writes it atomically: one entry per path, the newest, at most MaxMemoEntries.
func (m *Memo) save(added []memoEntry) error {
	m.saving.Lock()
	defer m.saving.Unlock()
	old, _ := m.read()
	latest := map[string]memoEntry{}
	for _, e := range append(old, added...) { // added last: they replace older entries of their paths
		if cur, ok := latest[e.Path]; !ok || e.Added >= cur.Added {
			latest[e.Path] = e
		}
	}
	entries := make([]memoEntry, 0, len(latest))
	for _, e := range latest {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b memoEntry) int {
		return cmp.Or(cmp.Compare(b.Added, a.Added), strings.Compare(a.Path, b.Path))
	})
	if len(entries) > MaxMemoEntries {
		entries = entries[:MaxMemoEntries]
	}
	body, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	dir := filepath.Dir(m.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(m.path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing by that name
	_, err = tmp.Write(slices.Concat([]byte(memoHeader), []byte(hex.EncodeToString(sum[:])+"\n"), body))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), m.path)
}

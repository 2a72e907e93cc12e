package modelfolder

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/clipeval/clipeval/plugins/sdk/digest"
)

// InputFiles are the files of a model folder that decide a tower's inputs, when present: the config (image
// transform, context length), the manifest and every tokenizer file either tokenizer reads.
var InputFiles = []string{ConfigFile, ManifestFile, "vocab.txt", "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"}

// Digests returns the sha256 of each of InputFiles that the folder has, of each of more (file names in the folder,
// e.g. its ONNX towers) that it has, and of the folder's BPE vocabulary when it is a file, keyed by name (the BPE
// by its base name): a model's ModelInfo.Files. memo (nil: none) remembers digests between runs.
func (f *Folder) Digests(memo *digest.Memo, more ...string) (map[string]string, error) {
	return HashFiles(memo, f.Dir, append(append([]string(nil), InputFiles...), more...), f.BPE)
}

// HashFiles returns the sha256 of each named file that exists in dir (and of extra, when set and a file), keyed by
// name (extra by its base name), from the memo or hashed in parallel.
func HashFiles(memo *digest.Memo, dir string, names []string, extra string) (map[string]string, error) {
	var keys, paths []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			continue
		}
		keys, paths = append(keys, n), append(paths, p)
	}
	if extra != "" {
		if st, err := os.Stat(extra); err == nil && !st.IsDir() {
			keys, paths = append(keys, filepath.Base(extra)), append(paths, extra)
		}
	}
	sums, err := memo.Files(paths)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(sums))
	for i, s := range sums {
		out[keys[i]] = s.SHA256
	}
	return out, nil
}

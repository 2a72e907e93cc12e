// Package digest hashes files for provenance, the one implementation the harness (the digest of a task's dataset
// in results.json) and the model backends (the digest of each model file in sdk.ModelInfo.Files) share: SHA-256
// (FIPS 180-4) of a file's content, streamed so that memory does not grow with the file, of many files in
// parallel, and of a whole dataset by the formula Dataset documents. A Memo remembers files' digests between runs,
// keyed by what identifies their content without reading it (see Memo).
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Sum is the digest of one file.
type Sum struct {
	// Path is the file as given.
	Path string
	// SHA256 is the lower-case hex SHA-256 of the file's content.
	SHA256 string
	// Size is the file's length in bytes (the bytes hashed).
	Size int64
}

// File returns the SHA-256 of the content of the file at path, read as a stream. An error opening the file wraps
// the os error, so errors.Is(err, fs.ErrNotExist) tells a missing file.
func File(path string) (Sum, error) { return fileWith(path, os.Open) }

// Opener opens a file to hash (os.Open, or one that refuses paths outside a folder, such as sdk.OpenInRoot). An
// error that wraps ErrLeftOut leaves the file out of a Dataset's digest instead of failing it.
type Opener func(path string) (*os.File, error)

// ErrLeftOut, wrapped by an Opener's error, leaves a file out of a Dataset's digest: one that must not be read
// (e.g. a link out of its dataset's folder, which the run refuses or skips when it gets to the file).
var ErrLeftOut = errors.New("left out of the digest")

// fileWith is File with the file opened by open.
func fileWith(path string, open Opener) (Sum, error) {
	f, err := open(path)
	if err != nil {
		return Sum{}, fmt.Errorf("digest: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Sum{}, fmt.Errorf("digest: hashing %s: %w", path, err)
	}
	return Sum{Path: path, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// Files hashes the files at paths in parallel (up to GOMAXPROCS at once) and returns their sums in the order of
// paths. When any file cannot be hashed it returns the error of the first such path in that order.
func Files(paths []string) ([]Sum, error) { return filesWith(paths, os.Open) }

// filesWith is Files with each file opened by open; a file open leaves out (ErrLeftOut) gets a zero Sum.
func filesWith(paths []string, open Opener) ([]Sum, error) {
	sums := make([]Sum, len(paths))
	errs := make([]error, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(paths)) {
		wg.Go(func() {
			for i := range next {
				sums[i], errs[i] = fileWith(paths[i], open)
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		switch {
		case errors.Is(err, ErrLeftOut):
			sums[i] = Sum{}
		case err != nil:
			return nil, err
		}
	}
	return sums, nil
}

// Dataset identifies the content of a dataset's files for provenance.
type Dataset struct {
	// SHA256 is the lower-case hex digest (see DatasetOf).
	SHA256 string
	// Files is the number of distinct files and Bytes their total size.
	Files int
	Bytes int64
}

// DatasetOf hashes a dataset's files. The digest is the SHA-256 of the lines
//
//	path "\t" size "\t" sha256(content) "\n"
//
// over the distinct paths in ascending order, each path relative to the deepest folder that holds every file and
// written with forward slashes, size in decimal bytes and sha256 in lower-case hex: the same files give the same
// digest wherever the dataset lies and whatever order (and however often) a task listed them. Each file is opened
// by open (os.Open when nil).
func DatasetOf(paths []string, open Opener) (Dataset, error) {
	if open == nil {
		open = os.Open
	}
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	sums, err := filesWith(sorted, open)
	if err != nil {
		return Dataset{}, err
	}
	sums = slices.DeleteFunc(sums, func(s Sum) bool { return s.Path == "" }) // left out
	root := commonDir(sorted)
	h := sha256.New()
	var total int64
	for _, s := range sums {
		rel, err := filepath.Rel(root, s.Path)
		if err != nil {
			rel = s.Path
		}
		fmt.Fprintf(h, "%s\t%d\t%s\n", filepath.ToSlash(rel), s.Size, s.SHA256)
		total += s.Size
	}
	return Dataset{SHA256: hex.EncodeToString(h.Sum(nil)), Files: len(sums), Bytes: total}, nil
}

// commonDir returns the deepest folder that holds every path ("" for none).
func commonDir(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	dir := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for dir != "/" && dir != "." && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			dir = filepath.Dir(dir)
		}
	}
	return dir
}

package run

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// datasetHash identifies a dataset's content for provenance.
type datasetHash struct {
	sum   string
	files int
	bytes int64
}

// hashFiles hashes a dataset's files: the sha256 of the lines "path\tsize\tsha256(content)\n" over the distinct
// paths in sorted order, each path relative to the files' common folder, so the same files give the same digest
// wherever the dataset lies and whatever order a task read them in.
func hashFiles(paths []string) (datasetHash, error) {
	uniq := map[string]bool{}
	for _, p := range paths {
		uniq[p] = true
	}
	sorted := make([]string, 0, len(uniq))
	for p := range uniq {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	digests := make([]string, len(sorted))
	sizes := make([]int64, len(sorted))
	errs := make([]error, len(sorted))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				digests[i], sizes[i], errs[i] = hashFile(sorted[i])
			}
		}()
	}
	for i := range sorted {
		next <- i
	}
	close(next)
	wg.Wait()
	root := commonDir(sorted)
	h := sha256.New()
	var total int64
	for i, p := range sorted {
		if errs[i] != nil {
			return datasetHash{}, errs[i]
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			rel = p
		}
		fmt.Fprintf(h, "%s\t%d\t%s\n", filepath.ToSlash(rel), sizes[i], digests[i])
		total += sizes[i]
	}
	return datasetHash{sum: hex.EncodeToString(h.Sum(nil)), files: len(sorted), bytes: total}, nil
}

// commonDir returns the deepest folder that holds every path.
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

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hashing %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

package sdk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrOutsideRoot is wrapped by OpenInRoot's error for a path that leads out of its root.
var ErrOutsideRoot = errors.New("outside the dataset folder")

// OpenInRoot opens the file at path, which must lie inside the folder root, for reading, without following a
// symbolic link (or "..") that leads out of root at the moment of opening: a dataset file replaced by a link to
// /etc/passwd after the dataset was loaded is refused, not read. Links that stay inside root are followed. On
// Linux the open is openat2 with RESOLVE_BENEATH (no race); where that is not available, or a link inside root
// is absolute, the file is opened and then checked to be the file its path resolves to inside root (os.SameFile),
// which a link swapped in between cannot pass.
func OpenInRoot(root, path string) (*os.File, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%s is %w %s", path, ErrOutsideRoot, root)
	}
	if f, ok, err := openBeneath(root, rel); ok {
		return f, err
	}
	return openChecked(root, path)
}

// openChecked opens path and checks that the file opened is the one path resolves to, with every link resolved,
// inside root.
func openChecked(root, path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		return nil, err
	}
	opened, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fail(err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fail(err)
	}
	if rel, err := filepath.Rel(realRoot, real); err != nil || !filepath.IsLocal(rel) {
		return fail(fmt.Errorf("%s leads to %s, %w %s (was it replaced by a symbolic link after the dataset was loaded?)", path, real, ErrOutsideRoot, root))
	}
	now, err := os.Stat(real)
	if err != nil {
		return fail(err)
	}
	if !os.SameFile(opened, now) {
		return fail(fmt.Errorf("%s changed while it was opened (a symbolic link swapped in?); refusing a file that may lie %w %s", path, ErrOutsideRoot, root))
	}
	return f, nil
}

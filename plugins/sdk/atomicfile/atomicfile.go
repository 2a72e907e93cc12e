// Package atomicfile writes files whole or not at all: into a new temporary file in the target's folder, then
// renamed over the target. A reader never sees a partial file, a crash leaves the previous file, and a symbolic
// link at the target is replaced, never followed (a link planted at report.md cannot make a write land elsewhere).
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write stores data at path with permissions perm (set as given: the umask does not apply), atomically: see the
// package comment. The folder must exist.
func Write(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp") // O_EXCL: never opens an existing file or link
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil { // CreateTemp makes 0600
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil { // replaces a link at path, does not follow it
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// RealDir creates the folder dir (and its parents) when missing and refuses one that is a symbolic link or not a
// folder: outputs go into real folders only, never through a link planted inside an output folder (e.g. plots/).
func RealDir(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is a symbolic link or not a folder; outputs are written into real folders only: remove it", dir)
	}
	return nil
}

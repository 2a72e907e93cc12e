package pluginhost

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/clipeval/clipeval/harness/pluginsums"
)

// AllowUnverifiedEnvVar is the environment variable that, set to 1, lets the CLI start plugins missing from the
// checksum list (development only); a plugin listed with another checksum is refused all the same.
const AllowUnverifiedEnvVar = "CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS"

// VerifyError says why a plugin file is not started: there is no checksum list, the plugin is not in it, or its
// file's SHA-256 differs from the list's.
type VerifyError struct {
	// Name is the plugin's file name, Path its file, List the checksum list.
	Name, Path, List string
	// Want is the listed SHA-256 (empty when the plugin is not listed); Got the file's (empty when not computed).
	Want, Got string
	// NoList is set when the plugin folder has no checksum list.
	NoList bool
}

// Unlisted reports whether the plugin is missing from the list (or there is no list), rather than listed with
// another checksum.
func (e *VerifyError) Unlisted() bool { return e.Want == "" }

// Error says what failed, for which file, and what to do.
func (e *VerifyError) Error() string {
	record := fmt.Sprintf("record this file with `clipeval plugins --write-sums %s`", e.Path)
	switch {
	case e.NoList:
		return fmt.Sprintf("plugin %q (%s) is not verified: the plugin folder has no checksum list %s; build the plugins with "+
			"`make build` (it writes the list), %s if you trust it, or set %s=1 to start unverified plugins (development only)",
			e.Name, e.Path, e.List, record, AllowUnverifiedEnvVar)
	case e.Unlisted():
		return fmt.Sprintf("plugin %q (%s) is not verified: it is not in the checksum list %s; build the plugins with "+
			"`make build`, %s if you trust it, or set %s=1 to start unverified plugins (development only)",
			e.Name, e.Path, e.List, record, AllowUnverifiedEnvVar)
	}
	return fmt.Sprintf("plugin %q (%s) does not match the checksum list %s: expected sha256 %s, the file has %s (it changed "+
		"after the list was written); rebuild the plugins with `make build`, or %s if you trust it",
		e.Name, e.Path, e.List, e.Want, e.Got, record)
}

// Verify checks the plugin called name against the folder's checksum list without running it: nil when the list
// names it with its file's SHA-256, a *VerifyError when there is no list, the list does not name it or names it
// with another checksum, another error when the plugin or the list cannot be read.
func (h *Host) Verify(name string) error {
	path, err := h.path(name)
	if err != nil {
		return err
	}
	want, err := h.listed(name, path)
	if err != nil {
		return err
	}
	got, err := pluginsums.FileSHA256(path)
	if err != nil {
		return err
	}
	if got != want {
		return &VerifyError{Name: name, Path: path, List: filepath.Join(h.dir, pluginsums.File), Want: want, Got: got}
	}
	return nil
}

// listed returns the checksum the folder's list holds for the plugin called name (at path), or a *VerifyError
// when there is no list or it does not name the plugin.
func (h *Host) listed(name, path string) (string, error) {
	list := filepath.Join(h.dir, pluginsums.File)
	sums, err := pluginsums.Read(h.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &VerifyError{Name: name, Path: path, List: list, NoList: true}
	}
	if err != nil {
		return "", err
	}
	want, ok := sums[name]
	if !ok {
		return "", &VerifyError{Name: name, Path: path, List: list}
	}
	return want, nil
}

// checkFile compares the plugin's file (at path) with the folder's checksum list just before the host starts it:
// nil when the list names it with the file's SHA-256, or when it is unlisted and unverified plugins are allowed (a
// warning is logged); a *VerifyError otherwise. The file's digest comes from the host's memo (RememberDigests) when
// the file is unchanged since it was last hashed, so that an unchanged plugin is not read again at every start.
func (h *Host) checkFile(name, path string) error {
	want, err := h.listed(name, path)
	var verr *VerifyError
	if errors.As(err, &verr) {
		h.mu.Lock()
		allow := h.allowUnverified
		h.mu.Unlock()
		if allow {
			h.logger.Warn("starting an unverified plugin ("+AllowUnverifiedEnvVar+" is set)", "plugin", name, "path", path, "list", verr.List)
			return nil
		}
	}
	if err != nil {
		return err
	}
	h.mu.Lock()
	memo := h.digests
	h.mu.Unlock()
	sums, err := memo.Files([]string{path})
	if err != nil {
		return fmt.Errorf("checksumming plugin %q: %w", name, err)
	}
	if got := sums[0].SHA256; got != want {
		return &VerifyError{Name: name, Path: path, List: filepath.Join(h.dir, pluginsums.File), Want: want, Got: got}
	}
	return nil
}

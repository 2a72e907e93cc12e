// Package sharedtest locates the read-only `../shared` folder (fixtures, VQA-RAD, vocabularies) for tests.
//
// The folder is $CLIPEVAL_SHARED when set, else `shared` beside the repository checkout. When it is missing a test
// is skipped, except when the CI environment variable is set: then a missing folder is a test failure.
package sharedtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// EnvVar overrides the location of the shared folder.
const EnvVar = "CLIPEVAL_SHARED"

// RepoRoot returns the repository root (the folder holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Locate returns the shared folder's path and whether it exists.
func Locate() (string, bool) {
	dir := os.Getenv(EnvVar)
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared")
	}
	dir, _ = filepath.Abs(dir)
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Dir returns the shared folder, skipping the test when it is missing (failing it when CI is set).
func Dir(t testing.TB) string {
	t.Helper()
	dir, ok := Locate()
	if !ok {
		missing(t, dir)
	}
	return dir
}

// Path returns a path inside the shared folder, skipping the test when it is missing (failing when CI is set).
func Path(t testing.TB, rel ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		missing(t, p)
	}
	return p
}

// Optional returns a path inside the shared folder and whether it is there, for tests that also run without it
// (fuzz targets) and leave out only the parts that need it: when it is missing the test goes on (and false comes
// back), except when the CI environment variable is set: then a missing path is a test failure, as for Path.
func Optional(t testing.TB, rel ...string) (string, bool) {
	t.Helper()
	dir, _ := Locate()
	p := filepath.Join(append([]string{dir}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared test data %s is missing (CI is set, so this fails; set %s to the shared folder)", p, EnvVar)
		}
		t.Logf("shared test data %s is missing: the parts that need it are left out; set %s to the shared folder", p, EnvVar)
		return p, false
	}
	return p, true
}

func missing(t testing.TB, p string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("shared test data %s is missing (CI is set, so this fails; set %s to the shared folder)", p, EnvVar)
	}
	t.Skipf("shared test data %s is missing; set %s to the shared folder", p, EnvVar)
}

// ORTEnvVar names the ONNX Runtime shared library clipeval loads.
const ORTEnvVar = "CLIPEVAL_ORT_LIB"

// ORTLib returns the ONNX Runtime shared library named by $CLIPEVAL_ORT_LIB (set by `make test`), skipping the test
// when it is unset or missing (failing it when CI is set).
func ORTLib(t testing.TB) string {
	t.Helper()
	p := os.Getenv(ORTEnvVar)
	if p == "" {
		p = filepath.Join(RepoRoot(), ".cache", "onnxruntime", "1.30.0", "libonnxruntime.so.1")
	}
	if _, err := os.Stat(p); err != nil {
		missing(t, p)
	}
	return p
}

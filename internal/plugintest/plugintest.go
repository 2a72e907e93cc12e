// Package plugintest builds clipeval's plugins (and optionally the CLI) into a temporary folder for tests that run
// them as real subprocesses.
package plugintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/clipeval/clipeval/internal/sharedtest"
)

// Plugins are the plugin main packages, relative to the repository root; each builds to bin/plugins/<base name>.
var Plugins = []string{"plugins/onnx", "benchmarks/retrieval", "benchmarks/classification", "benchmarks/vqa"}

// Build compiles every plugin into dir/plugins and the CLI into dir/clipeval. Set race to build with -race.
func Build(dir string, race bool) error {
	root := sharedtest.RepoRoot()
	build := func(out, pkg string) error {
		args := []string{"build", "-o", out}
		if race {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./"+pkg)...)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
		return err
	}
	for _, p := range Plugins {
		if err := build(filepath.Join(dir, "plugins", filepath.Base(p)), p); err != nil {
			return err
		}
	}
	return build(filepath.Join(dir, "clipeval"), "harness/cmd/clipeval")
}

// Main builds the plugins and the CLI into a temporary folder, points *binDir at it for the tests of m, runs them,
// removes the folder and returns the exit code: `func TestMain(m *testing.M) { os.Exit(plugintest.Main(m, &dir)) }`.
func Main(m *testing.M, binDir *string) int {
	dir, err := os.MkdirTemp("", "clipeval-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := Build(dir, false); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*binDir = dir
	return m.Run()
}

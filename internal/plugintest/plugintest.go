// Package plugintest builds clipeval's plugins (and optionally the CLI) into a temporary folder for tests that run
// them as real subprocesses.
package plugintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

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

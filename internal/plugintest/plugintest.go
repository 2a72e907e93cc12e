// Package plugintest builds clipeval's plugins (and optionally the CLI) into a temporary folder for tests that run
// them as real subprocesses.
package plugintest

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/internal/sharedtest"
)

// Plugins are the plugin main packages, relative to the repository root; each builds to bin/plugins/<base name>.
var Plugins = []string{"plugins/onnx", "plugins/kserve", "benchmarks/retrieval", "benchmarks/classification", "benchmarks/vqa"}

// ScriptPlugins are the plugins written in other languages, as folders relative to the repository root: each holds
// an executable `install` that writes the plugin, as one executable file, to the path it is given
// (bin/plugins/<base name>), as `make build` does.
var ScriptPlugins = []string{"benchmarks/pyalign"}

// TestPlugins are the plugins only the harness's own tests start, relative to the repository root: faultmodel
// misbehaves on request (crashes, hangs, wrong answers), goodtask is a small task that keeps the contract. Build puts
// them in dir/testplugins.
var TestPlugins = []string{"harness/conformance/testdata/faultmodel", "harness/conformance/testdata/goodtask"}

// Build compiles every plugin into dir/plugins, the test plugins into dir/testplugins and the CLI into
// dir/clipeval. Set race to build with -race.
func Build(dir string, race bool) error {
	if err := BuildPlugins(dir, race); err != nil {
		return err
	}
	return errors.Join(BuildTestPlugins(filepath.Join(dir, "testplugins"), TestPlugins...),
		goBuild(filepath.Join(dir, "clipeval"), "harness/cmd/clipeval", race))
}

// BuildPlugins compiles the Go plugins and installs the script plugins into dir/plugins, and records those built in
// the folder's checksum list, as `make build` does. A plugin that fails to build does not stop the others; the
// error lists every failure.
func BuildPlugins(dir string, race bool) error {
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return fmt.Errorf("plugin folder: %w", err)
	}
	var errs []error
	var built []string
	record := func(p string, err error) {
		if errs = append(errs, err); err == nil {
			built = append(built, filepath.Base(p))
		}
	}
	for _, p := range Plugins {
		record(p, goBuild(filepath.Join(plugins, filepath.Base(p)), p, race))
	}
	for _, p := range ScriptPlugins {
		record(p, installScript(filepath.Join(plugins, filepath.Base(p)), p))
	}
	return errors.Join(append(errs, pluginsums.Write(plugins, built...))...)
}

// BuildTestPlugins compiles the main packages pkgs (relative to the repository root: a test's own plugins, e.g.
// harness/conformance/testdata/goodtask) into dir, each as dir/<base name>, and records them in dir's checksum
// list, so that the plugin host starts them as it starts the project's.
func BuildTestPlugins(dir string, pkgs ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plugin folder: %w", err)
	}
	names := make([]string, len(pkgs))
	for i, p := range pkgs {
		names[i] = filepath.Base(p)
		if err := goBuild(filepath.Join(dir, names[i]), p, false); err != nil {
			return err
		}
	}
	return pluginsums.Write(dir, names...)
}

// goBuild compiles the main package pkg (relative to the repository root) to out.
func goBuild(out, pkg string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./"+pkg)...)
	cmd.Dir = sharedtest.RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// installScript runs the install program of the script plugin in folder pkg (relative to the repository root).
func installScript(out, pkg string) error {
	root := sharedtest.RepoRoot()
	cmd := exec.Command(filepath.Join(root, pkg, "install"), out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("installing %s: %v\n%s", pkg, err, b)
	}
	return nil
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

// WriteFaultConfig writes, in dir, an experiment config of the test plugins and returns its path: one model "m"
// of the faultmodel backend (a model folder of width 8, batches of 4, options as written: plain YAML scalars;
// delay_ms 1 unless given) and goodtask tasks t1, t2, ... of the given sizes.
func WriteFaultConfig(dir string, options map[string]string, sizes ...int) (string, error) {
	model := filepath.Join(dir, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(model, "fake-model.json"), []byte(`{"embed_dim": 8}`), 0o644); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("models:\n  - name: m\n    backend: faultmodel\n    path: model\n    batch_size: 4\n    options:\n")
	if options["delay_ms"] == "" {
		b.WriteString("      delay_ms: 1\n")
	}
	for _, k := range slices.Sorted(maps.Keys(options)) {
		fmt.Fprintf(&b, "      %s: %s\n", k, options[k])
	}
	b.WriteString("tasks:\n")
	for i, n := range sizes {
		fmt.Fprintf(&b, "  - name: t%d\n    task: goodtask\n    dataset: {n: %d}\n", i+1, n)
	}
	path := filepath.Join(dir, "faults.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

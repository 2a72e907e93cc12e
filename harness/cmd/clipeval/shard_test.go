package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/internal/sharedtest"
)

// TestRunShardsAndMerge runs the demo as two shards from the command line (one through Slurm's environment), runs
// one again (nothing to do), merges them and compares the merged results.json and report with a plain run's; a
// merge with a shard missing exits 2 naming it.
func TestRunShardsAndMerge(t *testing.T) {
	_, config, single := plainDemoRun(t)

	out := t.TempDir()
	code, stdout, errOut := cli(t, "run", config, "--out", out, "--shard", "0/2")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, filepath.Join(out, "shards", "shard-0-of-2")+"\n", stdout)
	assert.Contains(t, errOut, "clipeval merge "+out)

	code, _, errOut = cli(t, "merge", out)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "lacks 1 of the 2 shards: 1/2")

	t.Setenv("SLURM_ARRAY_TASK_ID", "1")
	t.Setenv("SLURM_ARRAY_TASK_MIN", "0")
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "2")
	code, stdout, errOut = cli(t, "run", config, "--out", out, "--shard", "auto")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, filepath.Join(out, "shards", "shard-1-of-2")+"\n", stdout)
	code, _, errOut = cli(t, "run", config, "--out", out, "--shard", "auto/2")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "shard 1/2 is already complete in "+filepath.Join(out, "shards", "shard-1-of-2")+": nothing to do")

	code, stdout, errOut = cli(t, "merge", out)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, stdout, filepath.Join(out, "results.json"))
	assert.Contains(t, stdout, filepath.Join(out, "report.md"))
	sameResults(t, filepath.Join(single, "results.json"), filepath.Join(out, "results.json"))
	report := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, "report.md"))
		require.NoError(t, err)
		return b2s(b, dir)
	}
	assert.Equal(t, report(single), report(out), "the same report")

	code, _, errOut = cli(t, "run", config, "--out", out, "--shard", "2/2")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--shard "2/2": the shard "2" must be a whole number from 0 to 1`)
	code, _, errOut = cli(t, "run", config, "--out", out, "--shard", "0/2", "--baseline", filepath.Join(single, "results.json"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "a shard has none: give it to clipeval merge instead")
}

// b2s returns a report's text with its folder, start and wall time (which differ between runs) left out.
func b2s(b []byte, dir string) string {
	var keep []string
	for _, line := range strings.Split(strings.ReplaceAll(string(b), dir, "OUT"), "\n") {
		if strings.HasPrefix(line, "| started |") || strings.HasPrefix(line, "| wall time |") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// sameResults asserts that the results.json at gotPath records what the one at wantPath does (models, tasks with
// their dataset digests, every run), but for the runs' wall times.
func sameResults(t *testing.T, wantPath, gotPath string) {
	t.Helper()
	want, err := results.Read(wantPath)
	require.NoError(t, err)
	got, err := results.Read(gotPath)
	require.NoError(t, err)
	assert.Equal(t, want.Models, got.Models)
	assert.Equal(t, want.Tasks, got.Tasks)
	require.Len(t, got.Runs, len(want.Runs))
	for i := range want.Runs {
		w, g := want.Runs[i], got.Runs[i]
		w.WallSeconds, g.WallSeconds = 0, 0
		assert.Equal(t, w, g)
	}
}

// plainDemoRun generates the demo into a new folder (CLIPEVAL_DEMO names it for configs/demo.yaml) and runs
// configs/demo.yaml into another, the run a sharded one must equal; it returns the demo's folder, the config and
// the run's output folder.
func plainDemoRun(t *testing.T) (demo, config, out string) {
	t.Helper()
	demo = t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	t.Setenv("CLIPEVAL_DEMO", demo)
	config = filepath.Join(sharedtest.RepoRoot(), "configs", "demo.yaml")
	out = t.TempDir()
	code, _, errOut := cli(t, "run", config, "--out", out, "--quiet")
	require.Equal(t, 0, code, errOut)
	return demo, config, out
}

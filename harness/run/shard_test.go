package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// writeShardConfig writes, in dir, a config of two models (the demo model twice, with different batch sizes) on
// the demo's four tasks with `bad_images: skip`, and returns it loaded.
func writeShardConfig(t *testing.T, dir, demo string) *config.Config {
	t.Helper()
	p := writeSkipConfig(t, dir, demo, config.BadImagesSkip)
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	twice := strings.Replace(string(raw), "tasks:\n", fmt.Sprintf("  - name: demo-b\n    path: %s/model\n    options: {logit_scale: 50}\n    batch_size: 3\ntasks:\n", demo), 1)
	require.NoError(t, os.WriteFile(p, []byte(twice), 0o644))
	cfg, err := config.Load(p, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	return cfg
}

// TestShardsMergeAsOneRun runs a config as N shards (1, 3, 7 and 40: more shards than some data sets have inputs)
// and merges them: results.json must equal the unsharded run's (models, tasks and their dataset digests, every
// run's metrics, intervals, item values, predictions and skipped images), with an image that cannot be decoded
// skipped in whichever shard holds it. A complete shard run again does nothing.
func TestShardsMergeAsOneRun(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(demo, "data", "images", spoiltImage), []byte("not an image"), 0o644))
	cfg := writeShardConfig(t, t.TempDir(), demo)
	r, _ := newRunner(t)
	ctx := context.Background()
	want, err := r.Run(ctx, plan.New(cfg, t.TempDir(), "test"))
	require.NoError(t, err)
	require.Len(t, want.Runs, 8)

	for _, n := range []int{1, 3, 7, 40} {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			out := t.TempDir()
			p := plan.New(cfg, out, "test")
			images := 0
			for i := range n {
				rep, err := r.RunShard(ctx, p, Shard{Index: i, Count: n})
				require.NoError(t, err, "shard %d/%d", i, n)
				assert.False(t, rep.Existed)
				assert.Equal(t, filepath.Join(out, ShardsDir, fmt.Sprintf("shard-%d-of-%d", i, n)), rep.Dir)
				images += rep.Images
			}
			var all int
			for _, task := range want.Tasks {
				all += task.Images
			}
			assert.Equal(t, 2*all, images, "every image of every model × task is in exactly one shard")
			again, err := r.RunShard(ctx, p, Shard{Index: n - 1, Count: n})
			require.NoError(t, err)
			assert.True(t, again.Existed, "a complete shard is not run again")

			got, err := r.Merge(ctx, p, out)
			require.NoError(t, err)
			sameResults(t, want, got)
			saved, err := results.Read(filepath.Join(out, "results.json"))
			require.NoError(t, err)
			sameResults(t, want, saved)
		})
	}
}

// sameResults asserts that got records what want does, but for times and run wall clocks.
func sameResults(t *testing.T, want, got *results.Results) {
	t.Helper()
	assert.Equal(t, want.Models, got.Models)
	assert.Equal(t, want.Tasks, got.Tasks)
	assert.Equal(t, want.Config, got.Config)
	require.Len(t, got.Runs, len(want.Runs))
	for i, w := range want.Runs {
		g := got.Runs[i]
		w.WallSeconds, g.WallSeconds = 0, 0
		assert.Equal(t, w, g, "run %s × %s", w.Model, w.Task)
	}
}

// TestMergeRefuses checks that Merge refuses shards that are not one whole run of the config: one missing, shards
// of another config, a shard folder edited to claim another range, a shard's data set changed since, each with an
// error that says what is wrong.
func TestMergeRefuses(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	cfg := writeShardConfig(t, t.TempDir(), demo)
	r, _ := newRunner(t)
	ctx := context.Background()
	out := t.TempDir()
	p := plan.New(cfg, out, "test")
	for i := range 3 {
		_, err := r.RunShard(ctx, p, Shard{Index: i, Count: 3})
		require.NoError(t, err)
	}
	shardDir := func(i int) string { return filepath.Join(out, ShardsDir, fmt.Sprintf("shard-%d-of-3", i)) }

	t.Run("a shard missing", func(t *testing.T) {
		require.NoError(t, os.Rename(shardDir(1), shardDir(1)+".away"))
		defer os.Rename(shardDir(1)+".away", shardDir(1))
		require.NoError(t, os.Rename(shardDir(1)+".away", filepath.Join(out, ShardsDir, ".hidden"))) // hidden folders are not shards
		defer os.Rename(filepath.Join(out, ShardsDir, ".hidden"), shardDir(1)+".away")
		_, err := r.Merge(ctx, p, out)
		require.Error(t, err)
		assert.True(t, sdk.IsInvalidInput(err))
		assert.Contains(t, err.Error(), "lacks 1 of the 3 shards: 1/3")
	})
	t.Run("another config", func(t *testing.T) {
		other := *cfg
		other.SHA256 = strings.Repeat("0", 64)
		_, err := r.Merge(ctx, plan.New(&other, out, "test"), out)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "merge with the config the shards ran")
		_, err = r.RunShard(ctx, plan.New(&other, out, "test"), Shard{Index: 0, Count: 3})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "holds shard 0/3 of another config")
	})
	t.Run("a shard claiming another range", func(t *testing.T) {
		path := filepath.Join(shardDir(2), shardManifest)
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		defer os.WriteFile(path, raw, 0o644)
		require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(raw), `"image_lo": `, `"image_lo": 1`, 1)), 0o644))
		_, err = r.Merge(ctx, p, out)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "shard 2/3 holds images [1")
	})
	t.Run("the data set changed since", func(t *testing.T) {
		m := filepath.Join(demo, "data", "retrieval.jsonl")
		raw, err := os.ReadFile(m)
		require.NoError(t, err)
		defer os.WriteFile(m, raw, 0o644)
		lines := strings.SplitAfter(strings.TrimSpace(string(raw)), "\n")
		require.NoError(t, os.WriteFile(m, []byte(strings.Join(lines[1:], "")), 0o644))
		res, err := r.Merge(ctx, p, out)
		var failed *FailedRuns
		require.ErrorAs(t, err, &failed)
		assert.True(t, sdk.IsInvalidInput(err))
		for _, run := range res.Runs {
			if run.Task == "retrieval" || run.Task == "pyalign" { // the two on the changed manifest
				assert.Contains(t, run.Error, "loads another data set now than when the shards ran", run.Task)
			} else {
				assert.Empty(t, run.Error, run.Task)
			}
		}
	})
	_, err = r.Merge(ctx, p, out)
	require.NoError(t, err, "the shards merge once put back")
}

func TestParseShard(t *testing.T) {
	tests := []struct {
		spec string
		env  map[string]string
		want Shard
		err  string
	}{
		{"0/1", nil, Shard{0, 1}, ""},
		{"6/7", nil, Shard{6, 7}, ""},
		{"7/7", nil, Shard{}, `the shard "7" must be a whole number from 0 to 6`},
		{"-1/3", nil, Shard{}, "from 0 to 2"},
		{"1/0", nil, Shard{}, "is not a whole number of at least 1"},
		{"3", nil, Shard{}, "want I/N"},
		{"auto/4", map[string]string{"SLURM_ARRAY_TASK_ID": "12", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{2, 4}, ""},
		{"auto", map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{3, 4}, ""},
		{"auto/8", map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{}, "the job array has 4 tasks (SLURM_ARRAY_TASK_COUNT), not 8"},
		{"auto/4", map[string]string{"SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{}, "this task is shard 6, outside 0 to 3"},
		{"auto/5", map[string]string{"JOB_COMPLETION_INDEX": "4"}, Shard{4, 5}, ""},
		{"auto/5", map[string]string{"JOB_COMPLETION_INDEX": "x"}, Shard{}, `JOB_COMPLETION_INDEX is "x", not a whole number`},
		{"auto/5", nil, Shard{}, "neither SLURM_ARRAY_TASK_ID"},
		{"auto", nil, Shard{}, "SLURM_ARRAY_TASK_COUNT is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseShard(tc.spec, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				require.Error(t, err)
				assert.True(t, sdk.IsInvalidInput(err))
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestShardRanges checks that the shards of n inputs cover 0..n once, in order, sizes differing by at most one.
func TestShardRanges(t *testing.T) {
	for _, n := range []int{0, 1, 5, 12, 725_739} {
		for _, count := range []int{1, 2, 3, 7, 40} {
			next, small, large := 0, n, 0
			for i := range count {
				lo, hi := Shard{i, count}.Range(n)
				require.Equal(t, next, lo, "n=%d, shard %d/%d", n, i, count)
				require.GreaterOrEqual(t, hi, lo)
				small, large, next = min(small, hi-lo), max(large, hi-lo), hi
			}
			assert.Equal(t, n, next)
			assert.LessOrEqual(t, large-small, 1)
		}
	}
}

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/internal/slurmtest"
)

// TestSlurmJobArray runs the demo on a real one-node Slurm cluster with the shipped scripts: configs/slurm/submit.sh
// queues clipeval-shards.sbatch as a job array of 4 (2 at a time) and the merge behind it; the merged results must
// equal a plain run's. Submitting again after one shard is lost re-runs only that shard. The cluster's daemons are
// started by the test and stopped with it (internal/slurmtest); without Slurm installed the test is skipped, but
// not under CI.
func TestSlurmJobArray(t *testing.T) {
	cluster := slurmtest.Start(t)
	demo, config, single := plainDemoRun(t)

	out := filepath.Join(t.TempDir(), "run")
	env := append(cluster.Env(), "CLIPEVAL="+filepath.Join(binDir, "clipeval"), "CLIPEVAL_PLUGIN_DIR="+filepath.Join(binDir, "plugins"),
		sharedtest.ORTEnvVar+"="+sharedtest.ORTLib(t), "CLIPEVAL_CACHE_DIR="+t.TempDir(), "CLIPEVAL_DEMO="+demo)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	submit := func() (shards, merge string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(sharedtest.RepoRoot(), "configs", "slurm", "submit.sh"), config, out, "4", "2")
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", b)
		m := regexp.MustCompile(`shards: job (\d+) .*; merge: job (\d+) `).FindStringSubmatch(string(b))
		require.NotNil(t, m, "submit.sh printed %s", b)
		return m[1], m[2]
	}
	wait := func(job string) {
		t.Helper()
		require.NoError(t, cluster.Wait(ctx, job), "job %s; logs in %s:\n%s", job, out, cluster.LogTails())
	}
	shards, merge := submit()
	wait(shards)
	wait(merge)
	for i := range 4 {
		assert.DirExists(t, filepath.Join(out, "shards", "shard-"+string(rune('0'+i))+"-of-4"))
	}
	sameResults(t, filepath.Join(single, "results.json"), filepath.Join(out, "results.json"))

	// A shard lost (say, its node's disk): the same submission again runs only that one, and merges again.
	lost := filepath.Join(out, "shards", "shard-2-of-4")
	before, err := os.Stat(filepath.Join(out, "shards", "shard-1-of-4", "shard.json"))
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(lost))
	require.NoError(t, os.Remove(filepath.Join(out, "results.json")))
	shards, merge = submit()
	wait(shards)
	wait(merge)
	assert.DirExists(t, lost)
	after, err := os.Stat(filepath.Join(out, "shards", "shard-1-of-4", "shard.json"))
	require.NoError(t, err)
	assert.Equal(t, before.ModTime(), after.ModTime(), "a complete shard is not written again")
	sameResults(t, filepath.Join(single, "results.json"), filepath.Join(out, "results.json"))
}

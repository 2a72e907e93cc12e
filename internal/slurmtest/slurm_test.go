package slurmtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// script writes an array task's id, count and lowest id into out-<id> in dir, then runs extra.
func script(t *testing.T, dir, name, extra string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	body := fmt.Sprintf("#!/bin/sh\necho \"$SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT $SLURM_ARRAY_TASK_MIN\" > %s/out-$SLURM_ARRAY_TASK_ID\n%s\n",
		dir, extra)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o755))
	return p
}

func TestArrayJob(t *testing.T) {
	start := time.Now()
	c := Start(t)
	t.Logf("cluster up in %v (slurm.conf %s)", time.Since(start).Round(time.Millisecond), c.Conf())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("all succeed", func(t *testing.T) {
		dir := filepath.Join(c.Dir(), "ok")
		require.NoError(t, os.Mkdir(dir, 0o755))
		begin := time.Now()
		id, err := c.Submit(ctx, "--array=0-3%2", "--output="+filepath.Join(dir, "slurm-%A_%a.out"),
			script(t, dir, "job.sh", ""))
		require.NoError(t, err)
		states, err := c.WaitStates(ctx, id)
		require.NoError(t, err, c.LogTails())
		t.Logf("array job %s done in %v", id, time.Since(begin).Round(time.Millisecond))
		require.Len(t, states, 4)
		for i := range 4 {
			assert.Equal(t, fmt.Sprint(i), states[i].ArrayTask)
			assert.Equal(t, "COMPLETED", states[i].State)
			assert.Equal(t, "0:0", states[i].ExitCode)
			got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out-%d", i)))
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("%d 4 0\n", i), string(got))
			assert.FileExists(t, filepath.Join(dir, fmt.Sprintf("slurm-%s_%d.out", id, i)))
		}
	})

	t.Run("one task fails", func(t *testing.T) {
		dir := filepath.Join(c.Dir(), "fail")
		require.NoError(t, os.Mkdir(dir, 0o755))
		id, err := c.Submit(ctx, "--array=0-3%2", "--output="+filepath.Join(dir, "slurm-%A_%a.out"),
			script(t, dir, "job.sh", `[ "$SLURM_ARRAY_TASK_ID" = 2 ] && exit 3; exit 0`))
		require.NoError(t, err)
		err = c.Wait(ctx, id)
		t.Logf("Wait: %v", err)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "array task 2 ")
		assert.Contains(t, err.Error(), "exit code 3:0")
		assert.Contains(t, err.Error(), "1 of 4 tasks failed")
		for _, task := range []string{"0", "1", "3"} {
			assert.NotContains(t, err.Error(), "array task "+task+" ")
		}
		for i := range 4 {
			got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out-%d", i)))
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("%d 4 0\n", i), string(got))
		}
	})
	t.Logf("TestArrayJob took %v", time.Since(start).Round(time.Millisecond))
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/internal/plugintest"
)

// lockedBuffer is a bytes.Buffer a process writes to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// slowRun starts the clipeval binary on a run of the test plugins that takes about 10 s (200 images and texts in
// batches of 4, 200 ms a batch), and returns it once both plugins run and encoding has begun, with its plugins'
// process ids, its stderr and its output folder.
func slowRun(t *testing.T, args ...string) (*exec.Cmd, []int, *lockedBuffer, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := plugintest.WriteFaultConfig(dir, map[string]string{"delay_ms": "200"}, 200)
	require.NoError(t, err)
	out := filepath.Join(dir, "out")
	cmd := exec.Command(filepath.Join(binDir, "clipeval"), append([]string{"run", cfg, "--out", out, "--no-cache",
		"--plugin-dir", filepath.Join(binDir, "testplugins")}, args...)...)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		kids := children(t, cmd.Process.Pid)
		if len(kids) == 2 && strings.Contains(stderr.String(), "images") {
			time.Sleep(300 * time.Millisecond) // into the encoding
			return cmd, kids, stderr, out
		}
		require.True(t, time.Now().Before(deadline), "the run did not start its plugins; stderr:\n%s", stderr)
		time.Sleep(50 * time.Millisecond)
	}
}

// children returns the process ids whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // ended meanwhile
		}
		// "pid (comm) state ppid ...": the command name may hold spaces, so read after its closing parenthesis.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out = append(out, n)
		}
	}
	return out
}

// alive reports whether process pid runs (neither gone nor a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// waitGone waits up to limit for every process of pids to end, and reports those still running.
func waitGone(pids []int, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		var left []int
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exitCode waits up to limit for cmd to exit and returns its exit code, or fails.
func exitCode(t *testing.T, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-time.After(limit):
		t.Fatalf("clipeval did not exit within %s of the signal", limit)
		return -1
	}
}

// TestSignalStopsTheRun checks that SIGINT and SIGTERM stop a run within the bound, even when a plugin is stopped
// (SIGSTOP) and cannot answer: exit 130 or 143, no plugin left, a results.json that says it was interrupted, and a
// message that says what was kept and how to resume, without a bare "context canceled".
func TestSignalStopsTheRun(t *testing.T) {
	tests := []struct {
		sig     syscall.Signal
		stopped bool // SIGSTOP the model plugin first
		code    int
		name    string
	}{
		{syscall.SIGINT, false, 130, "SIGINT"},
		{syscall.SIGTERM, false, 143, "SIGTERM"},
		{syscall.SIGTERM, true, 143, "SIGTERM"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.name, " stopped plugin ", tc.stopped), func(t *testing.T) {
			cmd, kids, stderr, out := slowRun(t, "--stop-timeout", "1s")
			if tc.stopped {
				for _, k := range kids {
					require.NoError(t, syscall.Kill(k, syscall.SIGSTOP))
				}
			}
			start := time.Now()
			require.NoError(t, cmd.Process.Signal(tc.sig))
			assert.Equal(t, tc.code, exitCode(t, cmd, 6*time.Second), "stderr:\n%s", stderr)
			t.Logf("exited %s after the signal", time.Since(start))
			assert.Empty(t, waitGone(kids, time.Second), "plugins left running")
			msg := stderr.String()
			assert.Contains(t, msg, "clipeval: interrupted by "+tc.name+": "+out+"/results.json keeps the 0 model × task run(s) that finished; run the same command again to resume")
			assert.NotContains(t, msg, "context canceled")
			res, err := results.Read(filepath.Join(out, "results.json"))
			require.NoError(t, err)
			assert.Equal(t, `interrupted by `+tc.name+` while running model "m" on task "t1" (0 of 1 model × task runs finished)`, res.Interrupted)
			assert.Empty(t, res.Runs)
		})
	}
}

// TestSecondSignalForces checks that a second SIGINT exits at once while clipeval waits for a plugin that cannot
// exit, and that the plugins end with it.
func TestSecondSignalForces(t *testing.T) {
	cmd, kids, stderr, _ := slowRun(t, "--stop-timeout", "60s")
	for _, k := range kids {
		require.NoError(t, syscall.Kill(k, syscall.SIGSTOP))
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	time.Sleep(500 * time.Millisecond)
	require.True(t, alive(cmd.Process.Pid), "clipeval waits for its stopped plugins; stderr:\n%s", stderr)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 130, exitCode(t, cmd, 2*time.Second), "stderr:\n%s", stderr)
	assert.Contains(t, stderr.String(), "clipeval: interrupted by SIGINT again: stopping at once")
	assert.Empty(t, waitGone(kids, 2*time.Second), "plugins left running")
}

// TestKilledHarnessLeavesNoPlugin checks that no plugin outlives a clipeval killed with SIGKILL.
func TestKilledHarnessLeavesNoPlugin(t *testing.T) {
	cmd, kids, _, _ := slowRun(t)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	// The kernel ends them at once (Pdeathsig); the SDK's own check of its parent would take up to a second.
	assert.Empty(t, waitGone(kids, 500*time.Millisecond), "plugins left running")
}

// TestInterruptBeforeTheWorkIsNotBadInput checks that a command interrupted while it checks and loads exits 130,
// not 2 (the cancelled plugin calls are not config problems), says so without a bare "context canceled", and that
// run leaves a results.json that says it was interrupted rather than the previous run's.
func TestInterruptBeforeTheWorkIsNotBadInput(t *testing.T) {
	dir := t.TempDir()
	cfg, err := plugintest.WriteFaultConfig(dir, nil, 4)
	require.NoError(t, err)
	out := filepath.Join(dir, "out")
	plugins := filepath.Join(binDir, "testplugins")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, execute(context.Background(), []string{"run", cfg, "--out", out, "--no-cache", "--plugin-dir", plugins}, &stdout, &stderr), stderr.String())

	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"validate", cfg, "--plugin-dir", plugins}, "clipeval: interrupted by SIGINT: validate stopped before it finished\n"},
		{[]string{"run", cfg, "--out", out, "--no-cache", "--plugin-dir", plugins},
			"clipeval: interrupted by SIGINT: " + out + "/results.json keeps the 0 model × task run(s) that finished and 1 of the earlier run; run the same command again to resume"},
	}
	for _, tc := range tests {
		t.Run(tc.args[0], func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(interrupted{syscall.SIGINT})
			var stdout, stderr bytes.Buffer
			assert.Equal(t, 130, execute(ctx, tc.args, &stdout, &stderr))
			assert.Contains(t, stderr.String(), tc.wantErr)
			assert.NotContains(t, stderr.String(), "context canceled")
		})
	}
	res, err := results.Read(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	assert.Equal(t, "interrupted by SIGINT while checking the config and loading the datasets", res.Interrupted)
	assert.Empty(t, res.Runs)
	assert.Len(t, res.Kept, 1)
}

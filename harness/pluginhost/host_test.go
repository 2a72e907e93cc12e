package pluginhost

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/internal/plugintest"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// binDir holds the plugins TestMain builds.
var binDir string

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m, &binDir)) }

func TestListKindsAndProtocol(t *testing.T) {
	h := New(filepath.Join(binDir, "plugins"), nil)
	defer h.Close()
	found, err := h.List(context.Background())
	require.NoError(t, err)
	got := map[string]string{}
	for _, f := range found {
		require.NoError(t, f.Err, f.Name)
		assert.Equal(t, sdk.ProtocolVersion, f.ProtocolVersion, f.Name)
		got[f.Name] = f.Kind
	}
	assert.Equal(t, map[string]string{"onnx": "model", "kserve": "model", "retrieval": "task", "classification": "task", "vqa": "task", "pyalign": "task"}, got)
}

// TestKilledPluginIsNamed checks that a plugin killed between calls is reported at once, by name, when the policy
// allows one attempt, and started again (a new process) when it allows more.
func TestKilledPluginIsNamed(t *testing.T) {
	for _, attempts := range []int{1, 2} {
		t.Run(fmt.Sprint(attempts, " attempts"), func(t *testing.T) {
			h := New(filepath.Join(binDir, "plugins"), nil)
			defer h.Close()
			h.SetPolicy(Policy{Attempts: attempts, Backoff: time.Millisecond})
			task, err := h.Task("retrieval")
			require.NoError(t, err)
			_, err = task.Describe(context.Background(), sdk.DescribeRequest{})
			require.NoError(t, err)
			pid := task.Pid()

			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = task.Describe(ctx, sdk.DescribeRequest{})
			require.NoError(t, ctx.Err(), "the call must fail or succeed at once, not hang until the deadline")
			if attempts == 1 {
				require.Error(t, err)
				assert.Contains(t, err.Error(), `plugin "retrieval"`)
				assert.Contains(t, err.Error(), "Describe: the plugin exited unexpectedly (crashed)")
				return
			}
			require.NoError(t, err)
			assert.NotEqual(t, pid, task.Pid(), "a new process answered")
		})
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notaplugin"), []byte("#!/bin/sh\necho hello\nexit 3\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notexec"), []byte("x"), 0o644))
	require.NoError(t, pluginsums.Write(dir, "notaplugin"))
	tests := []struct {
		name, plugin, want string
	}{
		{"missing", "nosuch", `plugin "nosuch" not found in ` + dir},
		{"path in name", "../x", `plugin name "../x" is not a file name`},
		{"not executable", "notexec", "is not an executable file"},
		{"no handshake", "notaplugin", `starting plugin "notaplugin"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New(dir, nil)
			defer h.Close()
			_, err := h.Task(tc.plugin)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestModelPluginAsTaskIsRefused(t *testing.T) {
	h := New(filepath.Join(binDir, "plugins"), nil)
	defer h.Close()
	task, err := h.Task("onnx")
	require.NoError(t, err)
	_, err = task.Describe(context.Background(), sdk.DescribeRequest{})
	require.Error(t, err)
	assert.True(t, sdk.IsUnimplemented(err), err.Error())
	assert.Contains(t, err.Error(), `plugin "onnx": Describe`)
}

// TestStartAtOnce checks that Start launches each named plugin once, even when named twice and asked for from
// other goroutines at the same time, that a plugin which cannot start is reported again by Task, and that
// Close ends them all and refuses later starts.
func TestStartAtOnce(t *testing.T) {
	h := New(filepath.Join(binDir, "plugins"), nil)
	done := make(chan *Task, 4)
	for range 4 {
		go func() {
			task, err := h.Task("retrieval")
			assert.NoError(t, err)
			done <- task
		}()
	}
	h.Start("retrieval", "classification", "retrieval", "no-such-plugin")
	pids := map[int]bool{}
	for range 4 {
		if task := <-done; task != nil {
			pids[task.Pid()] = true
		}
	}
	assert.Len(t, pids, 1, "one retrieval process for every caller")
	h.mu.Lock()
	running := 0
	for _, p := range h.plugins {
		if !p.Exited() {
			running++
		}
	}
	h.mu.Unlock()
	assert.Equal(t, 2, running, "retrieval and classification running")
	_, err := h.Task("no-such-plugin")
	assert.ErrorContains(t, err, "no-such-plugin")
	cls, err := h.Task("classification")
	require.NoError(t, err)
	pid := cls.Pid()
	h.Close()
	assert.True(t, gone(pid), "classification still running after Close")
	_, err = h.Task("retrieval")
	assert.ErrorContains(t, err, "closed")
}

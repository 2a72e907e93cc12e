package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/harness/store"
	"github.com/clipeval/clipeval/internal/plugintest"
)

// quickPolicy notices faults in about a second.
var quickPolicy = pluginhost.Policy{CallTimeout: 2 * time.Second, Heartbeat: 100 * time.Millisecond, HeartbeatTimeout: time.Second,
	Attempts: 3, Backoff: 10 * time.Millisecond, StopTimeout: 500 * time.Millisecond}

// faultConfig writes (plugintest.WriteFaultConfig) and loads a config of the test plugins.
func faultConfig(t *testing.T, options map[string]string, sizes ...int) *config.Config {
	t.Helper()
	path, err := plugintest.WriteFaultConfig(t.TempDir(), options, sizes...)
	require.NoError(t, err)
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	return cfg
}

// faultRunner is a runner of the test plugins (faultmodel, goodtask) under quickPolicy, in plugin folder dir
// (binDir/testplugins when empty).
func faultRunner(t *testing.T, dir string) *Runner {
	if dir == "" {
		dir = filepath.Join(binDir, "testplugins")
	}
	h := pluginhost.New(dir, io.Discard)
	h.SetPolicy(quickPolicy)
	t.Cleanup(h.Close)
	return &Runner{Host: h}
}

// metrics returns every run's metrics by model × task, and fails on a run that failed.
func metrics(t *testing.T, res *results.Results) map[string]map[string]results.Value {
	t.Helper()
	out := map[string]map[string]results.Value{}
	for _, r := range res.Runs {
		require.Empty(t, r.Error, "%s × %s", r.Model, r.Task)
		out[r.Model+" × "+r.Task] = r.Metrics
	}
	return out
}

// TestRunSurvivesFaults checks that a run whose model plugin crashes, hangs past its deadline or stops answering
// its heartbeat once finishes, with the numbers of an undisturbed run.
func TestRunSurvivesFaults(t *testing.T) {
	want, err := faultRunner(t, "").Run(context.Background(), plan.New(faultConfig(t, nil, 12), t.TempDir(), "test"))
	require.NoError(t, err)
	for _, fault := range []string{"crash", "hang", "stop"} {
		for _, on := range []string{"images", "texts"} {
			t.Run(fault+" "+on, func(t *testing.T) {
				state := t.TempDir()
				cfg := faultConfig(t, map[string]string{"fault": fault, "fault_on": on, "fault_call": "2", "fault_times": "1", "fault_state": state}, 12)
				got, err := faultRunner(t, "").Run(context.Background(), plan.New(cfg, t.TempDir(), "test"))
				require.NoError(t, err)
				assert.Equal(t, metrics(t, want), metrics(t, got))
				n, err := os.ReadDir(state)
				require.NoError(t, err)
				assert.Len(t, n, 1, "one fault happened")
			})
		}
	}
}

// TestFaultPastTheLimitKeepsResults checks that a model plugin that crashes on every try of one batch fails that
// model × task with an error naming the plugin, the call, the batch and the plugin's last output, keeps the
// finished run in results.json and the embeddings encoded before in the store, and that a run after the fault is
// gone resumes from both.
func TestFaultPastTheLimitKeepsResults(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	s, err := store.Open(cache)
	require.NoError(t, err)
	// t2 has 12 texts, the last batch of which holds "text 10", which crashes the plugin: t1 (8 items) never meets it.
	r := faultRunner(t, "")
	r.Cache = s
	res, err := r.Run(context.Background(), plan.New(faultConfig(t, map[string]string{"fault": "crash", "fault_input": `"text 10"`}, 8, 12), out, "test"))
	require.ErrorIs(t, err, ErrRunsFailed)
	require.NoError(t, s.Close())
	require.Len(t, res.Runs, 2)
	assert.Empty(t, res.Runs[0].Error)
	for _, w := range []string{`encoding texts 9-12 of 12: plugin "faultmodel" (`, "EncodeTexts of 4 inputs failed 3 times (the plugin was started again in between); the last time the plugin exited unexpectedly (crashed); its last output:",
		"faultmodel: crashing during a call of 4 texts, as asked"} {
		assert.Contains(t, res.Runs[1].Error, w)
	}
	saved, err := results.Read(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	assert.Equal(t, res.Runs, saved.Runs)

	s, err = store.Open(cache)
	require.NoError(t, err)
	defer s.Close()
	r = faultRunner(t, "")
	r.Cache = s
	var mu sync.Mutex
	cached := map[string]int{}
	var resumed []string
	r.Progress = func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Stage == "resumed" {
			resumed = append(resumed, ev.Task)
		}
		if ev.Stage == "images" || ev.Stage == "texts" {
			cached[ev.Task+" "+ev.Stage] = ev.Cached
		}
	}
	res, err = r.Run(context.Background(), plan.New(faultConfig(t, nil, 8, 12), out, "test"))
	require.NoError(t, err)
	assert.Equal(t, []string{"t1"}, resumed)
	assert.Equal(t, map[string]int{"t2 images": 12, "t2 texts": 8}, cached, "every embedding encoded before the fault is read back")
}

// TestBadAnswersFailTheRun checks that embeddings of the wrong width or with a NaN fail the run with what is wrong.
func TestBadAnswersFailTheRun(t *testing.T) {
	tests := []struct{ fault, want string }{
		{"wrong_cols", "image 1 of 8: the backend returned an embedding of 9 values, the model's embeddings have 8"},
		{"nan", `encoding images 1-4 of 8: plugin "faultmodel": EncodeImages: returned NaN in the embedding of image 1 of the batch (value 1): a model's embeddings must be finite`},
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			res, err := faultRunner(t, "").Run(context.Background(), plan.New(faultConfig(t, map[string]string{"fault": tc.fault}, 8), t.TempDir(), "test"))
			require.ErrorIs(t, err, ErrRunsFailed)
			assert.Contains(t, res.Runs[0].Error, tc.want)
		})
	}
}

// TestDeadTaskIsNoticedWhileEncoding checks that a task plugin killed while its inputs are encoded is started
// again, loads its dataset again and scores as an undisturbed one; and that one which cannot be started again
// stops the encoding early, with the task's error.
func TestDeadTaskIsNoticedWhileEncoding(t *testing.T) {
	const n = 40 // 10 image and 10 text batches of 100 ms each: 2 s of encoding
	want, err := faultRunner(t, "").Run(context.Background(), plan.New(faultConfig(t, nil, n), t.TempDir(), "test"))
	require.NoError(t, err)
	for _, restartable := range []bool{true, false} {
		t.Run(fmt.Sprint("restartable ", restartable), func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range []string{"faultmodel", "goodtask", pluginsums.File} {
				b, err := os.ReadFile(filepath.Join(binDir, "testplugins", name))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o755))
			}
			r := faultRunner(t, dir)
			var mu sync.Mutex
			killed, lastImages, lastTexts := false, 0, 0
			r.Progress = func(ev Event) {
				mu.Lock()
				defer mu.Unlock()
				switch ev.Stage {
				case "images":
					lastImages = ev.Done
				case "texts":
					lastTexts = ev.Done
				}
				if ev.Stage == "images" && ev.Done > 0 && !killed {
					task, err := r.Host.Task("goodtask")
					require.NoError(t, err)
					if !restartable { // what starts next is not a plugin
						path := filepath.Join(dir, "goodtask")
						require.NoError(t, os.Remove(path))
						require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\necho 'goodtask: broken' >&2\nexit 1\n"), 0o755))
					}
					require.NoError(t, syscall.Kill(task.Pid(), syscall.SIGKILL))
					killed = true
				}
			}
			cfg := faultConfig(t, map[string]string{"delay_ms": "100"}, n)
			got, err := r.Run(context.Background(), plan.New(cfg, t.TempDir(), "test"))
			require.True(t, killed)
			if restartable {
				require.NoError(t, err)
				assert.Equal(t, metrics(t, want), metrics(t, got))
				return
			}
			require.ErrorIs(t, err, ErrRunsFailed)
			assert.Contains(t, got.Runs[0].Error, `task "t1", while encoding its inputs: a health check: plugin "goodtask" is gone, and starting it again failed: `)
			assert.Less(t, lastImages+lastTexts, n, "the encoding stopped early")
		})
	}
}

// TestInterruptedRunSaysSo checks that a run stopped while loading or while encoding leaves a results.json that
// says it was interrupted, holds only the runs that finished, and keeps the earlier run's finished runs so that
// the next run resumes from them.
func TestInterruptedRunSaysSo(t *testing.T) {
	errStop := errors.New("interrupted by the test")
	for _, at := range []string{"load", "images"} {
		t.Run(at, func(t *testing.T) {
			out := t.TempDir()
			first, err := faultRunner(t, "").Run(context.Background(), plan.New(faultConfig(t, nil, 4), out, "test"))
			require.NoError(t, err)

			r := faultRunner(t, "")
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			r.Progress = func(ev Event) {
				if ev.Stage == at && ev.Task == "t2" {
					cancel(errStop)
				}
			}
			res, err := r.Run(ctx, plan.New(faultConfig(t, nil, 4, 4), out, "test"))
			require.ErrorIs(t, err, errStop)
			saved, rerr := results.Read(filepath.Join(out, "results.json"))
			require.NoError(t, rerr)
			assert.Equal(t, res.Interrupted, saved.Interrupted)
			if at == "load" {
				assert.Equal(t, "interrupted by the test while checking the config and loading the datasets", saved.Interrupted)
				assert.Empty(t, saved.Runs)
				assert.Equal(t, first.Runs, saved.Kept, "the earlier finished run is kept for the next run")
			} else {
				assert.Equal(t, `interrupted by the test while running model "m" on task "t2" (1 of 2 model × task runs finished)`, saved.Interrupted)
				require.Len(t, saved.Runs, 1, "t1 resumed; t2 stopped, not failed")
				assert.Empty(t, saved.Kept)
			}

			r = faultRunner(t, "")
			var resumed []string
			r.Progress = func(ev Event) {
				if ev.Stage == "resumed" {
					resumed = append(resumed, ev.Task)
				}
			}
			res, err = r.Run(context.Background(), plan.New(faultConfig(t, nil, 4, 4), out, "test"))
			require.NoError(t, err)
			assert.Equal(t, []string{"t1"}, resumed)
			assert.Empty(t, res.Interrupted)
			assert.Len(t, res.Runs, 2)
		})
	}
}

// TestDeadTaskIsNoticedBeforeEncoding checks that a task plugin that died between two model × task runs, and
// cannot be started again, fails the second run before any of its inputs is encoded.
func TestDeadTaskIsNoticedBeforeEncoding(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"faultmodel", "goodtask", pluginsums.File} {
		b, err := os.ReadFile(filepath.Join(binDir, "testplugins", name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o755))
	}
	r := faultRunner(t, dir)
	var encoded []string
	r.Progress = func(ev Event) {
		if (ev.Stage == "images" || ev.Stage == "texts") && ev.Done > 0 {
			encoded = append(encoded, ev.Task)
		}
		if ev.Stage == "done" && ev.Task == "t1" { // t1 and t2 share the goodtask process
			task, err := r.Host.Task("goodtask")
			require.NoError(t, err)
			path := filepath.Join(dir, "goodtask")
			require.NoError(t, os.Remove(path))
			require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\nexit 1\n"), 0o755))
			require.NoError(t, syscall.Kill(task.Pid(), syscall.SIGKILL))
		}
	}
	res, err := r.Run(context.Background(), plan.New(faultConfig(t, nil, 4, 4), t.TempDir(), "test"))
	require.ErrorIs(t, err, ErrRunsFailed)
	assert.Empty(t, res.Runs[0].Error)
	assert.Contains(t, res.Runs[1].Error, `task "t2", before encoding its inputs: a health check: plugin "goodtask" is gone, and starting it again failed: `)
	assert.NotContains(t, encoded, "t2", "nothing of t2 was encoded")
}

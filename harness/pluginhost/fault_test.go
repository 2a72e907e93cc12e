package pluginhost

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// fastPolicy detects faults in about a second, for the tests.
var fastPolicy = Policy{CallTimeout: 2 * time.Second, Heartbeat: 100 * time.Millisecond, HeartbeatTimeout: time.Second,
	Attempts: 3, Backoff: 10 * time.Millisecond, StopTimeout: 500 * time.Millisecond}

// faultModel starts the fault-injection backend in a host with policy, and returns it with a model folder of
// width 8 and a fresh fault_state folder.
func faultModel(t *testing.T, policy Policy) (*Host, *Model, string, string) {
	t.Helper()
	h := New(filepath.Join(binDir, "testplugins"), nil)
	t.Cleanup(h.Close)
	h.SetPolicy(policy)
	m, err := h.Model("faultmodel")
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fake-model.json"), []byte(`{"embed_dim": 8}`), 0o644))
	return h, m, dir, t.TempDir()
}

func images(n int) []sdk.ImageInput {
	out := make([]sdk.ImageInput, n)
	for i := range out {
		out[i] = sdk.ImageInput{Name: fmt.Sprint("im", i), Data: []byte{byte(i), 7}}
	}
	return out
}

// faults counts the faults the plugin recorded in its fault_state folder.
func faults(t *testing.T, state string) int {
	entries, err := os.ReadDir(state)
	require.NoError(t, err)
	return len(entries)
}

// TestFaultsSurvived checks that a crash, a hang (past the call's deadline) and a stop (no heartbeat) are each
// survived by killing the plugin, starting it again and retrying the batch, and that the answer is then the one an
// undisturbed plugin gives.
func TestFaultsSurvived(t *testing.T) {
	_, clean, dir, _ := faultModel(t, fastPolicy)
	want, err := clean.EncodeImages(context.Background(), sdk.EncodeImagesRequest{Model: sdk.ModelRef{Dir: dir}, Images: images(4)})
	require.NoError(t, err)

	tests := []struct {
		fault string
		times int
		// within bounds how long surviving may take.
		within time.Duration
	}{
		{"crash", 1, 2 * time.Second},
		{"crash", 2, 3 * time.Second}, // two restarts: still within 3 attempts
		{"hang", 1, fastPolicy.CallTimeout + 2*time.Second},
		{"stop", 1, fastPolicy.CallTimeout}, // the heartbeat notices before the deadline
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.fault, tc.times), func(t *testing.T) {
			_, m, dir, state := faultModel(t, fastPolicy)
			pid := m.Pid()
			ref := sdk.ModelRef{Dir: dir, Options: map[string]string{"fault": tc.fault, "fault_times": strconv.Itoa(tc.times), "fault_state": state}}
			start := time.Now()
			got, err := m.EncodeImages(context.Background(), sdk.EncodeImagesRequest{Model: ref, Images: images(4)})
			require.NoError(t, err)
			assert.Less(t, time.Since(start), tc.within)
			assert.Equal(t, want.Embeddings, got.Embeddings)
			assert.Equal(t, tc.times, faults(t, state))
			assert.NotEqual(t, pid, m.Pid(), "a new process answered")
			assert.True(t, gone(pid), "the faulty process is gone")
		})
	}
}

// TestFaultsPastTheLimit checks that a plugin that keeps crashing or hanging fails the call after the policy's
// attempts, with an error naming the plugin, the call, its size and the plugin's last output, and that no
// process is left behind.
func TestFaultsPastTheLimit(t *testing.T) {
	tests := []struct {
		fault string
		want  []string
	}{
		{"crash", []string{`plugin "faultmodel" (`, "): EncodeImages of 4 inputs failed 3 times (the plugin was started again in between); the last time the plugin exited unexpectedly (crashed)",
			"its last output:\nfaultmodel: crashing during a call of 4 images, as asked"}},
		{"hang", []string{"EncodeImages of 4 inputs failed 3 times", "the last time the plugin did not answer within 2s", "faultmodel: hanging, as asked"}},
		{"stop", []string{"EncodeImages of 4 inputs failed 3 times", "the last time the plugin stopped answering its heartbeat (none within 1s)", "faultmodel: stopping itself, as asked"}},
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			_, m, dir, state := faultModel(t, fastPolicy)
			ref := sdk.ModelRef{Dir: dir, Options: map[string]string{"fault": tc.fault, "fault_times": "100", "fault_state": state}}
			_, err := m.EncodeImages(context.Background(), sdk.EncodeImagesRequest{Model: ref, Images: images(4)})
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, 3, faults(t, state))
			assert.True(t, m.Exited(), "the last process is killed, not left hanging")
		})
	}
}

// TestBadAnswersAreNotRetried checks that an answer that is wrong (not a crash or a hang) fails at once with what
// is wrong, and is not tried again.
func TestBadAnswersAreNotRetried(t *testing.T) {
	tests := []struct{ fault, want string }{
		{"garbage", `plugin "faultmodel": EncodeImages: the backend's embeddings: matrix shape [4,8] does not match 31 values`},
		{"wrong_rows", `plugin "faultmodel": EncodeImages: the backend returned 3 embeddings for 4 inputs`},
		{"nan", `plugin "faultmodel": EncodeImages: returned NaN in the embedding of image 1 of the batch (value 1): a model's embeddings must be finite`},
		{"error", `plugin "faultmodel": EncodeImages: faultmodel: failing the call, as asked`},
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			_, m, dir, state := faultModel(t, fastPolicy)
			pid := m.Pid()
			ref := sdk.ModelRef{Dir: dir, Options: map[string]string{"fault": tc.fault, "fault_times": "100", "fault_state": state}}
			_, err := m.EncodeImages(context.Background(), sdk.EncodeImagesRequest{Model: ref, Images: images(4)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, 1, faults(t, state), "tried once")
			assert.Equal(t, pid, m.Pid(), "the plugin keeps running")
		})
	}
}

// TestCloseIsBounded checks that Close ends a plugin that is stopped (SIGSTOP), which cannot answer go-plugin's
// shutdown request, within about the policy's StopTimeout.
func TestCloseIsBounded(t *testing.T) {
	h, m, _, _ := faultModel(t, fastPolicy)
	pid := m.Pid()
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	start := time.Now()
	h.Close()
	assert.Less(t, time.Since(start), 2*fastPolicy.StopTimeout+time.Second+500*time.Millisecond)
	assert.True(t, gone(pid), "the stopped plugin is gone")
}

// TestTaskStartedAgainLoadsAgain checks that a task plugin that died after Load is noticed by Alive, started again
// and given its datasets again, so that Score answers as before.
func TestTaskStartedAgainLoadsAgain(t *testing.T) {
	h := New(filepath.Join(binDir, "testplugins"), nil)
	defer h.Close()
	h.SetPolicy(fastPolicy)
	task, err := h.Task("goodtask")
	require.NoError(t, err)
	ctx := context.Background()
	ds, err := task.Load(ctx, sdk.LoadRequest{Dataset: []byte(`{"n": 3}`)})
	require.NoError(t, err)
	pid := task.Pid()
	require.NoError(t, task.Alive(ctx))
	assert.Equal(t, pid, task.Pid(), "a live task is left alone")

	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.NoError(t, task.Alive(ctx))
	assert.NotEqual(t, pid, task.Pid(), "started again")

	dir := t.TempDir()
	file := func(name string) sdk.EmbeddingFile {
		p := filepath.Join(dir, name)
		require.NoError(t, npy.WriteFloat32File(p, 3, 2, []float32{1, 0, 0, 1, 1, 1}))
		return sdk.EmbeddingFile{Path: p, Rows: 3, Cols: 2}
	}
	sc, err := task.Score(ctx, sdk.ScoreFilesRequest{DatasetID: ds.ID, ImageEmbeddings: file("im.npy"), TextEmbeddings: file("tx.npy")})
	require.NoError(t, err, "Score finds the dataset in the new process")
	assert.NotEmpty(t, sc.Metrics)
}

// gone reports whether process pid has ended: it no longer exists, or is a zombie its parent has yet to reap.
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses: "pid (comm) S ...".
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// TestPluginEndsWithItsParent checks the SDK's side of "no plugin outlives the harness", without the kernel's
// parent-death signal: a plugin whose parent is killed exits by itself once it finds itself reparented.
func TestPluginEndsWithItsParent(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// A shell starts the plugin as the harness would (the handshake's cookie set) and waits for it.
	sh := exec.Command("/bin/sh", "-c", `"$0" & echo $! > "$1"; wait`, filepath.Join(binDir, "testplugins", "faultmodel"), pidFile)
	sh.Env = append(os.Environ(), sdk.Handshake().MagicCookieKey+"="+sdk.Handshake().MagicCookieValue)
	require.NoError(t, sh.Start())
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	}, 5*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // serving
	require.False(t, gone(pid), "the plugin runs")
	require.NoError(t, sh.Process.Kill())
	_ = sh.Wait()
	assert.Eventually(t, func() bool { return gone(pid) }, 3*time.Second, 20*time.Millisecond, "the plugin outlived its parent")
	_ = syscall.Kill(pid, syscall.SIGKILL) // should the check fail
}

// TestPolicyDeadlineAndDefaults checks that a call's deadline grows with its inputs and that a policy's unset
// fields take the defaults.
func TestPolicyDeadlineAndDefaults(t *testing.T) {
	d := DefaultPolicy()
	tests := []struct {
		name  string
		in    Policy
		items int
		want  time.Duration
	}{
		{"defaults, no inputs", DefaultPolicy(), 0, 10 * time.Minute},
		{"defaults, a batch of 32", DefaultPolicy(), 32, 10*time.Minute + 64*time.Second},
		{"zero: no time per input", Policy{}, 32, 10 * time.Minute},
		{"set", Policy{CallTimeout: time.Second, CallTimeoutPerItem: 10 * time.Millisecond}, 100, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.in.withDefaults().Deadline(tc.items))
		})
	}
	assert.Equal(t, d, Policy{CallTimeoutPerItem: -1, Backoff: -1}.withDefaults())
	assert.Equal(t, Policy{CallTimeout: d.CallTimeout, Heartbeat: d.Heartbeat, HeartbeatTimeout: d.HeartbeatTimeout, Attempts: 1,
		StopTimeout: d.StopTimeout}, Policy{Attempts: 1}.withDefaults())
}

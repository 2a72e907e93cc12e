package backend

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

func TestSessionOptionValues(t *testing.T) {
	tests := []struct {
		name    string
		options map[string]string
		want    SessionOptions
		wantErr string // of the first option in key order that is wrong
	}{
		{"defaults", nil, SessionOptions{Optimization: "all", Spinning: SpinAuto, Affinity: "none", Provider: "cpu"}, ""},
		{"spinning off", map[string]string{"spinning": "false"}, SessionOptions{Optimization: "all", Spinning: SpinOff, Affinity: "none", Provider: "cpu"}, ""},
		{"spinning on", map[string]string{"spinning": "1"}, SessionOptions{Optimization: "all", Spinning: SpinOn, Affinity: "none", Provider: "cpu"}, ""},
		{"everything set", map[string]string{"threads": "3", "inter_op_threads": "2", "graph_optimization": "basic", "spinning": "true", "thread_affinity": "ort",
			"execution_provider": "cuda"},
			SessionOptions{IntraOpThreads: 3, InterOpThreads: 2, Optimization: "basic", Spinning: SpinOn, Affinity: "ort", Provider: "cuda"}, ""},
		{"an affinity list implies the thread count", map[string]string{"thread_affinity": "2;3-4;5,7"},
			SessionOptions{IntraOpThreads: 4, Optimization: "all", Affinity: "2;3-4;5,7", Provider: "cpu"}, ""},
		{"an affinity list and its thread count", map[string]string{"thread_affinity": "2", "threads": "2", "execution_provider": "tensorrt"},
			SessionOptions{IntraOpThreads: 2, Optimization: "all", Affinity: "2", Provider: "tensorrt"}, ""},
		{"an unknown execution provider", map[string]string{"execution_provider": "gpu"}, SessionOptions{}, `option execution_provider "gpu": want cpu, cuda or tensorrt`},
		{"negative threads", map[string]string{"threads": "-1"}, SessionOptions{}, `option threads "-1": want a non-negative integer`},
		{"inter-op threads not a number", map[string]string{"inter_op_threads": "many"}, SessionOptions{}, `option inter_op_threads "many": want a non-negative integer`},
		{"unknown optimisation level", map[string]string{"graph_optimization": "max"}, SessionOptions{},
			`option graph_optimization "max": want one of disable, basic, extended, layout, all`},
		{"spinning not a bool", map[string]string{"spinning": "sometimes"}, SessionOptions{}, `option spinning "sometimes": want true or false`},
		{"processors count from 1", map[string]string{"thread_affinity": "0;1"}, SessionOptions{},
			`option thread_affinity "0;1": "0" is not a processor (1, 2, ...) or a range of them (1-4) (or give none or ort)`},
		{"an empty affinity entry", map[string]string{"thread_affinity": "1;;2"}, SessionOptions{}, `option thread_affinity "1;;2": an empty entry`},
		{"a backwards range", map[string]string{"thread_affinity": "4-2"}, SessionOptions{}, `"4-2" is not a processor`},
		{"threads disagree with the affinity list", map[string]string{"thread_affinity": "2;3", "threads": "2"}, SessionOptions{},
			`option threads 2: thread_affinity "2;3" pins 2 threads besides the calling one, so threads must be 3 (or left out)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			for _, k := range sortedKeys(tc.options) {
				if err = checkOption(k, tc.options[k], tc.options, ""); err != nil {
					break
				}
			}
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, parseSessionOptions(tc.options))
		})
	}
}

func TestDefaultThreads(t *testing.T) {
	// A machine of 2 cores × 2 hardware threads (cpu0 and cpu2 share a core, as do cpu1 and cpu3).
	sys := t.TempDir()
	for cpu, siblings := range map[string]string{"cpu0": "0,2", "cpu1": "1,3", "cpu2": "0,2", "cpu3": "1,3"} {
		require.NoError(t, os.MkdirAll(filepath.Join(sys, cpu, "topology"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(sys, cpu, "topology", "thread_siblings_list"), []byte(siblings+"\n"), 0o644))
	}
	status := func(t *testing.T, allowed string) string {
		p := filepath.Join(t.TempDir(), "status")
		require.NoError(t, os.WriteFile(p, []byte("Name:\tclipeval\nCpus_allowed:\tf\nCpus_allowed_list:\t"+allowed+"\nMems_allowed:\t1\n"), 0o644))
		return p
	}
	tests := []struct {
		name     string
		status   func(t *testing.T) string
		sys      string
		maxProcs int
		want     int
	}{
		{"one per physical core", func(t *testing.T) string { return status(t, "0-3") }, sys, 4, 2},
		{"the affinity mask counts", func(t *testing.T) string { return status(t, "0,2") }, sys, 4, 1},
		{"both threads of one core and one of the other", func(t *testing.T) string { return status(t, "0-2") }, sys, 4, 2},
		{"the CPU quota caps it", func(t *testing.T) string { return status(t, "0-3") }, sys, 1, 1},
		{"no topology: GOMAXPROCS", func(t *testing.T) string { return status(t, "0-3") }, t.TempDir(), 3, 3},
		{"no status file: GOMAXPROCS", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, sys, 3, 3},
		{"a malformed list: GOMAXPROCS", func(t *testing.T) string { return status(t, "3-1") }, sys, 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, defaultThreads(tc.status(t), tc.sys, tc.maxProcs))
		})
	}
	assert.GreaterOrEqual(t, DefaultThreads(), 1)
}

func TestSessionOptionsReachONNXRuntime(t *testing.T) {
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	require.NoError(t, b.init())
	spin := map[string]string{"session.intra_op.allow_spinning": "1", "session.inter_op.allow_spinning": "1", "session.force_spinning_stop": "1"}
	noSpin := map[string]string{"session.intra_op.allow_spinning": "0", "session.inter_op.allow_spinning": "0"}
	const small, large = 4 << 20, SpinMinBytes // a test model's tower, the smallest that spins by default
	tests := []struct {
		name string
		o    SessionOptions
		size int64             // of the tower's ONNX file
		want map[string]string // session config entries
	}{
		{"defaults, a large tower", parseSessionOptions(nil), large, spin},
		{"defaults, a small tower", parseSessionOptions(nil), small, noSpin},
		{"defaults, just under the size", parseSessionOptions(nil), large - 1, noSpin},
		{"no spinning, a large tower", parseSessionOptions(map[string]string{"spinning": "false"}), large, noSpin},
		{"spinning, a small tower", parseSessionOptions(map[string]string{"spinning": "true"}), small, spin},
		{"spinning and an affinity list", SessionOptions{IntraOpThreads: 3, Optimization: "disable", Spinning: SpinOn, Affinity: "1;2"}, small,
			map[string]string{"session.intra_op.allow_spinning": "1", "session.inter_op.allow_spinning": "1", "session.force_spinning_stop": "1",
				"session.intra_op_thread_affinities": "1;2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := tc.o.ortOptions(tc.size)
			require.NoError(t, err)
			defer opts.Destroy()
			for k, v := range tc.want {
				got, err := opts.GetSessionConfigEntry(k)
				require.NoError(t, err, k)
				assert.Equal(t, v, got, k)
			}
			if tc.o.Affinity == "none" {
				has, err := opts.HasSessionConfigEntry("session.intra_op_thread_affinities")
				require.NoError(t, err)
				assert.False(t, has)
			}
			if tc.want["session.intra_op.allow_spinning"] == "0" {
				has, err := opts.HasSessionConfigEntry("session.force_spinning_stop")
				require.NoError(t, err)
				assert.False(t, has)
			}
		})
	}
}

func TestFixtureEmbeddingsUnderSessionOptions(t *testing.T) {
	ref, err := npy.ReadNPZ(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.npz"))
	require.NoError(t, err)
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	tests := []struct {
		name    string
		options map[string]string
	}{
		{"one thread, no optimisation", map[string]string{"threads": "1", "graph_optimization": "disable"}},
		{"spinning, parallel execution, basic", map[string]string{"threads": "2", "spinning": "true", "inter_op_threads": "2", "graph_optimization": "basic"}},
		{"ONNX Runtime's own threads and pinning", map[string]string{"thread_affinity": "ort", "graph_optimization": "layout"}},
		{"an explicit affinity", map[string]string{"thread_affinity": "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureRef(t, "biomedclip")
			for k, v := range tc.options {
				r.Options[k] = v
			}
			check, err := b.CheckModel(context.Background(), sdk.CheckModelRequest{Model: r})
			require.NoError(t, err)
			require.Empty(t, check.Problems)
			m, err := b.load(r)
			require.NoError(t, err)
			ids := ref["biomedclip_token_ids"]
			got, err := m.EncodeIDs(context.Background(), ids.Int64, ids.Shape[0])
			require.NoError(t, err)
			assertClose(t, ref["biomedclip_text_embeds"].Float32, got, "text embeddings")
		})
	}
	t.Run("CheckModel names the option at fault", func(t *testing.T) {
		r := fixtureRef(t, "biomedclip")
		r.Options["thread_affinity"], r.Options["threads"] = "1;2", "2"
		check, err := b.CheckModel(context.Background(), sdk.CheckModelRequest{Model: r})
		require.NoError(t, err)
		require.Len(t, check.Problems, 1)
		assert.Equal(t, "options.threads", check.Problems[0].Key)
		_, err = b.Info(context.Background(), sdk.ModelInfoRequest{Model: r})
		assert.ErrorContains(t, err, "so threads must be 3")
	})
}

// TestExecutionProviders checks execution_provider against the CPU-only library the tests use: cpu runs as the
// default does, and cuda and tensorrt fail as bad input, naming the provider and the library to replace.
func TestExecutionProviders(t *testing.T) {
	lib := sharedtest.ORTLib(t)
	b := New(lib)
	defer b.Close()
	dir := sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	cases := []struct {
		provider, runtime string
		want              []string
	}{
		{"cpu", "onnxruntime 1.30.0", nil},
		{"cuda", "", []string{"execution_provider cuda: ONNX Runtime cannot use CUDAExecutionProvider: ",
			"the ONNX Runtime library in use is " + lib + ": point CLIPEVAL_ORT_LIB at a build that has CUDAExecutionProvider"}},
		{"tensorrt", "", []string{"execution_provider tensorrt: ONNX Runtime cannot use TensorrtExecutionProvider: ",
			"the ONNX Runtime library in use is " + lib + ": point CLIPEVAL_ORT_LIB at a build that has TensorrtExecutionProvider"}},
	}
	for _, tc := range cases {
		t.Run(tc.provider, func(t *testing.T) {
			info, err := b.Info(context.Background(), sdk.ModelInfoRequest{Model: sdk.ModelRef{Dir: dir,
				Options: map[string]string{"execution_provider": tc.provider}}})
			if tc.want == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.runtime, info.Runtime)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.True(t, sdk.IsInvalidInput(err), "a provider the library lacks is the config's problem: exit 2")
		})
	}
}

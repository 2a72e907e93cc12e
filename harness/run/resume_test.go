package run

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
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
	"gopkg.in/yaml.v3"

	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/harness/store"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/internal/sharedtest"
)

// twoModelConfig writes a config of the demo's three tasks and a retrieval task over n generated image–caption
// pairs (encoded two at a time, so that it takes a while) for two models (the demo model under two logit
// scales), and returns its path.
func twoModelConfig(t *testing.T, demo string, n int) string {
	t.Helper()
	model := filepath.Join(demo, demogen.ModelDir)
	data := filepath.Join(demo, "data")
	pairs := filepath.Join(t.TempDir(), "pairs")
	require.NoError(t, os.Mkdir(pairs, 0o755))
	var manifest strings.Builder
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
		c := color.NRGBA{R: uint8(rng.Uint32()), G: uint8(rng.Uint32()), B: uint8(rng.Uint32()), A: 255}
		for j := 0; j < len(img.Pix); j += 4 {
			img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = c.R, c.G, c.B, c.A
		}
		f, err := os.Create(filepath.Join(pairs, fmt.Sprintf("%05d.png", i)))
		require.NoError(t, err)
		require.NoError(t, png.Encode(f, img))
		require.NoError(t, f.Close())
		fmt.Fprintf(&manifest, "{\"image\": \"%05d.png\", \"captions\": [\"a %s image\"]}\n", i, []string{"red", "green", "blue", "yellow"}[i%4]+strconv.Itoa(i))
	}
	require.NoError(t, os.WriteFile(filepath.Join(pairs, "pairs.jsonl"), []byte(manifest.String()), 0o644))
	p := filepath.Join(t.TempDir(), "two.yaml")
	require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf(`models:
  - name: demo-100
    path: %[1]s
    options: {logit_scale: 100}
    batch_size: 2
  - name: demo-50
    path: %[1]s
    options: {logit_scale: 50}
    batch_size: 2
tasks:
  - name: pairs
    task: retrieval
    dataset: {format: jsonl, manifest: %[3]s/pairs.jsonl}
  - name: colour-retrieval
    task: retrieval
    dataset: {format: jsonl, manifest: %[2]s/retrieval.jsonl}
  - name: colour-classification
    task: classification
    dataset: {format: jsonl, manifest: %[2]s/classification.jsonl}
    options:
      classes: [red, green, blue, yellow, cyan, magenta]
      templates: ["a {} image.", "a photo that is {}."]
  - name: colour-vqa
    task: vqa
    dataset: {format: vqa-rad, root: %[2]s/vqa}
    options: {prompt: "{question} {answer}"}
`, model, data, pairs)), 0o644))
	return p
}

// clipeval returns the command running the built CLI with the test's plugins and the embedding store in cache.
func clipeval(t *testing.T, cache string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "clipeval"), args...)
	cmd.Env = append(os.Environ(), "CLIPEVAL_PLUGIN_DIR="+filepath.Join(binDir, "plugins"), sharedtest.ORTEnvVar+"="+sharedtest.ORTLib(t),
		"CLIPEVAL_CACHE_DIR="+cache)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the harness and its plugins, killed together
	return cmd
}

// outcome is what a resumed run must reproduce of each model × task: metrics, intervals, item values and
// predictions, as JSON (so that NaN compares equal to NaN).
func outcome(t *testing.T, r *results.Results) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, run := range r.Runs {
		require.Empty(t, run.Error, "%s × %s", run.Model, run.Task)
		b, err := json.Marshal([]any{run.Metrics, run.Kinds, run.Intervals, run.ItemValues, run.Predictions, run.Confusion, run.Curves})
		require.NoError(t, err)
		out[run.Model+" × "+run.Task] = string(b)
	}
	return out
}

// TestResumeAfterSIGKILL kills `clipeval run` (harness and plugins together, SIGKILL) at 6 seeded random moments,
// one in each sixth of an uninterrupted run's wall time — in loading, encoding, scoring and between runs — running it again into
// the same folder each time, then lets it finish: the finished results.json holds the same metrics, intervals,
// item values and predictions as an uninterrupted run's, every results.json on the way was whole (kills in the
// middle leave a partial one to resume from), and no work folder is left behind.
func TestResumeAfterSIGKILL(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	cfg := twoModelConfig(t, demo, 1500)

	whole := t.TempDir()
	start := time.Now()
	b, err := clipeval(t, t.TempDir(), "run", cfg, "--out", whole).CombinedOutput()
	require.NoError(t, err, "%s", b)
	wall := time.Since(start)
	want, err := results.Read(filepath.Join(whole, "results.json"))
	require.NoError(t, err)
	require.Len(t, want.Runs, 8)

	out, cache := t.TempDir(), t.TempDir() // a store of its own: encoding resumes from what the killed runs kept
	rng := rand.New(rand.NewPCG(9, 9))
	kept, partial, complete := 0, 0, false
	const kills = 6
	for i := range kills {
		cmd := clipeval(t, cache, "run", cfg, "--out", out)
		require.NoError(t, cmd.Start())
		// Stratified: kill i falls at a random moment of the i-th sixth of the uninterrupted wall time.
		after := time.Duration((float64(i) + rng.Float64()) / kills * float64(wall))
		time.Sleep(after)
		require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
		_ = cmd.Wait()
		if r, err := results.Read(filepath.Join(out, "results.json")); err == nil {
			kept = len(r.Runs)
		} else {
			require.ErrorIs(t, err, os.ErrNotExist, "kill %d after %v: results.json must be whole or absent", i, after)
		}
		if kept > 0 && kept < len(want.Runs) && !complete {
			partial++
		}
		complete = complete || kept == len(want.Runs)
		if i == 0 {
			require.Less(t, kept, len(want.Runs), "the first kill, in the first sixth of the time, interrupts the run")
		}
		t.Logf("kill %d after %v of %v: %d runs in results.json", i, after.Round(time.Millisecond), wall.Round(time.Millisecond), kept)
	}
	t.Logf("%d kills left a partial results.json to resume from", partial)
	b, err = clipeval(t, cache, "run", cfg, "--out", out).CombinedOutput()
	require.NoError(t, err, "%s", b)
	got, err := results.Read(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	assert.Equal(t, outcome(t, want), outcome(t, got))
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), workPrefix), "work folder %s left behind", e.Name())
	}
	if kept > 0 {
		assert.Contains(t, string(b), "kept from the previous run", "the last run resumed")
	}
}

// TestStoreRescoresWithoutEncoding runs the demo with an embedding store, then again into the same folder with only
// the classification task's options changed: that run is scored again from the store (every image and text found,
// none encoded) and the other two are kept; a run into a new folder finds every input in the store.
func TestStoreRescoresWithoutEncoding(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	s, err := store.Open(t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	r, _ := newRunner(t)
	r.Cache = s
	var events []Event
	r.Progress = func(ev Event) { events = append(events, ev) }
	vars := map[string]string{"CLIPEVAL_DEMO": demo}
	out := t.TempDir()
	first, err := r.Run(context.Background(), plan.New(loadConfig(t, "demo.yaml", vars), out, "test"))
	require.NoError(t, err)

	// The same config with one classification option changed.
	cfg := loadConfig(t, "demo.yaml", vars)
	for i, tk := range cfg.Tasks {
		if tk.Name == "colour-classification" {
			opts := tk.Options
			opts.Content = append(opts.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "bootstrap"}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "200"})
			cfg.Tasks[i].Options = opts
		}
	}
	events = nil
	second, err := r.Run(context.Background(), plan.New(cfg, out, "test"))
	require.NoError(t, err)
	stages := map[string][]string{}
	for _, ev := range events {
		stages[ev.Task] = append(stages[ev.Task], ev.Stage)
		if ev.Stage == "images" || ev.Stage == "texts" {
			assert.Equal(t, ev.Done, ev.Cached, "%s %s: everything comes from the store", ev.Task, ev.Stage)
		}
	}
	assert.Equal(t, []string{"load", "resumed"}, stages["colour-retrieval"])
	assert.Equal(t, []string{"load", "resumed"}, stages["colour-vqa"])
	assert.Contains(t, stages["colour-classification"], "score")
	assert.Equal(t, first.Runs[1].Metrics, second.Runs[1].Metrics, "the same embeddings score the same")
	assert.NotEqual(t, first.Runs[1].Intervals, second.Runs[1].Intervals, "200 resamples instead of 1000")

	events = nil
	_, err = r.Run(context.Background(), plan.New(loadConfig(t, "demo.yaml", vars), t.TempDir(), "test"))
	require.NoError(t, err)
	encoded := 0
	for _, ev := range events {
		if ev.Stage == "images" || ev.Stage == "texts" {
			assert.Equal(t, ev.Done, ev.Cached, "%s %s", ev.Task, ev.Stage)
			encoded += ev.Done - ev.Cached
		}
	}
	assert.Zero(t, encoded)
}

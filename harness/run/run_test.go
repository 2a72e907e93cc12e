package run

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/internal/plugintest"
	"github.com/clipeval/clipeval/internal/sharedtest"
)

// binDir holds the plugins (binDir/plugins) and the CLI TestMain builds.
var binDir string

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m, &binDir)) }

// loadConfig reads a config of the repository's configs/ folder with the given variables.
func loadConfig(t *testing.T, name string, vars map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join(sharedtest.RepoRoot(), "configs", name), func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	})
	require.NoError(t, err)
	return cfg
}

func newRunner(t *testing.T) (*Runner, *pluginhost.Host) {
	t.Setenv(sharedtest.ORTEnvVar, sharedtest.ORTLib(t))
	h := pluginhost.New(filepath.Join(binDir, "plugins"), os.Stderr)
	t.Cleanup(h.Close)
	return &Runner{Host: h}, h
}

func metric(t *testing.T, res *results.Results, model, task, name string) float64 {
	t.Helper()
	for _, r := range res.Runs {
		if r.Model == model && r.Task == task {
			require.Empty(t, r.Error)
			v, ok := r.Metrics[name]
			require.True(t, ok, "%s × %s has no metric %s (has %v)", model, task, name, r.Metrics)
			return float64(v)
		}
	}
	t.Fatalf("no run %s × %s", model, task)
	return 0
}

func TestDemoMetricsAreTheConstructedOnes(t *testing.T) {
	demo := t.TempDir()
	want, err := demogen.Generate(demo)
	require.NoError(t, err)
	r, _ := newRunner(t)
	out := t.TempDir()
	res, err := r.Run(context.Background(), plan.New(loadConfig(t, "demo.yaml", map[string]string{"CLIPEVAL_DEMO": demo}), out, "test"))
	require.NoError(t, err)

	// Every value is an exact fraction that follows from the demo's construction (internal/demogen/data.go).
	exact := []struct {
		task, metric string
		want, gen    float64
	}{
		{"colour-retrieval", "image_retrieval_recall@1", 20.0 / 25, want.Retrieval.ImageRetrievalRecall[1]},
		{"colour-retrieval", "image_retrieval_recall@5", 23.0 / 25, want.Retrieval.ImageRetrievalRecall[5]},
		{"colour-retrieval", "image_retrieval_recall@10", 24.0 / 25, want.Retrieval.ImageRetrievalRecall[10]},
		{"colour-retrieval", "text_retrieval_recall@1", 11.0 / 12, want.Retrieval.TextRetrievalRecall[1]},
		{"colour-retrieval", "text_retrieval_recall@5", 1, want.Retrieval.TextRetrievalRecall[5]},
		{"colour-retrieval", "text_retrieval_recall@10", 1, want.Retrieval.TextRetrievalRecall[10]},
		{"colour-classification", "acc1", 10.0 / 13, want.Classification.Acc1},
		{"colour-classification", "acc5", 12.0 / 13, want.Classification.Acc5},
		{"colour-classification", "mean_per_class_recall", 31.0 / 36, want.Classification.MeanPerClassRecall},
		{"colour-vqa", "closed_accuracy", 6.0 / 8, want.VQA.ClosedAccuracy},
		{"colour-vqa", "open_accuracy", 5.0 / 6, want.VQA.OpenAccuracy},
		{"colour-vqa", "overall_accuracy", 11.0 / 14, want.VQA.OverallAccuracy},
	}
	for _, e := range exact {
		got := metric(t, res, "demo-colour", e.task, e.metric)
		assert.InDelta(t, e.want, got, 1e-12, "%s %s", e.task, e.metric)
		assert.InDelta(t, e.gen, got, 1e-12, "%s %s (generator's expectation)", e.task, e.metric)
	}

	// Provenance and the file on disk.
	saved, err := results.Read(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	assert.Equal(t, res.Runs[0].Metrics, saved.Runs[0].Metrics)
	assert.Len(t, saved.Config.SHA256, 64)
	assert.Equal(t, "onnxruntime 1.30.0", saved.Runtime)
	require.Len(t, saved.Models, 1)
	for _, f := range []string{"image.onnx", "text.onnx", "open_clip_config.json", "vocab.txt"} {
		assert.Len(t, saved.Models[0].Files[f], 64, f)
	}
	sizes := map[string]int{}
	for _, tk := range saved.Tasks {
		sizes[tk.Name] = tk.DatasetSize
	}
	assert.Equal(t, map[string]int{"colour-retrieval": 12, "colour-classification": 13, "colour-vqa": 14}, sizes)
	assert.Greater(t, saved.WallSeconds, 0.0)
	raw, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"acc5"`)
}

// organImages lists the VQA-RAD images of the fixture, in reference.json order.
func fixtureReference(t *testing.T) (images []string, acc1 map[string]float64) {
	raw, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.json"))
	require.NoError(t, err)
	var ref map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &ref))
	var paths []string
	require.NoError(t, json.Unmarshal(ref["images"], &paths))
	for _, p := range paths {
		if name, ok := strings.CutPrefix(p, "vqa-rad/images/"); ok {
			images = append(images, name)
		}
	}
	acc1 = map[string]float64{}
	for _, m := range []string{"biomedclip", "clip"} {
		var zs struct {
			Acc1 float64 `json:"acc1"`
		}
		require.NoError(t, json.Unmarshal(ref[m+"_zeroshot_organ"], &zs))
		acc1[m] = zs.Acc1
	}
	return images, acc1
}

func TestVQARADTinyOrganAccuracyEqualsReference(t *testing.T) {
	shared := sharedtest.Dir(t)
	images, acc1 := fixtureReference(t)
	require.Len(t, images, 24)
	cfg := loadConfig(t, "vqa-rad-tiny.yaml", map[string]string{"CLIPEVAL_SHARED": shared})
	// Run exactly the fixture's 24 images: restrict the organ task with the dataset's `images:` key.
	var organ config.Task
	for _, tk := range cfg.Tasks {
		if tk.Name == "organ" {
			organ = tk
		}
	}
	require.NotNil(t, organ.Dataset)
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, im := range images {
		list.Content = append(list.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: im})
	}
	organ.Dataset.Content = append(organ.Dataset.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "images"}, list)
	cfg.Tasks = []config.Task{organ}

	r, _ := newRunner(t)
	res, err := r.Run(context.Background(), plan.New(cfg, t.TempDir(), "test"))
	require.NoError(t, err)
	assert.Equal(t, acc1["biomedclip"], metric(t, res, "biomedclip-tiny", "organ", "acc1"))
	assert.Equal(t, acc1["clip"], metric(t, res, "clip-tiny", "organ", "acc1"))
	assert.Equal(t, 24, res.Tasks[0].DatasetSize)
}

// TestKilledModelPluginFailsItsRunNamingIt checks that a model plugin killed while encoding, with a policy of one
// attempt, fails its run promptly, naming the plugin, the call and the batch, and that the model's next runs start
// it again.
func TestKilledModelPluginFailsItsRunNamingIt(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	r, host := newRunner(t)
	host.SetPolicy(pluginhost.Policy{Attempts: 1}) // no restart: the crash is what is reported
	killed := false
	r.Progress = func(ev Event) {
		if ev.Stage == "images" && !killed {
			m, err := host.Model("onnx")
			require.NoError(t, err)
			require.NoError(t, syscall.Kill(m.Pid(), syscall.SIGKILL))
			killed = true
		}
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := r.Run(ctx, plan.New(loadConfig(t, "demo.yaml", map[string]string{"CLIPEVAL_DEMO": demo}), out, "test"))
	require.ErrorIs(t, err, ErrRunsFailed)
	require.NoError(t, ctx.Err(), "the run must fail promptly, not hang")
	require.True(t, killed)
	require.Len(t, res.Runs, 3)
	assert.Contains(t, res.Runs[0].Error, `encoding images 1-8 of 12: plugin "onnx" (`)
	assert.Contains(t, res.Runs[0].Error, "EncodeImages of 8 inputs: the plugin exited unexpectedly (crashed)")
	for _, run := range res.Runs[1:] {
		assert.Empty(t, run.Error, "the next call starts the plugin again")
	}
	saved, err := results.Read(filepath.Join(out, "results.json"))
	require.NoError(t, err, "results.json is written even when runs fail")
	assert.Len(t, saved.Runs, 3)
}

func TestVQARADConfigLinearHead(t *testing.T) {
	cfg := loadConfig(t, "vqa-rad.yaml", map[string]string{"CLIPEVAL_SHARED": sharedtest.Dir(t)})
	cfg.Models = cfg.Models[:1]
	var head config.Task
	for _, tk := range cfg.Tasks {
		if tk.Name == "vqa-rad-linear-head" {
			head = tk
		}
	}
	cfg.Tasks = []config.Task{head}
	r, _ := newRunner(t)
	res, err := r.Run(context.Background(), plan.New(cfg, t.TempDir(), "test"))
	require.NoError(t, err)
	require.Len(t, res.Runs, 1)
	run := res.Runs[0]
	assert.Equal(t, "linear-head", run.Mode, "the report says which mode made the numbers")
	assert.Equal(t, 451, res.Tasks[0].DatasetSize, "VQA-RAD's test split: test_freeform + test_para")
	groups := map[string]int{}
	for _, p := range run.Predictions {
		groups[p.Group]++
	}
	assert.Equal(t, map[string]int{"closed": 272, "open": 179}, groups)
	assert.Len(t, run.ItemValues["overall_accuracy"], 451)
	correct := 0.0
	for _, v := range run.ItemValues["overall_accuracy"] {
		correct += v
	}
	assert.InDelta(t, correct/451, float64(run.Metrics["overall_accuracy"]), 1e-12, "the metric is the mean of its item values")
	iv := run.Intervals["overall_accuracy"]
	assert.LessOrEqual(t, float64(iv[0]), float64(run.Metrics["overall_accuracy"]))
	assert.GreaterOrEqual(t, float64(iv[1]), float64(run.Metrics["overall_accuracy"]))
	assert.Len(t, res.Tasks[0].DatasetSHA256, 64)
}

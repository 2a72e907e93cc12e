// Package run executes an experiment: it loads every task's dataset through its task plugin, encodes the images
// and texts with every model's backend plugin in batches (through an embedding cache, so an input shared by two
// tasks is encoded once per model), hands the embeddings back to the task to score, and records results.json after
// every model × task so that no finished result is lost when a later one fails.
package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// Event reports progress: Done of Total inputs of a kind ("images", "texts") encoded for a model on a task, or a
// stage ("load", "score", "done") reached.
type Event struct {
	Model, Task string
	Stage       string
	Done, Total int
}

// Runner runs experiments with the plugins of one host.
type Runner struct {
	// Host starts the plugins.
	Host *pluginhost.Host
	// Version is the clipeval version recorded in results.json.
	Version string
	// Progress, when set, is called as work advances (from the calling goroutine).
	Progress func(Event)
}

// ErrRunsFailed is returned (wrapped) when some model × task runs failed; their errors are in the results.
var ErrRunsFailed = errors.New("some runs failed")

// ErrDataset is returned (wrapped) when a task's dataset cannot be loaded: bad input, before any model ran.
var ErrDataset = errors.New("loading the dataset")

// loadedTask is a task whose dataset is loaded.
type loadedTask struct {
	cfg    config.Task
	plugin *pluginhost.Task
	data   *sdk.Dataset
}

// Prepare starts the task plugins and checks every task's dataset and options against its plugin's schema. The
// returned error is config.Problems when the config is at fault.
func (r *Runner) Prepare(ctx context.Context, cfg *config.Config) ([]*pluginhost.Task, [][2][]byte, error) {
	var problems config.Problems
	plugins := make([]*pluginhost.Task, len(cfg.Tasks))
	payloads := make([][2][]byte, len(cfg.Tasks))
	for i, t := range cfg.Tasks {
		p, err := r.Host.Task(t.Plugin)
		if err != nil {
			problems = append(problems, config.Problem{Pos: t.Pos, Msg: fmt.Sprintf("task %q: %v", t.Name, err)})
			continue
		}
		info, err := p.Info(ctx)
		if err != nil {
			problems = append(problems, config.Problem{Pos: t.Pos, Msg: fmt.Sprintf("task %q: %v", t.Name, err)})
			continue
		}
		ds, opts, err := cfg.CheckTask(t, info)
		var ps config.Problems
		if errors.As(err, &ps) {
			problems = append(problems, ps...)
			continue
		}
		plugins[i], payloads[i] = p, [2][]byte{ds, opts}
	}
	for _, m := range cfg.Models {
		if _, err := os.Stat(filepath.Join(r.Host.Dir(), m.Backend)); err != nil {
			problems = append(problems, config.Problem{Pos: m.Pos, Msg: fmt.Sprintf("model %q: backend plugin %q not found in %s", m.Name, m.Backend, r.Host.Dir())})
		}
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}
	return plugins, payloads, nil
}

// Run executes cfg, writing results.json into outDir after every model × task. It returns the results even when
// some runs failed (then the error wraps ErrRunsFailed). Config problems come back as config.Problems.
func (r *Runner) Run(ctx context.Context, cfg *config.Config, outDir string) (*results.Results, error) {
	start := time.Now()
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating output folder: %w", err)
	}
	plugins, payloads, err := r.Prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res := &results.Results{Schema: results.SchemaVersion, Clipeval: r.Version, Started: start.UTC(),
		Config:    results.ConfigInfo{Path: cfg.Path, SHA256: cfg.SHA256},
		Tolerance: results.Tolerance{Default: cfg.Tolerance.Default, Metrics: cfg.Tolerance.Metrics}}
	resultsPath := filepath.Join(outDir, "results.json")
	save := func() error {
		res.WallSeconds = time.Since(start).Seconds()
		return results.Write(resultsPath, res)
	}

	tasks := make([]*loadedTask, len(cfg.Tasks))
	for i, t := range cfg.Tasks {
		r.emit(Event{Task: t.Name, Stage: "load"})
		ds, err := plugins[i].Load(ctx, sdk.LoadRequest{Dataset: payloads[i][0], Options: payloads[i][1]})
		if err != nil {
			return nil, fmt.Errorf("task %q (%s): %w: %w", t.Name, t.Pos, ErrDataset, err)
		}
		tasks[i] = &loadedTask{cfg: t, plugin: plugins[i], data: ds}
		h, err := hashFiles(ds.Files)
		if err != nil {
			return nil, fmt.Errorf("task %q: hashing the dataset: %w", t.Name, err)
		}
		res.Tasks = append(res.Tasks, results.Task{Name: t.Name, Plugin: t.Plugin, DatasetSize: ds.Size,
			Images: len(ds.Images), Texts: len(ds.Texts), Description: ds.Description,
			DatasetSHA256: h.sum, DatasetFiles: h.files, DatasetBytes: h.bytes, Published: published(t.Published)})
	}

	failed := 0
	for _, m := range cfg.Models {
		ref := sdk.ModelRef{Dir: m.Path, Options: m.Options, BaseDir: cfg.Dir}
		backend, info, err := r.openModel(ctx, m, ref)
		if err != nil {
			for _, t := range tasks {
				res.Runs = append(res.Runs, results.Run{Model: m.Name, Task: t.cfg.Name, Plugin: t.cfg.Plugin, Error: err.Error()})
				failed++
			}
			if err := save(); err != nil {
				return res, err
			}
			continue
		}
		res.Models = append(res.Models, modelEntry(m, info))
		if res.Runtime == "" {
			res.Runtime = info.Runtime
		}
		enc := &encoder{runner: r, model: backend, ref: ref, batch: m.BatchSize, name: m.Name, cache: map[string][]float32{}}
		for _, t := range tasks {
			run := r.runOne(ctx, enc, info, t)
			if run.Error != "" {
				failed++
			}
			res.Runs = append(res.Runs, run)
			if err := save(); err != nil {
				return res, err
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
	}
	if err := save(); err != nil {
		return res, err
	}
	if failed > 0 {
		return res, fmt.Errorf("%d of %d runs failed (their errors are in %s): %w", failed, len(res.Runs), resultsPath, ErrRunsFailed)
	}
	return res, nil
}

func published(in map[string]map[string]float64) map[string]map[string]results.Value {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]map[string]results.Value, len(in))
	for model, metrics := range in {
		out[model] = make(map[string]results.Value, len(metrics))
		for k, v := range metrics {
			out[model][k] = results.Value(v)
		}
	}
	return out
}

func (r *Runner) emit(ev Event) {
	if r.Progress != nil {
		r.Progress(ev)
	}
}

func (r *Runner) openModel(ctx context.Context, m config.Model, ref sdk.ModelRef) (*pluginhost.Model, *sdk.ModelInfo, error) {
	backend, err := r.Host.Model(m.Backend)
	if err != nil {
		return nil, nil, fmt.Errorf("model %q: %w", m.Name, err)
	}
	info, err := backend.Info(ctx, ref)
	if err != nil {
		return nil, nil, fmt.Errorf("model %q: %w", m.Name, err)
	}
	return backend, info, nil
}

func modelEntry(m config.Model, info *sdk.ModelInfo) results.Model {
	return results.Model{Name: m.Name, Backend: m.Backend, Dir: m.Path, EmbedDim: info.EmbedDim, ImageSize: info.ImageSize,
		ContextLength: info.ContextLength, LogitScale: info.LogitScale, Tokenizer: info.Tokenizer, Runtime: info.Runtime, Files: info.Files}
}

// runOne encodes a task's inputs with one model and scores them; a failure is recorded in the run, not returned.
func (r *Runner) runOne(ctx context.Context, enc *encoder, info *sdk.ModelInfo, t *loadedTask) results.Run {
	start := time.Now()
	run := results.Run{Model: enc.name, Task: t.cfg.Name, Plugin: t.cfg.Plugin}
	fail := func(err error) results.Run {
		run.Error = err.Error()
		run.WallSeconds = time.Since(start).Seconds()
		return run
	}
	imgs, err := enc.images(ctx, t.cfg.Name, t.data.Images)
	if err != nil {
		return fail(err)
	}
	txts, err := enc.texts(ctx, t.cfg.Name, t.data.Texts)
	if err != nil {
		return fail(err)
	}
	r.emit(Event{Model: enc.name, Task: t.cfg.Name, Stage: "score"})
	sc, err := t.plugin.Score(ctx, sdk.ScoreRequest{DatasetID: t.data.ID, ImageEmbeddings: imgs, TextEmbeddings: txts, LogitScale: info.LogitScale})
	if err != nil {
		return fail(fmt.Errorf("task %q: %w", t.cfg.Name, err))
	}
	run.Metrics = make(map[string]results.Value, len(sc.Metrics))
	for k, v := range sc.Metrics {
		run.Metrics[k] = results.Value(v)
	}
	run.Headline, run.Mode, run.ItemValues = sc.Headline, sc.Mode, sc.ItemValues
	for k, v := range sc.Intervals {
		if run.Intervals == nil {
			run.Intervals = map[string][2]results.Value{}
		}
		run.Intervals[k] = [2]results.Value{results.Value(v.Low), results.Value(v.High)}
	}
	for _, c := range sc.Curves {
		run.Curves = append(run.Curves, results.Curve{Name: c.Name, XLabel: c.XLabel, YLabel: c.YLabel, X: c.X, Y: c.Y})
	}
	for _, p := range sc.Predictions {
		run.Predictions = append(run.Predictions, results.Prediction{Item: p.Item, Truth: p.Truth, Predicted: p.Predicted, Correct: p.Correct, Group: p.Group})
	}
	run.WallSeconds = time.Since(start).Seconds()
	r.emit(Event{Model: enc.name, Task: t.cfg.Name, Stage: "done"})
	return run
}

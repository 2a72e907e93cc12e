// Package run executes an experiment plan: it checks every model and task before any model runs (Check, also what
// `clipeval validate` uses), loads every task's dataset through its task plugin (images by reference, never their
// bytes), encodes the images and texts with every model's backend plugin in batches (through an embedding cache,
// so an input shared by two tasks is encoded once per model), hands the embeddings to the task as memory-mappable
// .npy files to score, and records results.json after every model × task so that no finished result is lost when
// a later one fails.
package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/harness/store"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// Event reports progress: Done of Total inputs of a kind ("images", "texts") encoded for a model on a task, or a
// stage ("load", "score", "done") reached.
type Event struct {
	Model, Task string
	Stage       string
	Done, Total int
	// Cached is how many of the Done inputs of a kind came from the embedding cache rather than from the model
	// (the same count on every event of that kind); 0 for the other stages.
	Cached int
	// Skipped is how many of the Done images were bad and left out (a task with `bad_images: skip`).
	Skipped int
}

// Runner runs experiments with the plugins of one host.
type Runner struct {
	// Host starts the plugins.
	Host *pluginhost.Host
	// Progress, when set, is called as work advances (from the calling goroutine).
	Progress func(Event)
	// Cache, when set, is the embedding store inputs are looked up in before encoding and kept in after.
	Cache Cache
	// Fresh, when set, runs every model × task again instead of keeping the finished runs of an earlier
	// results.json in the output folder.
	Fresh bool
	// Finished, when set, is called (from the calling goroutine) after each model × task run is recorded in
	// results.json, with the results so far and the run's task; it must not change res, nor keep it past the call.
	Finished func(res *results.Results, task string)

	// shards, when set, are the shards of a sharded run that Merge scores: every embedding comes from them, and no
	// model is loaded.
	shards *shardSet
}

// ErrRunsFailed is returned (wrapped) when some model × task runs failed; their errors are in the results.
var ErrRunsFailed = errors.New("some runs failed")

// FailedRuns is the error Run returns when some model × task runs failed: it wraps ErrRunsFailed and every
// failure's error, so that errors.As and sdk.IsInvalidInput see them (a failure caused by bad input, such as a
// corrupt image or a model folder ONNX Runtime cannot load, is bad input of the whole run).
type FailedRuns struct {
	// Failures are the failed runs, in results order.
	Failures []Failure
	// Runs is how many runs there were; Path is the results.json holding them.
	Runs int
	Path string
}

// Failure is one failed model × task run.
type Failure struct {
	Model, Task string
	Err         error
}

// Error says how many runs failed and where their errors are.
func (e *FailedRuns) Error() string {
	return fmt.Sprintf("%d of %d runs failed (their errors are in %s): %v", len(e.Failures), e.Runs, e.Path, ErrRunsFailed)
}

// Unwrap returns ErrRunsFailed and each failure's error.
func (e *FailedRuns) Unwrap() []error {
	errs := []error{ErrRunsFailed}
	for _, f := range e.Failures {
		errs = append(errs, f.Err)
	}
	return errs
}

// Checked is a config whose every model and task passed the checks, with its datasets loaded: what Run goes on
// from. Close removes the work folder the datasets were loaded into.
type Checked struct {
	tasks   []*loadedTask
	models  []*pluginhost.Model
	backend []*sdk.PluginInfo
	// opened holds, for a run (Runner.check with open), each checked model's Info as its backend answered it
	// while the datasets loaded; nil for a model whose check failed, and for Check.
	opened  []*opened
	workDir string
}

// opened is a backend's answer to Info: the model loaded, or why not.
type opened struct {
	info *sdk.ModelInfo
	err  error
}

// Close removes the work folder.
func (c *Checked) Close() error {
	if c == nil || c.workDir == "" {
		return nil
	}
	return os.RemoveAll(c.workDir)
}

// loadedTask is a task whose dataset is loaded.
type loadedTask struct {
	cfg     config.Task
	plugin  *pluginhost.Task
	info    *sdk.PluginInfo
	payload [2][]byte // the `dataset:` and `options:` JSON Load got
	data    *sdk.Dataset
	dir     string // the task's work folder
	hash    string // the dataset files' digest
}

// Check does everything a run does before any model runs, and reports every problem at once as config.Problems
// sorted by position: each task's `dataset:` and `options:` against its plugin's schema, each model's `options:`
// against its backend's and the model folder through the backend's CheckModel, and then every task's dataset
// loaded (manifests read, image paths checked, archives indexed) into a work folder under workRoot (os.TempDir()
// when empty). "ok" from Check means Run will not fail on its input.
func (r *Runner) Check(ctx context.Context, cfg *config.Config, workRoot string) (*Checked, error) {
	return r.check(ctx, cfg, workRoot, false)
}

// check is Check; with open it also loads every model that passed its checks (the backend's Info, which a run
// needs first), at the same time as the datasets load.
func (r *Runner) check(ctx context.Context, cfg *config.Config, workRoot string, open bool) (*Checked, error) {
	folders := r.shards == nil // a merge loads no model
	c, payloads, problems, models := r.checkPlugins(ctx, cfg, folders, folders && open)
	defer models() // the models are checked beside the dataset loads: every return waits for them
	var err error
	// Datasets are loaded even when models have problems, so that one pass reports both.
	if workRoot != "" {
		sweepWorkDirs(workRoot)
	}
	if c.workDir, err = os.MkdirTemp(workRoot, fmt.Sprintf("%s%d-", workPrefix, os.Getpid())); err != nil {
		return nil, fmt.Errorf("creating the work folder: %w", err)
	}
	for i, t := range c.tasks {
		if t == nil { // its schema check failed
			continue
		}
		r.emit(Event{Task: t.cfg.Name, Stage: "load"})
		t.dir = filepath.Join(c.workDir, fmt.Sprintf("task-%d", i))
		if err := os.Mkdir(t.dir, 0o755); err != nil {
			c.Close()
			return nil, fmt.Errorf("creating the work folder: %w", err)
		}
		ds, err := t.plugin.Load(ctx, sdk.LoadRequest{Dataset: payloads[i][0], Options: payloads[i][1], WorkDir: t.dir,
			SkipBadImages: t.cfg.BadImages == config.BadImagesSkip})
		if err != nil {
			if ctx.Err() != nil {
				c.Close()
				return nil, ctx.Err()
			}
			problems.Addf(t.cfg.Pos, "task %q: loading the dataset: %v", t.cfg.Name, err)
			continue
		}
		t.data, t.payload = ds, payloads[i]
	}
	ps, err := models()
	if err != nil {
		c.Close()
		return nil, err
	}
	if problems = append(problems, ps...); len(problems) > 0 {
		c.Close()
		return nil, problems.Sorted()
	}
	return c, nil
}

// SchemaProblems checks what parsed of a config that already has problems against the plugins' declarations (task
// dataset and option fields, backend options), so that a user sees every problem at once; model folders and
// datasets are checked once the config itself is clean (Check).
func (r *Runner) SchemaProblems(ctx context.Context, cfg *config.Config) config.Problems {
	_, _, problems, models := r.checkPlugins(ctx, cfg, false, false)
	ps, err := models()
	if err != nil {
		return nil
	}
	return append(problems, ps...)
}

// checkPlugins starts every task and backend plugin of cfg and checks the config's task keys against their
// plugins' declarations. The models are checked at the same time, in the background, against their backends'
// declarations, with folders also through CheckModel, and with open also loaded (Info, into c.opened) when they
// pass: models waits for that (and returns at once when called again) and returns the models' problems, or an error
// that is not one.
func (r *Runner) checkPlugins(ctx context.Context, cfg *config.Config, folders, open bool) (c *Checked, payloads [][2][]byte,
	problems config.Problems, models func() (config.Problems, error)) {
	c = &Checked{tasks: make([]*loadedTask, len(cfg.Tasks)), models: make([]*pluginhost.Model, len(cfg.Models)),
		backend: make([]*sdk.PluginInfo, len(cfg.Models)), opened: make([]*opened, len(cfg.Models))}
	payloads = make([][2][]byte, len(cfg.Tasks))
	var names []string
	for _, t := range cfg.Tasks {
		names = append(names, t.Plugin)
	}
	for _, m := range cfg.Models {
		names = append(names, m.Backend)
	}
	r.Host.Start(names...) // all at once; the errors come again below, each at its config line
	done := make(chan struct{})
	var modelProblems config.Problems
	var modelErr error
	go func() {
		defer close(done)
		modelProblems, modelErr = r.checkModels(ctx, cfg, c, folders, open)
	}()
	models = func() (config.Problems, error) {
		<-done
		return modelProblems, modelErr
	}
	for i, t := range cfg.Tasks {
		p, err := r.Host.Task(t.Plugin)
		if err != nil {
			problems.Addf(t.Pos, "task %q: %v", t.Name, err)
			continue
		}
		info, err := p.Describe(ctx, sdk.DescribeRequest{})
		if err != nil {
			problems.Addf(t.Pos, "task %q: %v", t.Name, err)
			continue
		}
		ds, opts, err := cfg.CheckTask(t, info)
		var ps config.Problems
		if errors.As(err, &ps) {
			problems = append(problems, ps...)
			continue
		}
		c.tasks[i] = &loadedTask{cfg: t, plugin: p, info: info}
		payloads[i] = [2][]byte{ds, opts}
	}
	return c, payloads, problems, models
}

// checkModels checks cfg's models against their backends' declarations, with folders also through CheckModel, and
// with open loads each that passes (Info, into c.opened); it returns their problems, or an error that is not one.
func (r *Runner) checkModels(ctx context.Context, cfg *config.Config, c *Checked, folders, open bool) (config.Problems, error) {
	var problems config.Problems
	for i, m := range cfg.Models {
		backend, err := r.Host.Model(m.Backend)
		if err != nil {
			problems.Addf(m.Pos, "model %q: %v", m.Name, err)
			continue
		}
		info, err := backend.Describe(ctx, sdk.DescribeRequest{})
		if err != nil {
			problems.Addf(m.Pos, "model %q: %v", m.Name, err)
			continue
		}
		if err := cfg.CheckModel(m, info); err != nil {
			var ps config.Problems
			if errors.As(err, &ps) {
				problems = append(problems, ps...)
				continue
			}
			return nil, err
		}
		if !folders {
			continue
		}
		check, err := backend.CheckModel(ctx, sdk.CheckModelRequest{Model: modelRef(cfg, m)})
		if err != nil {
			problems.Addf(m.Pos, "model %q: %v", m.Name, err)
			continue
		}
		for _, p := range check.Problems {
			problems.Addf(m.KeyPos(p.Key), "model %q: %s", m.Name, p.Message)
		}
		c.models[i], c.backend[i] = backend, info
		if open && len(check.Problems) == 0 {
			info, err := backend.Info(ctx, sdk.ModelInfoRequest{Model: modelRef(cfg, m)})
			c.opened[i] = &opened{info: info, err: err}
		}
	}
	return problems, nil
}

// modelRef is what the backend is told about model m.
func modelRef(cfg *config.Config, m config.Model) sdk.ModelRef {
	return sdk.ModelRef{Dir: m.Path, Options: m.Options, BaseDir: cfg.Dir}
}

// Run checks and executes p, writing results.json into p.OutDir after every model × task. It returns the results
// even when some runs failed (then the error wraps ErrRunsFailed). Bad input comes back as config.Problems before
// any model runs. When runs failed, the error is a *FailedRuns.
func (r *Runner) Run(ctx context.Context, p *plan.Plan) (*results.Results, error) {
	start := time.Now()
	if err := os.MkdirAll(p.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating output folder: %w", err)
	}
	res := p.Results(start)
	resultsPath := filepath.Join(p.OutDir, "results.json")
	save := func() error {
		res.WallSeconds = time.Since(start).Seconds()
		return results.Write(resultsPath, res)
	}
	previous := map[string]results.Run{}
	if !r.Fresh {
		previous = finishedRuns(resultsPath)
	}
	// stopped records that ctx ended the run while it was doing what, keeping the earlier results.json's finished
	// runs it did not reach, so that results.json says what it holds and a re-run still resumes.
	stopped := func(while string) (*results.Results, error) {
		cause := context.Cause(ctx)
		res.Interrupted = fmt.Sprintf("%v while %s", cause, while)
		done := map[string]bool{}
		for _, run := range res.Runs {
			done[run.Key] = true
		}
		res.Kept = nil
		for _, key := range slices.Sorted(maps.Keys(previous)) {
			if !done[key] {
				res.Kept = append(res.Kept, previous[key])
			}
		}
		if err := save(); err != nil {
			return res, errors.Join(fmt.Errorf("stopped %s: %w", while, cause), err)
		}
		return res, fmt.Errorf("stopped %s: %w", while, cause)
	}
	c, err := r.check(ctx, p.Config, p.OutDir, true)
	if err != nil {
		if ctx.Err() != nil {
			return stopped("checking the config and loading the datasets")
		}
		return nil, err
	}
	defer c.Close()
	cfg := p.Config
	for _, t := range c.tasks {
		h, err := hashFiles(t.data.Files, t.data.Images)
		if err != nil {
			return nil, fmt.Errorf("task %q: hashing the dataset: %w", t.cfg.Name, err)
		}
		t.hash = h.sum
		res.Tasks = append(res.Tasks, results.Task{Name: t.cfg.Name, Plugin: t.cfg.Plugin, PluginVersion: t.info.Version,
			DatasetSize: t.data.Size, Images: len(t.data.Images), Texts: len(t.data.Texts), Description: t.data.Description,
			DatasetSHA256: h.sum, DatasetFiles: h.files, DatasetBytes: h.bytes, Published: published(t.cfg.Published)})
	}

	failed := &FailedRuns{Path: resultsPath}
	encoders := make([]*encoder, len(cfg.Models))
	for _, pair := range p.Pairs {
		m, t := cfg.Models[pair.Model], c.tasks[pair.Task]
		enc := encoders[pair.Model]
		if enc == nil {
			enc = r.openModel(ctx, cfg, m, c.models[pair.Model], c.backend[pair.Model], c.opened[pair.Model], res)
			encoders[pair.Model] = enc
		}
		var run results.Run
		var runErr error
		if enc.err != nil {
			run, runErr = results.Run{Model: m.Name, Task: t.cfg.Name, Plugin: t.cfg.Plugin, Error: enc.err.Error()}, enc.err
		} else if prev, ok := previous[runKey(enc, t)]; ok {
			run = prev
			r.emit(Event{Model: m.Name, Task: t.cfg.Name, Stage: "resumed"})
		} else {
			run, runErr = r.runOne(ctx, enc, t)
		}
		if ctx.Err() != nil { // the run did not fail: it was stopped, and is not recorded
			return stopped(fmt.Sprintf("running model %q on task %q (%d of %d model × task runs finished)", m.Name, t.cfg.Name, len(res.Runs), len(p.Pairs)))
		}
		if runErr != nil {
			failed.Failures = append(failed.Failures, Failure{Model: m.Name, Task: t.cfg.Name, Err: runErr})
		}
		res.Runs = append(res.Runs, run)
		if err := save(); err != nil {
			return res, err
		}
		if r.Finished != nil {
			r.Finished(res, t.cfg.Name)
		}
	}
	if err := save(); err != nil {
		return res, err
	}
	if len(failed.Failures) > 0 {
		failed.Runs = len(res.Runs)
		return res, failed
	}
	return res, nil
}

// openModel loads model m in its backend (unless pre holds the backend's answer already) and records it in res; a
// failure is kept in the encoder for every run of the model to report.
func (r *Runner) openModel(ctx context.Context, cfg *config.Config, m config.Model, backend *pluginhost.Model, plugin *sdk.PluginInfo,
	pre *opened, res *results.Results) *encoder {
	ref := modelRef(cfg, m)
	enc := &encoder{runner: r, model: backend, ref: ref, batch: m.BatchSize, name: m.Name, cache: r.Cache}
	if r.shards != nil { // merging: the model as the shards loaded it
		sm := r.shards.models[m.Name]
		enc.info, enc.fingerprint, enc.cache = &sm.Info, sm.Fingerprint, nil
		recordModel(res, m, sm.PluginVersion, sm.Info)
		return enc
	}
	if pre == nil {
		info, err := backend.Info(ctx, sdk.ModelInfoRequest{Model: ref})
		pre = &opened{info: info, err: err}
	}
	info, err := pre.info, pre.err
	if err != nil {
		enc.err = fmt.Errorf("model %q: %w", m.Name, err)
		return enc
	}
	enc.info = info
	enc.fingerprint = store.ModelFingerprint(store.FingerprintOf(*plugin, ref.Options, *info))
	if enc.cache != nil {
		if err := enc.cache.Touch(enc.fingerprint, fmt.Sprintf("%s (%s %s)", m.Name, m.Backend, plugin.Version)); err != nil {
			enc.err = fmt.Errorf("model %q: the embedding store: %w", m.Name, err)
			return enc
		}
	}
	recordModel(res, m, plugin.Version, *info)
	return enc
}

// recordModel records model m, loaded by its backend plugin of version pluginVersion as info describes it, in res.
func recordModel(res *results.Results, m config.Model, pluginVersion string, info sdk.ModelInfo) {
	res.Models = append(res.Models, results.Model{Name: m.Name, Backend: m.Backend, PluginVersion: pluginVersion, Dir: m.Path,
		EmbedDim: info.EmbedDim, ImageSize: info.ImageSize, ContextLength: info.ContextLength, LogitScale: info.LogitScale,
		Tokenizer: info.Tokenizer, Runtime: info.Runtime, Files: info.Files})
	if res.Runtime == "" {
		res.Runtime = info.Runtime
	}
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

// runOne encodes a task's inputs with one model and scores them; a failure is recorded in the run and returned.
func (r *Runner) runOne(ctx context.Context, enc *encoder, t *loadedTask) (results.Run, error) {
	start := time.Now()
	run := results.Run{Model: enc.name, Task: t.cfg.Name, Plugin: t.cfg.Plugin, Key: runKey(enc, t)}
	fail := func(err error) (results.Run, error) {
		run.Error = err.Error()
		run.WallSeconds = time.Since(start).Seconds()
		return run, err
	}
	var imgFile, txtFile sdk.EmbeddingFile
	var bad []badImage
	var err error
	if r.shards != nil {
		imgFile, txtFile, bad, err = r.shards.assemble(enc.name, t, filepath.Join(t.dir, "images.npy"), filepath.Join(t.dir, "texts.npy"))
	} else {
		err = r.keepAlive(ctx, t, func(ctx context.Context) error {
			var err error
			imgFile, bad, err = enc.images(ctx, t.cfg.Name, filepath.Join(t.dir, "images.npy"), t.data.Images,
				t.cfg.BadImages == config.BadImagesSkip)
			if err != nil {
				return err
			}
			txtFile, err = enc.texts(ctx, t.cfg.Name, filepath.Join(t.dir, "texts.npy"), t.data.Texts)
			return err
		})
	}
	for _, f := range []sdk.EmbeddingFile{imgFile, txtFile} {
		if f.Path != "" {
			defer os.Remove(f.Path)
		}
	}
	if err == nil && len(bad) > 0 && len(bad) == len(t.data.Images) {
		err = fmt.Errorf("every one of the %d images is bad (bad_images: skip leaves none to score); the first: %w", len(bad), bad[0].err)
	}
	if err != nil {
		return fail(err)
	}
	for _, sk := range t.data.Skipped { // left out at load: the dataset has neither them nor their items
		run.Skipped = append(run.Skipped, results.SkippedImage{Image: sk.Image, Error: sk.Error})
	}
	var skipped []int
	for _, b := range bad {
		skipped = append(skipped, b.index)
		run.Skipped = append(run.Skipped, results.SkippedImage{Image: t.data.Images[b.index].Label(), Error: b.err.Error()})
	}
	r.emit(Event{Model: enc.name, Task: t.cfg.Name, Stage: "score"})
	sc, err := t.plugin.Score(ctx, sdk.ScoreFilesRequest{DatasetID: t.data.ID, ImageEmbeddings: imgFile, TextEmbeddings: txtFile,
		LogitScale: enc.info.LogitScale, SkippedImages: skipped})
	if err != nil {
		return fail(fmt.Errorf("task %q: %w", t.cfg.Name, err))
	}
	run.FromScores(sc)
	run.WallSeconds = time.Since(start).Seconds()
	r.emit(Event{Model: enc.name, Task: t.cfg.Name, Stage: "done"})
	return run, nil
}

// taskGone is why a task could not be kept alive while its inputs were encoded.
type taskGone struct{ error }

// keepAlive runs encode while making sure task t can still score what it encodes: its plugin is checked before
// (a cheap health check) and every heartbeat while encode runs, started again and given its dataset again when it
// died; when it cannot be, encode is stopped with the task's error, so that no model's encoding is spent on a task
// that cannot score it. (The embeddings already encoded stay in the embedding store.)
func (r *Runner) keepAlive(ctx context.Context, t *loadedTask, encode func(context.Context) error) error {
	if err := t.plugin.Alive(ctx); err != nil {
		return fmt.Errorf("task %q, before encoding its inputs: %w", t.cfg.Name, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(r.Host.Policy().Heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if err := t.plugin.Alive(ctx); err != nil && ctx.Err() == nil {
				cancel(taskGone{fmt.Errorf("task %q, while encoding its inputs: %w", t.cfg.Name, err)})
				return
			}
		}
	}()
	err := encode(ctx)
	close(done)
	<-watched
	var gone taskGone
	if errors.As(context.Cause(ctx), &gone) {
		return gone.error
	}
	return err
}

// runKey identifies a model × task run's inputs: the model's fingerprint and logit scale, the task plugin and its
// version, the `dataset:` and `options:` it loaded with, the dataset files' digest and `bad_images: skip`. A finished run of an
// earlier results.json with the same key is kept instead of run again.
func runKey(enc *encoder, t *loadedTask) string {
	h := sha256.New()
	vals := []string{enc.name, enc.fingerprint, strconv.FormatFloat(enc.info.LogitScale, 'g', -1, 64), t.cfg.Name,
		t.cfg.Plugin, t.info.Version, string(t.payload[0]), string(t.payload[1]), t.hash}
	if t.cfg.BadImages == config.BadImagesSkip { // the default leaves the keys of earlier runs as they were
		vals = append(vals, t.cfg.BadImages)
	}
	for _, v := range vals {
		fmt.Fprintf(h, "%d:%s", len(v), v)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// finishedRuns returns the successful runs of the results.json at path by their key, with those an interrupted run
// kept; none when there is no such
// file or it cannot be read (then everything runs again).
func finishedRuns(path string) map[string]results.Run {
	out := map[string]results.Run{}
	prev, err := results.Read(path)
	if err != nil {
		return out
	}
	for _, r := range slices.Concat(prev.Runs, prev.Kept) {
		if r.Error == "" && r.Key != "" {
			out[r.Key] = r
		}
	}
	return out
}

// workPrefix starts the name of a run's work folder, followed by the process id of the run that made it.
const workPrefix = ".clipeval-work-"

// sweepWorkDirs removes the work folders in dir left by runs whose process is gone (killed before cleaning up).
func sweepWorkDirs(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), workPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

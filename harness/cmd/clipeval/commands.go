package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clipeval/clipeval/harness/compare"
	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/conformance"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/harness/run"
	"github.com/clipeval/clipeval/harness/store"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/digest"
	"github.com/clipeval/clipeval/reports"
)

func lookupEnv(k string) (string, bool) { return os.LookupEnv(k) }

// newHost returns the plugin host for the plugin folder dir (plugin log lines to logOut), which starts plugins
// missing from the folder's checksum list only when $CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS is 1, and remembers the
// plugin files' digests in the cache folder's memo (digest.DefaultMemo), as the backends do the model files'.
func newHost(dir string, logOut io.Writer) (*pluginhost.Host, error) {
	allow, err := allowUnverified()
	if err != nil {
		return nil, err
	}
	h := pluginhost.New(dir, logOut)
	h.AllowUnverified(allow)
	h.RememberDigests(digest.DefaultMemo()) // the plugins' files are not read again while unchanged
	return h, nil
}

// allowUnverified reads $CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS: unset or empty is false.
func allowUnverified() (bool, error) {
	v, ok := lookupEnv(pluginhost.AllowUnverifiedEnvVar)
	if !ok || v == "" {
		return false, nil
	}
	allow, err := strconv.ParseBool(v)
	if err != nil {
		return false, badInput("%s=%q: want 1 (start plugins missing from the checksum list, for development) or 0",
			pluginhost.AllowUnverifiedEnvVar, v)
	}
	return allow, nil
}

// loadConfig parses the one CONFIG argument. When the config has problems it still checks the tasks and models
// that parsed against their plugins (r.Prepare), so that every problem comes back at once, as config.Problems sorted
// by position; a clean config comes back unchecked against the plugins (run.Runner.Run and Prepare do that).
func loadConfig(ctx context.Context, r *run.Runner, pos []string, cmd string) (*config.Config, error) {
	if len(pos) != 1 {
		return nil, badInput("%s takes one CONFIG file, got %d arguments (see clipeval %s --help)", cmd, len(pos), cmd)
	}
	cfg, err := config.Load(pos[0], lookupEnv)
	if cfg != nil && r.Host != nil {
		r.Host.PassEnv(cfg.Plugins.Env...) // before any plugin starts: the checks below start them
	}
	var problems config.Problems
	switch {
	case err == nil:
		return cfg, nil
	case !errors.As(err, &problems):
		return nil, usageError{err}
	case cfg == nil: // not YAML: nothing to check further
		return nil, problems
	}
	// A failure of the plugins themselves (not a config problem) shows again once these problems are fixed.
	problems = append(problems, r.SchemaProblems(ctx, cfg)...)
	return nil, problems.Sorted()
}

func cmdRun(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	out := fs.String("out", "", "write the outputs to `DIR` (default: the config's output.dir)")
	pluginDir := fs.String("plugin-dir", pluginhost.DefaultDir(), "start the plugins found in `DIR`")
	baselinePath := fs.String("baseline", "", "compare the run with the results.json `FILE` (regression gate)")
	quiet := fs.Bool("quiet", false, "print nothing but errors and the files written: no progress, no summary")
	cacheDir := fs.String("cache-dir", "", cacheDirUsage)
	noCache := fs.Bool("no-cache", false, "neither read nor write the embedding store: encode every input")
	fresh := fs.Bool("fresh", false, "run every model × task again instead of keeping the finished runs of the output folder's results.json")
	shardSpec := fs.String("shard", "", "encode only shard `I/N` (from 0) of every dataset into DIR/shards/ and score nothing (clipeval merge DIR "+
		"scores the shards); auto/N takes I from a Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX), "+
		"auto also N from the Slurm array")
	policy := policyFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	pol, err := policy()
	if err != nil {
		return err
	}
	var shard run.Shard
	if *shardSpec != "" {
		if shard, err = run.ParseShard(*shardSpec, os.Getenv); err != nil {
			return usageError{err}
		}
		if *baselinePath != "" {
			return badInput("run: --baseline compares results, and a shard has none: give it to clipeval merge instead")
		}
	}
	progress := newProgress(stderr, progressModeFor(stderr, *quiet), time.Now)
	defer progress.close()
	host, err := newHost(*pluginDir, progress) // plugin warnings print above the bars
	if err != nil {
		return err
	}
	defer host.Close()
	host.SetPolicy(pol)
	r := &run.Runner{Host: host, Progress: progress.event}
	cfg, err := loadConfig(ctx, r, pos, "run")
	if err != nil {
		return err
	}
	var baseline *results.Results
	if *baselinePath != "" {
		if baseline, err = readResults("run --baseline", *baselinePath); err != nil {
			return err
		}
		if _, err := compare.Compare(baseline, baseline, compare.Options{}); err != nil { // checks it before the run
			return usageError{fmt.Errorf("run --baseline %s: %w", *baselinePath, err)}
		}
	}
	p := plan.New(cfg, *out, version)
	outDir := p.OutDir
	if err := outputFolder("run", outDir); err != nil {
		return err
	}
	r.Fresh = *fresh
	dir, err := storeDir(*cacheDir, *noCache, cfg.Cache)
	if err != nil {
		return err
	} else if dir != "" {
		s, err := store.Open(dir)
		if err != nil {
			return usageError{fmt.Errorf("opening the embedding store in %s (choose another with --cache-dir, or run with --no-cache): %w", dir, err)}
		}
		defer s.Close()
		r.Cache = s
		defer func() {
			if n := s.Dropped(); n > 0 {
				fmt.Fprintf(stderr, "clipeval: the embedding store in %s had %d damaged entries; they were encoded again\n", dir, n)
			}
		}()
	}
	if *shardSpec != "" {
		if !*quiet {
			fmt.Fprintf(stderr, "clipeval %s: shard %s of %d model(s) × %d task(s) from %s → %s\n", version, shard, len(cfg.Models), len(cfg.Tasks),
				cfg.Path, filepath.Join(outDir, run.ShardsDir, shard.Folder()))
		}
		rep, err := r.RunShard(ctx, p, shard)
		progress.close()
		if err != nil {
			return err
		}
		if rep.Existed {
			fmt.Fprintf(stderr, "shard %s is already complete in %s: nothing to do\n", shard, rep.Dir)
		} else if !*quiet {
			fmt.Fprintf(stderr, "shard %s: %d images and %d texts encoded (or read from the embedding store); when every shard is done, run: clipeval merge %s\n",
				shard, rep.Images, rep.Texts, outDir)
		}
		fmt.Fprintln(stdout, rep.Dir)
		return nil
	}
	if !*quiet {
		fmt.Fprintf(stderr, "clipeval %s: %d model(s) × %d task(s) from %s → %s\n", version, len(cfg.Models), len(cfg.Tasks), cfg.Path, outDir)
	}
	return runReported(ctx, host, r, p, r.Run, progress, baseline, *baselinePath, dir, *quiet, stdout, stderr)
}

// runReported runs p with do (the Runner's Run, or Merge of a sharded run) and reports it: failures and skipped
// images on stderr, results.json, report.md, report.html and the plots in p's output folder (their paths on
// stdout); with a baseline it also gates the results against it. storeDir is the embedding store's folder, for the
// message of an interrupted run.
func runReported(ctx context.Context, host *pluginhost.Host, r *run.Runner, p *plan.Plan, do func(context.Context, *plan.Plan) (*results.Results, error),
	progress *progress, baseline *results.Results, baselinePath, storeDir string, quiet bool, stdout, stderr io.Writer) error {
	outDir, dir := p.OutDir, storeDir
	// Each task's plots are rasterised as soon as every model has run it, while the other tasks run.
	report := new(reports.Renderer)
	r.Finished = func(res *results.Results, task string) {
		if snap := finishedTask(res, task, len(p.Config.Models)); snap != nil {
			report.Prepare(snap, task, p.Plots)
		}
	}
	res, runErr := do(ctx, p)
	progress.close() // the last frame of the bars, before the file list
	printFailures(stderr, runErr)
	if res == nil {
		return runErr
	}
	printSkipped(stderr, res)
	if res.Interrupted != "" {
		host.Close() // within --stop-timeout, before the message that says what was kept
		return stoppedError{kept: keptMessage(res, outDir, dir), err: runErr}
	}
	files, err := report.Write(outDir, res, p.Plots)
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("writing the report: %w", err))
	}
	fmt.Fprintf(stdout, "%s\n", filepath.Join(outDir, "results.json"))
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	if baseline == nil {
		return runErr
	}
	junitPath, mdPath := filepath.Join(outDir, "junit.xml"), filepath.Join(outDir, "compare.md")
	rep, gateErr := gate(baseline, res, compare.Options{}, baselinePath, filepath.Join(outDir, "results.json"), junitPath, mdPath)
	if rep != nil {
		fmt.Fprintf(stdout, "%s\n%s\n", junitPath, mdPath)
		if !quiet {
			fmt.Fprintf(stderr, "compare with %s: %s\n", baselinePath, rep.Summary())
		}
	}
	return errors.Join(runErr, gateErr)
}

func cmdMerge(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	out := fs.String("out", "", "write results.json and the reports to `DIR` (default: the folder merged)")
	configPath := fs.String("config", "", "merge for the config `FILE` (default: the one the shards name; its digest must match theirs)")
	pluginDir := fs.String("plugin-dir", pluginhost.DefaultDir(), "start the plugins found in `DIR`")
	baselinePath := fs.String("baseline", "", "compare the results with the results.json `FILE` (regression gate)")
	quiet := fs.Bool("quiet", false, "print nothing but errors and the files written: no progress, no summary")
	fresh := fs.Bool("fresh", false, "score every model × task again instead of keeping the finished runs of the output folder's results.json")
	policy := policyFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInput("merge takes the one folder the shards ran into (their --out DIR), got %d arguments (see clipeval merge --help)", len(pos))
	}
	pol, err := policy()
	if err != nil {
		return err
	}
	dir := pos[0]
	info, err := run.ShardConfig(dir)
	if err != nil {
		return err
	}
	if *configPath == "" {
		*configPath = info.Path
	}
	var baseline *results.Results
	if *baselinePath != "" {
		if baseline, err = readResults("merge --baseline", *baselinePath); err != nil {
			return err
		}
		if _, err := compare.Compare(baseline, baseline, compare.Options{}); err != nil {
			return usageError{fmt.Errorf("merge --baseline %s: %w", *baselinePath, err)}
		}
	}
	progress := newProgress(stderr, progressModeFor(stderr, *quiet), time.Now)
	defer progress.close()
	host, err := newHost(*pluginDir, progress)
	if err != nil {
		return err
	}
	defer host.Close()
	host.SetPolicy(pol)
	r := &run.Runner{Host: host, Progress: progress.event, Fresh: *fresh}
	cfg, err := loadConfig(ctx, r, []string{*configPath}, "merge")
	if err != nil {
		return err
	}
	if *out == "" {
		*out = dir
	}
	p := plan.New(cfg, *out, version)
	if err := outputFolder("merge", p.OutDir); err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(stderr, "clipeval %s: merging the shards in %s of %d model(s) × %d task(s) from %s → %s\n", version,
			filepath.Join(dir, run.ShardsDir), len(cfg.Models), len(cfg.Tasks), cfg.Path, p.OutDir)
	}
	merge := func(ctx context.Context, p *plan.Plan) (*results.Results, error) { return r.Merge(ctx, p, dir) }
	return runReported(ctx, host, r, p, merge, progress, baseline, *baselinePath, "", *quiet, stdout, stderr)
}

// outputFolder creates the output folder dir (and its parents) for cmd, or says why it cannot, as bad input.
func outputFolder(cmd, dir string) error {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return badInput("%s: the output folder %s is a file: give a folder (--out DIR; it is created when missing)", cmd, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usageError{fmt.Errorf("%s: creating the output folder: %w (give another with --out DIR)", cmd, err)}
	}
	return nil
}

// shownSkips is how many skipped images printSkipped names per run; results.json and the report list them all.
const shownSkips = 3

// printSkipped says, for every run that left out bad images (`bad_images: skip`), how many and which.
func printSkipped(stderr io.Writer, res *results.Results) {
	for _, r := range res.Runs {
		if len(r.Skipped) == 0 {
			continue
		}
		fmt.Fprintf(stderr, "clipeval: model %q on task %q skipped %d bad image(s), left out of its metrics (all are listed in results.json and the report):\n",
			r.Model, r.Task, len(r.Skipped))
		for _, sk := range r.Skipped[:min(len(r.Skipped), shownSkips)] {
			fmt.Fprintf(stderr, "  %s\n", sk.String())
		}
		if len(r.Skipped) > shownSkips {
			fmt.Fprintf(stderr, "  and %d more\n", len(r.Skipped)-shownSkips)
		}
	}
}

// printFailures prints the error of every run that failed (once per distinct error, with the tasks it failed), so
// that the console says what went wrong and where, not only that results.json holds it.
func printFailures(stderr io.Writer, err error) {
	var failed *run.FailedRuns
	if !errors.As(err, &failed) {
		return
	}
	type group struct {
		model, msg string
		tasks      []string
	}
	var groups []*group
	for _, f := range failed.Failures {
		msg := f.Err.Error()
		i := slices.IndexFunc(groups, func(g *group) bool { return g.model == f.Model && g.msg == msg })
		if i < 0 {
			groups = append(groups, &group{model: f.Model, msg: msg})
			i = len(groups) - 1
		}
		groups[i].tasks = append(groups[i].tasks, strconv.Quote(f.Task))
	}
	for _, g := range groups {
		noun := "task"
		if len(g.tasks) > 1 {
			noun = "tasks"
		}
		fmt.Fprintf(stderr, "clipeval: model %q on %s %s failed: %s\n", g.model, noun, strings.Join(g.tasks, ", "), g.msg)
	}
}

// storeDir returns the embedding store's folder for a run: --cache-dir, else the config's cache.dir, else the
// machine's default; "" when --no-cache or the config's cache.enabled: false says to use none.
func storeDir(flagDir string, noCache bool, c config.Cache) (string, error) {
	switch {
	case noCache || (c.Disabled && flagDir == ""):
		return "", nil
	case flagDir != "":
		return flagDir, nil
	case c.Dir != "":
		return c.Dir, nil
	}
	dir, err := store.DefaultDir()
	if err != nil {
		return "", usageError{fmt.Errorf("finding the embedding store: %w (set --cache-dir or CLIPEVAL_CACHE_DIR, or run with --no-cache)", err)}
	}
	return dir, nil
}

func cmdValidate(ctx context.Context, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
	pluginDir := fs.String("plugin-dir", pluginhost.DefaultDir(), "start the plugins found in `DIR`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	host, err := newHost(*pluginDir, nil)
	if err != nil {
		return err
	}
	defer host.Close()
	r := &run.Runner{Host: host}
	cfg, err := loadConfig(ctx, r, pos, "validate")
	if err != nil {
		return err
	}
	checked, err := r.Check(ctx, cfg, "")
	if err != nil {
		return err
	}
	if err := checked.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d models, %d tasks)\n", cfg.Path, len(cfg.Models), len(cfg.Tasks))
	return nil
}

func cmdPlugins(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	pluginDir := fs.String("plugin-dir", pluginhost.DefaultDir(), "start the plugins found in `DIR`")
	check := fs.Bool("check", false, "run the conformance suite on the plugin executables given as arguments")
	dataset := fs.String("dataset", "", "with --check: a task's dataset and options as the JSON `FILE` {\"dataset\": {...}, \"options\": {...}}, to load and score")
	model := fs.String("model", "", "with --check: a model folder `DIR` for a backend to load and encode with")
	writeSums := fs.Bool("write-sums", false, "record the plugin executables given as arguments in their folder's checksum list ("+pluginsums.File+"), as make build does")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *check && *writeSums {
		return badInput("plugins: --check and --write-sums do not go together")
	}
	if *writeSums {
		return writePluginSums(pos, stdout)
	}
	allow, err := allowUnverified()
	if err != nil {
		return err
	}
	if *check {
		return checkPlugins(ctx, pos, conformance.Options{Dataset: *dataset, Model: *model, Log: stderr, AllowUnverified: allow}, stdout)
	}
	if len(pos) > 0 {
		return badInput("plugins takes no arguments without --check or --write-sums, got %q", pos)
	}
	host := pluginhost.New(*pluginDir, nil)
	defer host.Close()
	host.AllowUnverified(allow)
	found, err := host.List(ctx)
	if err != nil {
		return usageError{err}
	}
	fmt.Fprintf(stdout, "plugins in %s (this clipeval speaks protocol %d; checksums in %s):\n", host.Dir(), sdk.ProtocolVersion, pluginsums.File)
	bad, unlisted := 0, 0
	for _, f := range found {
		var verr *pluginhost.VerifyError
		switch {
		case errors.As(f.Err, &verr) && verr.Unlisted():
			unlisted++
			why := "not in " + pluginsums.File
			if verr.NoList {
				why = "the folder has no " + pluginsums.File
			}
			fmt.Fprintf(stdout, "  %-16s not verified, not run (%s)\n", f.Name, why)
			continue
		case f.Err != nil:
			bad++
			fmt.Fprintf(stdout, "  %-16s ERROR %v\n", f.Name, f.Err)
			continue
		}
		note := ""
		if !f.Verified {
			note = " (unverified: " + pluginhost.AllowUnverifiedEnvVar + " is set)"
		}
		fmt.Fprintf(stdout, "  %-16s %-6s protocol %d  %-10s %s%s\n", f.Name, f.Kind, f.ProtocolVersion, f.Info.Version, f.Info.Description, note)
	}
	var errs []error
	if bad > 0 {
		errs = append(errs, fmt.Errorf("%d plugin(s) could not be started", bad))
	}
	if unlisted > 0 {
		errs = append(errs, fmt.Errorf("%d file(s) are not in %s and were not run: build the plugins with `make build`, record a plugin you trust with "+
			"`clipeval plugins --write-sums PATH`, or set %s=1 to start unverified plugins (development only)",
			unlisted, filepath.Join(host.Dir(), pluginsums.File), pluginhost.AllowUnverifiedEnvVar))
	}
	return errors.Join(errs...)
}

// writePluginSums records the plugin executables paths in their folders' checksum lists (pluginsums.Write).
func writePluginSums(paths []string, stdout io.Writer) error {
	if len(paths) == 0 {
		return badInput("plugins --write-sums takes the plugin executables to record (e.g. bin/plugins/onnx)")
	}
	byDir := map[string][]string{}
	var dirs []string
	for _, p := range paths {
		dir := filepath.Dir(p)
		if _, ok := byDir[dir]; !ok {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], filepath.Base(p))
	}
	for _, dir := range dirs {
		if err := pluginsums.Write(dir, byDir[dir]...); err != nil {
			return usageError{err}
		}
		fmt.Fprintf(stdout, "%s: recorded %d plugin(s)\n", filepath.Join(dir, pluginsums.File), len(byDir[dir]))
	}
	return nil
}

// checkPlugins runs the conformance suite on each plugin executable in paths and prints its report; it fails when
// any case of any plugin fails.
func checkPlugins(ctx context.Context, paths []string, opts conformance.Options, stdout io.Writer) error {
	// The checksum list beside the plugins (bin/plugins/* names it too) is no plugin.
	paths = slices.DeleteFunc(slices.Clone(paths), func(p string) bool { return filepath.Base(p) == pluginsums.File })
	if len(paths) == 0 {
		return badInput("plugins --check takes the plugin executables to check (e.g. bin/plugins/*)")
	}
	failed := 0
	for _, p := range paths {
		rep, err := conformance.Check(ctx, p, opts)
		if err != nil {
			return usageError{fmt.Errorf("plugins --check %s: %w", p, err)}
		}
		if err := rep.WriteTable(stdout); err != nil {
			return err
		}
		if rep.Failed() {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d plugin(s) failed the conformance suite: %w", failed, len(paths), errVerifyFailed)
	}
	return nil
}

// finishedTask returns a copy of res holding only task's runs once models of them are recorded (every model of the
// run has run the task), else nil: what reports.Renderer.Prepare may draw while the run goes on.
func finishedTask(res *results.Results, task string, models int) *results.Results {
	snap := *res
	snap.Models, snap.Tasks, snap.Runs = slices.Clone(res.Models), slices.Clone(res.Tasks), nil
	for _, run := range res.Runs {
		if run.Task == task {
			snap.Runs = append(snap.Runs, run)
		}
	}
	if len(snap.Runs) < models {
		return nil
	}
	return &snap
}

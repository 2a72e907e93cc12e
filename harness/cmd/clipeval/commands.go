package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/run"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
	"github.com/clipeval/clipeval/reports"
)

func lookupEnv(k string) (string, bool) { return os.LookupEnv(k) }

// loadConfig parses the one CONFIG argument.
func loadConfig(pos []string, cmd string) (*config.Config, error) {
	if len(pos) != 1 {
		return nil, badInput("%s takes one CONFIG file, got %d arguments (see clipeval help)", cmd, len(pos))
	}
	cfg, err := config.Load(pos[0], lookupEnv)
	var problems config.Problems
	if err != nil && !errors.As(err, &problems) {
		return nil, usageError{err}
	}
	return cfg, err
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	out := fs.String("out", "", "output folder (default: the config's output.dir)")
	pluginDir := fs.String("plugin-dir", pluginhost.DefaultDir(), "plugin folder")
	pos, err := parse(fs, args, nil)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(pos, "run")
	if err != nil {
		return err
	}
	outDir := cfg.Output.Dir
	if *out != "" {
		outDir = *out
	}
	host := pluginhost.New(*pluginDir, stderr)
	defer host.Close()
	progress := newProgress(stderr)
	r := &run.Runner{Host: host, Version: version, Progress: progress.event}
	fmt.Fprintf(stderr, "clipeval %s: %d model(s) × %d task(s) from %s → %s\n", version, len(cfg.Models), len(cfg.Tasks), cfg.Path, outDir)
	res, runErr := r.Run(ctx, cfg, outDir)
	if res == nil {
		return runErr
	}
	files, err := reports.Write(outDir, res)
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("writing the report: %w", err))
	}
	fmt.Fprintf(stdout, "%s\n", filepath.Join(outDir, "results.json"))
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return runErr
}

func cmdValidate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	pluginDir := fs.String("plugin-dir", pluginhost.DefaultDir(), "plugin folder")
	pos, err := parse(fs, args, nil)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(pos, "validate")
	if err != nil {
		return err
	}
	host := pluginhost.New(*pluginDir, nil)
	defer host.Close()
	r := &run.Runner{Host: host, Version: version}
	if _, _, err := r.Prepare(ctx, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d models, %d tasks)\n", cfg.Path, len(cfg.Models), len(cfg.Tasks))
	return nil
}

func cmdPlugins(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("plugins", flag.ContinueOnError)
	pluginDir := fs.String("plugin-dir", pluginhost.DefaultDir(), "plugin folder")
	pos, err := parse(fs, args, nil)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badInput("plugins takes no arguments, got %q", pos)
	}
	host := pluginhost.New(*pluginDir, nil)
	defer host.Close()
	found, err := host.List(ctx)
	if err != nil {
		return usageError{err}
	}
	fmt.Fprintf(stdout, "plugins in %s (this clipeval speaks protocol %d):\n", host.Dir(), sdk.ProtocolVersion)
	bad := 0
	for _, f := range found {
		if f.Err != nil {
			bad++
			fmt.Fprintf(stdout, "  %-16s ERROR %v\n", f.Name, f.Err)
			continue
		}
		fmt.Fprintf(stdout, "  %-16s %-6s protocol %d  %s\n", f.Name, f.Kind, f.ProtocolVersion, f.Description)
	}
	if bad > 0 {
		return fmt.Errorf("%d plugin(s) could not be started", bad)
	}
	return nil
}

// optionFlags collects repeated --option K=V flags.
type optionFlags map[string]string

func (o optionFlags) String() string { return fmt.Sprint(map[string]string(o)) }

func (o optionFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, have %q", s)
	}
	o[k] = v
	return nil
}

func cmdEmbed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	modelDir := fs.String("model", "", "model folder")
	backend := fs.String("backend", "onnx", "model backend plugin")
	textsFile := fs.String("texts", "", "JSON array of strings to encode")
	out := fs.String("out", "", "output .npy file")
	batch := fs.Int("batch-size", config.DefaultBatchSize, "inputs per backend call")
	pluginDir := fs.String("plugin-dir", pluginhost.DefaultDir(), "plugin folder")
	options := optionFlags{}
	fs.Var(options, "option", "backend option KEY=VALUE (repeatable)")
	var images []string
	pos, err := parse(fs, args, map[string]*[]string{"images": &images})
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return badInput("embed: unexpected arguments %q", pos)
	case *modelDir == "":
		return badInput("embed: --model DIR is required")
	case *out == "":
		return badInput("embed: --out OUT.npy is required")
	case (len(images) == 0) == (*textsFile == ""):
		return badInput("embed: give either --images FILE... or --texts FILE.json")
	case *batch <= 0:
		return badInput("embed: --batch-size must be positive")
	}
	dir, err := filepath.Abs(*modelDir)
	if err != nil {
		return usageError{err}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return badInput("embed: model folder %s does not exist", dir)
	}
	cwd, _ := os.Getwd()
	ref := sdk.ModelRef{Dir: dir, Options: options, BaseDir: cwd}
	var texts []string
	var inputs []sdk.ImageInput
	if *textsFile != "" {
		raw, err := os.ReadFile(*textsFile)
		if err != nil {
			return usageError{fmt.Errorf("embed: %w", err)}
		}
		if err := json.Unmarshal(raw, &texts); err != nil {
			return badInput("embed: %s must be a JSON array of strings: %v", *textsFile, err)
		}
	}
	for _, p := range images {
		abs, err := filepath.Abs(p)
		if err != nil {
			return usageError{err}
		}
		if _, err := os.Stat(abs); err != nil {
			return badInput("embed: image %s does not exist", p)
		}
		inputs = append(inputs, sdk.ImageInput{Path: abs})
	}
	host := pluginhost.New(*pluginDir, stderr)
	defer host.Close()
	m, err := host.Model(*backend)
	if err != nil {
		return err
	}
	if _, err := m.Info(ctx, ref); err != nil {
		return err
	}
	var rows []float32
	cols, n := 0, max(len(inputs), len(texts))
	for lo := 0; lo < n; lo += *batch {
		hi := min(lo+*batch, n)
		var mat sdk.Matrix
		if texts != nil {
			mat, err = m.EncodeTexts(ctx, ref, texts[lo:hi])
		} else {
			mat, err = m.EncodeImages(ctx, ref, inputs[lo:hi])
		}
		if err != nil {
			return err
		}
		cols = mat.Cols
		rows = append(rows, mat.Data...)
		fmt.Fprintf(stderr, "encoded %d/%d\n", hi, n)
	}
	if err := npy.WriteFile(*out, npy.Float32Array([]int{n, cols}, rows)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: float32 [%d,%d]\n", *out, n, cols)
	return nil
}

// progress prints run events to a terminal-friendly log: stage changes at once, encoding counts at most once a
// second and at the end of each input kind.
type progress struct {
	mu   sync.Mutex
	w    io.Writer
	last time.Time
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

func (p *progress) event(ev run.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Stage {
	case "load":
		fmt.Fprintf(p.w, "task %s: loading dataset\n", ev.Task)
	case "score":
		fmt.Fprintf(p.w, "%s · %s: scoring\n", ev.Model, ev.Task)
	case "done":
		fmt.Fprintf(p.w, "%s · %s: done\n", ev.Model, ev.Task)
	default:
		if ev.Done == ev.Total || time.Since(p.last) > time.Second {
			fmt.Fprintf(p.w, "%s · %s: %s %d/%d\n", ev.Model, ev.Task, ev.Stage, ev.Done, ev.Total)
			p.last = time.Now()
		}
	}
}

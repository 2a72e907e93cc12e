// Package conformance is the plugin conformance suite: it runs a clipeval plugin executable, in any language, through
// the checks every plugin must pass — the go-plugin handshake with protocol 2, a well-formed Describe, exactly one
// service, errors (not crashes) on bad input, bounded answer chunks, and a full Load → Score (or Info → Encode)
// round trip on data the caller names — and reports each check as a named case. `clipeval plugins --check PATH`
// prints the report; CI runs it on every plugin in bin/plugins/.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clipeval/clipeval/harness/junit"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// Status is the outcome of one case (junit.Status).
type Status = junit.Status

// Outcomes of a case: Pass (the plugin did what the contract asks), Fail (it broke the contract; Message says
// how), Skip (the case could not run, e.g. it needs a dataset the caller did not name; Message says why).
const (
	Pass = junit.Pass
	Fail = junit.Fail
	Skip = junit.Skip
)

// Case is one named check and its outcome.
type Case struct {
	// Name identifies the check (e.g. "handshake", "load-unknown-key").
	Name string
	// Status is PASS, FAIL or SKIP.
	Status Status
	// Message says what was seen: the reason of a failure or a skip, or a short summary of a pass.
	Message string
	// Elapsed is how long the case took.
	Elapsed time.Duration
}

// Report is the outcome of the suite on one plugin.
type Report struct {
	// Path is the plugin executable checked.
	Path string
	// Kind is the service the plugin serves, sdk.KindModel or sdk.KindTask; empty when it could not be told.
	Kind string
	// Info is what the plugin's Describe said; nil when it could not be asked.
	Info *sdk.PluginInfo
	// Cases are the checks in the order they ran.
	Cases []Case
}

// Failed reports whether any case failed.
func (r *Report) Failed() bool {
	for _, c := range r.Cases {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Case returns the case called name, or nil when it did not run.
func (r *Report) Case(name string) *Case {
	for i := range r.Cases {
		if r.Cases[i].Name == name {
			return &r.Cases[i]
		}
	}
	return nil
}

// Counts returns how many cases passed, failed and were skipped.
func (r *Report) Counts() (passed, failed, skipped int) {
	for _, c := range r.Cases {
		switch c.Status {
		case Pass:
			passed++
		case Fail:
			failed++
		case Skip:
			skipped++
		}
	}
	return passed, failed, skipped
}

// WriteTable writes the report as a human-readable table: a title line, one row per case (multi-line messages
// folded onto one line) and a summary line.
func (r *Report) WriteTable(w io.Writer) error {
	title := filepath.Base(r.Path)
	if r.Info != nil {
		title = fmt.Sprintf("%s %s", r.Info.Name, r.Info.Version)
	}
	kind := r.Kind
	if kind == "" {
		kind = "unknown kind"
	}
	if _, err := fmt.Fprintf(w, "plugin %s (%s): %s\n", title, kind, r.Path); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tRESULT\tTIME\tMESSAGE")
	for _, c := range r.Cases {
		fmt.Fprintf(tw, "%s\t%s\t%.2fs\t%s\n", c.Name, c.Status, c.Elapsed.Seconds(), oneLine(c.Message))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	p, f, s := r.Counts()
	verdict := "conforms"
	if f > 0 {
		verdict = "DOES NOT CONFORM"
	}
	if _, err := fmt.Fprintf(w, "%d passed, %d failed, %d skipped: %s\n", p, f, s, verdict); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// oneLine folds a multi-line message (a plugin's last output) onto one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ⏎ ")
}

// Options tune the suite. The zero value runs every check that needs no data.
type Options struct {
	// Dataset, for a task plugin, is a JSON file {"dataset": {...}, "options": {...}} holding what an experiment
	// config would say under the task's `dataset:` and `options:`; relative paths in fields the task declares as
	// "path" are resolved against the file's folder, as the harness resolves them against the config's. With it the
	// suite loads the dataset, scores random embeddings against it and checks the answer.
	Dataset string
	// Model, for a model backend, is a model folder to check, describe and encode a few texts and images with.
	Model string
	// ModelOptions are the backend options to pass with Model (a config's `options:`).
	ModelOptions map[string]string
	// Dim is the width of the random embeddings a task is scored with; 0 means 64.
	Dim int
	// LargeBytes is the size the large-message case's biggest embedding file must exceed; 0 means just over the
	// 256 MiB gRPC message limit (sdk.MaxMessageBytes), which is what the case proves embeddings are not sent
	// through; negative skips the case.
	LargeBytes int64
	// StartTimeout bounds the handshake; 0 means 10 s.
	StartTimeout time.Duration
	// CallTimeout bounds each call to the plugin; 0 means 2 minutes.
	CallTimeout time.Duration
	// WorkDir is where embedding files and the task's work folder go; empty means a temporary folder removed
	// afterwards.
	WorkDir string
	// Log receives the plugin's log lines; nil discards them.
	Log io.Writer
	// Seed seeds the random embeddings.
	Seed uint64
	// AllowUnverified checks a plugin missing from its folder's checksum list (pluginhost.Host.AllowUnverified);
	// without it such a plugin is not run and Check returns its *pluginhost.VerifyError.
	AllowUnverified bool
}

// maxLargeCols is the widest embedding the large-message case writes: a file over 256 MiB at this width needs a
// dataset of more than 65,536 rows, which is when the case runs.
const maxLargeCols = 1024

// defaults fills in the zero fields of o.
func (o Options) defaults() Options {
	if o.Dim <= 0 {
		o.Dim = 64
	}
	if o.LargeBytes == 0 {
		o.LargeBytes = sdk.MaxMessageBytes
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 10 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 2 * time.Minute
	}
	return o
}

// datasetFile is the JSON file Options.Dataset names.
type datasetFile struct {
	Dataset map[string]any `json:"dataset"`
	Options map[string]any `json:"options"`
}

// readDatasetFile reads the file Options.Dataset names.
func readDatasetFile(path string) (*datasetFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the conformance dataset: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var f datasetFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("conformance dataset %s: want {\"dataset\": {...}, \"options\": {...}}: %w", path, err)
	}
	if f.Dataset == nil {
		return nil, fmt.Errorf("conformance dataset %s: no \"dataset\" object", path)
	}
	if f.Options == nil {
		f.Options = map[string]any{}
	}
	return &f, nil
}

// checker runs the cases on one plugin.
type checker struct {
	opts   Options
	host   *pluginhost.Host
	path   string
	name   string
	work   string
	report *Report
	rng    *rand.Rand
	// dsDir is the folder of Options.Dataset, against which relative path fields are resolved.
	dsDir string
	ds    *datasetFile
}

// outcome is what a case function returns.
type outcome struct {
	status Status
	msg    string
}

func pass(format string, a ...any) outcome { return outcome{Pass, fmt.Sprintf(format, a...)} }
func fail(format string, a ...any) outcome { return outcome{Fail, fmt.Sprintf(format, a...)} }
func skip(format string, a ...any) outcome { return outcome{Skip, fmt.Sprintf(format, a...)} }

// run runs one case under the call timeout and records it.
func (c *checker) run(ctx context.Context, name string, f func(ctx context.Context) outcome) outcome {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	o := f(cctx)
	if o.status == Fail && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		o.msg = fmt.Sprintf("no answer within %s: %s", c.opts.CallTimeout, o.msg)
	}
	c.report.Cases = append(c.report.Cases, Case{Name: name, Status: o.status, Message: o.msg, Elapsed: time.Since(start)})
	return o
}

// Check runs the conformance suite on the plugin executable at path and returns its report. The error is for
// what stops the suite from running at all (no such executable, an unreadable Options.Dataset); a plugin that
// breaks the contract is a report with failed cases.
func Check(ctx context.Context, path string, opts Options) (*Report, error) {
	opts = opts.defaults()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("plugin path %s: %w", path, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("checking plugin: %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("checking plugin: %s is not an executable file", abs)
	}
	c := &checker{opts: opts, path: abs, name: filepath.Base(abs), report: &Report{Path: abs},
		rng: rand.New(rand.NewPCG(opts.Seed, 0x636c6970))}
	if opts.Dataset != "" {
		if c.ds, err = readDatasetFile(opts.Dataset); err != nil {
			return nil, err
		}
		dsAbs, err := filepath.Abs(opts.Dataset)
		if err != nil {
			return nil, fmt.Errorf("conformance dataset %s: %w", opts.Dataset, err)
		}
		c.dsDir = filepath.Dir(dsAbs)
	}
	c.work = opts.WorkDir
	if c.work == "" {
		if c.work, err = os.MkdirTemp("", "clipeval-conformance-"); err != nil {
			return nil, fmt.Errorf("conformance work folder: %w", err)
		}
		defer os.RemoveAll(c.work)
	} else if err := os.MkdirAll(c.work, 0o755); err != nil {
		return nil, fmt.Errorf("conformance work folder: %w", err)
	}
	c.host = pluginhost.New(filepath.Dir(abs), opts.Log)
	defer c.host.Close()
	// A crash is what the suite looks for: the host must not hide it by starting the plugin again.
	pol := c.host.Policy()
	pol.Attempts = 1
	c.host.SetPolicy(pol)
	c.host.AllowUnverified(opts.AllowUnverified)
	if err := c.host.Verify(c.name); err != nil {
		var verr *pluginhost.VerifyError
		if !errors.As(err, &verr) || !verr.Unlisted() || !opts.AllowUnverified {
			return nil, fmt.Errorf("checking plugin: %w", err)
		}
	}

	if o := c.run(ctx, "handshake", c.handshake); o.status != Pass {
		return c.report, nil
	}
	if o := c.run(ctx, "service", c.service); o.status != Pass {
		return c.report, nil
	}
	c.run(ctx, "describe", c.describe)
	c.run(ctx, "describe-fields", c.describeFields)
	switch c.report.Kind {
	case sdk.KindTask:
		c.taskCases(ctx)
	case sdk.KindModel:
		c.modelCases(ctx)
	}
	return c.report, nil
}

// handshake starts the plugin, negotiates the protocol and asks what it is, within the start timeout.
func (c *checker) handshake(ctx context.Context) outcome {
	type result struct {
		kind    string
		version int
		err     error
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		kind, version, _, err := c.host.Describe(ctx, c.name)
		done <- result{kind, version, err}
	}()
	select {
	case r := <-done:
		if r.version == 0 {
			return fail("no handshake: %v", r.err)
		}
		if r.version != sdk.ProtocolVersion {
			return fail("negotiated protocol %d, want %d", r.version, sdk.ProtocolVersion)
		}
		return pass("protocol %d negotiated in %.2fs", r.version, time.Since(start).Seconds())
	case <-ctx.Done():
		return fail("no handshake within %s (the plugin must print go-plugin's handshake line, e.g. "+
			"\"1|2|tcp|127.0.0.1:PORT|grpc\", on stdout and flush it)", c.opts.StartTimeout)
	}
}

// service checks that the plugin serves exactly one of the Model and Task services.
func (c *checker) service(ctx context.Context) outcome {
	m, err := c.host.Model(c.name)
	if err != nil {
		return fail("starting: %v", err)
	}
	mInfo, mErr := m.Describe(ctx, sdk.DescribeRequest{})
	t, err := c.host.Task(c.name)
	if err != nil {
		return fail("starting: %v", err)
	}
	tInfo, tErr := t.Describe(ctx, sdk.DescribeRequest{})
	switch {
	case mErr == nil && tErr == nil:
		return fail("serves both the Model and the Task service; a plugin serves exactly one")
	case mErr == nil && sdk.IsUnimplemented(tErr):
		c.report.Kind, c.report.Info = sdk.KindModel, mInfo
		return pass("serves the Model service")
	case tErr == nil && sdk.IsUnimplemented(mErr):
		c.report.Kind, c.report.Info = sdk.KindTask, tInfo
		return pass("serves the Task service")
	case mErr == nil:
		return fail("serves the Model service, but Task/Describe answered %v instead of Unimplemented", tErr)
	case tErr == nil:
		return fail("serves the Task service, but Model/Describe answered %v instead of Unimplemented", mErr)
	}
	return fail("neither service answers Describe: Model: %v; Task: %v", mErr, tErr)
}

// describe checks the plugin's name, version and protocol version.
func (c *checker) describe(context.Context) outcome {
	info := c.report.Info
	if probs := infoProblems(info); len(probs) > 0 {
		return fail("%s", strings.Join(probs, "; "))
	}
	msg := fmt.Sprintf("%s %s, protocol %d", info.Name, info.Version, info.ProtocolVersion)
	if info.Name != c.name {
		msg += fmt.Sprintf(" (installed as %q)", c.name)
	}
	return pass("%s", msg)
}

// describeFields checks the config fields the plugin declares.
func (c *checker) describeFields(context.Context) outcome {
	info := c.report.Info
	probs := fieldProblems("option_fields", info.OptionFields)
	probs = append(probs, fieldProblems("dataset_fields", info.DatasetFields)...)
	if c.report.Kind == sdk.KindModel && len(info.DatasetFields) > 0 {
		probs = append(probs, "a model backend declares dataset_fields; only tasks have a dataset")
	}
	if len(probs) > 0 {
		return fail("%s", strings.Join(probs, "; "))
	}
	return pass("%d option fields, %d dataset fields", len(info.OptionFields), len(info.DatasetFields))
}

// alive checks that the plugin process is still running and answers Describe after a call that was refused.
// p is the process the call went to (a later Model or Task call would start a fresh one).
func (c *checker) alive(ctx context.Context, p *pluginhost.Plugin, describe func(context.Context) error) error {
	if p.Exited() {
		return fmt.Errorf("the plugin process exited (crashed) instead of returning an error")
	}
	if err := describe(ctx); err != nil {
		return fmt.Errorf("the plugin no longer answers Describe: %w", err)
	}
	return nil
}

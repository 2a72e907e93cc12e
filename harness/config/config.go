// Package config reads clipeval experiment configs (YAML): models, tasks and output, with `${VAR}` and
// `${VAR:-default}` expansion, paths relative to the config file, and every problem reported as
// `file:line:col: message`.
package config

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// Pos is a place in a config file.
type Pos struct {
	File      string
	Line, Col int
}

// String formats the place as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Problem is one thing wrong with a config, at a place.
type Problem struct {
	Pos Pos
	Msg string
}

// Error formats the problem as file:line:col: message.
func (p Problem) Error() string { return p.Pos.String() + ": " + p.Msg }

// Problems is every problem found in a config; it is an error.
type Problems []Problem

// Error lists the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Addf appends the problem at pos whose message is format with args (fmt.Sprintf).
func (ps *Problems) Addf(pos Pos, format string, args ...any) {
	*ps = append(*ps, Problem{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Config is a parsed experiment config.
type Config struct {
	// Path is the config file as given; Dir is its folder, against which relative paths resolve.
	Path, Dir string
	// SHA256 is the hex digest of the file's bytes.
	SHA256 string
	Models []Model
	Tasks  []Task
	Output Output
	// Tolerance is the `compare:` section: absolute regression tolerances as written, in each metric's display unit.
	Tolerance Tolerance
	// Cache is the `cache:` section: the embedding store's location and use.
	Cache Cache
	// Plugins is the `plugins:` section: what the plugin processes get from the harness.
	Plugins Plugins
}

// Plugins is the `plugins:` section. Env names variables of the harness's environment that every plugin process
// gets besides the base set the plugin host passes (PATH, HOME, TMPDIR, the locale, CLIPEVAL_*, thread counts,
// PYTHON*: see docs/writing-plugins.md), e.g. a token a backend reads; a variable named but not set is not passed.
type Plugins struct {
	Env []string
}

// Cache is where a config keeps its embeddings: Dir (absolute; empty means the machine's default store) unless
// Disabled.
type Cache struct {
	Dir      string
	Disabled bool
}

// Tolerance is a regression gate, in display units: Default (percentage points) for fraction metrics, Units for
// the metrics of other units (in that unit: ranks, counts, values), Metrics for named ones (in the metric's display
// unit: points for a fraction, ranks for a rank, ...). The units are only known from the results, so compare
// applies them.
type Tolerance struct {
	Default float64
	Units   map[string]float64
	Metrics map[string]float64
}

// DefaultTolerance is the gate of fraction metrics when the config sets none: half a percentage point.
const DefaultTolerance = 0.5

// Model is one entry of `models:`.
type Model struct {
	Name string
	// Backend is the model plugin's name in the plugin folder (default "onnx").
	Backend string
	// Path is the model folder, absolute.
	Path string
	// Options are passed to the backend as strings.
	Options map[string]string
	// BatchSize is how many images or texts go to the backend per call (default 32).
	BatchSize int
	Pos       Pos
	// optionsNode is the `options:` mapping, typed later against the backend's declared options (CheckModel).
	optionsNode *yaml.Node
	// keys are where the model's keys are written: "path" and "options.NAME".
	keys map[string]Pos
}

// Task is one entry of `tasks:`. Dataset and Options stay YAML nodes until the task plugin's schema types them.
type Task struct {
	Name string
	// Plugin is the task plugin's name in the plugin folder.
	Plugin  string
	Dataset *yaml.Node
	Options *yaml.Node
	// Published holds published values by model name and metric, as fractions (the config writes percentages, as
	// papers print them).
	Published map[string]map[string]float64
	// BadImages is what a bad image (one that cannot be read or decoded) does: BadImagesFail (the default) or
	// BadImagesSkip.
	BadImages string
	Pos       Pos
}

// The values of a task's `bad_images:`.
const (
	// BadImagesFail stops the task's runs at the first bad image, naming its file (the default).
	BadImagesFail = "fail"
	// BadImagesSkip leaves out the items that need a bad image, and records each such image with its error in the
	// results and the report.
	BadImagesSkip = "skip"
)

// Output is the `output:` section.
type Output struct {
	// Dir is where results.json, report.md and plots/ go, absolute (default runs/<config name> beside the config).
	Dir string
	// Plots are the plot formats to write (default png and svg).
	Plots []string
}

// DefaultBatchSize is the default number of inputs per backend call.
const DefaultBatchSize = 32

// MaxBytes is the largest config file Load reads (16 MiB).
const MaxBytes = 16 << 20

// Load reads a config and checks its structure; task `dataset:`/`options:` contents are checked against the task
// plugins' schemas by CheckTask. getenv expands variables (os.Getenv in the CLI).
//
// When the config has problems the error is Problems, sorted by position, and the Config comes back too, as far as
// it could be parsed, so that a caller can still check its tasks and report every problem in one pass (merge them
// with Problems.Sorted). The Config is nil only when the file cannot be read, is not valid YAML or is empty. A
// Config returned with problems holds only the tasks that name their plugin (`task:`); it must not be run.
func Load(path string, getenv func(string) (string, bool)) (*Config, error) {
	raw, err := sdk.ReadFileAtMost(path, MaxBytes)
	if errors.Is(err, sdk.ErrTooLarge) {
		return nil, fmt.Errorf("reading config: %w (a config is a YAML file of a few kilobytes: check the path)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	sum := sha256.Sum256(raw)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w (give a path clipeval can resolve from the working folder)", path, err)
	}
	c := &Config{Path: path, Dir: filepath.Dir(abs), SHA256: hex.EncodeToString(sum[:])}
	p := &parser{file: path, getenv: getenv}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, Problems{syntaxProblem(path, raw, err)}
	}
	// A document with nothing in it ("---" alone) holds an empty scalar placed after its last line.
	if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" && doc.Content[0].Value == "" {
		return nil, Problems{{Pos{path, 1, 1}, "config is empty: want a mapping with models:, tasks: and output:"}}
	}
	root := doc.Content[0]
	p.duplicateKeys(root)
	p.expandAll(root)
	p.parseRoot(c, root)
	if len(p.problems) > 0 {
		return c, p.problems.Sorted()
	}
	return c, nil
}

// Sorted returns the problems ordered by file, line and column (problems at one place keep their order): the
// order to print the problems of several checks of one config (Load, CheckTask) in.
func (ps Problems) Sorted() Problems {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	return out
}

type parser struct {
	file     string
	getenv   func(string) (string, bool)
	problems Problems
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{p.file, n.Line, n.Column} }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.problems = append(p.problems, Problem{p.pos(n), fmt.Sprintf(format, args...)})
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandAll replaces ${VAR} and ${VAR:-default} in every scalar.
func (p *parser) expandAll(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = varRE.ReplaceAllStringFunc(n.Value, func(m string) string {
			sub := varRE.FindStringSubmatch(m)
			if v, ok := p.getenv(sub[1]); ok && v != "" {
				return v
			}
			if sub[2] != "" {
				return sub[3]
			}
			p.errorf(n, "variable %s is not set (set it in the environment, or write ${%s:-default})", sub[1], sub[1])
			return m
		})
	}
	for _, c := range n.Content {
		p.expandAll(c)
	}
}

// fields checks that n is a mapping with only the allowed keys and returns key → value node.
func (p *parser) fields(n *yaml.Node, what string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping, is %s", what, kindName(n))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !contains(allowed, k.Value) {
			p.errorf(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			continue // reported by duplicateKeys; the first one counts
		}
		out[k.Value] = v
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return fmt.Sprintf("%s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
}

// str reads a non-empty string scalar.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Value == "" {
		p.errorf(n, "%s must be a non-empty string, is %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) parseRoot(c *Config, root *yaml.Node) {
	f := p.fields(root, "the config", "models", "tasks", "output", "compare", "cache", "plugins")
	if f == nil {
		return
	}
	if n, ok := f["models"]; !ok {
		p.errorf(root, "missing models: (a list of model folders to evaluate)")
	} else {
		p.parseModels(c, n)
	}
	if n, ok := f["tasks"]; !ok {
		p.errorf(root, "missing tasks: (a list of benchmark tasks)")
	} else {
		p.parseTasks(c, n)
	}
	c.Output = Output{Dir: filepath.Join(c.Dir, "runs", strings.TrimSuffix(filepath.Base(c.Path), filepath.Ext(c.Path))), Plots: []string{"png", "svg"}}
	if n, ok := f["output"]; ok {
		p.parseOutput(c, n)
	}
	c.Tolerance = Tolerance{Default: DefaultTolerance, Units: map[string]float64{}, Metrics: map[string]float64{}}
	if n, ok := f["compare"]; ok {
		p.parseCompare(c, n)
	}
	if n, ok := f["cache"]; ok {
		p.parseCache(c, n)
	}
	if n, ok := f["plugins"]; ok {
		p.parsePlugins(c, n)
	}
}

// envNameRE is what a variable name the plugins get may be: a portable shell name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parsePlugins reads `plugins: {env: [NAME, ...]}`: the variables plugins get besides the plugin host's base set.
func (p *parser) parsePlugins(c *Config, n *yaml.Node) {
	f := p.fields(n, "plugins", "env")
	v, ok := f["env"]
	if !ok {
		return
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "plugins env must be a list of environment variable names (e.g. [HF_TOKEN]), is %s", kindName(v))
		return
	}
	for _, e := range v.Content {
		name, ok := p.str(e, "a plugins env entry")
		switch {
		case !ok:
		case !envNameRE.MatchString(name):
			p.errorf(e, "plugins env: %q is not an environment variable name (letters, digits and _, not starting with a digit; no =VALUE: the value comes from the environment)", name)
		case strings.HasPrefix(name, "PLUGIN_"):
			p.errorf(e, "plugins env: %s is set by the plugin host for the go-plugin handshake; it cannot be passed", name)
		case slices.Contains(c.Plugins.Env, name):
			p.errorf(e, "plugins env: %s is named twice", name)
		default:
			c.Plugins.Env = append(c.Plugins.Env, name)
		}
	}
}

// parseCache reads `cache: {dir: PATH, enabled: BOOL}`: where the embedding store lives (relative to the config's
// folder; the folder is made when missing) and whether the run uses it.
func (p *parser) parseCache(c *Config, n *yaml.Node) {
	f := p.fields(n, "cache", "dir", "enabled")
	if v, ok := f["dir"]; ok {
		if s, ok := p.str(v, "cache dir"); ok {
			c.Cache.Dir = resolve(c.Dir, s)
		}
	}
	if v, ok := f["enabled"]; ok {
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
			p.errorf(v, "cache enabled must be true or false, is %s", kindName(v))
		} else {
			off := v.Value == "false"
			c.Cache.Disabled = off
		}
	}
}

// parseCompare reads `compare: {tolerance: POINTS, units: {UNIT: AMOUNT}, metrics: {NAME: AMOUNT}}`: the default
// of fraction metrics in percentage points, defaults of the other units (rank, count, value) in that unit, and
// named metrics' tolerances in their display unit.
func (p *parser) parseCompare(c *Config, n *yaml.Node) {
	f := p.fields(n, "compare", "tolerance", "units", "metrics")
	if v, ok := f["tolerance"]; ok {
		if t, ok := p.amount(v, "compare tolerance", "percentage points"); ok {
			c.Tolerance.Default = t
		}
	}
	if v, ok := f["units"]; ok {
		for name, t := range p.amounts(v, "compare units", "in that unit") {
			c.Tolerance.Units[name] = t
		}
		for i := 0; v.Kind == yaml.MappingNode && i+1 < len(v.Content); i += 2 {
			if u := v.Content[i].Value; u != "rank" && u != "count" && u != "value" {
				p.errorf(v.Content[i], "compare units: unit %q: want rank, count or value (fractions use tolerance:)", u)
			}
		}
	}
	if v, ok := f["metrics"]; ok {
		for name, t := range p.amounts(v, "compare metrics", "in the metric's display unit: points for fractions") {
			c.Tolerance.Metrics[name] = t
		}
	}
}

// amount reads a non-negative number.
func (p *parser) amount(n *yaml.Node, what, unit string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		if v, err := strconv.ParseFloat(n.Value, 64); err == nil && v >= 0 && !math.IsInf(v, 0) {
			return v, true
		}
	}
	p.errorf(n, "%s must be a non-negative number (%s), is %s", what, unit, kindName(n))
	return 0, false
}

// amounts reads a mapping of names to non-negative numbers.
func (p *parser) amounts(n *yaml.Node, what, unit string) map[string]float64 {
	out := map[string]float64{}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping of names to numbers, is %s", what, kindName(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v, ok := p.amount(n.Content[i+1], what+": "+n.Content[i].Value, unit); ok {
			out[n.Content[i].Value] = v
		}
	}
	return out
}

// points reads a non-negative number of percentage points as a fraction.
func (p *parser) points(n *yaml.Node, what string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		if v, err := strconv.ParseFloat(n.Value, 64); err == nil && v >= 0 {
			return v / 100, true
		}
	}
	p.errorf(n, "%s must be a non-negative number (percentage points), is %s", what, kindName(n))
	return 0, false
}

// pointsMap reads a mapping of names to percentages as fractions.
func (p *parser) pointsMap(n *yaml.Node, what string) map[string]float64 {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping of metric names to numbers, is %s", what, kindName(n))
		return nil
	}
	out := map[string]float64{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if _, dup := out[n.Content[i].Value]; dup {
			continue // reported by duplicateKeys; the first one counts
		}
		if v, ok := p.points(n.Content[i+1], what+": "+n.Content[i].Value); ok {
			out[n.Content[i].Value] = v
		}
	}
	return out
}

func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n, "%s must be a non-empty list, is %s", what, kindName(n))
		return nil
	}
	return n.Content
}

func (p *parser) parseModels(c *Config, n *yaml.Node) {
	seen := map[string]bool{}
	for _, item := range p.list(n, "models") {
		f := p.fields(item, "a model", "name", "backend", "path", "options", "batch_size")
		if f == nil {
			continue
		}
		m := Model{Backend: "onnx", BatchSize: DefaultBatchSize, Options: map[string]string{}, Pos: p.pos(item), keys: map[string]Pos{}}
		m.Name = p.required(item, f, "name", "model")
		if m.Name != "" && seen[m.Name] {
			p.errorf(f["name"], "model name %q is used twice", m.Name)
		}
		seen[m.Name] = true
		if v, ok := f["backend"]; ok {
			m.Backend, _ = p.str(v, "backend")
		}
		if v, ok := f["path"]; !ok {
			p.errorf(item, "model %q has no path: (its model folder)", m.Name)
		} else if s, ok := p.str(v, "path"); ok {
			m.keys["path"] = p.pos(v)
			m.Path, _ = p.existing(v, c.Dir, s, true)
		}
		if v, ok := f["options"]; ok {
			m.optionsNode = v
			for k, val := range p.scalarMap(v, "model options") {
				m.Options[k] = val
			}
			for i := 0; v.Kind == yaml.MappingNode && i+1 < len(v.Content); i += 2 {
				m.keys["options."+v.Content[i].Value] = p.pos(v.Content[i+1])
			}
		}
		if v, ok := f["batch_size"]; ok {
			if b, ok := p.intValue(v, "batch_size"); ok {
				if b <= 0 {
					p.errorf(v, "batch_size must be positive, is %d", b)
				}
				m.BatchSize = b
			}
		}
		c.Models = append(c.Models, m)
	}
}

func (p *parser) required(item *yaml.Node, f map[string]*yaml.Node, key, what string) string {
	v, ok := f[key]
	if !ok {
		p.errorf(item, "%s has no %s:", what, key)
		return ""
	}
	s, _ := p.str(v, key)
	return s
}

func (p *parser) parseTasks(c *Config, n *yaml.Node) {
	seen := map[string]bool{}
	for _, item := range p.list(n, "tasks") {
		f := p.fields(item, "a task", "name", "task", "dataset", "options", "published", "bad_images")
		if f == nil {
			continue
		}
		t := Task{Pos: p.pos(item)}
		t.Name = p.required(item, f, "name", "task")
		if t.Name != "" && seen[t.Name] {
			p.errorf(f["name"], "task name %q is used twice", t.Name)
		}
		seen[t.Name] = true
		t.Plugin = p.required(item, f, "task", fmt.Sprintf("task %q", t.Name))
		t.Dataset, t.Options = f["dataset"], f["options"]
		if v, ok := f["published"]; ok {
			t.Published = p.published(v)
		}
		t.BadImages = BadImagesFail
		if v, ok := f["bad_images"]; ok {
			if s, ok := p.str(v, "bad_images"); ok {
				if s != BadImagesFail && s != BadImagesSkip {
					p.errorf(v, "task %q: bad_images %q: want %s (a bad image stops the run, the default) or %s (its items are left out, and listed in the results and the report)",
						t.Name, s, BadImagesFail, BadImagesSkip)
				}
				t.BadImages = s
			}
		}
		if t.Dataset == nil {
			p.errorf(item, "task %q has no dataset:", t.Name)
		}
		if t.Plugin != "" {
			c.Tasks = append(c.Tasks, t)
		}
	}
}

// published reads `published: {MODEL: {METRIC: PERCENT}}`.
func (p *parser) published(n *yaml.Node) map[string]map[string]float64 {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "published must map model names to {metric: percent}, is %s", kindName(n))
		return nil
	}
	out := map[string]map[string]float64{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if _, dup := out[n.Content[i].Value]; dup {
			continue // reported by duplicateKeys; the first one counts
		}
		out[n.Content[i].Value] = p.pointsMap(n.Content[i+1], "published "+n.Content[i].Value)
	}
	return out
}

func (p *parser) parseOutput(c *Config, n *yaml.Node) {
	f := p.fields(n, "output", "dir", "plots")
	if v, ok := f["dir"]; ok {
		if s, ok := p.str(v, "output dir"); ok {
			c.Output.Dir = resolve(c.Dir, s)
		}
	}
	if v, ok := f["plots"]; ok {
		c.Output.Plots = nil
		if v.Kind != yaml.SequenceNode {
			p.errorf(v, "plots must be a list of formats (png, svg), is %s", kindName(v))
			return
		}
		for _, e := range v.Content {
			if e.Value != "png" && e.Value != "svg" {
				p.errorf(e, "plot format %q: want png or svg", e.Value)
				continue
			}
			c.Output.Plots = append(c.Output.Plots, e.Value)
		}
	}
}

// resolve makes a config path absolute, relative to the config's folder.
func resolve(dir, s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(dir, s)
}

// existing resolves a path and checks that it exists (and is a folder when dir is set). A path still holding an
// unset ${VAR} has been reported already.
func (p *parser) existing(n *yaml.Node, base, s string, dir bool) (string, bool) {
	abs := resolve(base, s)
	if varRE.MatchString(s) {
		return abs, false
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		p.errorf(n, "%s does not exist", abs)
		return abs, false
	case err != nil:
		p.errorf(n, "%v", err)
		return abs, false
	case dir && !st.IsDir():
		p.errorf(n, "%s is not a folder", abs)
		return abs, false
	}
	return abs, true
}

func (p *parser) intValue(n *yaml.Node, what string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		if v, err := strconv.Atoi(n.Value); err == nil {
			return v, true
		}
	}
	p.errorf(n, "%s must be an integer, is %s", what, kindName(n))
	return 0, false
}

// scalarMap reads a mapping of scalars as strings.
func (p *parser) scalarMap(n *yaml.Node, what string) map[string]string {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping, is %s", what, kindName(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := out[k.Value]; dup {
			continue // reported by duplicateKeys; the first one counts
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.errorf(v, "%s: %s must be a single value, is %s", what, k.Value, kindName(v))
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

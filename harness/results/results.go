// Package results defines results.json: the metrics of every model × task of a run, with the provenance needed to
// trust and reproduce them, and reads/writes it atomically.
package results

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/atomicfile"
)

// SchemaVersion is the version of the results.json layout: 2 since protocol v2 (metrics declare their direction,
// unit and structure; plugins their versions).
const SchemaVersion = 2

// Value is a metric value; NaN (an undefined metric, e.g. acc5 with fewer than 5 classes) is written as JSON null.
type Value float64

// MarshalJSON writes NaN and infinities as null.
func (v Value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads null as NaN.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Value(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = Value(f)
	return nil
}

// Results is the content of results.json.
type Results struct {
	Schema int `json:"schema"`
	// Clipeval is the clipeval version that made the run.
	Clipeval string `json:"clipeval_version"`
	// Runtime is the inference runtime and version the model backends reported (e.g. "onnxruntime 1.30.0").
	Runtime string `json:"runtime"`
	// Config is the experiment config the run used.
	Config ConfigInfo `json:"config"`
	// Started is when the run began (UTC).
	Started time.Time `json:"started"`
	// WallSeconds is the run's wall time so far.
	WallSeconds float64 `json:"wall_seconds"`
	// Models are the models evaluated, in config order.
	Models []Model `json:"models"`
	// Tasks are the tasks run, in config order.
	Tasks []Task `json:"tasks"`
	// Runs hold one entry per model × task, in config order (models outer).
	Runs []Run `json:"runs"`
	// Tolerance is the regression gate the config set for `clipeval compare` and `run --baseline`.
	Tolerance Tolerance `json:"tolerance"`
	// Interrupted, when set, says that the run was stopped before its end, by what and where: Runs holds only the
	// model × task runs that finished before it.
	Interrupted string `json:"interrupted,omitempty"`
	// Kept holds, in an interrupted run, the finished runs of the earlier results.json in the same folder that
	// this run did not reach, so that running again still resumes from them; reports do not show them.
	Kept []Run `json:"kept_runs,omitempty"`
}

// Tolerance holds the regression gate's absolute tolerances as the config writes them, in each metric's display
// unit: percentage points for fraction metrics, the metric's own unit (ranks, counts, values) otherwise.
type Tolerance struct {
	// Default applies to fraction metrics without their own tolerance, in percentage points.
	Default float64 `json:"default_points"`
	// Units holds the default tolerance of metrics of the other units, in that unit (e.g. rank: 1); 0 where unset.
	Units map[sdk.Unit]float64 `json:"units,omitempty"`
	// Metrics maps metric names to their tolerance in the metric's display unit.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// ConfigInfo identifies the experiment config.
type ConfigInfo struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Model describes one evaluated model.
type Model struct {
	Name          string            `json:"name"`
	Backend       string            `json:"backend"`
	Dir           string            `json:"dir"`
	EmbedDim      int               `json:"embed_dim"`
	ImageSize     int               `json:"image_size"`
	ContextLength int               `json:"context_length"`
	LogitScale    float64           `json:"logit_scale"`
	Tokenizer     string            `json:"tokenizer"`
	Runtime       string            `json:"runtime"`
	Files         map[string]string `json:"files_sha256"`
	// PluginVersion is the backend plugin's own version.
	PluginVersion string `json:"plugin_version"`
}

// Task describes one task and the dataset it loaded.
type Task struct {
	Name   string `json:"name"`
	Plugin string `json:"plugin"`
	// PluginVersion is the task plugin's own version.
	PluginVersion string `json:"plugin_version"`
	DatasetSize   int    `json:"dataset_size"`
	Images        int    `json:"images"`
	Texts         int    `json:"texts"`
	Description   string `json:"description"`
	// DatasetSHA256 hashes the dataset's files (sorted paths, sizes and content digests); DatasetFiles and
	// DatasetBytes count them.
	DatasetSHA256 string `json:"dataset_sha256"`
	DatasetFiles  int    `json:"dataset_files"`
	DatasetBytes  int64  `json:"dataset_bytes"`
	// Published holds published values to compare with, by model name and metric, in metric units (fractions).
	Published map[string]map[string]Value `json:"published,omitempty"`
}

// Run is the outcome of one model on one task.
type Run struct {
	Model  string `json:"model"`
	Task   string `json:"task"`
	Plugin string `json:"plugin"`
	// Key identifies the run's inputs (model fingerprint, task plugin and version, dataset and options, dataset
	// digest): a re-run keeps a finished run whose key is unchanged.
	Key     string           `json:"key,omitempty"`
	Metrics map[string]Value `json:"metrics"`
	// Kinds says, for every metric, which way it improves and what it counts, as the task declared.
	Kinds       map[string]Kind  `json:"metric_kinds"`
	Headline    []string         `json:"headline"`
	Curves      []sdk.Curve      `json:"curves,omitempty"`
	Predictions []sdk.Prediction `json:"predictions,omitempty"`
	WallSeconds float64          `json:"wall_seconds"`
	// Mode says how the numbers were made (e.g. "zero-shot", "linear-probe").
	Mode string `json:"mode,omitempty"`
	// Intervals are 95% bootstrap confidence intervals [low, high] of metrics.
	Intervals map[string][2]Value `json:"intervals,omitempty"`
	// ItemValues are per-item values of metrics that are item means, for paired comparisons.
	ItemValues map[string][]float64 `json:"item_values,omitempty"`
	// Confusion holds the confusion matrices of the metrics that have one, by metric name.
	Confusion map[string]*sdk.Confusion `json:"confusion,omitempty"`
	// Skipped are the bad images this run left out, in the task's image order (its `bad_images: skip`): the items
	// that needed them are not in the metrics.
	Skipped []SkippedImage `json:"skipped_images,omitempty"`
	// Error is set when this model × task failed; the other runs still count.
	Error string `json:"error,omitempty"`
}

// SkippedImage is a bad image a run left out: the image (its file, or "<shard>#<member>") and why it could not be
// read or encoded.
type SkippedImage struct {
	Image string `json:"image"`
	Error string `json:"error"`
}

// String says which image was skipped and why, in one line.
func (s SkippedImage) String() string {
	if strings.Contains(s.Error, s.Image) {
		return s.Error
	}
	return s.Image + ": " + s.Error
}

// Kind is what a metric declares about itself: its direction (sdk.HigherIsBetter, LowerIsBetter, Informational),
// its unit (sdk.Fraction, Rank, Count, Value) and a line of help.
type Kind struct {
	Direction sdk.Direction `json:"direction"`
	Unit      sdk.Unit      `json:"unit"`
	Help      string        `json:"help,omitempty"`
}

// FromScores fills the metrics, kinds, headline, curves, predictions, mode, intervals, item values and confusion
// matrices of r from a task's scores.
func (r *Run) FromScores(sc *sdk.Scores) {
	r.Metrics = make(map[string]Value, len(sc.Metrics))
	r.Kinds = make(map[string]Kind, len(sc.Metrics))
	for _, m := range sc.Metrics {
		r.Metrics[m.Name] = Value(m.Value)
		r.Kinds[m.Name] = Kind{Direction: m.Direction, Unit: m.Unit, Help: m.Help}
		if m.Interval != nil {
			if r.Intervals == nil {
				r.Intervals = map[string][2]Value{}
			}
			r.Intervals[m.Name] = [2]Value{Value(m.Interval.Low), Value(m.Interval.High)}
		}
		if m.ItemValues != nil {
			if r.ItemValues == nil {
				r.ItemValues = map[string][]float64{}
			}
			r.ItemValues[m.Name] = m.ItemValues
		}
		if m.Confusion != nil {
			if r.Confusion == nil {
				r.Confusion = map[string]*sdk.Confusion{}
			}
			r.Confusion[m.Name] = m.Confusion
		}
	}
	r.Headline, r.Mode, r.Curves, r.Predictions = sc.Headline, sc.Mode, sc.Curves, sc.Predictions
}

// Write stores r as indented JSON at path, atomically (write to a temporary file, then rename; a symbolic link at
// path is replaced, not followed).
func Write(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o644); err != nil { // results are meant to be shared
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}

// MaxBytes is the largest results.json Read reads (4 GiB).
const MaxBytes = 4 << 30

// Read loads a results.json file. It refuses a fraction metric outside [0, 1].
func Read(path string) (*Results, error) {
	b, err := sdk.ReadFileAtMost(path, MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading results %s: %w", path, err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("results %s: schema version %d, this clipeval reads %d (re-run the config with this clipeval to get results it can compare and report)", path, r.Schema, SchemaVersion)
	}
	if err := r.checkFractions(); err != nil {
		return nil, fmt.Errorf("results %s: %w (the file was not written by clipeval run, or was edited; re-run the config)", path, err)
	}
	return &r, nil
}

// checkFractions refuses a metric declared a fraction whose value or 95% interval lies outside [0, 1]; NaN
// (undefined) passes.
func (r *Results) checkFractions() error {
	bad := func(v Value) bool { return float64(v) < 0 || float64(v) > 1 }
	for _, run := range r.Runs {
		for name, kind := range run.Kinds {
			if kind.Unit != sdk.Fraction {
				continue
			}
			if v, ok := run.Metrics[name]; ok && bad(v) {
				return fmt.Errorf("model %q, task %q: metric %s is a fraction but has the value %g, outside [0, 1]", run.Model, run.Task, name, float64(v))
			}
			if iv, ok := run.Intervals[name]; ok && (bad(iv[0]) || bad(iv[1])) {
				return fmt.Errorf("model %q, task %q: metric %s is a fraction but its 95%% interval [%g, %g] leaves [0, 1]", run.Model, run.Task, name, float64(iv[0]), float64(iv[1]))
			}
		}
	}
	return nil
}

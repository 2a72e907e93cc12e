// Package results defines results.json: the metrics of every model × task of a run, with the provenance needed to
// trust and reproduce them, and reads/writes it atomically.
package results

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// SchemaVersion is the version of the results.json layout.
const SchemaVersion = 1

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
}

// Tolerance holds absolute tolerances for regression gates, in metric units (fractions: 0.005 is half a point).
type Tolerance struct {
	// Default applies to metrics without their own tolerance.
	Default float64 `json:"default"`
	// Metrics maps metric names to their tolerance.
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
}

// Task describes one task and the dataset it loaded.
type Task struct {
	Name        string `json:"name"`
	Plugin      string `json:"plugin"`
	DatasetSize int    `json:"dataset_size"`
	Images      int    `json:"images"`
	Texts       int    `json:"texts"`
	Description string `json:"description"`
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
	Model       string           `json:"model"`
	Task        string           `json:"task"`
	Plugin      string           `json:"plugin"`
	Metrics     map[string]Value `json:"metrics"`
	Headline    []string         `json:"headline"`
	Curves      []Curve          `json:"curves,omitempty"`
	Predictions []Prediction     `json:"predictions,omitempty"`
	WallSeconds float64          `json:"wall_seconds"`
	// Mode says how the numbers were made (e.g. "zero-shot", "linear-probe").
	Mode string `json:"mode,omitempty"`
	// Intervals are 95% bootstrap confidence intervals [low, high] of metrics.
	Intervals map[string][2]Value `json:"intervals,omitempty"`
	// ItemValues are per-item values of metrics that are item means, for paired comparisons.
	ItemValues map[string][]float64 `json:"item_values,omitempty"`
	// Error is set when this model × task failed; the other runs still count.
	Error string `json:"error,omitempty"`
}

// Curve is a named series of points (e.g. recall@k against k).
type Curve struct {
	Name   string    `json:"name"`
	XLabel string    `json:"x_label"`
	YLabel string    `json:"y_label"`
	X      []float64 `json:"x"`
	Y      []float64 `json:"y"`
}

// Prediction is one item's outcome.
type Prediction struct {
	Item      string `json:"item"`
	Truth     string `json:"truth"`
	Predicted string `json:"predicted"`
	Correct   bool   `json:"correct"`
	Group     string `json:"group,omitempty"`
}

// Write stores r as indented JSON at path, atomically (write to a temporary file, then rename).
func Write(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".results-*.json")
	if err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600; results are meant to be shared
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing results %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing results %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing results %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing results %s: %w", path, err)
	}
	return nil
}

// Read loads a results.json file.
func Read(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading results %s: %w", path, err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("results %s: schema version %d, this clipeval reads %d", path, r.Schema, SchemaVersion)
	}
	return &r, nil
}

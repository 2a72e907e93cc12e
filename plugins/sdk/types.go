// Package sdk is the thin Go SDK for clipeval plugins: the plain interfaces a model backend or a benchmark task
// implements, ServeModel/ServeTask to run one as a go-plugin subprocess, and the host-side clients the harness uses.
// Plugins depend only on this package (and the generated contract in plugins/proto/clipeval/v1).
package sdk

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// ModelRef names the model a request is about: a model folder and the backend options from the config.
type ModelRef struct {
	// Dir is the absolute path of the model folder (open_clip / Hugging Face layout plus ONNX files).
	Dir string
	// Options are the backend options from the experiment config (e.g. logit_scale, bpe, batch_size).
	Options map[string]string
	// BaseDir is the folder relative paths in Options are relative to (the config file's folder).
	BaseDir string
}

// ModelInfo describes a loaded model.
type ModelInfo struct {
	// Name is a human-readable model name (the folder name unless the manifest says otherwise).
	Name string
	// EmbedDim is the width of the image and text embeddings.
	EmbedDim int
	// ImageSize is the side of the square image the image tower takes.
	ImageSize int
	// ContextLength is the number of token ids the text tower takes.
	ContextLength int
	// LogitScale is exp(logit_scale) used for zero-shot logits.
	LogitScale float64
	// Tokenizer names the tokenizer in use (e.g. "bert-wordpiece", "clip-bpe").
	Tokenizer string
	// Files maps each model file the backend read (relative to Dir) to its sha256 hex digest.
	Files map[string]string
	// Runtime names the inference runtime and its version (e.g. "onnxruntime 1.30.0").
	Runtime string
}

// ImageInput is one image to encode: a file path, or the encoded file bytes (PNG, JPEG, ...) when Data is set.
type ImageInput struct {
	// Path is the absolute path of the image file; also used in error messages when Data is set.
	Path string
	// Data, when non-empty, holds the encoded image bytes and Path is not read.
	Data []byte
}

// Matrix is a row-major float32 matrix: Rows embeddings of Cols values each.
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// Row returns row i as a slice sharing the matrix's storage.
func (m Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Check reports whether the matrix's data length matches its shape.
func (m Matrix) Check() error {
	if m.Rows < 0 || m.Cols < 0 || len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("matrix shape [%d,%d] does not match %d values", m.Rows, m.Cols, len(m.Data))
	}
	return nil
}

// Model is what a model backend plugin implements. Embeddings are the raw model outputs, not normalised.
type Model interface {
	// Info loads the model (once; later calls reuse it) and describes it.
	Info(ctx context.Context, ref ModelRef) (*ModelInfo, error)
	// EncodeImages preprocesses and encodes images, one row per image, in order.
	EncodeImages(ctx context.Context, ref ModelRef, images []ImageInput) (Matrix, error)
	// EncodeTexts tokenizes and encodes texts, one row per text, in order.
	EncodeTexts(ctx context.Context, ref ModelRef, texts []string) (Matrix, error)
}

// FieldType is the type of one task config field, used by the harness to validate configs.
type FieldType string

// Field types a task can declare.
const (
	FieldString     FieldType = "string"
	FieldInt        FieldType = "int"
	FieldFloat      FieldType = "float"
	FieldBool       FieldType = "bool"
	FieldStringList FieldType = "string_list"
	FieldStringMap  FieldType = "string_map"
	// FieldPath is a string naming a file or folder that must exist; the harness resolves it against the config
	// file's folder and passes it as an absolute path.
	FieldPath FieldType = "path"
)

// Field declares one key a task accepts under `dataset:` or `options:`.
type Field struct {
	Name     string
	Type     FieldType
	Required bool
	Help     string
	// Choices, when set, are the only values a string field accepts.
	Choices []string
}

// TaskInfo describes a task plugin and the config keys it accepts.
type TaskInfo struct {
	// Name is the task's name (e.g. "retrieval").
	Name string
	// Description is one line for `clipeval plugins`.
	Description string
	// DatasetFields are the keys accepted under the task's `dataset:` mapping.
	DatasetFields []Field
	// OptionFields are the keys accepted under the task's `options:` mapping.
	OptionFields []Field
}

// LoadRequest carries a task's config to the plugin: the `dataset:` and `options:` mappings as JSON objects, with
// path fields already resolved to absolute paths by the harness.
type LoadRequest struct {
	Dataset json.RawMessage
	Options json.RawMessage
}

// Dataset is what a task needs encoded, returned by Load.
type Dataset struct {
	// ID is the handle Score is called with.
	ID string
	// Images are the images to encode with the image tower, in the order Score expects their embeddings.
	Images []ImageInput
	// Texts are the texts to encode with the text tower, in the order Score expects their embeddings.
	Texts []string
	// Size is the number of evaluation items (pairs, images, questions).
	Size int
	// Description says in one line what was loaded (for logs and reports).
	Description string
	// Files lists the dataset files read (absolute paths) for provenance hashing.
	Files []string
}

// ScoreRequest carries the raw embeddings of a loaded dataset's images and texts back to its task.
type ScoreRequest struct {
	DatasetID       string
	ImageEmbeddings Matrix
	TextEmbeddings  Matrix
	// LogitScale is the model's exp(logit_scale), for tasks that report logits.
	LogitScale float64
}

// Prediction is one item's outcome, kept in results.json for later comparison.
type Prediction struct {
	Item      string
	Truth     string
	Predicted string
	Correct   bool
	// Group is an optional item subgroup (e.g. "closed" or "open" for VQA).
	Group string
}

// Curve is a named series of points (e.g. recall@k for k = 1..K) for plots.
type Curve struct {
	Name           string
	XLabel, YLabel string
	X, Y           []float64
}

// Interval is a confidence interval of a metric.
type Interval struct {
	Low, High float64
}

// Scores is what Score returns: metric values (NaN where a metric is undefined), the headline metric names in the
// order a report shows them, per-item predictions and curves.
type Scores struct {
	Metrics     map[string]float64
	Headline    []string
	Predictions []Prediction
	Curves      []Curve
	// Intervals are 95% bootstrap confidence intervals of metrics (seeded, so reproducible).
	Intervals map[string]Interval
	// ItemValues hold, for metrics that are a mean over items, the per-item values in item order, so that two
	// models on the same items can be compared with a paired bootstrap.
	ItemValues map[string][]float64
	// Mode says how the numbers were made (e.g. "zero-shot", "linear-probe", "linear-head").
	Mode string
}

// Task is what a benchmark task plugin implements.
type Task interface {
	// Info describes the task and the config keys it accepts.
	Info(ctx context.Context) (*TaskInfo, error)
	// Load reads the dataset and returns what must be encoded.
	Load(ctx context.Context, req LoadRequest) (*Dataset, error)
	// Score computes the task's metrics from the embeddings of a loaded dataset.
	Score(ctx context.Context, req ScoreRequest) (*Scores, error)
}

// InputModel is implemented by model backends that expose the exact inputs their towers are fed, and run the
// towers on given inputs: what `clipeval preprocess`, `tokenize`, `golden` and `verify-export` use. Tensors are
// float32 [N, 3, H, W] pixels and int64 [N, context_length] token ids.
type InputModel interface {
	// Preprocess returns the pixels the image tower would be fed for images.
	Preprocess(ctx context.Context, ref ModelRef, images []ImageInput) (*npy.Array, error)
	// Tokenize returns the token ids the text tower would be fed for texts.
	Tokenize(ctx context.Context, ref ModelRef, texts []string) (*npy.Array, error)
	// EncodePixels runs the image tower on pixels.
	EncodePixels(ctx context.Context, ref ModelRef, pixels *npy.Array) (Matrix, error)
	// EncodeTokens runs the text tower on token ids.
	EncodeTokens(ctx context.Context, ref ModelRef, ids *npy.Array) (Matrix, error)
}

package sdk

import (
	"context"
	"encoding/json"
	"fmt"
)

// FieldType is the type of one config field a plugin declares, used by the harness to validate configs.
type FieldType string

// Field types a plugin can declare.
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

// Field declares one key a plugin accepts under a task's `dataset:` or `options:`, or a model's `options:`.
type Field struct {
	Name     string
	Type     FieldType
	Required bool
	Help     string
	// Choices, when set, are the only values a string field accepts.
	Choices []string
	// Min and Max, when set, bound an int or float field (inclusive).
	Min, Max *float64
	// KeepsEmbeddings, on a model backend's option, says that no value of it changes any embedding (a thread
	// count, a logit scale): the embedding store leaves it out of the model's fingerprint. Leave it false when in
	// doubt.
	KeepsEmbeddings bool
}

// Bound returns a pointer to v, for Field.Min and Field.Max.
func Bound(v float64) *float64 { return &v }

// PluginInfo describes a plugin: its name, its own version and the config keys it accepts.
type PluginInfo struct {
	// Name is the plugin's name (e.g. "onnx", "retrieval").
	Name string
	// Version is the plugin's own version, recorded in results.json.
	Version string
	// Description is one line for `clipeval plugins`.
	Description string
	// ProtocolVersion is the contract version the plugin speaks; the SDK fills it in.
	ProtocolVersion int
	// OptionFields are the keys accepted under the `options:` mapping (a model's or a task's).
	OptionFields []Field
	// DatasetFields are the keys a task accepts under its `dataset:` mapping (none for model backends).
	DatasetFields []Field
}

// LoadRequest carries a task's config to the plugin: the `dataset:` and `options:` mappings as JSON objects, with
// path fields already resolved to absolute paths by the harness.
type LoadRequest struct {
	Dataset json.RawMessage
	Options json.RawMessage
	// WorkDir is a folder the harness made for this task and removes after the run: a task writes there what it
	// extracts or renders (images of compressed shards, DICOM renderings) and refers to it by path.
	WorkDir string
	// SkipBadImages is the task's `bad_images: skip`: an image that cannot be opened or converted while loading (a
	// missing file, a link out of the data set, a DICOM file that cannot be read) leaves out the items that need
	// it and is listed in Dataset.Skipped, instead of failing Load.
	SkipBadImages bool
}

// SkippedImage is an image a task left out at Load (LoadRequest.SkipBadImages), with every item that needs it.
type SkippedImage struct {
	// Image names it: its file's path, as the data set names it.
	Image string
	// Error says why it could not be used.
	Error string
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
	// Skipped are the images left out under LoadRequest.SkipBadImages, each once; Images, Size and the items
	// Score scores are those of the data set without them.
	Skipped []SkippedImage
}

// ScoreRequest carries the raw embeddings of a loaded dataset's images and texts back to its task. On the task's
// side the matrices are mapped read-only from the files the harness wrote: they must not be written to or kept
// after Score returns.
type ScoreRequest struct {
	DatasetID       string
	ImageEmbeddings Matrix
	TextEmbeddings  Matrix
	// LogitScale is the model's exp(logit_scale), for tasks that report logits.
	LogitScale float64
	// SkippedImages are the image rows (indices into Load's Images, ascending) that hold no embedding: images the
	// harness could not read or the backend could not decode, skipped because the task's config says
	// `bad_images: skip`. Their rows are zeros. A task leaves out every item that needs one of them and scores
	// the rest as if they had not been in the dataset (KeptImages helps).
	SkippedImages []int
}

// KeptImages returns, for each of n image rows, whether it holds an embedding (is not in SkippedImages); it fails
// when a skipped row is not one of the n. Every row is kept when nothing was skipped.
func (r ScoreRequest) KeptImages(n int) ([]bool, error) {
	kept := make([]bool, n)
	for i := range kept {
		kept[i] = true
	}
	for _, i := range r.SkippedImages {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("skipped image %d: the loaded dataset has images 0 to %d", i, n-1)
		}
		kept[i] = false
	}
	return kept, nil
}

// EmbeddingFile names a 2-D little-endian float32 .npy file of embeddings (npy.WriteFloat32File writes one).
type EmbeddingFile struct {
	Path       string
	Rows, Cols int
}

// ScoreFilesRequest is ScoreRequest as the harness sends it: the embeddings by reference, as .npy files that stay
// in place until Score returns.
type ScoreFilesRequest struct {
	DatasetID       string
	ImageEmbeddings EmbeddingFile
	TextEmbeddings  EmbeddingFile
	LogitScale      float64
	// SkippedImages are as ScoreRequest's.
	SkippedImages []int
}

// Task is what a benchmark task plugin implements.
type Task interface {
	// Describe names the task and declares the config keys it accepts.
	Describe(ctx context.Context, req DescribeRequest) (*PluginInfo, error)
	// Load reads the dataset and returns what must be encoded.
	Load(ctx context.Context, req LoadRequest) (*Dataset, error)
	// Score computes the task's metrics from the embeddings of a loaded dataset.
	Score(ctx context.Context, req ScoreRequest) (*Scores, error)
}

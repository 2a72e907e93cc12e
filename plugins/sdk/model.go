// Package sdk is the thin Go SDK for clipeval plugins (protocol v2): the plain interfaces a model backend or a
// benchmark task implements with their request and response structs, ServeModel/ServeTask to run one as a
// go-plugin subprocess, and the clients the harness calls plugins with. Plugins depend only on this package and its
// subpackages (and the generated contract in plugins/proto/clipeval/v2).
//
// The files: model.go and task.go (what a plugin implements), scores.go (metrics that declare themselves),
// image.go (images by reference), matrix.go, serve.go (the go-plugin side), server.go and client.go (the gRPC
// adapters of both ends), convert.go (Go values ↔ protobuf messages), chunk.go (bounded stream chunks). The
// subpackages: sdktest (an in-process test server for plugin authors), stats (bootstrap intervals and the paired
// bootstrap), digest (file hashing), npy (.npy and .npz files, mapped embedding matrices).
package sdk

import (
	"context"

	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// ModelRef names the model a request is about: a model folder and the backend options from the config.
type ModelRef struct {
	// Dir is the absolute path of the model folder (open_clip / Hugging Face layout plus ONNX files).
	Dir string
	// Options are the backend options from the experiment config (e.g. logit_scale, bpe, threads).
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

// DescribeRequest asks a plugin to describe itself; it has no fields yet.
type DescribeRequest struct{}

// CheckModelRequest asks a backend whether it could load a model, without encoding anything.
type CheckModelRequest struct {
	Model ModelRef
}

// Problem is one thing wrong with an input, found before any work is done.
type Problem struct {
	// Key names what is at fault: "options.NAME" for a backend option, "path" for the model folder, "" for the
	// input as a whole.
	Key string
	// Message says what is wrong and what to do.
	Message string
}

// CheckModelResponse lists every problem a check found; none means the model loads.
type CheckModelResponse struct {
	Problems []Problem
}

// ModelInfoRequest asks a backend to load (once; later calls reuse it) and describe a model.
type ModelInfoRequest struct {
	Model ModelRef
}

// EncodeImagesRequest is one batch of images to preprocess and encode.
type EncodeImagesRequest struct {
	Model  ModelRef
	Images []ImageInput
}

// EncodeTextsRequest is one batch of texts to tokenize and encode.
type EncodeTextsRequest struct {
	Model ModelRef
	Texts []string
}

// EncodeResponse holds the raw (not normalised) embeddings of a batch, one row per input, in order.
type EncodeResponse struct {
	Embeddings Matrix
}

// Model is what a model backend plugin implements.
type Model interface {
	// Describe names the backend and declares its options (names, types, ranges, help).
	Describe(ctx context.Context, req DescribeRequest) (*PluginInfo, error)
	// CheckModel reports every problem that would stop Info from loading the model (missing or unreadable files,
	// input and output shapes that disagree with the model's config, bad option values), without encoding.
	CheckModel(ctx context.Context, req CheckModelRequest) (*CheckModelResponse, error)
	// Info loads the model (once; later calls reuse it) and describes it.
	Info(ctx context.Context, req ModelInfoRequest) (*ModelInfo, error)
	// EncodeImages preprocesses and encodes images, one row per image, in order.
	EncodeImages(ctx context.Context, req EncodeImagesRequest) (*EncodeResponse, error)
	// EncodeTexts tokenizes and encodes texts, one row per text, in order.
	EncodeTexts(ctx context.Context, req EncodeTextsRequest) (*EncodeResponse, error)
}

// PreprocessRequest asks for the pixels the image tower would be fed for a batch of images.
type PreprocessRequest struct {
	Model  ModelRef
	Images []ImageInput
}

// TokenizeRequest asks for the token ids the text tower would be fed for a batch of texts.
type TokenizeRequest struct {
	Model ModelRef
	Texts []string
}

// TensorResponse carries model inputs: float32 [N, 3, H, W] pixels or int64 [N, context_length] token ids.
type TensorResponse struct {
	Tensor *npy.Array
}

// EncodePixelsRequest runs the image tower on pixels, float32 [N, 3, H, W].
type EncodePixelsRequest struct {
	Model  ModelRef
	Pixels *npy.Array
}

// EncodeTokensRequest runs the text tower on token ids, int64 [N, context_length].
type EncodeTokensRequest struct {
	Model ModelRef
	IDs   *npy.Array
}

// InputModel is implemented by model backends that expose the exact inputs their towers are fed, and run the
// towers on given inputs: what `clipeval preprocess`, `tokenize`, `golden` and `verify-export` use.
type InputModel interface {
	// Preprocess returns the pixels the image tower would be fed for images.
	Preprocess(ctx context.Context, req PreprocessRequest) (*TensorResponse, error)
	// Tokenize returns the token ids the text tower would be fed for texts.
	Tokenize(ctx context.Context, req TokenizeRequest) (*TensorResponse, error)
	// EncodePixels runs the image tower on pixels.
	EncodePixels(ctx context.Context, req EncodePixelsRequest) (*EncodeResponse, error)
	// EncodeTokens runs the text tower on token ids.
	EncodeTokens(ctx context.Context, req EncodeTokensRequest) (*EncodeResponse, error)
}

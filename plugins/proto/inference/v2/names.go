// Hand-written (protoc does not touch this file).

package inferencepb

// How clipeval serves a model's two towers over the protocol, shared by both ends (clipeval serve and the kserve
// backend): two models named NAME + ImageSuffix and NAME + TextSuffix, their tensors, and the model properties
// clipeval serve states in ModelMetadataResponse.properties (the specification's optional model properties; other
// servers need not state them, and other clients ignore them).
const (
	// ImageSuffix ends the image tower's model name: NAME-image.
	ImageSuffix = "-image"
	// TextSuffix ends the text tower's model name: NAME-text.
	TextSuffix = "-text"
	// PixelsInput is the image tower's input: FP32 [-1, 3, H, W], open_clip's eval transform.
	PixelsInput = "pixels"
	// IDsInput is the text tower's input: INT64 [-1, L], padded token ids.
	IDsInput = "input_ids"
	// EmbeddingsOutput is each tower's output, FP32 [-1, D]: the raw (not normalised) embeddings. A served model with
	// several outputs names its embeddings so.
	EmbeddingsOutput = "embeddings"

	// PropertyImageSize is the side of the images the image tower takes.
	PropertyImageSize = "clipeval.image_size"
	// PropertyContextLength is the number of token ids the text tower takes.
	PropertyContextLength = "clipeval.context_length"
	// PropertyEmbedDim is the embeddings' width.
	PropertyEmbedDim = "clipeval.embed_dim"
	// PropertyTokenizer names the tokenizer the token ids come from (e.g. bert-wordpiece, clip-bpe).
	PropertyTokenizer = "clipeval.tokenizer"
	// PropertyLogitScale is the model's exp(logit_scale).
	PropertyLogitScale = "clipeval.logit_scale"
	// PropertyBackend names the backend plugin that runs the towers, and its version.
	PropertyBackend = "clipeval.backend"
	// PropertyFingerprint is the served model's embedding-store fingerprint (64 hex digits); the model's version is
	// its first 16.
	PropertyFingerprint = "clipeval.fingerprint"
)

// Package benchmodel generates a benchmark model pair shaped like BiomedCLIP: a ViT image tower (timm
// vit_base_patch16_224 layout: patch Conv, class token, learned position embedding, pre-LN blocks, final LayerNorm,
// class-token pooling, linear projection without bias) and a BERT text tower (Hugging Face BertModel layout:
// token + position + token-type embeddings, embedding LayerNorm, post-LN layers, additive attention mask, first-token
// pooling, open_clip's MLP projection without biases). The weights are seeded pseudo-random numbers, so the models
// compute nothing meaningful, but they have the real models' sizes, operators and shapes: ONNX Runtime spends the
// same time on them as on real exports, which is what a throughput benchmark needs.
//
// The models are written with internal/onnxpb at a standard ONNX opset (17, or 20 with the Gelu operator) and are
// deterministic: the same Config gives the same bytes. Every ONNX file carries its tower's configuration as model
// metadata (MetadataKey), which the torch twin (torch_twin.py) reads to rebuild the same network in PyTorch.
package benchmodel

import (
	"errors"
	"fmt"
)

// Version is the generator's version. It changes whenever the bytes written for a given Config change, so a folder
// stamped with an older version is regenerated.
const Version = 1

// GELU names how the towers compute GELU (the exact, erf-based one, as timm and BERT use). Both forms run the same
// kernels in ONNX Runtime 1.30: its optimizer rewrites MatMul + bias + GELU into com.microsoft BiasGelu and a lone
// GELU into Gelu either way (checked on the optimized graphs of both), so the default is the portable opset-17
// form that torch.onnx exports.
type GELU string

// The GELU forms.
const (
	// GELUErf spells GELU out as x·½·(1+erf(x/√2)) with Div, Erf, Add and Mul at opset 17, as torch.onnx exports
	// it (ONNX Runtime fuses the pattern into one kernel).
	GELUErf GELU = "erf"
	// GELUOp uses the Gelu operator of opset 20.
	GELUOp GELU = "op"
)

// Layer-norm epsilons of the two reference implementations.
const (
	// VisionLayerNormEps is timm's ViT LayerNorm epsilon.
	VisionLayerNormEps = 1e-6
	// TextLayerNormEps is BERT's layer_norm_eps.
	TextLayerNormEps = 1e-12
)

// VisionConfig shapes the ViT image tower.
type VisionConfig struct {
	// ImageSize is the side of the square input image, in pixels.
	ImageSize int `json:"image_size"`
	// Patch is the side of a patch; ImageSize must be a multiple of it.
	Patch int `json:"patch"`
	// Width is the transformer's hidden size.
	Width int `json:"width"`
	// Layers is the number of transformer blocks.
	Layers int `json:"layers"`
	// Heads is the number of attention heads; Width must be a multiple of it.
	Heads int `json:"heads"`
	// MLP is the hidden size of each block's MLP.
	MLP int `json:"mlp"`
}

// TextConfig shapes the BERT text tower.
type TextConfig struct {
	// Vocab is the number of rows of the token embedding table; every token id fed must be below it.
	Vocab int `json:"vocab"`
	// MaxPositions is the number of rows of the position embedding table: the longest sequence the tower takes.
	MaxPositions int `json:"max_positions"`
	// TypeVocab is the number of token types (BERT's 2); the tower uses type 0, as open_clip does.
	TypeVocab int `json:"type_vocab"`
	// Width is the transformer's hidden size.
	Width int `json:"width"`
	// Layers is the number of transformer layers.
	Layers int `json:"layers"`
	// Heads is the number of attention heads; Width must be a multiple of it.
	Heads int `json:"heads"`
	// MLP is the intermediate size of each layer.
	MLP int `json:"mlp"`
	// ProjHidden is the hidden size of the MLP projection to the embedding; 0 means open_clip's
	// (Width+EmbedDim)/2.
	ProjHidden int `json:"proj_hidden"`
	// ContextLength is the number of tokens the tokenizer pads to (open_clip_config.json's context_length); the ONNX
	// input's sequence axis is dynamic, so it only has to fit MaxPositions.
	ContextLength int `json:"context_length"`
}

// Config is a model pair's shape, its weights' seed and its GELU form.
type Config struct {
	// Vision shapes the image tower.
	Vision VisionConfig `json:"vision"`
	// Text shapes the text tower.
	Text TextConfig `json:"text"`
	// EmbedDim is the width of both towers' output embeddings.
	EmbedDim int `json:"embed_dim"`
	// Seed determines every weight.
	Seed uint64 `json:"seed"`
	// GELU is how GELU is written (default GELUErf).
	GELU GELU `json:"gelu"`
}

// BiomedCLIP returns the full-size configuration of BiomedCLIP (ViT-B/16 at 224 pixels, BERT-base with a 30,522
// token vocabulary, 256 token context, 512-wide embeddings) with seed 1.
func BiomedCLIP() Config {
	return Config{
		Vision:   VisionConfig{ImageSize: 224, Patch: 16, Width: 768, Layers: 12, Heads: 12, MLP: 3072},
		Text:     TextConfig{Vocab: 30522, MaxPositions: 512, TypeVocab: 2, Width: 768, Layers: 12, Heads: 12, MLP: 3072, ContextLength: 256},
		EmbedDim: 512,
		Seed:     1,
		GELU:     GELUErf,
	}
}

// withDefaults fills the fields that have defaults.
func (c Config) withDefaults() Config {
	if c.GELU == "" {
		c.GELU = GELUErf
	}
	if c.Text.ProjHidden == 0 {
		c.Text.ProjHidden = (c.Text.Width + c.EmbedDim) / 2
	}
	return c
}

// Validate reports every field that is out of range, joined.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	positive := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s is %d; it must be positive", name, v))
		}
	}
	v, t := c.Vision, c.Text
	positive("vision.image_size", v.ImageSize)
	positive("vision.patch", v.Patch)
	positive("vision.width", v.Width)
	positive("vision.layers", v.Layers)
	positive("vision.heads", v.Heads)
	positive("vision.mlp", v.MLP)
	positive("text.vocab", t.Vocab)
	positive("text.max_positions", t.MaxPositions)
	positive("text.type_vocab", t.TypeVocab)
	positive("text.width", t.Width)
	positive("text.layers", t.Layers)
	positive("text.heads", t.Heads)
	positive("text.mlp", t.MLP)
	positive("text.proj_hidden", t.ProjHidden)
	positive("text.context_length", t.ContextLength)
	positive("embed_dim", c.EmbedDim)
	if v.Patch > 0 && v.ImageSize%v.Patch != 0 {
		errs = append(errs, fmt.Errorf("vision.image_size %d is not a multiple of vision.patch %d", v.ImageSize, v.Patch))
	}
	if v.Heads > 0 && v.Width%v.Heads != 0 {
		errs = append(errs, fmt.Errorf("vision.width %d is not a multiple of vision.heads %d", v.Width, v.Heads))
	}
	if t.Heads > 0 && t.Width%t.Heads != 0 {
		errs = append(errs, fmt.Errorf("text.width %d is not a multiple of text.heads %d", t.Width, t.Heads))
	}
	if t.ContextLength > t.MaxPositions {
		errs = append(errs, fmt.Errorf("text.context_length %d is more than text.max_positions %d", t.ContextLength, t.MaxPositions))
	}
	if t.ContextLength == 1 {
		errs = append(errs, errors.New("text.context_length is 1; [CLS] and [SEP] need 2"))
	}
	if c.GELU != GELUErf && c.GELU != GELUOp {
		errs = append(errs, fmt.Errorf("gelu %q: want %q or %q", c.GELU, GELUErf, GELUOp))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("benchmodel config: %w", err)
	}
	return nil
}

// opset returns the ONNX opset the config's models import, and the IR version that goes with it.
func (c Config) opset() (opset, ir int64) {
	if c.GELU == GELUOp {
		return 20, 9
	}
	return 17, 8
}

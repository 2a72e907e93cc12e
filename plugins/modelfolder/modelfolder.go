// Package modelfolder reads a model folder in the open_clip / Hugging Face layout (open_clip_config.json, the
// tokenizer files, the optional clipeval.yaml manifest) and does what every model backend does with it before a
// tower runs: open_clip's eval image transform on a batch of images, in parallel within a decoded-memory budget,
// the text tokenizer, and the digests of the files that decide the inputs. It is shared by the backends that feed
// towers the exact inputs of the Python reference stack: the ONNX Runtime backend (plugins/onnx), which runs the
// towers itself, and the Open Inference Protocol backend (plugins/kserve), which sends the inputs to a server.
//
// A backend's own options (ONNX Runtime's session settings, a server's address) are the backend's: Read applies
// only the options every backend shares (OptionFields) and leaves the others to the caller.
package modelfolder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clipeval/clipeval/plugins/imageprep"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// ConfigFile is open_clip's model config, the one file every model folder has.
const ConfigFile = "open_clip_config.json"

// ManifestFile is the optional clipeval manifest inside a model folder, for what open_clip_config.json cannot say.
const ManifestFile = "clipeval.yaml"

// MaxFileBytes is the largest open_clip_config.json or clipeval.yaml a model folder may hold (16 MiB; they are a
// few kilobytes).
const MaxFileBytes = 16 << 20

// Manifest is the optional clipeval.yaml of a model folder. Every field is optional.
type Manifest struct {
	// Name overrides the model name (default: the folder name).
	Name string `yaml:"name"`
	// ImageModel and TextModel are the ONNX file names (default image.onnx, text.onnx).
	ImageModel string `yaml:"image_model"`
	TextModel  string `yaml:"text_model"`
	// ImageInput, ImageOutput, TextInput, TextOutput and TextMaskInput name the graph inputs and outputs when the
	// ONNX files have more than one candidate.
	ImageInput    string `yaml:"image_input"`
	ImageOutput   string `yaml:"image_output"`
	TextInput     string `yaml:"text_input"`
	TextOutput    string `yaml:"text_output"`
	TextMaskInput string `yaml:"text_mask_input"`
	// LogitScale is exp(logit_scale) of the trained model (default 100, OpenAI CLIP's value).
	LogitScale float64 `yaml:"logit_scale"`
	// Tokenizer forces "bert" or "clip" (default: bert when open_clip_config.json names an HF tokenizer).
	Tokenizer string `yaml:"tokenizer"`
	// BPE is the CLIP BPE vocabulary file, relative to the folder.
	BPE string `yaml:"bpe"`
}

// openCLIPConfig is the part of open_clip_config.json read here: the embedding and the text tower. The image half
// (vision_cfg.image_size, preprocess_cfg) is imageprep.ConfigFromOpenCLIP's.
type openCLIPConfig struct {
	ModelCfg struct {
		EmbedDim int `json:"embed_dim"`
		TextCfg  struct {
			ContextLength   int    `json:"context_length"`
			HFTokenizerName string `json:"hf_tokenizer_name"`
		} `json:"text_cfg"`
	} `json:"model_cfg"`
}

// Folder is a model folder as read from disk: open_clip_config.json, the optional manifest and the shared options.
type Folder struct {
	// Dir is the folder's path.
	Dir string
	// Name is the model's name: the manifest's, else the folder's base name.
	Name string
	// EmbedDim is model_cfg.embed_dim (0 when the config does not say).
	EmbedDim int
	// ContextLength is the number of token ids the text tower takes (model_cfg.text_cfg.context_length, default 77).
	ContextLength int
	// Image is open_clip's eval image transform (its Size the image tower's input side).
	Image imageprep.Config
	// HFTokenizer is set when the text tower uses a Hugging Face (BERT WordPiece) tokenizer.
	HFTokenizer bool
	// LogitScale is exp(logit_scale): the option's, else the manifest's, else 100.
	LogitScale float64
	// Manifest is the folder's clipeval.yaml (ImageModel and TextModel defaulted).
	Manifest Manifest
	// BPE is the CLIP BPE vocabulary to use (absolute), when not HFTokenizer; "" to look for one in Dir.
	BPE string
}

// Read reads a model folder and applies the shared options (OptionLogitScale, OptionBPE) among options; the other
// keys of options are the caller's to check and apply. Relative paths in options are relative to baseDir.
func Read(dir string, options map[string]string, baseDir string) (*Folder, error) {
	if dir == "" {
		return nil, errors.New("model folder is not set")
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	raw, err := sdk.ReadFileAtMost(cfgPath, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("model folder %s: %w (a model folder holds open_clip_config.json and tokenizer files, and for the onnx backend image.onnx and text.onnx)", dir, err)
	}
	var cfg openCLIPConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	switch tc := cfg.ModelCfg.TextCfg; {
	case cfg.ModelCfg.EmbedDim < 0:
		return nil, fmt.Errorf("%s: model_cfg.embed_dim %d is negative; write the embedding size the towers output (or leave it out)", cfgPath, cfg.ModelCfg.EmbedDim)
	case tc.ContextLength < 0 || tc.ContextLength == 1:
		return nil, fmt.Errorf("%s: model_cfg.text_cfg.context_length %d: want at least 2 (start and end of text), or leave it out for 77", cfgPath, tc.ContextLength)
	}
	f := &Folder{Dir: dir, Name: filepath.Base(dir), EmbedDim: cfg.ModelCfg.EmbedDim, ContextLength: cfg.ModelCfg.TextCfg.ContextLength,
		HFTokenizer: cfg.ModelCfg.TextCfg.HFTokenizerName != "", LogitScale: 100}
	if f.Image, err = imageprep.ConfigFromOpenCLIP(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	if f.ContextLength == 0 {
		f.ContextLength = 77 // open_clip's default text context length
	}
	if err := f.readManifest(); err != nil {
		return nil, err
	}
	if err := f.applyOptions(options, baseDir); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Folder) readManifest() error {
	p := filepath.Join(f.Dir, ManifestFile)
	raw, err := sdk.ReadFileAtMost(p, MaxFileBytes)
	if errors.Is(err, os.ErrNotExist) {
		f.Manifest = Manifest{ImageModel: "image.onnx", TextModel: "text.onnx"}
		return nil
	}
	if err != nil {
		return fmt.Errorf("model manifest: %w", err)
	}
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if m.ImageModel == "" {
		m.ImageModel = "image.onnx"
	}
	if m.TextModel == "" {
		m.TextModel = "text.onnx"
	}
	if m.Name != "" {
		f.Name = m.Name
	}
	if m.LogitScale != 0 {
		if !(m.LogitScale > 0) || math.IsInf(m.LogitScale, 0) {
			return fmt.Errorf("%s: logit_scale %v: want a positive number (exp of the learned logit_scale), as the option takes", p, m.LogitScale)
		}
		f.LogitScale = m.LogitScale
	}
	switch m.Tokenizer {
	case "":
	case "bert":
		f.HFTokenizer = true
	case "clip":
		f.HFTokenizer = false
	default:
		return fmt.Errorf("%s: tokenizer %q: want bert or clip", p, m.Tokenizer)
	}
	if m.BPE != "" {
		f.BPE = filepath.Join(f.Dir, m.BPE)
	}
	f.Manifest = m
	return nil
}

// The options every backend that reads model folders accepts under a model's `options:`.
const (
	// OptionLogitScale overrides exp(logit_scale), for zero-shot logits.
	OptionLogitScale = "logit_scale"
	// OptionBPE names the CLIP BPE vocabulary of a model whose folder has none.
	OptionBPE = "bpe"
)

// OptionFields declares the shared options, for a backend's Describe (and so for `clipeval validate`).
func OptionFields() []sdk.Field {
	return []sdk.Field{
		{Name: OptionLogitScale, Type: sdk.FieldFloat, Min: sdk.Bound(0), KeepsEmbeddings: true,
			Help: "exp(logit_scale) of the trained model, > 0 (default: the manifest's, else 100 as OpenAI CLIP)"},
		{Name: OptionBPE, Type: sdk.FieldPath,
			Help: "CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) for models without one in their folder"},
	}
}

// CheckOption checks the value of option k when it is a shared option (known is then true); for any other key it
// returns false and nil, leaving it to the backend.
func CheckOption(k, v, baseDir string) (known bool, err error) {
	switch k {
	case OptionLogitScale:
		if s, err := strconv.ParseFloat(v, 64); err != nil || !(s > 0) || math.IsInf(s, 0) {
			return true, fmt.Errorf("option logit_scale %q: want a positive number (exp of the learned logit_scale)", v)
		}
	case OptionBPE:
		p := Resolve(v, baseDir)
		if st, err := os.Stat(p); err != nil {
			return true, fmt.Errorf("option bpe: %w", err)
		} else if st.IsDir() {
			if _, err := os.Stat(filepath.Join(p, "vocab.json")); err != nil {
				return true, fmt.Errorf("option bpe: folder %s has no vocab.json (give bpe_simple_vocab_16e6.txt.gz, tokenizer.json or a folder with vocab.json + merges.txt)", p)
			}
		}
	default:
		return false, nil
	}
	return true, nil
}

// Resolve makes p absolute against baseDir when it is relative.
func Resolve(p, baseDir string) string {
	if !filepath.IsAbs(p) && baseDir != "" {
		return filepath.Join(baseDir, p)
	}
	return p
}

// applyOptions checks and applies the shared options among options.
func (f *Folder) applyOptions(options map[string]string, baseDir string) error {
	for k, v := range options {
		known, err := CheckOption(k, v, baseDir)
		if err != nil {
			return fmt.Errorf("model %s: %w", f.Dir, err)
		}
		if !known {
			continue
		}
		switch k {
		case OptionLogitScale:
			f.LogitScale, _ = strconv.ParseFloat(v, 64)
		case OptionBPE:
			f.BPE = Resolve(v, baseDir)
		}
	}
	return nil
}

// Key identifies the model ref names (folder, base folder and options), for a backend's cache of loaded models.
func Key(ref sdk.ModelRef) string {
	ks := make([]string, 0, len(ref.Options))
	for k, v := range ref.Options {
		ks = append(ks, k+"="+v)
	}
	sort.Strings(ks)
	return ref.Dir + "\x00" + ref.BaseDir + "\x00" + strings.Join(ks, "\x00")
}

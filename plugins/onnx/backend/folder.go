package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/clipeval/clipeval/plugins/imageprep"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// ManifestFile is the optional clipeval manifest inside a model folder, for what open_clip_config.json cannot say.
const ManifestFile = "clipeval.yaml"

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

// openCLIPConfig is the part of open_clip_config.json the backend reads itself: the embedding and the text tower.
// The image half (vision_cfg.image_size, preprocess_cfg) is imageprep.ConfigFromOpenCLIP's.
type openCLIPConfig struct {
	ModelCfg struct {
		EmbedDim int `json:"embed_dim"`
		TextCfg  struct {
			ContextLength   int    `json:"context_length"`
			HFTokenizerName string `json:"hf_tokenizer_name"`
		} `json:"text_cfg"`
	} `json:"model_cfg"`
}

// Folder is a model folder as read from disk: open_clip_config.json, the optional manifest and the options.
type Folder struct {
	Dir           string
	Name          string
	EmbedDim      int
	ContextLength int
	// Image is open_clip's eval image transform (its Size the image tower's input side).
	Image imageprep.Config
	// HFTokenizer is set when the text tower uses a Hugging Face (BERT WordPiece) tokenizer.
	HFTokenizer bool
	LogitScale  float64
	Manifest    Manifest
	// BPE is the CLIP BPE vocabulary to use (absolute), when not HFTokenizer.
	BPE string
	// TextPadding is how token ids are fed to a text graph whose sequence axis is dynamic: PaddingLongest or
	// PaddingFull (a graph with a fixed axis always gets ContextLength ids).
	TextPadding string
	// Session holds the ONNX Runtime settings from the options.
	Session SessionOptions
}

// maxFolderFile is the largest open_clip_config.json or clipeval.yaml a model folder may hold (16 MiB; they are a
// few kilobytes).
const maxFolderFile = 16 << 20

// ReadFolder reads a model folder and applies the config options (logit_scale, bpe).
func ReadFolder(dir string, options map[string]string, baseDir string) (*Folder, error) {
	if dir == "" {
		return nil, errors.New("model folder is not set")
	}
	cfgPath := filepath.Join(dir, "open_clip_config.json")
	raw, err := sdk.ReadFileAtMost(cfgPath, maxFolderFile)
	if err != nil {
		return nil, fmt.Errorf("model folder %s: %w (a model folder holds open_clip_config.json, tokenizer files, image.onnx and text.onnx)", dir, err)
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
		HFTokenizer: cfg.ModelCfg.TextCfg.HFTokenizerName != "", LogitScale: 100, TextPadding: PaddingLongest}
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
	raw, err := sdk.ReadFileAtMost(p, maxFolderFile)
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

// Options a model accepts in the experiment config under `options:`.
const (
	OptionLogitScale = "logit_scale"
	OptionBPE        = "bpe"
	// OptionTextPadding is PaddingLongest (the default) or PaddingFull.
	OptionTextPadding = "text_padding"
)

// Values of OptionTextPadding.
const (
	// PaddingLongest cuts each batch of token ids to its longest text (when the text graph's sequence axis is
	// dynamic): the embeddings are those of the padded ids to float32 rounding, at a fraction of the work for short
	// captions.
	PaddingLongest = "longest"
	// PaddingFull feeds every text padded to the context length, as open_clip does: bit for bit the reference's
	// inputs.
	PaddingFull = "full"
)

// OptionFields declares the model options, for Describe (and so for `clipeval validate`).
func OptionFields() []sdk.Field {
	fields := []sdk.Field{
		{Name: OptionLogitScale, Type: sdk.FieldFloat, Min: sdk.Bound(0), KeepsEmbeddings: true,
			Help: "exp(logit_scale) of the trained model, > 0 (default: the manifest's, else 100 as OpenAI CLIP)"},
		{Name: OptionBPE, Type: sdk.FieldPath,
			Help: "CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) for models without one in their folder"},
		{Name: OptionTextPadding, Type: sdk.FieldString, Choices: []string{PaddingLongest, PaddingFull},
			Help: "longest (default): cut each batch of token ids to its longest text when the text graph's sequence axis is dynamic; " +
				"full: feed every text padded to context_length, as open_clip does"},
	}
	return append(fields, sessionOptionFields()...)
}

// checkOption checks one option's value as applyOptions reads it; options are all the model's options, for the
// checks that involve two.
func checkOption(k, v string, options map[string]string, baseDir string) error {
	switch k {
	case OptionLogitScale:
		if s, err := strconv.ParseFloat(v, 64); err != nil || !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("option logit_scale %q: want a positive number (exp of the learned logit_scale)", v)
		}
	case OptionBPE:
		p := resolve(v, baseDir)
		if st, err := os.Stat(p); err != nil {
			return fmt.Errorf("option bpe: %w", err)
		} else if st.IsDir() {
			if _, err := os.Stat(filepath.Join(p, "vocab.json")); err != nil {
				return fmt.Errorf("option bpe: folder %s has no vocab.json (give bpe_simple_vocab_16e6.txt.gz, tokenizer.json or a folder with vocab.json + merges.txt)", p)
			}
		}
	case OptionTextPadding:
		if v != PaddingLongest && v != PaddingFull {
			return fmt.Errorf("option text_padding %q: want longest or full", v)
		}
	case OptionThreads, OptionInterOpThreads, OptionOptimization, OptionSpinning, OptionThreadAffinity, OptionProvider:
		return checkSessionOption(k, v, options)
	default:
		return fmt.Errorf("unknown option %q (known: logit_scale, bpe, text_padding, %s)", k, sessionOptionsSummary)
	}
	return nil
}

// resolve makes p absolute against baseDir when it is relative.
func resolve(p, baseDir string) string {
	if !filepath.IsAbs(p) && baseDir != "" {
		return filepath.Join(baseDir, p)
	}
	return p
}

func (f *Folder) applyOptions(options map[string]string, baseDir string) error {
	for k, v := range options {
		if err := checkOption(k, v, options, baseDir); err != nil {
			return fmt.Errorf("model %s: %w", f.Dir, err)
		}
		switch k {
		case OptionLogitScale:
			f.LogitScale, _ = strconv.ParseFloat(v, 64)
		case OptionBPE:
			f.BPE = resolve(v, baseDir)
		case OptionTextPadding:
			f.TextPadding = v
		}
	}
	f.Session = parseSessionOptions(options)
	return nil
}

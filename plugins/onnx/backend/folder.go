package backend

import (
	"fmt"

	"github.com/clipeval/clipeval/plugins/modelfolder"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// ManifestFile is the optional clipeval manifest inside a model folder (modelfolder.ManifestFile).
const ManifestFile = modelfolder.ManifestFile

// Manifest is the optional clipeval.yaml of a model folder (modelfolder.Manifest).
type Manifest = modelfolder.Manifest

// Folder is a model folder as the ONNX backend reads it: what every backend reads (modelfolder.Folder) and the
// options only ONNX Runtime has.
type Folder struct {
	modelfolder.Folder
	// TextPadding is how token ids are fed to a text graph whose sequence axis is dynamic: PaddingLongest or
	// PaddingFull (a graph with a fixed axis always gets ContextLength ids).
	TextPadding string
	// Session holds the ONNX Runtime settings from the options.
	Session SessionOptions
}

// ReadFolder reads a model folder and applies the config options (logit_scale, bpe, text_padding, the session's).
func ReadFolder(dir string, options map[string]string, baseDir string) (*Folder, error) {
	mf, err := modelfolder.Read(dir, options, baseDir)
	if err != nil {
		return nil, err
	}
	f := &Folder{Folder: *mf, TextPadding: PaddingLongest}
	if err := f.applyOptions(options, baseDir); err != nil {
		return nil, err
	}
	return f, nil
}

// Options a model accepts in the experiment config under `options:`.
const (
	OptionLogitScale = modelfolder.OptionLogitScale
	OptionBPE        = modelfolder.OptionBPE
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
	fields := append(modelfolder.OptionFields(),
		sdk.Field{Name: OptionTextPadding, Type: sdk.FieldString, Choices: []string{PaddingLongest, PaddingFull},
			Help: "longest (default): cut each batch of token ids to its longest text when the text graph's sequence axis is dynamic; " +
				"full: feed every text padded to context_length, as open_clip does"})
	return append(fields, sessionOptionFields()...)
}

// checkOption checks one option's value as applyOptions reads it; options are all the model's options, for the
// checks that involve two.
func checkOption(k, v string, options map[string]string, baseDir string) error {
	if known, err := modelfolder.CheckOption(k, v, baseDir); known {
		return err
	}
	switch k {
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

// applyOptions checks every option and applies the ONNX Runtime ones (modelfolder.Read applied the shared ones).
func (f *Folder) applyOptions(options map[string]string, baseDir string) error {
	for k, v := range options {
		if err := checkOption(k, v, options, baseDir); err != nil {
			return fmt.Errorf("model %s: %w", f.Dir, err)
		}
		if k == OptionTextPadding {
			f.TextPadding = v
		}
	}
	f.Session = parseSessionOptions(options)
	return nil
}

// Package backend is clipeval's ONNX Runtime model backend: it reads a model folder in the open_clip / Hugging Face
// layout plus image.onnx and text.onnx, preprocesses images and tokenizes texts exactly as open_clip does, and
// returns the raw (not normalised) embeddings. Sessions are created once per model and reused.
package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/clipeval/clipeval/plugins/imageprep"
	"github.com/clipeval/clipeval/plugins/modelfolder"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/digest"
	"github.com/clipeval/clipeval/plugins/tokenizer"
)

// LibEnvVar names the ONNX Runtime shared library to load, overriding the one the build fetched.
const LibEnvVar = "CLIPEVAL_ORT_LIB"

// TelemetryEnvVar is ONNX Runtime's own opt-out of its telemetry (1: nothing is recorded or sent). The backend sets
// it to 1 before loading the library unless it is already set; set it to 0 to leave ONNX Runtime's default.
const TelemetryEnvVar = "ORT_DISABLE_TELEMETRY"

// LibName is the ONNX Runtime shared library's file name.
const LibName = "libonnxruntime.so.1"

// FindLibrary returns the ONNX Runtime library: $CLIPEVAL_ORT_LIB, else lib/libonnxruntime.so.1 beside the
// executable's folder (bin/plugins/onnx → bin/lib/), as `make` installs it.
func FindLibrary() (string, error) {
	if p := os.Getenv(LibEnvVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ONNX Runtime library from $%s: %w", LibEnvVar, err)
		}
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locating the ONNX Runtime library: %w", err)
	}
	var tried []string
	for _, dir := range []string{filepath.Join(filepath.Dir(exe), "..", "lib"), filepath.Join(filepath.Dir(exe), "lib")} {
		p := filepath.Join(dir, LibName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("ONNX Runtime library not found (tried %s): run `make runtime` or set %s to your libonnxruntime.so",
		strings.Join(tried, ", "), LibEnvVar)
}

// Backend implements sdk.Model over ONNX Runtime. The zero value is not usable; call New.
type Backend struct {
	// Version is the plugin's version, reported by Describe.
	Version string
	// Digests remembers the model files' digests between runs (nil: every load hashes them).
	Digests  *digest.Memo
	libPath  string
	findErr  error
	initOnce sync.Once
	initErr  error
	warmed   chan struct{} // closed when the load Warm started is done; nil: Warm was not called

	mu     sync.Mutex
	models map[string]*model
	// decoding bounds the memory of the images every model of the backend decodes at once.
	decoding *imageprep.Budget
}

// New returns a backend that loads ONNX Runtime from libPath on first use. Its models' parallel image decodes
// share one budget of imageprep.DefaultBudgetBytes.
func New(libPath string) *Backend {
	return &Backend{libPath: libPath, models: map[string]*model{}, decoding: imageprep.NewBudget(imageprep.DefaultBudgetBytes)}
}

// NewFromEnv returns a backend over the library FindLibrary locates (when there is none, every call reports why)
// that remembers model files' digests in clipeval's cache folder (digest.DefaultMemo).
func NewFromEnv() *Backend {
	lib, err := FindLibrary()
	b := New(lib)
	b.findErr = err
	b.Digests = digest.DefaultMemo()
	return b
}

// Warm starts loading ONNX Runtime in the background, so that the first model's load does not wait for it (about
// 0.1 s: the library's relocation and its environment's creation). Call it at most once, before the backend is
// used; a failure is reported by the calls that need the library, as without Warm.
func (b *Backend) Warm() {
	b.warmed = make(chan struct{})
	go func() {
		defer close(b.warmed)
		_ = b.init()
	}()
}

// Close destroys every session and the ONNX Runtime environment (after the load Warm started, if any).
func (b *Backend) Close() error {
	if b.warmed != nil {
		<-b.warmed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, m := range b.models {
		m.image.close()
		m.text.close()
		delete(b.models, k)
	}
	if ort.IsInitialized() {
		return ort.DestroyEnvironment()
	}
	return nil
}

func (b *Backend) init() error {
	b.initOnce.Do(func() {
		if b.findErr != nil {
			b.initErr = b.findErr
			return
		}
		if _, err := os.Stat(b.libPath); err != nil {
			b.initErr = fmt.Errorf("ONNX Runtime library: %w (run `make runtime` or set %s)", err, LibEnvVar)
			return
		}
		// ONNX Runtime's Linux and macOS builds (1.29 on) record a device id and events (the program's path, each
		// session's model file and graph names) in a SQLite queue under ~/.cache/Microsoft/DeveloperTools, to send
		// to Microsoft. A harness that evaluates hospital models sends nothing, and the queue's writes cost every
		// session's creation: the variable, read when the environment is created, turns all of it off, unless the
		// user has set it. DisableTelemetry covers builds that only honour the API.
		if _, set := os.LookupEnv(TelemetryEnvVar); !set {
			if err := os.Setenv(TelemetryEnvVar, "1"); err != nil {
				b.initErr = fmt.Errorf("setting %s: %w", TelemetryEnvVar, err)
				return
			}
		}
		ort.SetSharedLibraryPath(b.libPath)
		if err := ort.InitializeEnvironment(); err != nil {
			b.initErr = fmt.Errorf("loading ONNX Runtime from %s: %w", b.libPath, err)
			return
		}
		if os.Getenv(TelemetryEnvVar) == "1" {
			if err := ort.DisableTelemetry(); err != nil {
				b.initErr = fmt.Errorf("turning off ONNX Runtime's telemetry (%s): %w", b.libPath, err)
			}
		}
	})
	return b.initErr
}

// model is a loaded model folder: its sessions, tokenizer and preprocessing, shared by every request for it. It is
// safe for concurrent use: each tower runs one batch at a time, and holds at most BatchesInFlight batches' input
// buffers, reused from batch to batch.
type model struct {
	folder *Folder
	info   sdk.ModelInfo
	tok    tokenizer.Tokenizer
	image  *encoder
	text   *encoder
	// cutText is set when the text graph's sequence axis is dynamic and the text_padding option is longest.
	cutText bool
	// imageFeeds and textFeeds are the towers' input buffers.
	imageFeeds, textFeeds feedSlots
	// decoding is the backend's decoded-memory budget, shared by its models' parallel decodes.
	decoding *imageprep.Budget
}

// load returns the model for ref, loading it on first use.
func (b *Backend) load(ref sdk.ModelRef) (*model, error) {
	if err := b.init(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := modelfolder.Key(ref)
	if m, ok := b.models[k]; ok {
		return m, nil
	}
	m, err := openModel(ref, b.Digests)
	var pe *ProviderError
	if errors.As(err, &pe) {
		err = fmt.Errorf("%w; the ONNX Runtime library in use is %s: point CLIPEVAL_ORT_LIB at a build that has %s "+
			"(and its GPU libraries on LD_LIBRARY_PATH), or set execution_provider: cpu", err, b.libPath, providerNames[pe.Provider])
	}
	if err != nil {
		return nil, sdk.InvalidInput(err) // the model folder's (or its options') fault: the harness reports it as bad input
	}
	m.info.Runtime = "onnxruntime " + ort.GetVersion()
	if p := m.folder.Session.Provider; p != ProviderCPU {
		m.info.Runtime += " on " + providerNames[p] // results.json's provenance says where the embeddings came from
	}
	m.decoding = b.decoding
	b.models[k] = m
	return m, nil
}

func openModel(ref sdk.ModelRef, digests *digest.Memo) (*model, error) {
	f, err := ReadFolder(ref.Dir, ref.Options, ref.BaseDir)
	if err != nil {
		return nil, err
	}
	m := &model{folder: f}
	if m.tok, err = f.Tokenizer(); err != nil {
		return nil, err
	}
	m.imageFeeds, m.textFeeds = newFeedSlots(BatchesInFlight), newFeedSlots(BatchesInFlight)
	man := f.Manifest
	// The towers' sessions are created side by side: each is mostly one thread's work (reading the graph,
	// optimising it, preparing kernels).
	var errImg, errTxt error
	var wg sync.WaitGroup
	wg.Go(func() {
		m.image, errImg = openEncoder(filepath.Join(f.Dir, man.ImageModel), man.ImageInput, man.ImageOutput, "", false, f.Session)
	})
	m.text, errTxt = openEncoder(filepath.Join(f.Dir, man.TextModel), man.TextInput, man.TextOutput, man.TextMaskInput, true, f.Session)
	wg.Wait()
	if errImg != nil || errTxt != nil {
		m.image.close()
		m.text.close()
		if errImg != nil {
			return nil, fmt.Errorf("model %s: image tower: %w", f.Dir, errImg)
		}
		return nil, fmt.Errorf("model %s: text tower: %w", f.Dir, errTxt)
	}
	if err := m.checkShapes(); err != nil {
		m.image.close()
		m.text.close()
		return nil, err
	}
	files, err := f.Digests(digests, man.ImageModel, man.TextModel)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", f.Dir, err)
	}
	m.cutText = f.TextPadding == PaddingLongest && m.text.dynamicSequence()
	m.info = sdk.ModelInfo{Name: f.Name, EmbedDim: f.EmbedDim, ImageSize: f.Image.Size, ContextLength: f.ContextLength,
		LogitScale: f.LogitScale, Tokenizer: m.tok.Name(), Files: files}
	return m, nil
}

// checkShapes compares what the ONNX files declare with open_clip_config.json and returns the first disagreement.
func (m *model) checkShapes() error {
	if ps := m.shapeProblems(); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// shapeProblems lists every disagreement between the ONNX files' dimensions and open_clip_config.json.
func (m *model) shapeProblems() []error {
	f := m.folder
	var out []error
	if h, w := m.image.fixedDim(2), m.image.fixedDim(3); (h != 0 && h != f.Image.Size) || (w != 0 && w != f.Image.Size) {
		out = append(out, fmt.Errorf("model %s: %s takes %dx%d images but open_clip_config.json says image_size %d", f.Dir, m.image.path, h, w, f.Image.Size))
	}
	if c := m.text.fixedDim(1); c != 0 && c != f.ContextLength {
		out = append(out, fmt.Errorf("model %s: %s takes %d tokens but open_clip_config.json says context_length %d", f.Dir, m.text.path, c, f.ContextLength))
	}
	for _, e := range []*encoder{m.image, m.text} {
		if d := e.output.Dimensions[1]; d > 0 && f.EmbedDim > 0 && int(d) != f.EmbedDim {
			out = append(out, fmt.Errorf("model %s: %s outputs %d values but open_clip_config.json says embed_dim %d", f.Dir, e.path, d, f.EmbedDim))
		}
	}
	if d1, d2 := m.image.output.Dimensions[1], m.text.output.Dimensions[1]; d1 > 0 && d2 > 0 && d1 != d2 {
		out = append(out, fmt.Errorf("model %s: the image tower outputs %d values and the text tower %d; they must agree", f.Dir, d1, d2))
	}
	return out
}

// Describe names the backend and declares the model options it accepts.
func (b *Backend) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "onnx", Version: b.Version,
		Description:  "ONNX Runtime: open_clip / Hugging Face model folders with image.onnx and text.onnx, preprocessing and tokenizers exact to open_clip",
		OptionFields: OptionFields()}, nil
}

// CheckModel reports every problem that would stop Info from loading the model, without creating sessions or
// encoding: option values, the folder and its open_clip_config.json and manifest, the tokenizer files, both ONNX
// files (present, readable as ONNX, with usable inputs and outputs), and their dimensions against the config.
func (b *Backend) CheckModel(_ context.Context, req sdk.CheckModelRequest) (*sdk.CheckModelResponse, error) {
	ref := req.Model
	out := &sdk.CheckModelResponse{}
	add := func(key string, err error) {
		out.Problems = append(out.Problems, sdk.Problem{Key: key, Message: err.Error()})
	}
	good := map[string]string{}
	for _, k := range sortedKeys(ref.Options) {
		if err := checkOption(k, ref.Options[k], ref.Options, ref.BaseDir); err != nil {
			add("options."+k, fmt.Errorf("model %s: %w", ref.Dir, err))
			continue
		}
		good[k] = ref.Options[k]
	}
	f, err := ReadFolder(ref.Dir, good, ref.BaseDir)
	if err != nil {
		add("path", err)
		return out, nil
	}
	if _, err := f.Tokenizer(); err != nil {
		key := "path"
		if _, set := good[OptionBPE]; set {
			key = "options." + OptionBPE
		}
		add(key, err)
	}
	if err := b.init(); err != nil {
		return nil, err
	}
	man := f.Manifest
	img, errImg := inspectEncoder(filepath.Join(f.Dir, man.ImageModel), man.ImageInput, man.ImageOutput, "", false)
	if errImg != nil {
		add("path", fmt.Errorf("model %s: image tower: %w", f.Dir, errImg))
	}
	txt, errTxt := inspectEncoder(filepath.Join(f.Dir, man.TextModel), man.TextInput, man.TextOutput, man.TextMaskInput, true)
	if errTxt != nil {
		add("path", fmt.Errorf("model %s: text tower: %w", f.Dir, errTxt))
	}
	if errImg == nil && errTxt == nil {
		m := &model{folder: f, image: img, text: txt}
		for _, err := range m.shapeProblems() {
			add("path", err)
		}
	}
	return out, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Info loads the model (once) and describes it.
func (b *Backend) Info(_ context.Context, req sdk.ModelInfoRequest) (*sdk.ModelInfo, error) {
	m, err := b.load(req.Model)
	if err != nil {
		return nil, err
	}
	info := m.info
	return &info, nil
}

// EncodeImages preprocesses the images as open_clip's eval transform does (in parallel) and runs the image tower.
// Two calls may run at once: the pixels of one are preprocessed while the other's run (see feedSlots).
func (b *Backend) EncodeImages(ctx context.Context, req sdk.EncodeImagesRequest) (*sdk.EncodeResponse, error) {
	m, err := b.load(req.Model)
	if err != nil {
		return nil, err
	}
	n := len(req.Images)
	if n == 0 {
		return encoded(m.EncodePixels(ctx, nil, 0))
	}
	feed, err := m.imageFeeds.take(ctx)
	if err != nil {
		return nil, err
	}
	defer m.imageFeeds.give(feed)
	feed.pixels = grow(feed.pixels, n*m.folder.PixelsPerImage())
	if err := m.folder.PreprocessInto(ctx, m.decoding, feed.pixels, req.Images); err != nil {
		return nil, err
	}
	return encoded(m.EncodePixels(ctx, feed.pixels, n))
}

// encoded wraps a matrix as an EncodeResponse.
func encoded(m sdk.Matrix, err error) (*sdk.EncodeResponse, error) {
	if err != nil {
		return nil, err
	}
	return &sdk.EncodeResponse{Embeddings: m}, nil
}

// EncodePixels runs the image tower on an already preprocessed [n, 3, size, size] batch, which it reads in place.
func (m *model) EncodePixels(ctx context.Context, pixels []float32, n int) (sdk.Matrix, error) {
	if n == 0 {
		return sdk.Matrix{Cols: m.folder.EmbedDim, Data: []float32{}}, nil
	}
	out, d, err := m.image.runFloat(ctx, pixels, n, m.folder.Image.Size)
	if err != nil {
		return sdk.Matrix{}, err
	}
	return sdk.Matrix{Rows: n, Cols: d, Data: out}, nil
}

// EncodeTexts tokenizes the texts as open_clip does and runs the text tower.
func (b *Backend) EncodeTexts(ctx context.Context, req sdk.EncodeTextsRequest) (*sdk.EncodeResponse, error) {
	m, err := b.load(req.Model)
	if err != nil {
		return nil, err
	}
	return encoded(m.EncodeIDs(ctx, tokenizer.EncodeBatch(m.tok, req.Texts), len(req.Texts)))
}

// EncodeIDs runs the text tower on [n, context_length] token ids. When the graph's sequence axis is dynamic (and the
// text_padding option is longest), the batch is cut to its longest text first (see textLength).
func (m *model) EncodeIDs(ctx context.Context, ids []int64, n int) (sdk.Matrix, error) {
	if n == 0 {
		return sdk.Matrix{Cols: m.folder.EmbedDim, Data: []float32{}}, nil
	}
	c := m.tok.ContextLength()
	if len(ids) != n*c {
		return sdk.Matrix{}, fmt.Errorf("%d token ids for %d texts of %d tokens", len(ids), n, c)
	}
	length := c
	if m.cutText {
		length = textLength(ids, n, c, m.tok.PadID())
	}
	feed, err := m.textFeeds.take(ctx)
	if err != nil {
		return sdk.Matrix{}, err
	}
	defer m.textFeeds.give(feed)
	out, d, err := m.text.runIDs(ctx, feed, ids, n, c, length, m.tok.PadID())
	if err != nil {
		if length < c {
			err = fmt.Errorf("%w (the batch was cut to its longest text, %d of %d tokens, as the graph declares its sequence axis dynamic; "+
				"the model option %s: %s feeds every text padded to %d)", err, length, c, OptionTextPadding, PaddingFull, c)
		}
		return sdk.Matrix{}, err
	}
	return sdk.Matrix{Rows: n, Cols: d, Data: out}, nil
}

// textLength returns how many tokens of each row of ids [n, c] the batch needs: up to the last id that is not pad
// in any row (at least 1). The tokenizers put every text's ids first and pad after them (open_clip's CLIP tokenizer
// ends a text with end-of-text, BERT's with [SEP]; neither is pad), so cutting there drops only padding. A text
// tower reads nothing past a text's last token: CLIP's causal attention never looks ahead and it pools at the
// end-of-text token; a Hugging Face tower masks the padding out (ids != pad) and pools [CLS].
func textLength(ids []int64, n, c int, pad int64) int {
	length := 1
	for r := range n {
		row := ids[r*c : (r+1)*c]
		for j := c - 1; j >= length; j-- {
			if row[j] != pad {
				length = j + 1
				break
			}
		}
	}
	return length
}

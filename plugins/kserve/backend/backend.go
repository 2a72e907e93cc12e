// Package backend is clipeval's Open Inference Protocol model backend (KServe V2, as clipeval serve, KServe and
// NVIDIA Triton serve it): it preprocesses images and tokenizes texts locally, exactly as the ONNX Runtime backend
// does (plugins/modelfolder, from a local copy of the model folder: open_clip_config.json and the tokenizer files;
// the ONNX files may be absent), sends the pixels and token ids to a server's NAME-image and NAME-text models as raw
// tensor contents over gRPC (ModelInfer), and returns the raw embeddings they answer. So a GPU machine can run the
// towers for laptops and CI while every input stays bit for bit the reference stack's.
package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/clipeval/clipeval/plugins/imageprep"
	"github.com/clipeval/clipeval/plugins/kserve/client"
	"github.com/clipeval/clipeval/plugins/modelfolder"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/digest"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
	"github.com/clipeval/clipeval/plugins/tokenizer"
)

// Name is the backend's name: a model's `backend: kserve`.
const Name = "kserve"

// TokenEnvVar is the environment variable whose value, when set, is the bearer token of models with neither the
// token nor the token_file option (the harness passes every CLIPEVAL_* variable to its plugins): a CI secret needs
// no file.
const TokenEnvVar = "CLIPEVAL_KSERVE_TOKEN"

// checkTimeout bounds how long CheckModel waits for the server's metadata.
const checkTimeout = 15 * time.Second

// Backend implements sdk.Model and sdk.InputModel over an inference server. The zero value is not usable; call New.
type Backend struct {
	// Version is the plugin's version, reported by Describe.
	Version string
	// Digests remembers the model files' digests between runs (nil: every load hashes them).
	Digests *digest.Memo
	// DefaultToken is the bearer token of models with neither the token nor the token_file option ("": none).
	DefaultToken string

	mu     sync.Mutex
	models map[string]*model
	// decoding bounds the memory of the images every model of the backend decodes at once.
	decoding *imageprep.Budget
}

var (
	_ sdk.Model      = (*Backend)(nil)
	_ sdk.InputModel = (*Backend)(nil)
)

// New returns a backend whose models' parallel image decodes share one budget of imageprep.DefaultBudgetBytes.
func New() *Backend {
	return &Backend{models: map[string]*model{}, decoding: imageprep.NewBudget(imageprep.DefaultBudgetBytes)}
}

// NewFromEnv returns a backend that remembers model files' digests in clipeval's cache folder (digest.DefaultMemo)
// and takes its DefaultToken from $CLIPEVAL_KSERVE_TOKEN.
func NewFromEnv() *Backend {
	b := New()
	b.Digests = digest.DefaultMemo()
	b.DefaultToken = os.Getenv(TokenEnvVar)
	return b
}

// Close ends every model's connection.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for k, m := range b.models {
		errs = append(errs, m.conn.Close())
		delete(b.models, k)
	}
	return errors.Join(errs...)
}

// model is a loaded model: the local folder and tokenizer, the connection and what the server said of the towers.
// It is safe for concurrent use.
type model struct {
	folder   *modelfolder.Folder
	tok      tokenizer.Tokenizer
	opts     options
	conn     *client.Client
	remote   *remote
	info     sdk.ModelInfo
	decoding *imageprep.Budget
}

// problemsError joins problems into one bad-input error.
func problemsError(ps []sdk.Problem) error {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
	}
	return sdk.InvalidInput(errors.New(strings.Join(msgs, "; ")))
}

// local reads what the backend needs of the local model folder: the options, the folder and its tokenizer. It
// returns every problem, keyed as CheckModel reports them.
func (b *Backend) local(ref sdk.ModelRef) (options, *modelfolder.Folder, tokenizer.Tokenizer, []sdk.Problem) {
	o, problems := parseOptions(ref, b.DefaultToken)
	f, err := modelfolder.Read(ref.Dir, o.folder, ref.BaseDir)
	if err != nil {
		return o, nil, nil, append(problems, sdk.Problem{Key: "path", Message: err.Error()})
	}
	tok, err := f.Tokenizer()
	if err != nil {
		k := "path"
		if _, set := o.folder[modelfolder.OptionBPE]; set {
			k = "options." + modelfolder.OptionBPE
		}
		return o, f, nil, append(problems, sdk.Problem{Key: k, Message: err.Error()})
	}
	return o, f, tok, problems
}

// load returns the model for ref, loading it on first use: the local folder, then the server's metadata.
func (b *Backend) load(ctx context.Context, ref sdk.ModelRef) (*model, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := modelfolder.Key(ref)
	if m, ok := b.models[k]; ok {
		return m, nil
	}
	o, f, tok, problems := b.local(ref)
	if len(problems) > 0 {
		return nil, problemsError(problems)
	}
	conn, err := client.Dial(o.Config)
	if err != nil {
		return nil, sdk.InvalidInput(fmt.Errorf("model %s: %w", ref.Dir, err))
	}
	r, err := ask(ctx, conn, o, f, tok.Name())
	if err != nil {
		conn.Close()
		var ke *keyedError
		if errors.As(err, &ke) {
			return nil, sdk.InvalidInput(fmt.Errorf("model %s: %w", ref.Dir, err))
		}
		return nil, callError(fmt.Errorf("model %s: %w", ref.Dir, err))
	}
	files, err := f.Digests(b.Digests)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("model %s: %w", ref.Dir, err)
	}
	m := &model{folder: f, tok: tok, opts: o, conn: conn, remote: r, decoding: b.decoding}
	m.info = sdk.ModelInfo{Name: f.Name, EmbedDim: r.embedDim, ImageSize: f.Image.Size, ContextLength: f.ContextLength,
		LogitScale: f.LogitScale, Tokenizer: tok.Name(), Files: files, Runtime: r.runtime()}
	b.models[k] = m
	return m, nil
}

// Describe names the backend and declares the model options it accepts.
func (b *Backend) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: Name, Version: b.Version,
		Description: "Open Inference Protocol (KServe V2 gRPC: clipeval serve, KServe, Triton): the towers run on a server, " +
			"preprocessing and tokenizers locally and exact to open_clip",
		OptionFields: OptionFields()}, nil
}

// CheckModel reports every problem that would stop Info from loading the model, without encoding: option values,
// the local folder and its tokenizer files, and (when those are sound) the server's metadata of both towers against
// the folder.
func (b *Backend) CheckModel(ctx context.Context, req sdk.CheckModelRequest) (*sdk.CheckModelResponse, error) {
	o, f, tok, problems := b.local(req.Model)
	out := &sdk.CheckModelResponse{Problems: problems}
	if len(problems) > 0 {
		return out, nil
	}
	conn, err := client.Dial(o.Config)
	if err != nil {
		out.Problems = append(out.Problems, sdk.Problem{Key: "options." + OptionURL, Message: fmt.Sprintf("model %s: %v", f.Dir, err)})
		return out, nil
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if _, err := ask(ctx, conn, o, f, tok.Name()); err != nil {
		out.Problems = append(out.Problems, sdk.Problem{Key: keyOf(err), Message: fmt.Sprintf("model %s: %v", f.Dir, err)})
	}
	return out, nil
}

// Info loads the model (once) and describes it. Its Runtime names the server and each served model's version and
// platform (see remote.runtime); its Files are the local folder's, which decide the inputs.
func (b *Backend) Info(ctx context.Context, req sdk.ModelInfoRequest) (*sdk.ModelInfo, error) {
	m, err := b.load(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	info := m.info
	return &info, nil
}

// EncodeImages preprocesses the images as open_clip's eval transform does (in parallel) and runs the served image
// tower on the pixels.
func (b *Backend) EncodeImages(ctx context.Context, req sdk.EncodeImagesRequest) (*sdk.EncodeResponse, error) {
	m, err := b.load(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	pixels, err := m.folder.Preprocess(ctx, m.decoding, req.Images)
	if err != nil {
		return nil, err
	}
	return encoded(m.encodePixels(ctx, pixels, len(req.Images)))
}

// EncodeTexts tokenizes the texts as open_clip does and runs the served text tower on the token ids.
func (b *Backend) EncodeTexts(ctx context.Context, req sdk.EncodeTextsRequest) (*sdk.EncodeResponse, error) {
	m, err := b.load(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	return encoded(m.encodeIDs(ctx, tokenizer.EncodeBatch(m.tok, req.Texts), len(req.Texts)))
}

// encoded wraps a matrix as an EncodeResponse.
func encoded(m sdk.Matrix, err error) (*sdk.EncodeResponse, error) {
	if err != nil {
		return nil, err
	}
	return &sdk.EncodeResponse{Embeddings: m}, nil
}

// Preprocess returns the float32 [N, 3, size, size] pixels open_clip's eval transform gives for images (locally).
func (b *Backend) Preprocess(ctx context.Context, req sdk.PreprocessRequest) (*sdk.TensorResponse, error) {
	m, err := b.load(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	pixels, err := m.folder.Preprocess(ctx, m.decoding, req.Images)
	if err != nil {
		return nil, err
	}
	s := m.folder.Image.Size
	return &sdk.TensorResponse{Tensor: npy.Float32Array([]int{len(req.Images), 3, s, s}, pixels)}, nil
}

// Tokenize returns the int64 [N, context_length] token ids the text tower is fed for texts (locally).
func (b *Backend) Tokenize(ctx context.Context, req sdk.TokenizeRequest) (*sdk.TensorResponse, error) {
	m, err := b.load(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	return &sdk.TensorResponse{Tensor: npy.Int64Array([]int{len(req.Texts), m.tok.ContextLength()}, tokenizer.EncodeBatch(m.tok, req.Texts))}, nil
}

// EncodePixels runs the served image tower on float32 [N, 3, size, size] pixels.
func (b *Backend) EncodePixels(ctx context.Context, req sdk.EncodePixelsRequest) (*sdk.EncodeResponse, error) {
	m, err := b.load(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	s, pixels := m.folder.Image.Size, req.Pixels
	if pixels == nil {
		return nil, sdk.InvalidInput(fmt.Errorf("no pixels; model %s takes float32 [N, 3, %d, %d]", m.folder.Name, s, s))
	}
	if sh := pixels.Shape; pixels.DType != "<f4" || len(sh) != 4 || sh[1] != 3 || sh[2] != s || sh[3] != s {
		return nil, sdk.InvalidInput(fmt.Errorf("pixels are %s %v; model %s takes float32 [N, 3, %d, %d]", pixels.DType, pixels.Shape, m.folder.Name, s, s))
	}
	return encoded(m.encodePixels(ctx, pixels.Float32, pixels.Shape[0]))
}

// EncodeTokens runs the served text tower on int64 [N, context_length] token ids; it refuses negative ids.
func (b *Backend) EncodeTokens(ctx context.Context, req sdk.EncodeTokensRequest) (*sdk.EncodeResponse, error) {
	m, err := b.load(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	c, ids := m.tok.ContextLength(), req.IDs
	if ids == nil {
		return nil, sdk.InvalidInput(fmt.Errorf("no token ids; model %s takes int64 [N, %d]", m.folder.Name, c))
	}
	if sh := ids.Shape; ids.DType != "<i8" || len(sh) != 2 || sh[1] != c {
		return nil, sdk.InvalidInput(fmt.Errorf("token ids are %s %v; model %s takes int64 [N, %d]", ids.DType, ids.Shape, m.folder.Name, c))
	}
	for i, id := range ids.Int64 {
		if id < 0 {
			return nil, sdk.InvalidInput(fmt.Errorf("token id %d at row %d, position %d is negative; token ids index the vocabulary from 0 (as clipeval tokenize writes them)", id, i/c, i%c))
		}
	}
	return encoded(m.encodeIDs(ctx, ids.Int64, ids.Shape[0]))
}

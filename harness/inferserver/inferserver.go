// Package inferserver serves one model's two towers over the Open Inference Protocol's gRPC binding (KServe V2,
// plugins/proto/inference/v2) as two models, NAME-image (input pixels FP32 [-1, 3, H, W]) and NAME-text (input
// input_ids INT64 [-1, L]), each with the output embeddings FP32 [-1, D]: what `clipeval serve` runs, so that one
// machine with the accelerator encodes for others (the kserve backend, or any v2 client). The towers are a model
// backend plugin's EncodePixels and EncodeTokens (through harness/pluginhost), fed exactly the inputs the request
// carries.
package inferserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/clipeval/clipeval/harness/store"
	inferencepb "github.com/clipeval/clipeval/plugins/proto/inference/v2"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// Towers runs a model's towers on exact inputs: a model backend plugin's sdk.InputModel calls (pluginhost.Model).
type Towers interface {
	// EncodePixels runs the image tower on float32 [N, 3, S, S] pixels.
	EncodePixels(ctx context.Context, req sdk.EncodePixelsRequest) (*sdk.EncodeResponse, error)
	// EncodeTokens runs the text tower on int64 [N, L] token ids.
	EncodeTokens(ctx context.Context, req sdk.EncodeTokensRequest) (*sdk.EncodeResponse, error)
}

// Model is the model a server serves.
type Model struct {
	// Name is NAME of the served models NAME-image and NAME-text.
	Name string
	// Version is the one version of both served models (clipeval serve: a prefix of the model's fingerprint).
	Version string
	// Platform is the platform ModelMetadata reports (clipeval serve: the backend's runtime).
	Platform string
	// Ref is the model the towers' calls name.
	Ref sdk.ModelRef
	// ImageSize, ContextLength and EmbedDim are the towers' shapes: pixels [N, 3, ImageSize, ImageSize], token ids
	// [N, ContextLength], embeddings [N, EmbedDim].
	ImageSize, ContextLength, EmbedDim int
	// Properties are stated in both models' metadata (the protocol's optional model properties).
	Properties map[string]string
	// Towers runs the towers.
	Towers Towers
}

// Config is how the server takes calls.
type Config struct {
	// ServerName and ServerVersion are what ServerMetadata reports.
	ServerName, ServerVersion string
	// Token, when set, is the bearer token every call must carry (`authorization: Bearer TOKEN`); others are
	// refused with Unauthenticated.
	Token string
	// MaxMessageBytes bounds a message either way.
	MaxMessageBytes int
	// TowerMessageBytes bounds the inputs of one call to the towers (sdk.MaxMessageBytes: a plugin's limit); a
	// larger request is run in several calls, in order.
	TowerMessageBytes int
}

// Server implements inferencepb.GRPCInferenceServiceServer for one model.
type Server struct {
	inferencepb.UnimplementedGRPCInferenceServiceServer
	model Model
	cfg   Config
}

// New returns the server of m.
func New(m Model, cfg Config) (*Server, error) {
	switch {
	case m.Name == "":
		return nil, errors.New("serving a model: no name")
	case m.ImageSize <= 0 || m.ContextLength <= 0 || m.EmbedDim <= 0:
		return nil, fmt.Errorf("serving model %s: image size %d, context length %d and embedding width %d must be positive", m.Name, m.ImageSize, m.ContextLength, m.EmbedDim)
	case cfg.MaxMessageBytes <= 0 || cfg.TowerMessageBytes <= 0:
		return nil, fmt.Errorf("serving model %s: message limits %d and %d must be positive", m.Name, cfg.MaxMessageBytes, cfg.TowerMessageBytes)
	}
	return &Server{model: m, cfg: cfg}, nil
}

// GRPCServer returns a gRPC server with s registered, the message limits raised to Config.MaxMessageBytes, every
// call checked for the bearer token (when there is one) and opts (e.g. TLS credentials) added.
func (s *Server) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{grpc.MaxRecvMsgSize(s.cfg.MaxMessageBytes), grpc.MaxSendMsgSize(s.cfg.MaxMessageBytes),
		grpc.UnaryInterceptor(s.authorize)}, opts...)
	g := grpc.NewServer(opts...)
	inferencepb.RegisterGRPCInferenceServiceServer(g, s)
	return g
}

// authorize refuses a call without the bearer token, when the server has one.
func (s *Server) authorize(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if s.cfg.Token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		vals := md.Get("authorization")
		if len(vals) == 0 {
			return nil, status.Error(codes.Unauthenticated, "this server takes only calls with a bearer token: send the metadata `authorization: Bearer TOKEN`")
		}
		scheme, tok, _ := strings.Cut(vals[0], " ")
		if len(vals) != 1 || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.Token)) != 1 {
			return nil, status.Error(codes.Unauthenticated, "the bearer token is not this server's (authorization: Bearer TOKEN, with the token clipeval serve was given)")
		}
	}
	return handler(ctx, req)
}

// ServerLive answers live: a server that answers is.
func (s *Server) ServerLive(context.Context, *inferencepb.ServerLiveRequest) (*inferencepb.ServerLiveResponse, error) {
	return &inferencepb.ServerLiveResponse{Live: true}, nil
}

// ServerReady answers ready: the model was loaded before the server started.
func (s *Server) ServerReady(context.Context, *inferencepb.ServerReadyRequest) (*inferencepb.ServerReadyResponse, error) {
	return &inferencepb.ServerReadyResponse{Ready: true}, nil
}

// ModelReady answers whether the server has the model and version asked about.
func (s *Server) ModelReady(_ context.Context, req *inferencepb.ModelReadyRequest) (*inferencepb.ModelReadyResponse, error) {
	_, err := s.tower(req.GetName(), req.Version)
	return &inferencepb.ModelReadyResponse{Ready: err == nil}, nil
}

// ServerMetadata names the server; it supports no protocol extension.
func (s *Server) ServerMetadata(context.Context, *inferencepb.ServerMetadataRequest) (*inferencepb.ServerMetadataResponse, error) {
	return &inferencepb.ServerMetadataResponse{Name: s.cfg.ServerName, Version: s.cfg.ServerVersion, Extensions: []string{}}, nil
}

// tower is one served model.
type tower struct {
	name   string
	input  string
	dtype  string
	shape  []int64 // the input's shape, -1 for the batch
	image  bool
	perRow int // input values per row
}

// towers returns both served models.
func (s *Server) towers() []tower {
	m := s.model
	size := int64(m.ImageSize)
	return []tower{
		{name: m.Name + inferencepb.ImageSuffix, input: inferencepb.PixelsInput, dtype: inferencepb.DataTypeFP32, shape: []int64{-1, 3, size, size}, image: true, perRow: 3 * m.ImageSize * m.ImageSize},
		{name: m.Name + inferencepb.TextSuffix, input: inferencepb.IDsInput, dtype: inferencepb.DataTypeINT64, shape: []int64{-1, int64(m.ContextLength)}, perRow: m.ContextLength},
	}
}

// tower returns the served model called name, when version (nil: any) is its version; else a NotFound status.
func (s *Server) tower(name string, version *string) (tower, error) {
	ts := s.towers()
	i := slices.IndexFunc(ts, func(t tower) bool { return t.name == name })
	if i < 0 {
		return tower{}, status.Errorf(codes.NotFound, "no model %q here: this server serves %s and %s", name, ts[0].name, ts[1].name)
	}
	if version != nil && *version != "" && *version != s.model.Version {
		return tower{}, status.Errorf(codes.NotFound, "model %s has no version %q: its one version is %s", name, *version, s.model.Version)
	}
	return ts[i], nil
}

// ModelMetadata describes a served model: its one version, platform, input, output and properties.
func (s *Server) ModelMetadata(_ context.Context, req *inferencepb.ModelMetadataRequest) (*inferencepb.ModelMetadataResponse, error) {
	t, err := s.tower(req.GetName(), req.Version)
	if err != nil {
		return nil, err
	}
	return &inferencepb.ModelMetadataResponse{
		Name: t.name, Versions: []string{s.model.Version}, Platform: s.model.Platform,
		Inputs:     []*inferencepb.ModelMetadataResponse_TensorMetadata{{Name: t.input, Datatype: t.dtype, Shape: t.shape}},
		Outputs:    []*inferencepb.ModelMetadataResponse_TensorMetadata{{Name: inferencepb.EmbeddingsOutput, Datatype: inferencepb.DataTypeFP32, Shape: []int64{-1, int64(s.model.EmbedDim)}}},
		Properties: s.model.Properties,
	}, nil
}

// invalid is an InvalidArgument status about a request to model t.
func invalid(t tower, format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, "model %s: %s (it takes %s %s %v)", t.name, fmt.Sprintf(format, args...), t.input, t.dtype, t.shape)
}

// ModelInfer runs a tower on the request's one input (raw contents, little-endian, or typed contents) and answers
// the embeddings as raw contents.
func (s *Server) ModelInfer(ctx context.Context, req *inferencepb.ModelInferRequest) (*inferencepb.ModelInferResponse, error) {
	t, err := s.tower(req.GetModelName(), req.ModelVersion)
	if err != nil {
		return nil, err
	}
	n, data, err := s.input(t, req)
	if err != nil {
		return nil, err
	}
	for _, o := range req.GetOutputs() {
		if o.GetName() != inferencepb.EmbeddingsOutput {
			return nil, status.Errorf(codes.InvalidArgument, "model %s has no output %q: its one output is %s FP32 [-1, %d]", t.name, o.GetName(), inferencepb.EmbeddingsOutput, s.model.EmbedDim)
		}
	}
	emb, err := s.run(ctx, t, n, data)
	if err != nil {
		return nil, err
	}
	return &inferencepb.ModelInferResponse{
		ModelName: t.name, ModelVersion: s.model.Version, Id: req.GetId(),
		Outputs:           []*inferencepb.ModelInferResponse_InferOutputTensor{{Name: inferencepb.EmbeddingsOutput, Datatype: inferencepb.DataTypeFP32, Shape: []int64{int64(n), int64(s.model.EmbedDim)}}},
		RawOutputContents: [][]byte{inferencepb.RawFloat32(emb)},
	}, nil
}

// input checks a request's input against tower t and returns its rows and data ([]float32 pixels or []int64 ids).
func (s *Server) input(t tower, req *inferencepb.ModelInferRequest) (int, any, error) {
	ins := req.GetInputs()
	if len(ins) != 1 {
		return 0, nil, invalid(t, "the request has %d inputs; the model takes one", len(ins))
	}
	in := ins[0]
	if in.GetName() != t.input {
		return 0, nil, invalid(t, "the request's input is %q", in.GetName())
	}
	if in.GetDatatype() != t.dtype {
		return 0, nil, invalid(t, "input %s is %s", in.GetName(), in.GetDatatype())
	}
	sh := in.GetShape()
	if len(sh) != len(t.shape) || sh[0] < 0 || slices.ContainsFunc(sh[1:], func(d int64) bool { return d < 0 }) {
		return 0, nil, invalid(t, "input %s has shape %v", in.GetName(), sh)
	}
	for i := 1; i < len(sh); i++ {
		if sh[i] != t.shape[i] {
			return 0, nil, invalid(t, "input %s has shape %v: dimension %d is %d, not %d", in.GetName(), sh, i, sh[i], t.shape[i])
		}
	}
	raw := req.GetRawInputContents()
	switch {
	case len(raw) > 1:
		return 0, nil, invalid(t, "the request has %d raw_input_contents for its 1 input", len(raw))
	case len(raw) == 1 && in.GetContents() != nil:
		return 0, nil, invalid(t, "input %s has both raw_input_contents and contents; the protocol allows one", in.GetName())
	}
	maxElems := s.cfg.MaxMessageBytes // no message holds more elements than bytes
	count, err := inferencepb.ElementCount(sh, maxElems)
	if err != nil {
		return 0, nil, invalid(t, "input %s: %v", in.GetName(), err)
	}
	var rawData []byte
	if len(raw) == 1 {
		rawData = raw[0]
	}
	if t.image {
		v, err := inferencepb.Float32s(rawData, len(raw) == 1, in.GetContents(), count)
		if err != nil {
			return 0, nil, invalid(t, "input %s %v: %v", in.GetName(), sh, err)
		}
		return int(sh[0]), v, nil
	}
	v, err := inferencepb.Ints(t.dtype, rawData, len(raw) == 1, in.GetContents(), count)
	if err != nil {
		return 0, nil, invalid(t, "input %s %v: %v", in.GetName(), sh, err)
	}
	return int(sh[0]), v, nil
}

// run calls the towers on n rows of data, in as few calls as the towers' message limit allows, and checks what
// they answer.
func (s *Server) run(ctx context.Context, t tower, n int, data any) ([]float32, error) {
	d := s.model.EmbedDim
	step := max(1, s.cfg.TowerMessageBytes/(8*t.perRow)) // 8 bytes: the widest value (an int64 id)
	out := make([]float32, 0, n*d)
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		var r *sdk.EncodeResponse
		var err error
		if t.image {
			size := s.model.ImageSize
			px := data.([]float32)[lo*t.perRow : hi*t.perRow]
			r, err = s.model.Towers.EncodePixels(ctx, sdk.EncodePixelsRequest{Model: s.model.Ref, Pixels: npy.Float32Array([]int{hi - lo, 3, size, size}, px)})
		} else {
			ids := data.([]int64)[lo*t.perRow : hi*t.perRow]
			r, err = s.model.Towers.EncodeTokens(ctx, sdk.EncodeTokensRequest{Model: s.model.Ref, IDs: npy.Int64Array([]int{hi - lo, t.perRow}, ids)})
		}
		if err != nil {
			return nil, towerError(ctx, t, err)
		}
		if e := r.Embeddings; e.Rows != hi-lo || e.Cols != d || len(e.Data) != (hi-lo)*d {
			return nil, status.Errorf(codes.Internal, "model %s: the backend answered %d inputs with %d×%d embeddings (%d values); want %d×%d",
				t.name, hi-lo, e.Rows, e.Cols, len(e.Data), hi-lo, d)
		}
		out = append(out, r.Embeddings.Data...)
	}
	return out, nil
}

// towerError is the status of a failed tower call: InvalidArgument for an input the backend refused (a negative
// token id), Canceled or DeadlineExceeded for a call that ended, Internal otherwise.
func towerError(ctx context.Context, t tower, err error) error {
	switch {
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case sdk.IsInvalidInput(err):
		return status.Errorf(codes.InvalidArgument, "model %s: %v", t.name, err)
	}
	return status.Errorf(codes.Internal, "model %s: the backend failed: %v", t.name, err)
}

// Backend is a model backend that can be served: a model backend plugin (pluginhost.Model) whose towers run on
// given inputs.
type Backend interface {
	Towers
	// Describe names the backend and declares its options (for the fingerprint: which options change embeddings).
	Describe(ctx context.Context, req sdk.DescribeRequest) (*sdk.PluginInfo, error)
	// Info loads and describes the model.
	Info(ctx context.Context, req sdk.ModelInfoRequest) (*sdk.ModelInfo, error)
}

// ModelOf describes the model ref of backend b, to serve as NAME-image and NAME-text: its towers' shapes (the
// embedding width from one probe input through each tower, which also checks that the backend runs its towers on
// given inputs: an error sdk.IsUnimplemented says it does not), and its version, the first 16 hex digits of its
// embedding-store fingerprint (the backend and its version, the runtime, the model files, the options that change
// embeddings): a client that records the version records which embeddings it got.
func ModelOf(ctx context.Context, b Backend, ref sdk.ModelRef, name string) (Model, error) {
	plugin, err := b.Describe(ctx, sdk.DescribeRequest{})
	if err != nil {
		return Model{}, err
	}
	info, err := b.Info(ctx, sdk.ModelInfoRequest{Model: ref})
	if err != nil {
		return Model{}, err
	}
	s, c := info.ImageSize, info.ContextLength
	if s <= 0 || c <= 0 {
		return Model{}, fmt.Errorf("backend %s describes model %s with image size %d and context length %d; both must be positive", plugin.Name, ref.Dir, s, c)
	}
	img, err := b.EncodePixels(ctx, sdk.EncodePixelsRequest{Model: ref, Pixels: npy.Float32Array([]int{1, 3, s, s}, make([]float32, 3*s*s))})
	if err != nil {
		return Model{}, fmt.Errorf("model %s: probing the image tower: %w", ref.Dir, err)
	}
	txt, err := b.EncodeTokens(ctx, sdk.EncodeTokensRequest{Model: ref, IDs: npy.Int64Array([]int{1, c}, make([]int64, c))})
	if err != nil {
		return Model{}, fmt.Errorf("model %s: probing the text tower: %w", ref.Dir, err)
	}
	d := img.Embeddings.Cols
	switch {
	case d <= 0 || txt.Embeddings.Cols != d:
		return Model{}, fmt.Errorf("model %s: the towers answer embeddings of %d and %d values; they must agree", ref.Dir, d, txt.Embeddings.Cols)
	case info.EmbedDim > 0 && info.EmbedDim != d:
		return Model{}, fmt.Errorf("model %s: the towers answer embeddings of %d values, the backend's info says %d", ref.Dir, d, info.EmbedDim)
	}
	info.EmbedDim = d
	fp := store.ModelFingerprint(store.FingerprintOf(*plugin, ref.Options, *info))
	return Model{
		Name: name, Version: fp[:16], Platform: info.Runtime, Ref: ref,
		ImageSize: s, ContextLength: c, EmbedDim: d,
		Properties: PropertiesOf(*info, plugin.Name+" "+plugin.Version, fp),
		Towers:     b,
	}, nil
}

// PropertiesOf returns the model properties clipeval serve states (inferencepb.Property*): the towers' shapes, the
// tokenizer, the logit scale, the backend and the model's fingerprint.
func PropertiesOf(info sdk.ModelInfo, backend, fingerprint string) map[string]string {
	return map[string]string{
		inferencepb.PropertyImageSize:     strconv.Itoa(info.ImageSize),
		inferencepb.PropertyContextLength: strconv.Itoa(info.ContextLength),
		inferencepb.PropertyEmbedDim:      strconv.Itoa(info.EmbedDim),
		inferencepb.PropertyTokenizer:     info.Tokenizer,
		inferencepb.PropertyLogitScale:    strconv.FormatFloat(info.LogitScale, 'g', -1, 64),
		inferencepb.PropertyBackend:       backend,
		inferencepb.PropertyFingerprint:   fingerprint,
	}
}

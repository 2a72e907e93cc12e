package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v1"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// ProtocolVersion is the version of the plugin contract (plugins/proto/clipeval/v1) this SDK speaks.
const ProtocolVersion = 1

// MaxMessageBytes is the gRPC message limit on both ends: a 64-image batch of 224x224 float32 is ~38 MB, far above
// gRPC's 4 MiB default.
const MaxMessageBytes = 256 << 20

// Plugin kinds, also the names under which go-plugin dispenses them.
const (
	KindModel = "model"
	KindTask  = "task"
)

// Handshake is the go-plugin handshake every clipeval plugin and the harness share.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   "CLIPEVAL_PLUGIN_MAGIC_COOKIE",
		MagicCookieValue: "7f1c0c5e-clipeval-plugin",
	}
}

// PluginSet returns the go-plugin plugin set for the harness side: both kinds, with no implementation.
func PluginSet() plugin.PluginSet {
	return plugin.PluginSet{KindModel: &ModelPlugin{}, KindTask: &TaskPlugin{}}
}

// ServerOptions returns the gRPC server options every plugin uses (raised message limits).
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes)}
}

// DialOptions returns the gRPC dial options the harness uses (raised message limits).
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))}
}

// ServeModel runs impl as a model backend plugin; it returns when the harness ends the plugin.
func ServeModel(name string, impl Model) {
	serve(name, plugin.PluginSet{KindModel: &ModelPlugin{Impl: impl}})
}

// ServeTask runs impl as a task plugin; it returns when the harness ends the plugin.
func ServeTask(name string, impl Task) {
	serve(name, plugin.PluginSet{KindTask: &TaskPlugin{Impl: impl}})
}

func serve(name string, set plugin.PluginSet) {
	if os.Getenv(Handshake().MagicCookieKey) != Handshake().MagicCookieValue {
		fmt.Fprintf(os.Stderr, "%s is a clipeval plugin: the clipeval harness starts it (see `clipeval plugins`); it is not run by hand\n", name)
		os.Exit(2)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake(),
		Plugins:         set,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, ServerOptions()...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Name: name, Output: os.Stderr, Level: hclog.Info, JSONFormat: true}),
	})
}

// ModelPlugin adapts a Model to go-plugin's gRPC transport.
type ModelPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the implementation served; nil on the harness side.
	Impl Model
}

// GRPCServer registers the Model service.
func (p *ModelPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterModelServer(s, &modelServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Model that calls the plugin.
func (p *ModelPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return &modelClient{c: pb.NewModelClient(c)}, nil
}

// TaskPlugin adapts a Task to go-plugin's gRPC transport.
type TaskPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the implementation served; nil on the harness side.
	Impl Task
}

// GRPCServer registers the Task service.
func (p *TaskPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterTaskServer(s, &taskServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Task that calls the plugin.
func (p *TaskPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return &taskClient{c: pb.NewTaskClient(c)}, nil
}

type modelServer struct {
	pb.UnimplementedModelServer
	impl Model
}

func (s *modelServer) Info(ctx context.Context, req *pb.ModelInfoRequest) (*pb.ModelInfo, error) {
	info, err := s.impl.Info(ctx, refFromProto(req.GetModel()))
	if err != nil {
		return nil, err
	}
	return &pb.ModelInfo{Name: info.Name, EmbedDim: int64(info.EmbedDim), ImageSize: int64(info.ImageSize),
		ContextLength: int64(info.ContextLength), LogitScale: info.LogitScale, Tokenizer: info.Tokenizer,
		Files: info.Files, Runtime: info.Runtime}, nil
}

func (s *modelServer) EncodeImages(ctx context.Context, req *pb.EncodeImagesRequest) (*pb.Embeddings, error) {
	m, err := s.impl.EncodeImages(ctx, refFromProto(req.GetModel()), imagesFromProto(req.GetImages()))
	if err != nil {
		return nil, err
	}
	return &pb.Embeddings{Matrix: MatrixToProto(m)}, nil
}

func (s *modelServer) EncodeTexts(ctx context.Context, req *pb.EncodeTextsRequest) (*pb.Embeddings, error) {
	m, err := s.impl.EncodeTexts(ctx, refFromProto(req.GetModel()), req.GetTexts())
	if err != nil {
		return nil, err
	}
	return &pb.Embeddings{Matrix: MatrixToProto(m)}, nil
}

// inputs returns the implementation's InputModel side, or an Unimplemented status.
func (s *modelServer) inputs() (InputModel, error) {
	if im, ok := s.impl.(InputModel); ok {
		return im, nil
	}
	return nil, status.Error(codes.Unimplemented, "this model backend does not expose its exact inputs (preprocess, tokenize, golden, verify-export)")
}

func (s *modelServer) Preprocess(ctx context.Context, req *pb.EncodeImagesRequest) (*pb.Tensor, error) {
	im, err := s.inputs()
	if err != nil {
		return nil, err
	}
	a, err := im.Preprocess(ctx, refFromProto(req.GetModel()), imagesFromProto(req.GetImages()))
	if err != nil {
		return nil, err
	}
	return TensorToProto(a)
}

func (s *modelServer) Tokenize(ctx context.Context, req *pb.EncodeTextsRequest) (*pb.Tensor, error) {
	im, err := s.inputs()
	if err != nil {
		return nil, err
	}
	a, err := im.Tokenize(ctx, refFromProto(req.GetModel()), req.GetTexts())
	if err != nil {
		return nil, err
	}
	return TensorToProto(a)
}

func (s *modelServer) encodeTensor(ctx context.Context, req *pb.TensorRequest, pixels bool) (*pb.Embeddings, error) {
	im, err := s.inputs()
	if err != nil {
		return nil, err
	}
	a, err := TensorFromProto(req.GetTensor())
	if err != nil {
		return nil, err
	}
	var m Matrix
	if pixels {
		m, err = im.EncodePixels(ctx, refFromProto(req.GetModel()), a)
	} else {
		m, err = im.EncodeTokens(ctx, refFromProto(req.GetModel()), a)
	}
	if err != nil {
		return nil, err
	}
	return &pb.Embeddings{Matrix: MatrixToProto(m)}, nil
}

func (s *modelServer) EncodePixels(ctx context.Context, req *pb.TensorRequest) (*pb.Embeddings, error) {
	return s.encodeTensor(ctx, req, true)
}

func (s *modelServer) EncodeTokens(ctx context.Context, req *pb.TensorRequest) (*pb.Embeddings, error) {
	return s.encodeTensor(ctx, req, false)
}

type taskServer struct {
	pb.UnimplementedTaskServer
	impl Task
}

func (s *taskServer) Info(ctx context.Context, _ *pb.TaskInfoRequest) (*pb.TaskInfo, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, err
	}
	return &pb.TaskInfo{Name: info.Name, Description: info.Description,
		DatasetFields: fieldsToProto(info.DatasetFields), OptionFields: fieldsToProto(info.OptionFields)}, nil
}

func (s *taskServer) Load(ctx context.Context, req *pb.LoadRequest) (*pb.Dataset, error) {
	ds, err := s.impl.Load(ctx, LoadRequest{Dataset: req.GetDatasetJson(), Options: req.GetOptionsJson()})
	if err != nil {
		return nil, err
	}
	return &pb.Dataset{Id: ds.ID, Images: imagesToProto(ds.Images), Texts: ds.Texts, Size: int64(ds.Size),
		Description: ds.Description, Files: ds.Files}, nil
}

func (s *taskServer) Score(ctx context.Context, req *pb.ScoreRequest) (*pb.Scores, error) {
	img, err := MatrixFromProto(req.GetImageEmbeddings())
	if err != nil {
		return nil, fmt.Errorf("image embeddings: %w", err)
	}
	txt, err := MatrixFromProto(req.GetTextEmbeddings())
	if err != nil {
		return nil, fmt.Errorf("text embeddings: %w", err)
	}
	sc, err := s.impl.Score(ctx, ScoreRequest{DatasetID: req.GetDatasetId(), ImageEmbeddings: img, TextEmbeddings: txt, LogitScale: req.GetLogitScale()})
	if err != nil {
		return nil, err
	}
	return scoresToProto(sc), nil
}

// rpcError turns a gRPC status error back into a plain error carrying the plugin's message; the status code stays
// reachable through errors.As for callers that need it (e.g. codes.Unavailable when the plugin died).
func rpcError(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		return &RPCError{Code: st.Code().String(), Message: st.Message(), err: err}
	}
	return err
}

// RPCError is an error a plugin call returned.
type RPCError struct {
	// Code is the gRPC status code name (e.g. "Unknown" for a plugin's own error, "Unavailable" when it is gone).
	Code string
	// Message is the plugin's error message.
	Message string
	err     error
}

// Error returns the plugin's message.
func (e *RPCError) Error() string {
	if e.Code == "Unknown" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the underlying gRPC error.
func (e *RPCError) Unwrap() error { return e.err }

// IsUnimplemented reports whether err says the plugin does not serve the called service.
func IsUnimplemented(err error) bool {
	var r *RPCError
	return errors.As(err, &r) && r.Code == "Unimplemented"
}

type modelClient struct{ c pb.ModelClient }

func (m *modelClient) Info(ctx context.Context, ref ModelRef) (*ModelInfo, error) {
	p, err := m.c.Info(ctx, &pb.ModelInfoRequest{Model: refToProto(ref)})
	if err != nil {
		return nil, rpcError(err)
	}
	return &ModelInfo{Name: p.Name, EmbedDim: int(p.EmbedDim), ImageSize: int(p.ImageSize), ContextLength: int(p.ContextLength),
		LogitScale: p.LogitScale, Tokenizer: p.Tokenizer, Files: p.Files, Runtime: p.Runtime}, nil
}

func (m *modelClient) EncodeImages(ctx context.Context, ref ModelRef, images []ImageInput) (Matrix, error) {
	p, err := m.c.EncodeImages(ctx, &pb.EncodeImagesRequest{Model: refToProto(ref), Images: imagesToProto(images)})
	if err != nil {
		return Matrix{}, rpcError(err)
	}
	return MatrixFromProto(p.GetMatrix())
}

func (m *modelClient) EncodeTexts(ctx context.Context, ref ModelRef, texts []string) (Matrix, error) {
	p, err := m.c.EncodeTexts(ctx, &pb.EncodeTextsRequest{Model: refToProto(ref), Texts: texts})
	if err != nil {
		return Matrix{}, rpcError(err)
	}
	return MatrixFromProto(p.GetMatrix())
}

func (m *modelClient) Preprocess(ctx context.Context, ref ModelRef, images []ImageInput) (*npy.Array, error) {
	p, err := m.c.Preprocess(ctx, &pb.EncodeImagesRequest{Model: refToProto(ref), Images: imagesToProto(images)})
	if err != nil {
		return nil, rpcError(err)
	}
	return TensorFromProto(p)
}

func (m *modelClient) Tokenize(ctx context.Context, ref ModelRef, texts []string) (*npy.Array, error) {
	p, err := m.c.Tokenize(ctx, &pb.EncodeTextsRequest{Model: refToProto(ref), Texts: texts})
	if err != nil {
		return nil, rpcError(err)
	}
	return TensorFromProto(p)
}

func (m *modelClient) encodeTensor(ctx context.Context, ref ModelRef, a *npy.Array, pixels bool) (Matrix, error) {
	t, err := TensorToProto(a)
	if err != nil {
		return Matrix{}, err
	}
	req := &pb.TensorRequest{Model: refToProto(ref), Tensor: t}
	var p *pb.Embeddings
	if pixels {
		p, err = m.c.EncodePixels(ctx, req)
	} else {
		p, err = m.c.EncodeTokens(ctx, req)
	}
	if err != nil {
		return Matrix{}, rpcError(err)
	}
	return MatrixFromProto(p.GetMatrix())
}

func (m *modelClient) EncodePixels(ctx context.Context, ref ModelRef, pixels *npy.Array) (Matrix, error) {
	return m.encodeTensor(ctx, ref, pixels, true)
}

func (m *modelClient) EncodeTokens(ctx context.Context, ref ModelRef, ids *npy.Array) (Matrix, error) {
	return m.encodeTensor(ctx, ref, ids, false)
}

type taskClient struct{ c pb.TaskClient }

func (t *taskClient) Info(ctx context.Context) (*TaskInfo, error) {
	p, err := t.c.Info(ctx, &pb.TaskInfoRequest{})
	if err != nil {
		return nil, rpcError(err)
	}
	return &TaskInfo{Name: p.Name, Description: p.Description, DatasetFields: fieldsFromProto(p.DatasetFields), OptionFields: fieldsFromProto(p.OptionFields)}, nil
}

func (t *taskClient) Load(ctx context.Context, req LoadRequest) (*Dataset, error) {
	p, err := t.c.Load(ctx, &pb.LoadRequest{DatasetJson: req.Dataset, OptionsJson: req.Options})
	if err != nil {
		return nil, rpcError(err)
	}
	return &Dataset{ID: p.Id, Images: imagesFromProto(p.Images), Texts: p.Texts, Size: int(p.Size), Description: p.Description, Files: p.Files}, nil
}

func (t *taskClient) Score(ctx context.Context, req ScoreRequest) (*Scores, error) {
	p, err := t.c.Score(ctx, &pb.ScoreRequest{DatasetId: req.DatasetID, ImageEmbeddings: MatrixToProto(req.ImageEmbeddings),
		TextEmbeddings: MatrixToProto(req.TextEmbeddings), LogitScale: req.LogitScale})
	if err != nil {
		return nil, rpcError(err)
	}
	return scoresFromProto(p), nil
}

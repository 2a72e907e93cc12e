package sdk

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v2"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// ModelPlugin adapts a Model to go-plugin's gRPC transport.
type ModelPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the implementation served; nil on the harness side.
	Impl Model
}

// GRPCServer registers the Model service.
func (p *ModelPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterModel(s, p.Impl)
	return nil
}

// GRPCClient returns a *ModelClient that calls the plugin.
func (p *ModelPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewModelClient(c), nil
}

// TaskPlugin adapts a Task to go-plugin's gRPC transport.
type TaskPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the implementation served; nil on the harness side.
	Impl Task
}

// GRPCServer registers the Task service.
func (p *TaskPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterTask(s, p.Impl)
	return nil
}

// GRPCClient returns a *TaskClient that calls the plugin.
func (p *TaskPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewTaskClient(c), nil
}

// RegisterModel registers impl as the Model service of s (what ServeModel does inside go-plugin; sdktest uses it
// in process).
func RegisterModel(s grpc.ServiceRegistrar, impl Model) {
	pb.RegisterModelServer(s, &modelServer{impl: impl})
}

// RegisterTask registers impl as the Task service of s.
func RegisterTask(s grpc.ServiceRegistrar, impl Task) {
	pb.RegisterTaskServer(s, &taskServer{impl: impl})
}

type modelServer struct {
	pb.UnimplementedModelServer
	impl Model
}

func (s *modelServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.PluginInfo, error) {
	info, err := s.impl.Describe(ctx, DescribeRequest{})
	if err != nil {
		return nil, err
	}
	return pluginInfoToProto(info), nil
}

func (s *modelServer) CheckModel(ctx context.Context, req *pb.CheckModelRequest) (*pb.CheckModelResponse, error) {
	r, err := s.impl.CheckModel(ctx, CheckModelRequest{Model: refFromProto(req.GetModel())})
	if err != nil {
		return nil, err
	}
	return &pb.CheckModelResponse{Problems: problemsToProto(r.Problems)}, nil
}

func (s *modelServer) Info(ctx context.Context, req *pb.ModelInfoRequest) (*pb.ModelInfo, error) {
	info, err := s.impl.Info(ctx, ModelInfoRequest{Model: refFromProto(req.GetModel())})
	if err != nil {
		return nil, err
	}
	return modelInfoToProto(info), nil
}

// encoded checks a backend's answer for n inputs and converts it.
func encoded(r *EncodeResponse, n int) (*pb.EncodeResponse, error) {
	if err := r.Embeddings.Check(); err != nil {
		return nil, fmt.Errorf("the backend's embeddings: %w", err)
	}
	if r.Embeddings.Rows != n {
		return nil, fmt.Errorf("the backend returned %d embeddings for %d inputs", r.Embeddings.Rows, n)
	}
	return &pb.EncodeResponse{Embeddings: matrixToProto(r.Embeddings)}, nil
}

func (s *modelServer) EncodeImages(ctx context.Context, req *pb.EncodeImagesRequest) (*pb.EncodeResponse, error) {
	r, err := s.impl.EncodeImages(ctx, EncodeImagesRequest{Model: refFromProto(req.GetModel()), Images: imagesFromProto(req.GetImages())})
	if err != nil {
		return nil, err
	}
	return encoded(r, len(req.GetImages()))
}

func (s *modelServer) EncodeTexts(ctx context.Context, req *pb.EncodeTextsRequest) (*pb.EncodeResponse, error) {
	r, err := s.impl.EncodeTexts(ctx, EncodeTextsRequest{Model: refFromProto(req.GetModel()), Texts: req.GetTexts()})
	if err != nil {
		return nil, err
	}
	return encoded(r, len(req.GetTexts()))
}

// inputs returns the implementation's InputModel side, or an Unimplemented status.
func (s *modelServer) inputs() (InputModel, error) {
	if im, ok := s.impl.(InputModel); ok {
		return im, nil
	}
	return nil, status.Error(codes.Unimplemented, "this model backend does not expose its exact inputs (preprocess, tokenize, golden, verify-export)")
}

func (s *modelServer) Preprocess(ctx context.Context, req *pb.PreprocessRequest) (*pb.TensorResponse, error) {
	im, err := s.inputs()
	if err != nil {
		return nil, err
	}
	r, err := im.Preprocess(ctx, PreprocessRequest{Model: refFromProto(req.GetModel()), Images: imagesFromProto(req.GetImages())})
	if err != nil {
		return nil, err
	}
	t, err := tensorToProto(r.Tensor)
	if err != nil {
		return nil, err
	}
	return &pb.TensorResponse{Tensor: t}, nil
}

func (s *modelServer) Tokenize(ctx context.Context, req *pb.TokenizeRequest) (*pb.TensorResponse, error) {
	im, err := s.inputs()
	if err != nil {
		return nil, err
	}
	r, err := im.Tokenize(ctx, TokenizeRequest{Model: refFromProto(req.GetModel()), Texts: req.GetTexts()})
	if err != nil {
		return nil, err
	}
	t, err := tensorToProto(r.Tensor)
	if err != nil {
		return nil, err
	}
	return &pb.TensorResponse{Tensor: t}, nil
}

func (s *modelServer) EncodePixels(ctx context.Context, req *pb.EncodePixelsRequest) (*pb.EncodeResponse, error) {
	im, err := s.inputs()
	if err != nil {
		return nil, err
	}
	a, err := tensorFromProto(req.GetPixels())
	if err != nil {
		return nil, fmt.Errorf("pixels: %w", err)
	}
	r, err := im.EncodePixels(ctx, EncodePixelsRequest{Model: refFromProto(req.GetModel()), Pixels: a})
	if err != nil {
		return nil, err
	}
	return encoded(r, firstDim(a))
}

func (s *modelServer) EncodeTokens(ctx context.Context, req *pb.EncodeTokensRequest) (*pb.EncodeResponse, error) {
	im, err := s.inputs()
	if err != nil {
		return nil, err
	}
	a, err := tensorFromProto(req.GetIds())
	if err != nil {
		return nil, fmt.Errorf("token ids: %w", err)
	}
	r, err := im.EncodeTokens(ctx, EncodeTokensRequest{Model: refFromProto(req.GetModel()), IDs: a})
	if err != nil {
		return nil, err
	}
	return encoded(r, firstDim(a))
}

func firstDim(a *npy.Array) int {
	if len(a.Shape) == 0 {
		return 1
	}
	return a.Shape[0]
}

type taskServer struct {
	pb.UnimplementedTaskServer
	impl Task
}

func (s *taskServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.PluginInfo, error) {
	info, err := s.impl.Describe(ctx, DescribeRequest{})
	if err != nil {
		return nil, err
	}
	return pluginInfoToProto(info), nil
}

func (s *taskServer) Load(req *pb.LoadRequest, stream pb.Task_LoadServer) error {
	ds, err := s.impl.Load(stream.Context(), LoadRequest{Dataset: req.GetDatasetJson(), Options: req.GetOptionsJson(), WorkDir: req.GetWorkDir(),
		SkipBadImages: req.GetSkipBadImages()})
	if err != nil {
		return err
	}
	return sendDataset(ds, stream.Send)
}

func (s *taskServer) Score(req *pb.ScoreRequest, stream pb.Task_ScoreServer) error {
	img, err := mapEmbeddings("image", req.GetImageEmbeddings())
	if err != nil {
		return err
	}
	defer img.Close()
	txt, err := mapEmbeddings("text", req.GetTextEmbeddings())
	if err != nil {
		return err
	}
	defer txt.Close()
	sc, err := s.impl.Score(stream.Context(), ScoreRequest{DatasetID: req.GetDatasetId(),
		ImageEmbeddings: Matrix{Rows: img.Rows, Cols: img.Cols, Data: img.Float32},
		TextEmbeddings:  Matrix{Rows: txt.Rows, Cols: txt.Cols, Data: txt.Float32}, LogitScale: req.GetLogitScale(),
		SkippedImages: ints(req.GetSkippedImages())})
	if err != nil {
		return err
	}
	return sendScores(sc, stream.Send)
}

// mapEmbeddings maps the embedding file f refers to, checking its shape against the reference; no file means an
// empty matrix.
func mapEmbeddings(what string, f *pb.EmbeddingFile) (*npy.Mapped, error) {
	if f == nil || f.GetPath() == "" {
		if f.GetRows() > 0 {
			return nil, fmt.Errorf("%s embeddings: %d rows announced but no file named", what, f.GetRows())
		}
		return &npy.Mapped{}, nil
	}
	m, err := npy.MapFloat32(f.GetPath())
	if err != nil {
		return nil, fmt.Errorf("%s embeddings: %w", what, err)
	}
	if int64(m.Rows) != f.GetRows() || int64(m.Cols) != f.GetCols() {
		m.Close()
		return nil, fmt.Errorf("%s embeddings: %s holds [%d, %d], the request says [%d, %d]", what, f.GetPath(), m.Rows, m.Cols, f.GetRows(), f.GetCols())
	}
	return m, nil
}

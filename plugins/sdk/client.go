package sdk

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v2"
)

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
	if e.Code == "Unknown" || e.Code == "InvalidArgument" { // the plugin's own error; IsInvalidInput tells the second
		return e.Message
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the underlying gRPC error.
func (e *RPCError) Unwrap() error { return e.err }

// IsUnimplemented reports whether err says the plugin does not serve the called method.
func IsUnimplemented(err error) bool {
	var r *RPCError
	return errors.As(err, &r) && r.Code == "Unimplemented"
}

// ModelClient calls a model backend plugin over gRPC; it implements Model and InputModel.
type ModelClient struct{ c pb.ModelClient }

// NewModelClient returns a client of the Model service on conn.
func NewModelClient(conn grpc.ClientConnInterface) *ModelClient {
	return &ModelClient{c: pb.NewModelClient(conn)}
}

// Describe calls the plugin's Describe.
func (m *ModelClient) Describe(ctx context.Context, _ DescribeRequest) (*PluginInfo, error) {
	p, err := m.c.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return nil, rpcError(err)
	}
	return pluginInfoFromProto(p), nil
}

// CheckModel calls the plugin's CheckModel.
func (m *ModelClient) CheckModel(ctx context.Context, req CheckModelRequest) (*CheckModelResponse, error) {
	p, err := m.c.CheckModel(ctx, &pb.CheckModelRequest{Model: refToProto(req.Model)})
	if err != nil {
		return nil, rpcError(err)
	}
	return &CheckModelResponse{Problems: problemsFromProto(p.GetProblems())}, nil
}

// Info calls the plugin's Info.
func (m *ModelClient) Info(ctx context.Context, req ModelInfoRequest) (*ModelInfo, error) {
	p, err := m.c.Info(ctx, &pb.ModelInfoRequest{Model: refToProto(req.Model)})
	if err != nil {
		return nil, rpcError(err)
	}
	return modelInfoFromProto(p), nil
}

// embeddings converts an EncodeResponse, or passes on the call's error.
func embeddings(p *pb.EncodeResponse, err error) (*EncodeResponse, error) {
	if err != nil {
		return nil, rpcError(err)
	}
	mat, err := matrixFromProto(p.GetEmbeddings())
	if err != nil {
		return nil, err
	}
	return &EncodeResponse{Embeddings: mat}, nil
}

// EncodeImages calls the plugin's EncodeImages.
func (m *ModelClient) EncodeImages(ctx context.Context, req EncodeImagesRequest) (*EncodeResponse, error) {
	return embeddings(m.c.EncodeImages(ctx, &pb.EncodeImagesRequest{Model: refToProto(req.Model), Images: imagesToProto(req.Images)}))
}

// EncodeTexts calls the plugin's EncodeTexts.
func (m *ModelClient) EncodeTexts(ctx context.Context, req EncodeTextsRequest) (*EncodeResponse, error) {
	return embeddings(m.c.EncodeTexts(ctx, &pb.EncodeTextsRequest{Model: refToProto(req.Model), Texts: req.Texts}))
}

// tensor converts a TensorResponse, or passes on the call's error.
func tensor(p *pb.TensorResponse, err error) (*TensorResponse, error) {
	if err != nil {
		return nil, rpcError(err)
	}
	a, err := tensorFromProto(p.GetTensor())
	if err != nil {
		return nil, err
	}
	return &TensorResponse{Tensor: a}, nil
}

// Preprocess calls the plugin's Preprocess.
func (m *ModelClient) Preprocess(ctx context.Context, req PreprocessRequest) (*TensorResponse, error) {
	return tensor(m.c.Preprocess(ctx, &pb.PreprocessRequest{Model: refToProto(req.Model), Images: imagesToProto(req.Images)}))
}

// Tokenize calls the plugin's Tokenize.
func (m *ModelClient) Tokenize(ctx context.Context, req TokenizeRequest) (*TensorResponse, error) {
	return tensor(m.c.Tokenize(ctx, &pb.TokenizeRequest{Model: refToProto(req.Model), Texts: req.Texts}))
}

// EncodePixels calls the plugin's EncodePixels.
func (m *ModelClient) EncodePixels(ctx context.Context, req EncodePixelsRequest) (*EncodeResponse, error) {
	t, err := tensorToProto(req.Pixels)
	if err != nil {
		return nil, err
	}
	return embeddings(m.c.EncodePixels(ctx, &pb.EncodePixelsRequest{Model: refToProto(req.Model), Pixels: t}))
}

// EncodeTokens calls the plugin's EncodeTokens.
func (m *ModelClient) EncodeTokens(ctx context.Context, req EncodeTokensRequest) (*EncodeResponse, error) {
	t, err := tensorToProto(req.IDs)
	if err != nil {
		return nil, err
	}
	return embeddings(m.c.EncodeTokens(ctx, &pb.EncodeTokensRequest{Model: refToProto(req.Model), Ids: t}))
}

// TaskClient calls a task plugin over gRPC. Its Score takes the embeddings by reference (ScoreFilesRequest).
type TaskClient struct{ c pb.TaskClient }

// NewTaskClient returns a client of the Task service on conn.
func NewTaskClient(conn grpc.ClientConnInterface) *TaskClient {
	return &TaskClient{c: pb.NewTaskClient(conn)}
}

// Describe calls the plugin's Describe.
func (t *TaskClient) Describe(ctx context.Context, _ DescribeRequest) (*PluginInfo, error) {
	p, err := t.c.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return nil, rpcError(err)
	}
	return pluginInfoFromProto(p), nil
}

// Load calls the plugin's Load and reassembles the dataset from its chunks.
func (t *TaskClient) Load(ctx context.Context, req LoadRequest) (*Dataset, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := t.c.Load(ctx, &pb.LoadRequest{DatasetJson: req.Dataset, OptionsJson: req.Options, WorkDir: req.WorkDir,
		SkipBadImages: req.SkipBadImages})
	if err != nil {
		return nil, rpcError(err)
	}
	ds, err := recvDataset(stream.Recv)
	return ds, rpcError(err)
}

// Score calls the plugin's Score with embedding files and reassembles the scores from their chunks.
func (t *TaskClient) Score(ctx context.Context, req ScoreFilesRequest) (*Scores, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	file := func(f EmbeddingFile) *pb.EmbeddingFile {
		return &pb.EmbeddingFile{Path: f.Path, Rows: int64(f.Rows), Cols: int64(f.Cols)}
	}
	stream, err := t.c.Score(ctx, &pb.ScoreRequest{DatasetId: req.DatasetID, ImageEmbeddings: file(req.ImageEmbeddings),
		TextEmbeddings: file(req.TextEmbeddings), LogitScale: req.LogitScale, SkippedImages: int64s(req.SkippedImages)})
	if err != nil {
		return nil, rpcError(err)
	}
	s, err := recvScores(stream.Recv)
	return s, rpcError(err)
}

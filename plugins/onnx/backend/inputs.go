package backend

import (
	"context"
	"fmt"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
	"github.com/clipeval/clipeval/plugins/tokenizer"
)

// Backend also implements sdk.InputModel: the exact pixels and token ids the towers are fed, and the towers run on
// given inputs (for preprocess, tokenize, golden and verify-export).
var _ sdk.InputModel = (*Backend)(nil)

// Preprocess returns the float32 [N, 3, size, size] pixels open_clip's eval transform gives for images.
func (b *Backend) Preprocess(ctx context.Context, req sdk.PreprocessRequest) (*sdk.TensorResponse, error) {
	m, err := b.load(req.Model)
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

// Tokenize returns the int64 [N, context_length] token ids the text tower is fed for texts, padded (a graph whose
// sequence axis is dynamic is fed each batch's ids up to its longest text: these without their padding columns).
func (b *Backend) Tokenize(_ context.Context, req sdk.TokenizeRequest) (*sdk.TensorResponse, error) {
	m, err := b.load(req.Model)
	if err != nil {
		return nil, err
	}
	return &sdk.TensorResponse{Tensor: npy.Int64Array([]int{len(req.Texts), m.tok.ContextLength()}, tokenizer.EncodeBatch(m.tok, req.Texts))}, nil
}

// EncodePixels runs the image tower on float32 [N, 3, size, size] pixels.
func (b *Backend) EncodePixels(ctx context.Context, req sdk.EncodePixelsRequest) (*sdk.EncodeResponse, error) {
	m, err := b.load(req.Model)
	if err != nil {
		return nil, err
	}
	s, pixels := m.folder.Image.Size, req.Pixels
	if sh := pixels.Shape; pixels.DType != "<f4" || len(sh) != 4 || sh[1] != 3 || sh[2] != s || sh[3] != s {
		return nil, sdk.InvalidInput(fmt.Errorf("pixels are %s %v; model %s takes float32 [N, 3, %d, %d]", pixels.DType, pixels.Shape, m.folder.Name, s, s))
	}
	return encoded(m.EncodePixels(ctx, pixels.Float32, pixels.Shape[0]))
}

// EncodeTokens runs the text tower on int64 [N, context_length] token ids; it refuses negative ids.
func (b *Backend) EncodeTokens(ctx context.Context, req sdk.EncodeTokensRequest) (*sdk.EncodeResponse, error) {
	m, err := b.load(req.Model)
	if err != nil {
		return nil, err
	}
	c, ids := m.tok.ContextLength(), req.IDs
	if sh := ids.Shape; ids.DType != "<i8" || len(sh) != 2 || sh[1] != c {
		return nil, sdk.InvalidInput(fmt.Errorf("token ids are %s %v; model %s takes int64 [N, %d]", ids.DType, ids.Shape, m.folder.Name, c))
	}
	for i, id := range ids.Int64 { // ONNX Gather reads a negative index from the end of the vocabulary: refuse it
		if id < 0 {
			return nil, sdk.InvalidInput(fmt.Errorf("token id %d at row %d, position %d is negative; token ids index the vocabulary from 0 (as clipeval tokenize writes them)", id, i/c, i%c))
		}
	}
	return encoded(m.EncodeIDs(ctx, ids.Int64, ids.Shape[0]))
}

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
func (b *Backend) Preprocess(ctx context.Context, ref sdk.ModelRef, images []sdk.ImageInput) (*npy.Array, error) {
	m, err := b.load(ref)
	if err != nil {
		return nil, err
	}
	pixels, err := m.Preprocess(ctx, images)
	if err != nil {
		return nil, err
	}
	s := m.folder.Image.Size
	return npy.Float32Array([]int{len(images), 3, s, s}, pixels), nil
}

// Tokenize returns the int64 [N, context_length] token ids the text tower is fed for texts.
func (b *Backend) Tokenize(_ context.Context, ref sdk.ModelRef, texts []string) (*npy.Array, error) {
	m, err := b.load(ref)
	if err != nil {
		return nil, err
	}
	return npy.Int64Array([]int{len(texts), m.tok.ContextLength()}, tokenizer.EncodeBatch(m.tok, texts)), nil
}

// EncodePixels runs the image tower on float32 [N, 3, size, size] pixels.
func (b *Backend) EncodePixels(_ context.Context, ref sdk.ModelRef, pixels *npy.Array) (sdk.Matrix, error) {
	m, err := b.load(ref)
	if err != nil {
		return sdk.Matrix{}, err
	}
	s := m.folder.Image.Size
	if sh := pixels.Shape; pixels.DType != "<f4" || len(sh) != 4 || sh[1] != 3 || sh[2] != s || sh[3] != s {
		return sdk.Matrix{}, fmt.Errorf("pixels are %s %v; model %s takes float32 [N, 3, %d, %d]", pixels.DType, pixels.Shape, m.folder.Name, s, s)
	}
	return m.EncodePixels(pixels.Float32, pixels.Shape[0])
}

// EncodeTokens runs the text tower on int64 [N, context_length] token ids.
func (b *Backend) EncodeTokens(_ context.Context, ref sdk.ModelRef, ids *npy.Array) (sdk.Matrix, error) {
	m, err := b.load(ref)
	if err != nil {
		return sdk.Matrix{}, err
	}
	ctx := m.tok.ContextLength()
	if sh := ids.Shape; ids.DType != "<i8" || len(sh) != 2 || sh[1] != ctx {
		return sdk.Matrix{}, fmt.Errorf("token ids are %s %v; model %s takes int64 [N, %d]", ids.DType, ids.Shape, m.folder.Name, ctx)
	}
	return m.EncodeIDs(ids.Int64, ids.Shape[0])
}

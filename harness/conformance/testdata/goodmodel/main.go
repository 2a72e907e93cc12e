// Command goodmodel is a small model backend that keeps the contract, for the conformance suite's own tests: a
// model is a folder holding fake-model.json {"embed_dim": D}, and an embedding is a hash of the input's bytes.
package main

import (
	"context"
	"path/filepath"

	"github.com/clipeval/clipeval/harness/conformance/testdata/fakemodel"
	"github.com/clipeval/clipeval/plugins/sdk"
)

type model struct{}

func (model) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "goodmodel", Version: "v0.0.1",
		OptionFields: []sdk.Field{{Name: "threads", Type: sdk.FieldInt, Min: sdk.Bound(1), Help: "unused"}}}, nil
}

func (model) CheckModel(_ context.Context, req sdk.CheckModelRequest) (*sdk.CheckModelResponse, error) {
	if _, err := fakemodel.Load(req.Model); err != nil {
		return &sdk.CheckModelResponse{Problems: []sdk.Problem{{Key: "path", Message: err.Error()}}}, nil
	}
	return &sdk.CheckModelResponse{}, nil
}

func (model) Info(_ context.Context, req sdk.ModelInfoRequest) (*sdk.ModelInfo, error) {
	c, err := fakemodel.Load(req.Model)
	if err != nil {
		return nil, err
	}
	return &sdk.ModelInfo{Name: filepath.Base(req.Model.Dir), EmbedDim: c.EmbedDim, ImageSize: 32, ContextLength: 8, LogitScale: 100}, nil
}

func (model) EncodeImages(_ context.Context, req sdk.EncodeImagesRequest) (*sdk.EncodeResponse, error) {
	c, err := fakemodel.Load(req.Model)
	if err != nil {
		return nil, err
	}
	var in [][]byte
	for _, im := range req.Images {
		b, err := im.Bytes()
		if err != nil {
			return nil, err
		}
		in = append(in, b)
	}
	return &sdk.EncodeResponse{Embeddings: fakemodel.Embed(in, c.EmbedDim)}, nil
}

func (model) EncodeTexts(_ context.Context, req sdk.EncodeTextsRequest) (*sdk.EncodeResponse, error) {
	c, err := fakemodel.Load(req.Model)
	if err != nil {
		return nil, err
	}
	var in [][]byte
	for _, t := range req.Texts {
		in = append(in, []byte(t))
	}
	return &sdk.EncodeResponse{Embeddings: fakemodel.Embed(in, c.EmbedDim)}, nil
}

func main() { sdk.ServeModel("goodmodel", model{}) }

package sdktest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/sdktest"
)

// lengthModel is a toy model backend: an image's embedding is [its byte count, 1], a text's [its length, 0].
type lengthModel struct{}

// Describe names the backend.
func (lengthModel) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "length", Version: "v0.1.0", Description: "embeds lengths"}, nil
}

// CheckModel finds no problem with any model.
func (lengthModel) CheckModel(context.Context, sdk.CheckModelRequest) (*sdk.CheckModelResponse, error) {
	return &sdk.CheckModelResponse{}, nil
}

// Info describes the toy model.
func (lengthModel) Info(context.Context, sdk.ModelInfoRequest) (*sdk.ModelInfo, error) {
	return &sdk.ModelInfo{Name: "length", EmbedDim: 2, LogitScale: 1, Runtime: "go"}, nil
}

// EncodeImages embeds each image as [its byte count, 1].
func (lengthModel) EncodeImages(_ context.Context, req sdk.EncodeImagesRequest) (*sdk.EncodeResponse, error) {
	m := sdk.Matrix{Rows: len(req.Images), Cols: 2}
	for _, im := range req.Images {
		b, err := im.Bytes() // the whole file, its byte range, or inline data
		if err != nil {
			return nil, err
		}
		m.Data = append(m.Data, float32(len(b)), 1)
	}
	return &sdk.EncodeResponse{Embeddings: m}, nil
}

// EncodeTexts embeds each text as [its length, 0].
func (lengthModel) EncodeTexts(_ context.Context, req sdk.EncodeTextsRequest) (*sdk.EncodeResponse, error) {
	m := sdk.Matrix{Rows: len(req.Texts), Cols: 2}
	for _, s := range req.Texts {
		m.Data = append(m.Data, float32(len(s)), 0)
	}
	return &sdk.EncodeResponse{Embeddings: m}, nil
}

// In a test, NewModel(t, impl) does the same and closes the server when the test ends.
func ExampleStartModel() {
	ctx := context.Background()
	srv, err := sdktest.StartModel(lengthModel{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	info, err := srv.Client.Describe(ctx, sdk.DescribeRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Name, info.ProtocolVersion)
	enc, err := srv.Client.EncodeImages(ctx, sdk.EncodeImagesRequest{Images: []sdk.ImageInput{{Name: "inline", Data: []byte("abc")}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(enc.Embeddings.Rows, enc.Embeddings.Data)
	_, err = srv.Client.EncodeImages(ctx, sdk.EncodeImagesRequest{Images: []sdk.ImageInput{sdk.FileImage("/no/such/image.png")}})
	fmt.Println(err)
	_, err = srv.Client.Tokenize(ctx, sdk.TokenizeRequest{Texts: []string{"a"}})
	fmt.Println(sdk.IsUnimplemented(err))
	// Output:
	// length 2
	// 1 [3 1]
	// reading image: open /no/such/image.png: no such file or directory
	// true
}

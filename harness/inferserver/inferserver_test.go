package inferserver

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	inferencepb "github.com/clipeval/clipeval/plugins/proto/inference/v2"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// sumTowers embeds each row as [sum of its values, its row count in the call, 0...] and records the rows of each
// call; EncodeTokens refuses a negative id as the onnx backend does.
type sumTowers struct {
	d     int
	calls []int
}

func (s *sumTowers) embed(rows, per int, value func(i int) float64) *sdk.EncodeResponse {
	s.calls = append(s.calls, rows)
	out := make([]float32, rows*s.d)
	for r := range rows {
		sum := 0.0
		for j := range per {
			sum += value(r*per + j)
		}
		out[r*s.d], out[r*s.d+1] = float32(sum), float32(rows)
	}
	return &sdk.EncodeResponse{Embeddings: sdk.Matrix{Rows: rows, Cols: s.d, Data: out}}
}

func (s *sumTowers) EncodePixels(_ context.Context, req sdk.EncodePixelsRequest) (*sdk.EncodeResponse, error) {
	p := req.Pixels
	return s.embed(p.Shape[0], p.Len()/max(p.Shape[0], 1), func(i int) float64 { return float64(p.Float32[i]) }), nil
}

func (s *sumTowers) EncodeTokens(_ context.Context, req sdk.EncodeTokensRequest) (*sdk.EncodeResponse, error) {
	ids := req.IDs
	for _, id := range ids.Int64 {
		if id < 0 {
			return nil, sdk.InvalidInput(fmt.Errorf("token id %d is negative", id))
		}
	}
	return s.embed(ids.Shape[0], ids.Shape[1], func(i int) float64 { return float64(ids.Int64[i]) }), nil
}

func newServer(t *testing.T, towers Towers, token string, towerBytes int) *Server {
	s, err := New(Model{Name: "m", Version: "v1", Platform: "test", ImageSize: 2, ContextLength: 3, EmbedDim: 4, Towers: towers,
		Properties: map[string]string{"clipeval.tokenizer": "t"}}, Config{ServerName: "clipeval", ServerVersion: "x", Token: token,
		MaxMessageBytes: 1 << 20, TowerMessageBytes: towerBytes})
	require.NoError(t, err)
	return s
}

func str(s string) *string { return &s }

func TestModelInfer(t *testing.T) {
	pixels := func(n int64, contents bool) *inferencepb.ModelInferRequest {
		v := make([]float32, n*12)
		for i := range v {
			v[i] = float32(i)
		}
		in := &inferencepb.ModelInferRequest_InferInputTensor{Name: "pixels", Datatype: "FP32", Shape: []int64{n, 3, 2, 2}}
		req := &inferencepb.ModelInferRequest{ModelName: "m-image", Id: "r1", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{in}}
		if contents {
			in.Contents = &inferencepb.InferTensorContents{Fp32Contents: v}
		} else {
			req.RawInputContents = [][]byte{inferencepb.RawFloat32(v)}
		}
		return req
	}
	ids := func(v ...int64) *inferencepb.ModelInferRequest {
		return &inferencepb.ModelInferRequest{ModelName: "m-text", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "input_ids", Datatype: "INT64", Shape: []int64{int64(len(v) / 3), 3}}}, RawInputContents: [][]byte{inferencepb.RawInt64(v)}}
	}
	edit := func(req *inferencepb.ModelInferRequest, f func(*inferencepb.ModelInferRequest)) *inferencepb.ModelInferRequest {
		f(req)
		return req
	}
	tests := []struct {
		name       string
		req        *inferencepb.ModelInferRequest
		towerBytes int
		wantSums   []float32
		wantCalls  []int
		wantCode   codes.Code
		wantMsg    string
	}{
		{"raw pixels", pixels(2, false), 1 << 20, []float32{66, 210}, []int{2}, codes.OK, ""},
		{"typed pixels", pixels(2, true), 1 << 20, []float32{66, 210}, []int{2}, codes.OK, ""},
		{"split to fit the towers' limit", pixels(3, false), 8 * 12, []float32{66, 210, 354}, []int{1, 1, 1}, codes.OK, ""},
		{"token ids", ids(2, 5, 0, 2, 0, 0), 1 << 20, []float32{7, 2}, []int{2}, codes.OK, ""},
		{"no rows", ids(), 1 << 20, []float32{}, nil, codes.OK, ""},
		{"version asked for", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) { r.ModelVersion = str("v1") }), 1 << 20, []float32{6}, []int{1}, codes.OK, ""},
		{"outputs asked for", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) {
			r.Outputs = []*inferencepb.ModelInferRequest_InferRequestedOutputTensor{{Name: "embeddings"}}
		}), 1 << 20, []float32{6}, []int{1}, codes.OK, ""},
		{"another version", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) { r.ModelVersion = str("v0") }), 0, nil, nil,
			codes.NotFound, `model m-text has no version "v0": its one version is v1`},
		{"unknown model", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) { r.ModelName = "m" }), 0, nil, nil,
			codes.NotFound, `no model "m" here: this server serves m-image and m-text`},
		{"unknown output", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) {
			r.Outputs = []*inferencepb.ModelInferRequest_InferRequestedOutputTensor{{Name: "logits"}}
		}), 0, nil, nil, codes.InvalidArgument, `model m-text has no output "logits": its one output is embeddings FP32 [-1, 4]`},
		{"wrong input name", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) { r.Inputs[0].Name = "ids" }), 0, nil, nil,
			codes.InvalidArgument, `model m-text: the request's input is "ids" (it takes input_ids INT64 [-1 3])`},
		{"two inputs", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) { r.Inputs = append(r.Inputs, r.Inputs[0]) }), 0, nil, nil,
			codes.InvalidArgument, "the request has 2 inputs; the model takes one"},
		{"wrong context length", edit(ids(1, 2, 3, 4), func(r *inferencepb.ModelInferRequest) { r.Inputs[0].Shape = []int64{1, 4} }), 0, nil, nil,
			codes.InvalidArgument, "input input_ids has shape [1 4]: dimension 1 is 4, not 3"},
		{"negative batch", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) { r.Inputs[0].Shape = []int64{-1, 3} }), 0, nil, nil,
			codes.InvalidArgument, "input input_ids has shape [-1 3]"},
		{"raw and typed", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) {
			r.Inputs[0].Contents = &inferencepb.InferTensorContents{Int64Contents: []int64{1, 2, 3}}
		}), 0, nil, nil, codes.InvalidArgument, "has both raw_input_contents and contents"},
		{"two raw contents", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) { r.RawInputContents = append(r.RawInputContents, nil) }), 0, nil, nil,
			codes.InvalidArgument, "the request has 2 raw_input_contents for its 1 input"},
		{"typed of the wrong type", edit(pixels(1, true), func(r *inferencepb.ModelInferRequest) {
			r.Inputs[0].Contents = &inferencepb.InferTensorContents{Fp64Contents: make([]float64, 12)}
		}), 0, nil, nil, codes.InvalidArgument, "fp32_contents holds 0 values; the shape makes 12"},
		{"huge shape", edit(ids(1, 2, 3), func(r *inferencepb.ModelInferRequest) { r.Inputs[0].Shape = []int64{1 << 40, 3} }), 0, nil, nil,
			codes.InvalidArgument, "holds more than 1048576 elements"},
		{"refused by the backend", ids(1, -2, 3), 1 << 20, nil, nil, codes.InvalidArgument, "model m-text: token id -2 is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			towers := &sumTowers{d: 4}
			s := newServer(t, towers, "", max(tc.towerBytes, 1))
			resp, err := s.ModelInfer(context.Background(), tc.req)
			if tc.wantCode != codes.OK {
				require.Error(t, err)
				assert.Equal(t, tc.wantCode, status.Code(err), "%v", err)
				assert.Contains(t, status.Convert(err).Message(), tc.wantMsg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.req.ModelName, resp.ModelName)
			assert.Equal(t, "v1", resp.ModelVersion)
			assert.Equal(t, tc.req.Id, resp.Id)
			require.Len(t, resp.Outputs, 1)
			assert.Equal(t, "embeddings", resp.Outputs[0].Name)
			assert.Equal(t, []int64{int64(len(tc.wantSums)), 4}, resp.Outputs[0].Shape)
			emb, err := inferencepb.Float32s(resp.RawOutputContents[0], true, nil, 4*len(tc.wantSums))
			require.NoError(t, err)
			sums := make([]float32, len(tc.wantSums))
			for r := range sums {
				sums[r] = emb[4*r]
			}
			assert.Equal(t, tc.wantSums, sums)
			assert.Equal(t, tc.wantCalls, towers.calls)
		})
	}
}

func TestMetadataAndHealth(t *testing.T) {
	s := newServer(t, &sumTowers{d: 4}, "", 1<<20)
	ctx := context.Background()
	md, err := s.ModelMetadata(ctx, &inferencepb.ModelMetadataRequest{Name: "m-image"})
	require.NoError(t, err)
	assert.Equal(t, []string{"v1"}, md.Versions)
	assert.Equal(t, "test", md.Platform)
	assert.Equal(t, "pixels", md.Inputs[0].Name)
	assert.Equal(t, []int64{-1, 3, 2, 2}, md.Inputs[0].Shape)
	assert.Equal(t, []int64{-1, 4}, md.Outputs[0].Shape)
	assert.Equal(t, "t", md.Properties["clipeval.tokenizer"])
	for _, tc := range []struct {
		name    string
		version *string
		ready   bool
	}{{"m-text", nil, true}, {"m-text", str("v1"), true}, {"m-text", str("v2"), false}, {"x", nil, false}} {
		r, err := s.ModelReady(ctx, &inferencepb.ModelReadyRequest{Name: tc.name, Version: tc.version})
		require.NoError(t, err)
		assert.Equal(t, tc.ready, r.Ready, "%s %v", tc.name, tc.version)
	}
	sm, err := s.ServerMetadata(ctx, &inferencepb.ServerMetadataRequest{})
	require.NoError(t, err)
	assert.Equal(t, "clipeval", sm.Name)
}

func TestAuthorize(t *testing.T) {
	s := newServer(t, &sumTowers{d: 4}, "tok", 1<<20)
	handler := func(context.Context, any) (any, error) { return "ok", nil }
	tests := []struct {
		name   string
		header []string
		ok     bool
	}{
		{"the token", []string{"Bearer tok"}, true},
		{"the scheme in any case", []string{"bearer tok"}, true},
		{"no header", nil, false},
		{"another token", []string{"Bearer toke"}, false},
		{"another scheme", []string{"Basic tok"}, false},
		{"two headers", []string{"Bearer tok", "Bearer tok"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md := metadata.MD{}
			if tc.header != nil {
				md["authorization"] = tc.header
			}
			got, err := s.authorize(metadata.NewIncomingContext(context.Background(), md), nil, nil, handler)
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, "ok", got)
				return
			}
			assert.Equal(t, codes.Unauthenticated, status.Code(err))
		})
	}
}

func TestNewRefusesAnUnusableModel(t *testing.T) {
	_, err := New(Model{Name: "m", ImageSize: 2, ContextLength: 3}, Config{MaxMessageBytes: 1, TowerMessageBytes: 1})
	assert.ErrorContains(t, err, "embedding width 0 must be positive")
	_, err = New(Model{}, Config{})
	assert.True(t, err != nil && !errors.Is(err, context.Canceled))
}

// describedTowers is sumTowers with a plugin's Describe and Info.
type describedTowers struct {
	sumTowers
	info sdk.ModelInfo
}

func (d *describedTowers) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "fake", Version: "v1"}, nil
}

func (d *describedTowers) Info(context.Context, sdk.ModelInfoRequest) (*sdk.ModelInfo, error) {
	info := d.info
	return &info, nil
}

func TestModelOf(t *testing.T) {
	base := sdk.ModelInfo{ImageSize: 2, ContextLength: 3, Tokenizer: "clip-bpe", LogitScale: 100, Runtime: "rt 1", Files: map[string]string{"a": "b"}}
	tests := []struct {
		name    string
		info    func(i *sdk.ModelInfo)
		options map[string]string
		wantErr string
	}{
		{"embedding width from the towers", func(i *sdk.ModelInfo) {}, nil, ""},
		{"as the info says", func(i *sdk.ModelInfo) { i.EmbedDim = 4 }, nil, ""},
		{"info disagrees", func(i *sdk.ModelInfo) { i.EmbedDim = 8 }, nil, "the towers answer embeddings of 4 values, the backend's info says 8"},
		{"no image size", func(i *sdk.ModelInfo) { i.ImageSize = 0 }, nil, "image size 0 and context length 3; both must be positive"},
	}
	var versions []string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &describedTowers{sumTowers: sumTowers{d: 4}, info: base}
			tc.info(&b.info)
			m, err := ModelOf(context.Background(), b, sdk.ModelRef{Dir: "/m", Options: tc.options}, "m")
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 4, m.EmbedDim)
			assert.Equal(t, []int{1, 1}, b.calls, "one probe row through each tower")
			assert.Len(t, m.Version, 16)
			assert.Equal(t, m.Version, m.Properties["clipeval.fingerprint"][:16])
			assert.Equal(t, "rt 1", m.Platform)
			assert.Equal(t, "fake v1", m.Properties["clipeval.backend"])
			versions = append(versions, m.Version)
		})
	}
	assert.Equal(t, versions[0], versions[1], "the version is the fingerprint, which the width found does not change")
	b := &describedTowers{sumTowers: sumTowers{d: 4}, info: base}
	other, err := ModelOf(context.Background(), b, sdk.ModelRef{Dir: "/m", Options: map[string]string{"text_padding": "full"}}, "m")
	require.NoError(t, err)
	assert.NotEqual(t, versions[0], other.Version, "an option that changes embeddings changes the version")
}

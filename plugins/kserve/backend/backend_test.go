package backend

import (
	"context"
	"crypto/subtle"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/clipeval/clipeval/internal/sharedtest"
	inferencepb "github.com/clipeval/clipeval/plugins/proto/inference/v2"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// fakeTriton is an Open Inference Protocol server shaped as Triton serves ONNX exports: its own tensor names
// (INPUT__0), INT32 token ids with an INT64 attention mask, two outputs of which "embeddings" is the one, version
// "1". Its towers are simple sums of what they are fed, so a test can check every row the backend sent: row r of
// a response holds [sum of the row's values, the row's first value, the row's place in its request, 0, ...].
type fakeTriton struct {
	inferencepb.UnimplementedGRPCInferenceServiceServer
	meta  map[string]*inferencepb.ModelMetadataResponse
	token string
	// typed answers fp32_contents instead of raw contents.
	typed bool

	mu      sync.Mutex
	batches map[string][]int // rows of each ModelInfer, by model
}

const fakeDim = 32 // the tiny BiomedCLIP fixture's embed_dim

func newFakeTriton() *fakeTriton {
	out := func() []*inferencepb.ModelMetadataResponse_TensorMetadata {
		return []*inferencepb.ModelMetadataResponse_TensorMetadata{{Name: "pooled", Datatype: "FP32", Shape: []int64{-1, fakeDim}},
			{Name: "embeddings", Datatype: "FP32", Shape: []int64{-1, fakeDim}}}
	}
	return &fakeTriton{batches: map[string][]int{}, meta: map[string]*inferencepb.ModelMetadataResponse{
		"tiny-image": {Name: "tiny-image", Versions: []string{"1"}, Platform: "onnxruntime_onnx",
			Inputs:  []*inferencepb.ModelMetadataResponse_TensorMetadata{{Name: "INPUT__0", Datatype: "FP32", Shape: []int64{-1, 3, 224, 224}}},
			Outputs: out()},
		"tiny-text": {Name: "tiny-text", Versions: []string{"1"}, Platform: "onnxruntime_onnx",
			Inputs: []*inferencepb.ModelMetadataResponse_TensorMetadata{{Name: "input_ids", Datatype: "INT32", Shape: []int64{-1, 256}},
				{Name: "attention_mask", Datatype: "INT64", Shape: []int64{-1, 256}}},
			Outputs: out()},
	}}
}

func (f *fakeTriton) check(ctx context.Context) error {
	if f.token == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) != 1 || subtle.ConstantTimeCompare([]byte(v[0]), []byte("Bearer "+f.token)) != 1 {
		return status.Error(codes.Unauthenticated, "no or wrong token")
	}
	return nil
}

func (f *fakeTriton) ServerMetadata(ctx context.Context, _ *inferencepb.ServerMetadataRequest) (*inferencepb.ServerMetadataResponse, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	return &inferencepb.ServerMetadataResponse{Name: "triton", Version: "2.50.0"}, nil
}

func (f *fakeTriton) ModelMetadata(ctx context.Context, req *inferencepb.ModelMetadataRequest) (*inferencepb.ModelMetadataResponse, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	md, ok := f.meta[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Request for unknown model: '%s' is not found", req.GetName())
	}
	return md, nil
}

func (f *fakeTriton) ModelInfer(ctx context.Context, req *inferencepb.ModelInferRequest) (*inferencepb.ModelInferResponse, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	md := f.meta[req.GetModelName()]
	if md == nil || !slices.Contains(md.Versions, req.GetModelVersion()) {
		return nil, status.Errorf(codes.NotFound, "no model %s version %q", req.GetModelName(), req.GetModelVersion())
	}
	if len(req.GetInputs()) != len(md.Inputs) || len(req.GetRawInputContents()) != len(md.Inputs) {
		return nil, status.Errorf(codes.InvalidArgument, "want %d inputs as raw contents", len(md.Inputs))
	}
	if len(req.GetOutputs()) != 1 || req.GetOutputs()[0].GetName() != "embeddings" {
		return nil, status.Errorf(codes.InvalidArgument, "ask for the embeddings output, got %v", req.GetOutputs())
	}
	var rows [][]float64
	for i, in := range req.GetInputs() {
		want := md.Inputs[i]
		if in.GetName() != want.Name || in.GetDatatype() != want.Datatype || in.GetShape()[1] != want.Shape[1] {
			return nil, status.Errorf(codes.InvalidArgument, "input %d is %s %s %v, want %v", i, in.GetName(), in.GetDatatype(), in.GetShape(), want)
		}
		n, per := int(in.GetShape()[0]), int(want.Shape[1])
		if want.Datatype == "FP32" {
			per *= int(want.Shape[2] * want.Shape[3])
			v, err := inferencepb.Float32s(req.GetRawInputContents()[i], true, nil, n*per)
			if err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			for r := range n {
				row := make([]float64, per)
				for j := range per {
					row[j] = float64(v[r*per+j])
				}
				rows = append(rows, row)
			}
			continue
		}
		v, err := inferencepb.Ints(want.Datatype, req.GetRawInputContents()[i], true, nil, n*per)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		if i == 0 {
			for r := range n {
				row := make([]float64, per)
				for j := range per {
					row[j] = float64(v[r*per+j])
				}
				rows = append(rows, row)
			}
			continue
		}
		for k, m := range v { // the attention mask: ids != [PAD] (0)
			if want := rows[k/per][k%per] != 0; (m == 1) != want || (m != 0 && m != 1) {
				return nil, status.Errorf(codes.InvalidArgument, "mask %d at %d for id %v", m, k, rows[k/per][k%per])
			}
		}
	}
	emb := make([]float32, len(rows)*fakeDim)
	for r, row := range rows {
		sum := 0.0
		for _, x := range row {
			sum += x
		}
		emb[r*fakeDim], emb[r*fakeDim+1], emb[r*fakeDim+2] = float32(sum), float32(row[0]), float32(r)
	}
	f.mu.Lock()
	f.batches[req.GetModelName()] = append(f.batches[req.GetModelName()], len(rows))
	f.mu.Unlock()
	out := &inferencepb.ModelInferResponse_InferOutputTensor{Name: "embeddings", Datatype: "FP32", Shape: []int64{int64(len(rows)), fakeDim}}
	resp := &inferencepb.ModelInferResponse{ModelName: req.GetModelName(), ModelVersion: "1", Outputs: []*inferencepb.ModelInferResponse_InferOutputTensor{out}}
	if f.typed {
		out.Contents = &inferencepb.InferTensorContents{Fp32Contents: emb}
	} else {
		resp.RawOutputContents = [][]byte{inferencepb.RawFloat32(emb)}
	}
	return resp, nil
}

// serveFake runs f on a free local port until the test ends and returns its address.
func serveFake(t *testing.T, f *fakeTriton) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer(grpc.MaxRecvMsgSize(sdk.MaxMessageBytes))
	inferencepb.RegisterGRPCInferenceServiceServer(g, f)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

// localFolder copies the tiny BiomedCLIP fixture's config and tokenizer files, and no ONNX file, into a folder
// called tiny: the local copy a kserve model needs.
func localFolder(t *testing.T) string {
	fixture := sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	dir := filepath.Join(t.TempDir(), "tiny")
	require.NoError(t, os.Mkdir(dir, 0o755))
	for _, name := range []string{"open_clip_config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(fixture, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	return dir
}

// referencePNGs returns the tiny-a reference's PNG images.
func referencePNGs(t *testing.T) []sdk.ImageInput {
	paths, err := filepath.Glob(filepath.Join(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "images"), "*.png"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := make([]sdk.ImageInput, len(paths))
	for i, p := range paths {
		out[i] = sdk.ImageInput{Path: p}
	}
	return out
}

// rowSums returns the sum of each row of a [rows, per] block.
func rowSums[T float32 | int64](v []T, per int) []float32 {
	out := make([]float32, len(v)/per)
	for r := range out {
		s := 0.0
		for _, x := range v[r*per : (r+1)*per] {
			s += float64(x)
		}
		out[r] = float32(s)
	}
	return out
}

// TestEncodeThroughTriton encodes images and texts through a Triton-shaped server and checks that every row it
// got is the local preprocessing's or tokenizer's, in order, split into requests as max_batch and max_message_mb
// say, with the attention mask, read back from raw or typed contents.
func TestEncodeThroughTriton(t *testing.T) {
	dir := localFolder(t)
	images := referencePNGs(t)
	texts := []string{"Axial MRI of the brain.", "chest x-ray", "", "a longer caption of a computed tomography scan with contrast", "liver"}
	tests := []struct {
		name                  string
		options               map[string]string
		typed                 bool
		wantImages, wantTexts []int
	}{
		{"one request a call", nil, false, []int{len(images)}, []int{len(texts)}},
		{"max_batch", map[string]string{OptionMaxBatch: "2"}, true, chunks(len(images), 2), []int{2, 2, 1}},
		{"a message of 1 MiB holds one image", map[string]string{OptionMaxMessageMB: "1"}, false, chunks(len(images), 1), []int{len(texts)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTriton()
			f.typed, f.token = tc.typed, "tok"
			options := map[string]string{OptionURL: serveFake(t, f), OptionToken: "tok"}
			for k, v := range tc.options {
				options[k] = v
			}
			ref := sdk.ModelRef{Dir: dir, Options: options}
			b := New()
			defer b.Close()
			ctx := context.Background()
			info, err := b.Info(ctx, sdk.ModelInfoRequest{Model: ref})
			require.NoError(t, err)
			assert.Equal(t, fakeDim, info.EmbedDim)
			assert.Equal(t, "kserve v2: triton 2.50.0; tiny-image version 1 on onnxruntime_onnx; tiny-text version 1 on onnxruntime_onnx", info.Runtime)
			assert.Contains(t, info.Files, "open_clip_config.json")
			assert.Contains(t, info.Files, "vocab.txt")
			assert.NotContains(t, info.Files, "image.onnx")

			pixels, err := b.Preprocess(ctx, sdk.PreprocessRequest{Model: ref, Images: images})
			require.NoError(t, err)
			emb, err := b.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: images})
			require.NoError(t, err)
			per := 3 * 224 * 224
			assert.Equal(t, rowSums(pixels.Tensor.Float32, per), column(emb.Embeddings, 0), "each image's pixels, in order")

			ids, err := b.Tokenize(ctx, sdk.TokenizeRequest{Model: ref, Texts: texts})
			require.NoError(t, err)
			emb, err = b.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: ref, Texts: texts})
			require.NoError(t, err)
			assert.Equal(t, rowSums(ids.Tensor.Int64, 256), column(emb.Embeddings, 0), "each text's token ids, in order")
			assert.Equal(t, []float32{2, 2, 2, 2, 2}, column(emb.Embeddings, 1), "every row starts with [CLS] (id 2)")

			again, err := b.EncodeTokens(ctx, sdk.EncodeTokensRequest{Model: ref, IDs: ids.Tensor})
			require.NoError(t, err)
			assert.Equal(t, emb.Embeddings, again.Embeddings, "EncodeTokens on Tokenize's ids is EncodeTexts")
			f.mu.Lock()
			defer f.mu.Unlock()
			assert.Equal(t, tc.wantImages, f.batches["tiny-image"])
			assert.Equal(t, append(append([]int(nil), tc.wantTexts...), tc.wantTexts...), f.batches["tiny-text"])
		})
	}
}

// chunks returns the sizes of n inputs sent step at a time.
func chunks(n, step int) []int {
	var out []int
	for lo := 0; lo < n; lo += step {
		out = append(out, min(step, n-lo))
	}
	return out
}

// column returns column c of every row of m.
func column(m sdk.Matrix, c int) []float32 {
	out := make([]float32, m.Rows)
	for r := range out {
		out[r] = m.Data[r*m.Cols+c]
	}
	return out
}

// TestServedModelMustMatchTheFolder checks CheckModel's problems (and Info's refusal) for servers whose models do
// not fit the local folder or the options, each under the key of what to fix.
func TestServedModelMustMatchTheFolder(t *testing.T) {
	dir := localFolder(t)
	tests := []struct {
		name    string
		edit    func(f *fakeTriton)
		options map[string]string
		wantKey string
		wantMsg string
	}{
		{"image size", func(f *fakeTriton) { f.meta["tiny-image"].Inputs[0].Shape = []int64{-1, 3, 96, 96} }, nil,
			"path", "served model tiny-image takes 96x96 images but the local model folder " + dir + " says image_size 224"},
		{"fixed batch", func(f *fakeTriton) { f.meta["tiny-image"].Inputs[0].Shape = []int64{1, 3, 224, 224} }, nil,
			"options.model_name", "a variable batch (in Triton: max_batch_size > 0, dims [3, H, W], data_type TYPE_FP32)"},
		{"fp16 pixels", func(f *fakeTriton) { f.meta["tiny-image"].Inputs[0].Datatype = "FP16" }, nil,
			"options.model_name", "served model tiny-image takes INPUT__0 FP16 [-1 3 224 224]"},
		{"context length", func(f *fakeTriton) {
			for _, in := range f.meta["tiny-text"].Inputs {
				in.Shape = []int64{-1, 77}
			}
		}, nil, "path", "served model tiny-text takes 77 tokens but the local model folder " + dir + " says context_length 256"},
		{"two id inputs", func(f *fakeTriton) { f.meta["tiny-text"].Inputs[1].Name = "token_type_ids" }, nil,
			"options.model_name", "a text tower takes the token ids INT64 [-1, 256] and optionally an attention mask"},
		{"no embeddings output", func(f *fakeTriton) { f.meta["tiny-text"].Outputs[1].Name = "text_embeds" }, nil,
			"options.model_name", "want one, or one named embeddings"},
		{"embedding width", func(f *fakeTriton) {
			f.meta["tiny-image"].Outputs[1].Shape = []int64{-1, 16}
			f.meta["tiny-text"].Outputs[1].Shape = []int64{-1, 16}
		}, nil, "path", "served models output 16 values but the local model folder " + dir + " says embed_dim 32"},
		{"towers disagree", func(f *fakeTriton) { f.meta["tiny-image"].Outputs[1].Shape = []int64{-1, 16} }, nil,
			"options.model_name", "output 16 and 32 values"},
		{"another tokenizer", func(f *fakeTriton) {
			f.meta["tiny-text"].Properties = map[string]string{inferencepb.PropertyTokenizer: "clip-bpe"}
		}, nil,
			"path", "served model tiny-text has tokenizer clip-bpe but the local model folder " + dir + " gives bert-wordpiece"},
		{"unknown model", nil, map[string]string{OptionModelName: "other"}, "options.model_name", "ModelMetadata other-image: NotFound"},
		{"no token", func(f *fakeTriton) { f.token = "tok" }, nil, "options.token", "Unauthenticated: no or wrong token (give the server's bearer token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTriton()
			if tc.edit != nil {
				tc.edit(f)
			}
			options := map[string]string{OptionURL: serveFake(t, f)}
			for k, v := range tc.options {
				options[k] = v
			}
			ref := sdk.ModelRef{Dir: dir, Options: options}
			b := New()
			defer b.Close()
			r, err := b.CheckModel(context.Background(), sdk.CheckModelRequest{Model: ref})
			require.NoError(t, err)
			require.Len(t, r.Problems, 1, "%v", r.Problems)
			assert.Equal(t, tc.wantKey, r.Problems[0].Key)
			assert.Contains(t, r.Problems[0].Message, tc.wantMsg)
			_, err = b.Info(context.Background(), sdk.ModelInfoRequest{Model: ref})
			require.Error(t, err)
			assert.True(t, sdk.IsInvalidInput(err), "a model that does not fit is bad input: %v", err)
			assert.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

// TestFitsTheServerAsIs: the fake server as made passes CheckModel, and a refused request is bad input.
func TestFitsTheServerAsIs(t *testing.T) {
	f := newFakeTriton()
	ref := sdk.ModelRef{Dir: localFolder(t), Options: map[string]string{OptionURL: serveFake(t, f)}}
	b := New()
	defer b.Close()
	r, err := b.CheckModel(context.Background(), sdk.CheckModelRequest{Model: ref})
	require.NoError(t, err)
	assert.Empty(t, r.Problems)
	_, err = b.Info(context.Background(), sdk.ModelInfoRequest{Model: ref})
	require.NoError(t, err)
	f.meta["tiny-text"].Versions = []string{"2"} // the server's model changed after Info: version 1 is gone
	_, err = b.EncodeTexts(context.Background(), sdk.EncodeTextsRequest{Model: ref, Texts: []string{"x"}})
	require.Error(t, err)
	assert.True(t, sdk.IsInvalidInput(err), "%v", err)
	assert.Contains(t, err.Error(), "NotFound")
	_, err = b.EncodeTokens(context.Background(), sdk.EncodeTokensRequest{Model: ref, IDs: nil})
	assert.ErrorContains(t, err, "no token ids; model tiny takes int64 [N, 256]")
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("  abc \n"), 0o600))
	tests := []struct {
		name    string
		options map[string]string
		want    func(o options) any
		wantVal any
		wantErr string
	}{
		{"defaults", map[string]string{OptionURL: "h:1"}, func(o options) any { return []any{o.Address, o.modelName, o.TLS, o.MaxMessageBytes, o.maxBatch} },
			[]any{"h:1", filepath.Base(dir), false, 0, 0}, ""},
		{"token file", map[string]string{OptionURL: "h:1", OptionTokenFile: "token"}, func(o options) any { return o.Token }, "abc", ""},
		{"token", map[string]string{OptionURL: "h:1", OptionToken: "xyz"}, func(o options) any { return o.Token }, "xyz", ""},
		{"token from the environment", map[string]string{OptionURL: "h:1"}, func(o options) any { return o.Token }, "from-env", ""},
		{"ca file relative to the base folder", map[string]string{OptionURL: "h:1", OptionCAFile: "ca.pem"}, func(o options) any { return o.CAFile },
			filepath.Join(dir, "ca.pem"), ""},
		{"limits", map[string]string{OptionURL: "h:1", OptionMaxMessageMB: "64", OptionMaxBatch: "8", OptionModelName: "m", OptionTLS: "true"},
			func(o options) any { return []any{o.MaxMessageBytes, o.maxBatch, o.modelName, o.TLS} }, []any{64 << 20, 8, "m", true}, ""},
		{"shared options", map[string]string{OptionURL: "h:1", "logit_scale": "50"}, func(o options) any { return o.folder }, map[string]string{"logit_scale": "50"}, ""},
		{"no url", map[string]string{}, nil, nil, "option url is required"},
		{"url with a scheme", map[string]string{OptionURL: "grpc://h:1"}, nil, nil, `server address "grpc://h:1" has a scheme`},
		{"url without a port", map[string]string{OptionURL: "h"}, nil, nil, `server address "h" has no port`},
		{"two tokens", map[string]string{OptionURL: "h:1", OptionToken: "a", OptionTokenFile: "token"}, nil, nil, "token or token_file, not both"},
		{"missing token file", map[string]string{OptionURL: "h:1", OptionTokenFile: "nope"}, nil, nil, "token file: open " + filepath.Join(dir, "nope")},
		{"no message size", map[string]string{OptionURL: "h:1", OptionMaxMessageMB: "0"}, nil, nil, `option max_message_mb: "0": want a whole number of MiB from 1 to 2047`},
		{"no batch", map[string]string{OptionURL: "h:1", OptionMaxBatch: "-1"}, nil, nil, `option max_batch: "-1": want a whole number of inputs`},
		{"not a bool", map[string]string{OptionURL: "h:1", OptionTLS: "yes"}, nil, nil, `option tls: "yes": want true or false`},
		{"bad logit scale", map[string]string{OptionURL: "h:1", "logit_scale": "-1"}, nil, nil, "option logit_scale \"-1\": want a positive number"},
		{"unknown", map[string]string{OptionURL: "h:1", "threads": "2"}, nil, nil, `unknown option "threads" (known: logit_scale, bpe, url, tls`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, problems := parseOptions(sdk.ModelRef{Dir: dir, Options: tc.options, BaseDir: dir}, "from-env")
			if tc.wantErr != "" {
				require.Len(t, problems, 1, "%v", problems)
				assert.Contains(t, problems[0].Message, tc.wantErr)
				assert.True(t, strings.HasPrefix(problems[0].Key, "options."), problems[0].Key)
				return
			}
			require.Empty(t, problems)
			assert.Equal(t, tc.wantVal, tc.want(o))
		})
	}
}

// TestDescribe: every option is declared, and only bpe (the tokenizer's vocabulary) changes embeddings.
func TestDescribe(t *testing.T) {
	info, err := New().Describe(context.Background(), sdk.DescribeRequest{})
	require.NoError(t, err)
	assert.Equal(t, Name, info.Name)
	var changing []string
	for _, f := range info.OptionFields {
		if !f.KeepsEmbeddings {
			changing = append(changing, f.Name)
		}
	}
	assert.Equal(t, []string{"bpe"}, changing)
}

// TestRequestsOnTheWire checks one request as the backend builds it, field by field: raw little-endian contents in
// input order, the version pinned, the one output asked for.
func TestRequestsOnTheWire(t *testing.T) {
	var got *inferencepb.ModelInferRequest
	f := newFakeTriton()
	rec := &recorder{fakeTriton: f, got: &got}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	inferencepb.RegisterGRPCInferenceServiceServer(g, rec)
	go g.Serve(lis)
	defer g.Stop()
	ref := sdk.ModelRef{Dir: localFolder(t), Options: map[string]string{OptionURL: lis.Addr().String()}}
	b := New()
	defer b.Close()
	ids := make([]int64, 2*256)
	ids[0], ids[1], ids[2], ids[256], ids[257] = 2, 1000, 3, 2, 3
	_, err = b.EncodeTokens(context.Background(), sdk.EncodeTokensRequest{Model: ref, IDs: npy.Int64Array([]int{2, 256}, ids)})
	require.NoError(t, err)
	wantIDs, err := inferencepb.RawInt32(ids)
	require.NoError(t, err)
	mask := make([]int64, len(ids))
	for i, id := range ids {
		if id != 0 {
			mask[i] = 1
		}
	}
	version := "1"
	want := &inferencepb.ModelInferRequest{ModelName: "tiny-text", ModelVersion: &version,
		Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "input_ids", Datatype: "INT32", Shape: []int64{2, 256}},
			{Name: "attention_mask", Datatype: "INT64", Shape: []int64{2, 256}}},
		Outputs:          []*inferencepb.ModelInferRequest_InferRequestedOutputTensor{{Name: "embeddings"}},
		RawInputContents: [][]byte{wantIDs, inferencepb.RawInt64(mask)}}
	assert.True(t, proto.Equal(want, got), "got %v", got)
	assert.Equal(t, []byte{2, 0, 0, 0, 0xe8, 0x03, 0, 0, 3, 0, 0, 0}, got.RawInputContents[0][:12], "INT32 little-endian")
}

// recorder is fakeTriton, keeping the last request.
type recorder struct {
	*fakeTriton
	got **inferencepb.ModelInferRequest
}

func (r *recorder) ModelInfer(ctx context.Context, req *inferencepb.ModelInferRequest) (*inferencepb.ModelInferResponse, error) {
	*r.got = req
	return r.fakeTriton.ModelInfer(ctx, req)
}

package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// Sizes of the fake task's dataset and scores: each is several ChunkBytes, so that every stream spans chunks.
const (
	fakeImages = 50_000
	fakeTexts  = 100_000
	fakeItems  = 1_000_000
)

// fakeTask is a task whose Load answers a dataset needing several chunks and whose Score reports a metric with
// many item values, computed from the embeddings it is given.
type fakeTask struct {
	// load is the last LoadRequest seen.
	load sdk.LoadRequest
	// workDir lists the names in the work folder during Load.
	workDir []string
}

// fakeDataset is the fake task's `dataset:` mapping.
type fakeDataset struct {
	Name string `json:"name"`
	Fail bool   `json:"fail"`
}

// Describe declares one dataset field and one bounded option.
func (f *fakeTask) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "fake", Version: "v0.0.1", Description: "a fake task",
		DatasetFields: []sdk.Field{{Name: "name", Type: sdk.FieldString, Required: true, Choices: []string{"a", "b"}}},
		OptionFields:  []sdk.Field{{Name: "k", Type: sdk.FieldInt, Min: sdk.Bound(1), Max: sdk.Bound(10), Help: "k"}}}, nil
}

// Load answers fakeImages images by byte range and fakeTexts texts, or fails when the dataset says so.
func (f *fakeTask) Load(_ context.Context, req sdk.LoadRequest) (*sdk.Dataset, error) {
	f.load = req
	var dc fakeDataset
	if err := json.Unmarshal(req.Dataset, &dc); err != nil {
		return nil, fmt.Errorf("fake dataset: %w", err)
	}
	if dc.Fail {
		return nil, fmt.Errorf("fake dataset %q: told to fail", dc.Name)
	}
	entries, err := os.ReadDir(req.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("fake dataset: %w", err)
	}
	f.workDir = []string{}
	for _, e := range entries {
		f.workDir = append(f.workDir, e.Name())
	}
	ds := &sdk.Dataset{ID: "fake-" + dc.Name, Size: fakeImages, Description: "a fake dataset", Files: []string{"/data/fake.jsonl"}}
	for i := range fakeImages {
		ds.Images = append(ds.Images, sdk.ImageInput{Path: "/data/shard.tar", Offset: int64(512 * i), Size: 512,
			Name: fmt.Sprintf("shard.tar#%06d.jpg", i)})
	}
	for i := range fakeTexts {
		ds.Texts = append(ds.Texts, fmt.Sprintf("%06d %s", i, strings.Repeat("x", 93)))
	}
	return ds, nil
}

// Score reports a metric of fakeItems item values and three metrics computed from the request.
func (f *fakeTask) Score(_ context.Context, req sdk.ScoreRequest) (*sdk.Scores, error) {
	if req.DatasetID != "fake-a" {
		return nil, fmt.Errorf("fake task: no dataset %q", req.DatasetID)
	}
	items := make([]float64, fakeItems)
	for i := range items {
		items[i] = float64(i % 2)
	}
	var sum float64
	for _, v := range req.ImageEmbeddings.Data {
		sum += float64(v)
	}
	s := &sdk.Scores{Mode: "zero-shot", Headline: []string{"hits"}}
	// hits: the mean over items of whether item i is odd (a stand-in for a per-item hit).
	s.Add(sdk.Metric{Name: "hits", Value: 0.5, Direction: sdk.HigherIsBetter, Unit: sdk.Fraction, ItemValues: items,
		Interval: &sdk.Interval{Low: 0.49, High: 0.51}, Help: "share of odd items"})
	// image_sum: the sum of every image embedding value, so the test sees the matrix arrived whole.
	s.Add(sdk.Metric{Name: "image_sum", Value: sum, Direction: sdk.Informational, Unit: sdk.Value, Help: "sum of image embeddings"})
	// text_values: rows × cols of the text embeddings; logit_scale: the request's; both checked by the test.
	s.Add(sdk.Metric{Name: "text_values", Value: float64(req.TextEmbeddings.Rows * req.TextEmbeddings.Cols), Direction: sdk.Informational,
		Unit: sdk.Count, Help: "text embedding values"})
	s.Add(sdk.Metric{Name: "logit_scale", Value: req.LogitScale, Direction: sdk.Informational, Unit: sdk.Value, Help: "logit scale"})
	return s, nil
}

func TestTaskServerRoundTrip(t *testing.T) {
	ctx := context.Background()
	impl := &fakeTask{}
	s := NewTask(t, impl)

	info, err := s.Describe(ctx)
	require.NoError(t, err)
	assert.Equal(t, &sdk.PluginInfo{Name: "fake", Version: "v0.0.1", Description: "a fake task", ProtocolVersion: sdk.ProtocolVersion,
		DatasetFields: []sdk.Field{{Name: "name", Type: sdk.FieldString, Required: true, Choices: []string{"a", "b"}}},
		OptionFields:  []sdk.Field{{Name: "k", Type: sdk.FieldInt, Min: sdk.Bound(1), Max: sdk.Bound(10), Help: "k"}}}, info)

	ds, err := s.Load(ctx, fakeDataset{Name: "a"}, nil)
	require.NoError(t, err)
	assert.Equal(t, `{"name":"a","fail":false}`, string(impl.load.Dataset))
	assert.Equal(t, `{}`, string(impl.load.Options))
	assert.Equal(t, s.WorkDir, impl.load.WorkDir)
	assert.Equal(t, []string{}, impl.workDir, "the work folder exists and is empty")
	assert.Equal(t, "fake-a", ds.ID)
	assert.Equal(t, fakeImages, ds.Size)
	assert.Equal(t, []string{"/data/fake.jsonl"}, ds.Files)
	require.Len(t, ds.Images, fakeImages)
	require.Len(t, ds.Texts, fakeTexts)
	assert.Equal(t, sdk.ImageInput{Name: "shard.tar#049999.jpg", Path: "/data/shard.tar", Offset: 512 * 49_999, Size: 512},
		ds.Images[fakeImages-1])
	assert.Equal(t, "099999 "+strings.Repeat("x", 93), ds.Texts[fakeTexts-1])

	images := sdk.Matrix{Rows: 3, Cols: 2, Data: []float32{1, 2, 3, 4, 5, 6.5}}
	texts := sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, 1}}
	sc, err := s.Score(ctx, ds.ID, images, texts, 100)
	require.NoError(t, err)
	assert.Equal(t, "zero-shot", sc.Mode)
	assert.Equal(t, []string{"hits"}, sc.Headline)
	hits := sc.Metric("hits")
	require.NotNil(t, hits)
	require.Len(t, hits.ItemValues, fakeItems)
	for i, v := range hits.ItemValues {
		if v != float64(i%2) {
			t.Fatalf("item value %d is %g, want %d", i, v, i%2)
		}
	}
	assert.Equal(t, &sdk.Interval{Low: 0.49, High: 0.51}, hits.Interval)
	assert.Equal(t, 21.5, sc.Value("image_sum"))
	assert.Equal(t, 4.0, sc.Value("text_values"))
	assert.Equal(t, 100.0, sc.Value("logit_scale"))

	left, err := os.ReadDir(s.dir)
	require.NoError(t, err)
	require.Len(t, left, 1, "the embedding files are removed after Score")
	assert.Equal(t, "work", left[0].Name())
}

func TestTaskServerErrors(t *testing.T) {
	ctx := context.Background()
	s := NewTask(t, &fakeTask{})
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"load error", func() error { _, err := s.Load(ctx, fakeDataset{Name: "b", Fail: true}, nil); return err },
			`fake dataset "b": told to fail`},
		{"unencodable options", func() error { _, err := s.Load(ctx, nil, math.NaN()); return err },
			"sdktest: encoding the options mapping: json: unsupported value: NaN"},
		{"score error", func() error {
			_, err := s.Score(ctx, "fake-z", sdk.Matrix{}, sdk.Matrix{}, 1)
			return err
		}, `fake task: no dataset "fake-z"`},
		{"malformed matrix", func() error {
			_, err := s.Score(ctx, "fake-a", sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1}}, sdk.Matrix{}, 1)
			return err
		}, "sdktest: images embeddings: matrix shape [2,2] does not match 1 values"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestTaskServerClose(t *testing.T) {
	s, err := StartTask(&fakeTask{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close is safe")
	_, err = os.Stat(s.dir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "Close removes the server's folder: %v", err)
	_, err = s.Describe(context.Background())
	var rpc *sdk.RPCError
	require.ErrorAs(t, err, &rpc)
	assert.Equal(t, "Canceled", rpc.Code)
}

// fakeModel embeds an image as [its byte count, its first byte] and a text as [its length, its first byte].
type fakeModel struct{}

// Describe declares one bounded option.
func (fakeModel) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "fakemodel", Version: "v1",
		OptionFields: []sdk.Field{{Name: "scale", Type: sdk.FieldFloat, Min: sdk.Bound(0)}}}, nil
}

// CheckModel reports a missing model folder.
func (fakeModel) CheckModel(_ context.Context, req sdk.CheckModelRequest) (*sdk.CheckModelResponse, error) {
	if _, err := os.Stat(req.Model.Dir); err != nil {
		return &sdk.CheckModelResponse{Problems: []sdk.Problem{{Key: "path", Message: "the model folder does not exist"}}}, nil
	}
	return &sdk.CheckModelResponse{}, nil
}

// Info describes a model named after its folder.
func (fakeModel) Info(_ context.Context, req sdk.ModelInfoRequest) (*sdk.ModelInfo, error) {
	return &sdk.ModelInfo{Name: filepath.Base(req.Model.Dir), EmbedDim: 2, ImageSize: 224, ContextLength: 77, LogitScale: 100,
		Tokenizer: "bytes", Files: map[string]string{"model.bin": "00"}, Runtime: "none " + req.Model.Options["scale"]}, nil
}

// EncodeImages embeds each image as [its byte count, its first byte].
func (fakeModel) EncodeImages(_ context.Context, req sdk.EncodeImagesRequest) (*sdk.EncodeResponse, error) {
	m := sdk.Matrix{Rows: len(req.Images), Cols: 2}
	for _, im := range req.Images {
		b, err := im.Bytes()
		if err != nil {
			return nil, err
		}
		m.Data = append(m.Data, float32(len(b)), float32(b[0]))
	}
	return &sdk.EncodeResponse{Embeddings: m}, nil
}

// EncodeTexts embeds each text as [its length, its first byte].
func (fakeModel) EncodeTexts(_ context.Context, req sdk.EncodeTextsRequest) (*sdk.EncodeResponse, error) {
	m := sdk.Matrix{Rows: len(req.Texts), Cols: 2}
	for i, s := range req.Texts {
		if s == "" {
			return nil, fmt.Errorf("text %d is empty", i)
		}
		m.Data = append(m.Data, float32(len(s)), float32(s[0]))
	}
	return &sdk.EncodeResponse{Embeddings: m}, nil
}

// inputModel is fakeModel with the optional input-level calls; its token ids are a text's bytes.
type inputModel struct{ fakeModel }

// Preprocess fails.
func (inputModel) Preprocess(context.Context, sdk.PreprocessRequest) (*sdk.TensorResponse, error) {
	return nil, errors.New("no pixels here")
}

// Tokenize returns each text's first 4 bytes as ids, padded with 0.
func (inputModel) Tokenize(_ context.Context, req sdk.TokenizeRequest) (*sdk.TensorResponse, error) {
	ids := make([]int64, 0, 4*len(req.Texts))
	for _, s := range req.Texts {
		for i := range 4 {
			var id int64
			if i < len(s) {
				id = int64(s[i])
			}
			ids = append(ids, id)
		}
	}
	return &sdk.TensorResponse{Tensor: npy.Int64Array([]int{len(req.Texts), 4}, ids)}, nil
}

// EncodePixels embeds image n of the batch as value n of the pixel tensor.
func (inputModel) EncodePixels(_ context.Context, req sdk.EncodePixelsRequest) (*sdk.EncodeResponse, error) {
	return &sdk.EncodeResponse{Embeddings: sdk.Matrix{Rows: req.Pixels.Shape[0], Cols: 1, Data: req.Pixels.Float32[:req.Pixels.Shape[0]]}}, nil
}

// EncodeTokens answers one row whatever it is given.
func (inputModel) EncodeTokens(context.Context, sdk.EncodeTokensRequest) (*sdk.EncodeResponse, error) {
	// The wrong number of rows: the SDK's server refuses the answer.
	return &sdk.EncodeResponse{Embeddings: sdk.Matrix{Rows: 1, Cols: 1, Data: []float32{0}}}, nil
}

func TestModelServer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	img := filepath.Join(dir, "a.jpg")
	require.NoError(t, os.WriteFile(img, []byte("\xff\xd8abc"), 0o644))
	s := NewModel(t, fakeModel{})
	ref := sdk.ModelRef{Dir: dir, Options: map[string]string{"scale": "2"}, BaseDir: "/configs"}

	info, err := s.Client.Describe(ctx, sdk.DescribeRequest{})
	require.NoError(t, err)
	assert.Equal(t, &sdk.PluginInfo{Name: "fakemodel", Version: "v1", ProtocolVersion: 2,
		OptionFields: []sdk.Field{{Name: "scale", Type: sdk.FieldFloat, Min: sdk.Bound(0)}}, DatasetFields: []sdk.Field{}}, info)

	chk, err := s.Client.CheckModel(ctx, sdk.CheckModelRequest{Model: sdk.ModelRef{Dir: filepath.Join(dir, "missing")}})
	require.NoError(t, err)
	assert.Equal(t, []sdk.Problem{{Key: "path", Message: "the model folder does not exist"}}, chk.Problems)

	mi, err := s.Client.Info(ctx, sdk.ModelInfoRequest{Model: ref})
	require.NoError(t, err)
	assert.Equal(t, &sdk.ModelInfo{Name: filepath.Base(dir), EmbedDim: 2, ImageSize: 224, ContextLength: 77, LogitScale: 100,
		Tokenizer: "bytes", Files: map[string]string{"model.bin": "00"}, Runtime: "none 2"}, mi)

	enc, err := s.Client.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref,
		Images: []sdk.ImageInput{sdk.FileImage(img), {Path: img, Offset: 2, Size: 3}, {Name: "inline", Data: []byte("Z")}}})
	require.NoError(t, err)
	assert.Equal(t, sdk.Matrix{Rows: 3, Cols: 2, Data: []float32{5, 0xff, 3, 'a', 1, 'Z'}}, enc.Embeddings)

	_, err = s.Client.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: []sdk.ImageInput{{Name: "nothing"}}})
	require.Error(t, err)
	assert.Equal(t, `image "nothing" has neither a path nor data`, err.Error())
	assert.True(t, sdk.IsInvalidInput(err), "ImageInput.Bytes marks its errors bad input, and the mark crosses gRPC")
	_, err = s.Client.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: ref, Texts: []string{""}})
	require.Error(t, err)
	assert.Equal(t, "text 0 is empty", err.Error())
	assert.False(t, sdk.IsInvalidInput(err), "a plain error is not bad input")

	enc, err = s.Client.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: ref, Texts: []string{"a chest x-ray", "b"}})
	require.NoError(t, err)
	assert.Equal(t, sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{13, 'a', 1, 'b'}}, enc.Embeddings)

	_, err = s.Client.Tokenize(ctx, sdk.TokenizeRequest{Model: ref, Texts: []string{"a"}})
	assert.True(t, sdk.IsUnimplemented(err), "a model without InputModel answers Unimplemented: %v", err)
}

func TestModelServerInputs(t *testing.T) {
	ctx := context.Background()
	s := NewModel(t, inputModel{})
	tok, err := s.Client.Tokenize(ctx, sdk.TokenizeRequest{Texts: []string{"ab", "cdefg"}})
	require.NoError(t, err)
	assert.Equal(t, npy.Int64Array([]int{2, 4}, []int64{'a', 'b', 0, 0, 'c', 'd', 'e', 'f'}), tok.Tensor)

	enc, err := s.Client.EncodePixels(ctx, sdk.EncodePixelsRequest{Pixels: npy.Float32Array([]int{2, 3, 1, 1}, []float32{7, 8, 9, 10, 11, 12})})
	require.NoError(t, err)
	assert.Equal(t, sdk.Matrix{Rows: 2, Cols: 1, Data: []float32{7, 8}}, enc.Embeddings)

	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"backend error", func() error { _, err := s.Client.Preprocess(ctx, sdk.PreprocessRequest{}); return err }, "no pixels here"},
		{"wrong row count", func() error {
			_, err := s.Client.EncodeTokens(ctx, sdk.EncodeTokensRequest{IDs: npy.Int64Array([]int{2, 1}, []int64{1, 2})})
			return err
		}, "the backend returned 1 embeddings for 2 inputs"},
		{"tensor not matching its shape", func() error {
			_, err := s.Client.EncodeTokens(ctx, sdk.EncodeTokensRequest{IDs: npy.Int64Array([]int{2, 2}, []int64{1, 2})})
			return err
		}, `tensor of dtype "<i8" and shape [2 2]: want float32 or int64 data matching the shape`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestModelServerClose(t *testing.T) {
	s, err := StartModel(fakeModel{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close is safe")
	_, err = s.Client.Info(context.Background(), sdk.ModelInfoRequest{})
	var rpc *sdk.RPCError
	require.ErrorAs(t, err, &rpc)
	assert.Equal(t, "Canceled", rpc.Code)
}

package sdk

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v2"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// assertProto fails t unless got equals want as protobuf messages.
func assertProto(t *testing.T, want, got proto.Message) {
	t.Helper()
	if !proto.Equal(want, got) {
		t.Errorf("messages differ\nwant: %s\ngot:  %s", prototext.Format(want), prototext.Format(got))
	}
}

func TestMatrixConversion(t *testing.T) {
	tests := []struct {
		name string
		in   Matrix
		want *pb.Matrix
	}{
		{"values", Matrix{Rows: 2, Cols: 1, Data: []float32{1, -2}},
			&pb.Matrix{Rows: 2, Cols: 1, Data: []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}}},
		{"no rows", Matrix{Rows: 0, Cols: 512, Data: []float32{}}, &pb.Matrix{Rows: 0, Cols: 512, Data: []byte{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := matrixToProto(tc.in)
			assertProto(t, tc.want, p)
			back, err := matrixFromProto(p)
			require.NoError(t, err)
			assert.Equal(t, tc.in, back)
		})
	}
}

func TestMatrixNaNKeepsItsBits(t *testing.T) {
	nan := math.Float32frombits(0x7fc00001)
	back, err := matrixFromProto(matrixToProto(Matrix{Rows: 1, Cols: 2, Data: []float32{nan, float32(math.Inf(-1))}}))
	require.NoError(t, err)
	assert.Equal(t, []uint32{0x7fc00001, 0xff800000}, []uint32{math.Float32bits(back.Data[0]), math.Float32bits(back.Data[1])})
}

func TestMatrixFromProtoRejects(t *testing.T) {
	tests := []struct {
		name string
		in   *pb.Matrix
		want string
	}{
		{"missing", nil, "matrix is missing"},
		{"short data", &pb.Matrix{Rows: 2, Cols: 2, Data: make([]byte, 15)}, "matrix shape [2,2] does not match 15 bytes of float32"},
		{"long data", &pb.Matrix{Rows: 1, Cols: 1, Data: make([]byte, 5)}, "matrix shape [1,1] does not match 5 bytes of float32"},
		{"negative rows", &pb.Matrix{Rows: -1, Cols: -4, Data: make([]byte, 16)}, "matrix shape [-1,-4] does not match 16 bytes of float32"},
		{"huge shape", &pb.Matrix{Rows: 1 << 40, Cols: 0}, "matrix shape [1099511627776,0] does not match 0 bytes of float32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := matrixFromProto(tc.in)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestTensorConversion(t *testing.T) {
	tests := []struct {
		name string
		in   *npy.Array
		want *pb.Tensor
	}{
		{"float32 pixels", npy.Float32Array([]int{1, 2}, []float32{0.5, -1}),
			&pb.Tensor{Shape: []int64{1, 2}, Dtype: "float32", Data: []byte{0, 0, 0, 0x3f, 0, 0, 0x80, 0xbf}}},
		{"int64 ids", npy.Int64Array([]int{2, 1}, []int64{49406, -1}),
			&pb.Tensor{Shape: []int64{2, 1}, Dtype: "int64", Data: []byte{0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}},
		{"scalar", npy.Float32Array([]int{}, []float32{1}), &pb.Tensor{Dtype: "float32", Data: []byte{0, 0, 0x80, 0x3f}}},
		{"empty", npy.Int64Array([]int{0, 77}, []int64{}), &pb.Tensor{Shape: []int64{0, 77}, Dtype: "int64", Data: []byte{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tensorToProto(tc.in)
			require.NoError(t, err)
			assertProto(t, tc.want, p)
			back, err := tensorFromProto(p)
			require.NoError(t, err)
			assert.Equal(t, tc.in, back)
		})
	}
}

func TestTensorToProtoRejects(t *testing.T) {
	tests := []struct {
		name string
		in   *npy.Array
		want string
	}{
		{"missing", nil, "tensor is missing"},
		{"float64", &npy.Array{Shape: []int{1}, DType: "<f8", Float64: []float64{1}},
			`tensor of dtype "<f8" and shape [1]: want float32 or int64 data matching the shape`},
		{"data shorter than shape", npy.Float32Array([]int{2, 2}, []float32{1, 2, 3}),
			`tensor of dtype "<f4" and shape [2 2]: want float32 or int64 data matching the shape`},
		{"dtype and slice disagree", &npy.Array{Shape: []int{1}, DType: "<i8", Float32: []float32{1}},
			`tensor of dtype "<i8" and shape [1]: want float32 or int64 data matching the shape`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tensorToProto(tc.in)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestTensorFromProtoRejects(t *testing.T) {
	tests := []struct {
		name string
		in   *pb.Tensor
		want string
	}{
		{"missing", nil, "tensor is missing"},
		{"negative dimension", &pb.Tensor{Shape: []int64{2, -1}, Dtype: "float32"}, "tensor shape [2 -1] is invalid"},
		{"dimension too large", &pb.Tensor{Shape: []int64{1<<31 + 1}, Dtype: "float32"}, "tensor shape [2147483649] is invalid"},
		{"product too large", &pb.Tensor{Shape: []int64{1 << 21, 1 << 21}, Dtype: "int64"}, "tensor shape [2097152 2097152] is invalid"},
		{"unknown dtype", &pb.Tensor{Shape: []int64{1}, Dtype: "float64", Data: make([]byte, 8)}, `tensor dtype "float64": want float32 or int64`},
		{"no dtype", &pb.Tensor{Shape: []int64{1}, Data: make([]byte, 4)}, `tensor dtype "": want float32 or int64`},
		{"float32 bytes short", &pb.Tensor{Shape: []int64{3, 224}, Dtype: "float32", Data: make([]byte, 4*3*224-1)},
			"tensor shape [3 224] of float32 does not match 2687 bytes"},
		{"int64 bytes of float32", &pb.Tensor{Shape: []int64{2}, Dtype: "int64", Data: make([]byte, 8)},
			"tensor shape [2] of int64 does not match 8 bytes"},
		{"zero dimension with data", &pb.Tensor{Shape: []int64{0, 4}, Dtype: "float32", Data: make([]byte, 4)},
			"tensor shape [0 4] of float32 does not match 4 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tensorFromProto(tc.in)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestRefConversion(t *testing.T) {
	in := ModelRef{Dir: "/models/biomedclip", Options: map[string]string{"logit_scale": "100"}, BaseDir: "/configs"}
	p := refToProto(in)
	assertProto(t, &pb.ModelRef{Dir: "/models/biomedclip", Options: map[string]string{"logit_scale": "100"}, BaseDir: "/configs"}, p)
	assert.Equal(t, in, refFromProto(p))
	assert.Equal(t, ModelRef{}, refFromProto(nil))
}

func TestImageConversion(t *testing.T) {
	in := []ImageInput{
		FileImage("/data/a.png"),
		{Name: "shard-000.tar#000042.jpg", Path: "/data/shard-000.tar", Offset: 1536, Size: 20480, Root: "/data"},
		{Name: "inline", Data: []byte{0xff, 0xd8}},
		{Path: "/data/huge.tar", Offset: 1 << 40, Size: 1 << 29},
	}
	p := imagesToProto(in)
	require.Len(t, p, 4)
	assertProto(t, &pb.Image{Path: "/data/a.png"}, p[0])
	assertProto(t, &pb.Image{Name: "shard-000.tar#000042.jpg", Path: "/data/shard-000.tar", Offset: 1536, Size: 20480, Root: "/data"}, p[1])
	assertProto(t, &pb.Image{Name: "inline", Data: []byte{0xff, 0xd8}}, p[2])
	assertProto(t, &pb.Image{Path: "/data/huge.tar", Offset: 1 << 40, Size: 1 << 29}, p[3])
	assert.Equal(t, in, imagesFromProto(p))
	assert.Equal(t, []ImageInput{}, imagesFromProto(nil))
	assert.Equal(t, []*pb.Image{}, imagesToProto(nil))
}

func TestFieldConversion(t *testing.T) {
	tests := []struct {
		name string
		in   Field
		want *pb.Field
	}{
		{"string with choices", Field{Name: "format", Type: FieldString, Required: true, Help: "h", Choices: []string{"jsonl", "csv"}},
			&pb.Field{Name: "format", Type: "string", Required: true, Help: "h", Choices: []string{"jsonl", "csv"}}},
		{"int with min", Field{Name: "max_k", Type: FieldInt, Min: Bound(1)}, &pb.Field{Name: "max_k", Type: "int", Min: Bound(1)}},
		{"float with both bounds", Field{Name: "fraction", Type: FieldFloat, Min: Bound(0), Max: Bound(1)},
			&pb.Field{Name: "fraction", Type: "float", Min: Bound(0), Max: Bound(1)}},
		{"zero max is kept", Field{Name: "offset", Type: FieldFloat, Max: Bound(0)}, &pb.Field{Name: "offset", Type: "float", Max: Bound(0)}},
		{"path", Field{Name: "manifest", Type: FieldPath}, &pb.Field{Name: "manifest", Type: "path"}},
		{"string map", Field{Name: "labels", Type: FieldStringMap}, &pb.Field{Name: "labels", Type: "string_map"}},
		{"keeps embeddings", Field{Name: "threads", Type: FieldInt, KeepsEmbeddings: true},
			&pb.Field{Name: "threads", Type: "int", KeepsEmbeddings: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := fieldsToProto([]Field{tc.in})
			require.Len(t, p, 1)
			assertProto(t, tc.want, p[0])
			assert.Equal(t, []Field{tc.in}, fieldsFromProto(p))
		})
	}
}

func TestPluginInfoConversion(t *testing.T) {
	in := &PluginInfo{Name: "retrieval", Version: "v2.0.1", Description: "recall@k", ProtocolVersion: 7,
		OptionFields:  []Field{{Name: "max_k", Type: FieldInt, Min: Bound(1)}},
		DatasetFields: []Field{{Name: "manifest", Type: FieldPath, Required: true}}}
	p := pluginInfoToProto(in)
	assertProto(t, &pb.PluginInfo{Name: "retrieval", Version: "v2.0.1", Description: "recall@k", ProtocolVersion: 2,
		OptionFields:  []*pb.Field{{Name: "max_k", Type: "int", Min: Bound(1)}},
		DatasetFields: []*pb.Field{{Name: "manifest", Type: "path", Required: true}}}, p)
	want := *in
	want.ProtocolVersion = ProtocolVersion // the SDK fills it in, whatever the plugin said
	assert.Equal(t, &want, pluginInfoFromProto(p))
	assert.Equal(t, &PluginInfo{OptionFields: []Field{}, DatasetFields: []Field{}}, pluginInfoFromProto(&pb.PluginInfo{}))
}

func TestModelInfoConversion(t *testing.T) {
	in := &ModelInfo{Name: "BiomedCLIP", EmbedDim: 512, ImageSize: 224, ContextLength: 256, LogitScale: 100, Tokenizer: "bert-wordpiece",
		Files: map[string]string{"image.onnx": "ab12"}, Runtime: "onnxruntime 1.30.0"}
	p := modelInfoToProto(in)
	assertProto(t, &pb.ModelInfo{Name: "BiomedCLIP", EmbedDim: 512, ImageSize: 224, ContextLength: 256, LogitScale: 100,
		Tokenizer: "bert-wordpiece", Files: map[string]string{"image.onnx": "ab12"}, Runtime: "onnxruntime 1.30.0"}, p)
	assert.Equal(t, in, modelInfoFromProto(p))
}

func TestProblemConversion(t *testing.T) {
	in := []Problem{{Key: "options.logit_scale", Message: "must be a number"}, {Key: "", Message: "no image.onnx"}}
	p := problemsToProto(in)
	require.Len(t, p, 2)
	assertProto(t, &pb.Problem{Key: "options.logit_scale", Message: "must be a number"}, p[0])
	assertProto(t, &pb.Problem{Message: "no image.onnx"}, p[1])
	assert.Equal(t, in, problemsFromProto(p))
	assert.Equal(t, []Problem{}, problemsFromProto(nil))
}

func TestMetricEnums(t *testing.T) {
	directions := []struct {
		in   Direction
		want pb.Direction
	}{
		{HigherIsBetter, pb.Direction_HIGHER_IS_BETTER},
		{LowerIsBetter, pb.Direction_LOWER_IS_BETTER},
		{Informational, pb.Direction_INFORMATIONAL},
	}
	for _, tc := range directions {
		t.Run(string(tc.in), func(t *testing.T) {
			p := metricToProto(Metric{Name: "m", Direction: tc.in, Unit: Value})
			assert.Equal(t, tc.want, p.Direction)
			m, err := metricFromProto(p)
			require.NoError(t, err)
			assert.Equal(t, tc.in, m.Direction)
		})
	}
	units := []struct {
		in   Unit
		want pb.Unit
	}{
		{Fraction, pb.Unit_FRACTION},
		{Rank, pb.Unit_RANK},
		{Count, pb.Unit_COUNT},
		{Value, pb.Unit_VALUE},
	}
	for _, tc := range units {
		t.Run(string(tc.in), func(t *testing.T) {
			p := metricToProto(Metric{Name: "m", Direction: HigherIsBetter, Unit: tc.in})
			assert.Equal(t, tc.want, p.Unit)
			m, err := metricFromProto(p)
			require.NoError(t, err)
			assert.Equal(t, tc.in, m.Unit)
		})
	}
}

func TestMetricConversion(t *testing.T) {
	in := Metric{Name: "acc1", Value: 0.75, Direction: HigherIsBetter, Unit: Fraction, Interval: &Interval{Low: 0.7, High: 0.8},
		ItemValues: []float64{1, 0, 1, 1}, Help: "top-1 accuracy",
		Confusion: &Confusion{Classes: []string{"normal", "pneumonia"}, Counts: [][]int64{{1, 0}, {1, 2}}}}
	p := metricToProto(in)
	assertProto(t, &pb.Metric{Name: "acc1", Value: 0.75, Direction: pb.Direction_HIGHER_IS_BETTER, Unit: pb.Unit_FRACTION,
		Interval: &pb.Interval{Low: 0.7, High: 0.8}, ItemCount: 4, Help: "top-1 accuracy",
		Confusion: &pb.ConfusionMatrix{Classes: []string{"normal", "pneumonia"}, Counts: []int64{1, 0, 1, 2}}}, p)
	back, err := metricFromProto(p)
	require.NoError(t, err)
	want := in
	want.ItemValues = nil // item values travel in chunks of their own
	assert.Equal(t, want, back)

	nan, err := metricFromProto(metricToProto(Metric{Name: "acc5", Value: math.NaN(), Direction: HigherIsBetter, Unit: Fraction}))
	require.NoError(t, err)
	assert.True(t, math.IsNaN(nan.Value), "an undefined metric stays NaN")
	assert.Nil(t, nan.Interval)
	assert.Nil(t, nan.Confusion)
}

func TestMetricFromProtoRejects(t *testing.T) {
	tests := []struct {
		name string
		in   *pb.Metric
		want string
	}{
		{"no direction", &pb.Metric{Name: "acc1", Unit: pb.Unit_FRACTION},
			`metric "acc1" declares direction DIRECTION_UNSPECIFIED and unit FRACTION; every metric needs both`},
		{"no unit", &pb.Metric{Name: "acc1", Direction: pb.Direction_HIGHER_IS_BETTER},
			`metric "acc1" declares direction HIGHER_IS_BETTER and unit UNIT_UNSPECIFIED; every metric needs both`},
		{"unknown enum values", &pb.Metric{Name: "x", Direction: 9, Unit: 9}, `metric "x" declares direction 9 and unit 9; every metric needs both`},
		{"too few counts", &pb.Metric{Name: "acc1", Direction: pb.Direction_HIGHER_IS_BETTER, Unit: pb.Unit_FRACTION,
			Confusion: &pb.ConfusionMatrix{Classes: []string{"a", "b"}, Counts: []int64{1, 2, 3}}},
			`metric "acc1": confusion matrix has 3 counts for 2 classes`},
		{"too many counts", &pb.Metric{Name: "acc1", Direction: pb.Direction_HIGHER_IS_BETTER, Unit: pb.Unit_FRACTION,
			Confusion: &pb.ConfusionMatrix{Classes: []string{"a"}, Counts: []int64{1, 2}}},
			`metric "acc1": confusion matrix has 2 counts for 1 classes`},
		{"counts without classes", &pb.Metric{Name: "acc1", Direction: pb.Direction_HIGHER_IS_BETTER, Unit: pb.Unit_FRACTION,
			Confusion: &pb.ConfusionMatrix{Counts: []int64{1}}},
			`metric "acc1": confusion matrix has 1 counts for 0 classes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metricFromProto(tc.in)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestPredictionConversion(t *testing.T) {
	tests := []Prediction{
		{Item: "synpic100", Truth: "yes", Predicted: "no", Correct: false, Group: "closed"},
		{Item: "img-1.png", Truth: "pneumonia", Predicted: "pneumonia", Correct: true},
	}
	for _, in := range tests {
		t.Run(in.Item, func(t *testing.T) {
			p := predictionToProto(in)
			assertProto(t, &pb.Prediction{Item: in.Item, Truth: in.Truth, Predicted: in.Predicted, Correct: in.Correct, Group: in.Group}, p)
			assert.Equal(t, in, predictionFromProto(p))
		})
	}
}

func TestCurveConversion(t *testing.T) {
	in := Curve{Name: "image_retrieval_recall", XLabel: "k", YLabel: "recall@k", X: []float64{1, 2, 3}, Y: []float64{0.5, 0.75, 1}}
	p := curveToProto(in)
	assertProto(t, &pb.Curve{Name: "image_retrieval_recall", XLabel: "k", YLabel: "recall@k", X: []float64{1, 2, 3}, Y: []float64{0.5, 0.75, 1}}, p)
	assert.Equal(t, in, curveFromProto(p))
}

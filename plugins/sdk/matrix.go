package sdk

import (
	"encoding/binary"
	"fmt"
	"math"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v1"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// MatrixToProto packs m as little-endian float32 bytes.
func MatrixToProto(m Matrix) *pb.Matrix {
	data := make([]byte, 4*len(m.Data))
	for i, v := range m.Data {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	return &pb.Matrix{Rows: int64(m.Rows), Cols: int64(m.Cols), Data: data}
}

// MatrixFromProto unpacks a matrix, checking that its byte length matches its shape.
func MatrixFromProto(p *pb.Matrix) (Matrix, error) {
	if p == nil {
		return Matrix{}, fmt.Errorf("matrix is missing")
	}
	if p.Rows < 0 || p.Cols < 0 || int64(len(p.Data)) != 4*p.Rows*p.Cols {
		return Matrix{}, fmt.Errorf("matrix shape [%d,%d] does not match %d bytes of float32", p.Rows, p.Cols, len(p.Data))
	}
	m := Matrix{Rows: int(p.Rows), Cols: int(p.Cols), Data: make([]float32, p.Rows*p.Cols)}
	for i := range m.Data {
		m.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(p.Data[4*i:]))
	}
	return m, nil
}

// TensorToProto packs a float32 or int64 array.
func TensorToProto(a *npy.Array) (*pb.Tensor, error) {
	if a == nil {
		return nil, fmt.Errorf("tensor is missing")
	}
	t := &pb.Tensor{}
	for _, d := range a.Shape {
		t.Shape = append(t.Shape, int64(d))
	}
	n := a.Len()
	switch {
	case a.DType == "<f4" && len(a.Float32) == n:
		t.Dtype = "float32"
		t.Data = make([]byte, 4*n)
		for i, v := range a.Float32 {
			binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(v))
		}
	case a.DType == "<i8" && len(a.Int64) == n:
		t.Dtype = "int64"
		t.Data = make([]byte, 8*n)
		for i, v := range a.Int64 {
			binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(v))
		}
	default:
		return nil, fmt.Errorf("tensor of dtype %q and shape %v: want float32 or int64 data matching the shape", a.DType, a.Shape)
	}
	return t, nil
}

// TensorFromProto unpacks a tensor, checking its byte length against its shape and dtype.
func TensorFromProto(t *pb.Tensor) (*npy.Array, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor is missing")
	}
	shape := make([]int, len(t.Shape))
	n := int64(1)
	for i, d := range t.Shape {
		if d < 0 || d > 1<<31 {
			return nil, fmt.Errorf("tensor shape %v is invalid", t.Shape)
		}
		shape[i] = int(d)
		n *= d
	}
	size := map[string]int64{"float32": 4, "int64": 8}[t.Dtype]
	if size == 0 {
		return nil, fmt.Errorf("tensor dtype %q: want float32 or int64", t.Dtype)
	}
	if int64(len(t.Data)) != n*size {
		return nil, fmt.Errorf("tensor shape %v of %s does not match %d bytes", t.Shape, t.Dtype, len(t.Data))
	}
	if t.Dtype == "float32" {
		data := make([]float32, n)
		for i := range data {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return npy.Float32Array(shape, data), nil
	}
	data := make([]int64, n)
	for i := range data {
		data[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return npy.Int64Array(shape, data), nil
}

func refToProto(r ModelRef) *pb.ModelRef {
	return &pb.ModelRef{Dir: r.Dir, Options: r.Options, BaseDir: r.BaseDir}
}

func refFromProto(p *pb.ModelRef) ModelRef {
	if p == nil {
		return ModelRef{}
	}
	return ModelRef{Dir: p.Dir, Options: p.Options, BaseDir: p.BaseDir}
}

func imagesToProto(in []ImageInput) []*pb.Image {
	out := make([]*pb.Image, len(in))
	for i, im := range in {
		out[i] = &pb.Image{Path: im.Path, Data: im.Data}
	}
	return out
}

func imagesFromProto(in []*pb.Image) []ImageInput {
	out := make([]ImageInput, len(in))
	for i, im := range in {
		out[i] = ImageInput{Path: im.GetPath(), Data: im.GetData()}
	}
	return out
}

func fieldsToProto(in []Field) []*pb.Field {
	out := make([]*pb.Field, len(in))
	for i, f := range in {
		out[i] = &pb.Field{Name: f.Name, Type: string(f.Type), Required: f.Required, Help: f.Help, Choices: f.Choices}
	}
	return out
}

func fieldsFromProto(in []*pb.Field) []Field {
	out := make([]Field, len(in))
	for i, f := range in {
		out[i] = Field{Name: f.GetName(), Type: FieldType(f.GetType()), Required: f.GetRequired(), Help: f.GetHelp(), Choices: f.GetChoices()}
	}
	return out
}

func scoresToProto(s *Scores) *pb.Scores {
	out := &pb.Scores{Metrics: s.Metrics, Headline: s.Headline, Mode: s.Mode}
	for k, v := range s.Intervals {
		if out.Intervals == nil {
			out.Intervals = map[string]*pb.Interval{}
		}
		out.Intervals[k] = &pb.Interval{Low: v.Low, High: v.High}
	}
	for k, v := range s.ItemValues {
		if out.ItemValues == nil {
			out.ItemValues = map[string]*pb.ItemValues{}
		}
		out.ItemValues[k] = &pb.ItemValues{Values: v}
	}
	for _, p := range s.Predictions {
		out.Predictions = append(out.Predictions, &pb.Prediction{Item: p.Item, Truth: p.Truth, Predicted: p.Predicted, Correct: p.Correct, Group: p.Group})
	}
	for _, c := range s.Curves {
		out.Curves = append(out.Curves, &pb.Curve{Name: c.Name, XLabel: c.XLabel, YLabel: c.YLabel, X: c.X, Y: c.Y})
	}
	return out
}

func scoresFromProto(p *pb.Scores) *Scores {
	out := &Scores{Metrics: p.GetMetrics(), Headline: p.GetHeadline(), Mode: p.GetMode()}
	for k, v := range p.GetIntervals() {
		if out.Intervals == nil {
			out.Intervals = map[string]Interval{}
		}
		out.Intervals[k] = Interval{Low: v.GetLow(), High: v.GetHigh()}
	}
	for k, v := range p.GetItemValues() {
		if out.ItemValues == nil {
			out.ItemValues = map[string][]float64{}
		}
		out.ItemValues[k] = v.GetValues()
	}
	if out.Metrics == nil {
		out.Metrics = map[string]float64{}
	}
	for _, q := range p.GetPredictions() {
		out.Predictions = append(out.Predictions, Prediction{Item: q.Item, Truth: q.Truth, Predicted: q.Predicted, Correct: q.Correct, Group: q.Group})
	}
	for _, c := range p.GetCurves() {
		out.Curves = append(out.Curves, Curve{Name: c.Name, XLabel: c.XLabel, YLabel: c.YLabel, X: c.X, Y: c.Y})
	}
	return out
}

package sdk

import (
	"encoding/binary"
	"fmt"
	"math"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v2"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// This file converts between the SDK's Go values and the contract's protobuf messages, both ways; every
// conversion from a message checks what it reads, since the message came from another process.

func matrixToProto(m Matrix) *pb.Matrix {
	data := make([]byte, 4*len(m.Data))
	for i, v := range m.Data {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	return &pb.Matrix{Rows: int64(m.Rows), Cols: int64(m.Cols), Data: data}
}

func matrixFromProto(p *pb.Matrix) (Matrix, error) {
	if p == nil {
		return Matrix{}, fmt.Errorf("matrix is missing")
	}
	if p.Rows < 0 || p.Cols < 0 || p.Rows > math.MaxInt32 || p.Cols > math.MaxInt32 || int64(len(p.Data)) != 4*p.Rows*p.Cols {
		return Matrix{}, fmt.Errorf("matrix shape [%d,%d] does not match %d bytes of float32", p.Rows, p.Cols, len(p.Data))
	}
	m := Matrix{Rows: int(p.Rows), Cols: int(p.Cols), Data: make([]float32, p.Rows*p.Cols)}
	for i := range m.Data {
		m.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(p.Data[4*i:]))
	}
	return m, nil
}

func tensorToProto(a *npy.Array) (*pb.Tensor, error) {
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

func tensorFromProto(t *pb.Tensor) (*npy.Array, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor is missing")
	}
	shape := make([]int, len(t.Shape))
	n := int64(1)
	for i, d := range t.Shape {
		if d < 0 || d > 1<<31 || (d > 0 && n > (1<<40)/d) {
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

func imageToProto(im ImageInput) *pb.Image {
	return &pb.Image{Name: im.Name, Path: im.Path, Offset: im.Offset, Size: im.Size, Data: im.Data, Root: im.Root}
}

func imagesToProto(in []ImageInput) []*pb.Image {
	out := make([]*pb.Image, len(in))
	for i, im := range in {
		out[i] = imageToProto(im)
	}
	return out
}

func imagesFromProto(in []*pb.Image) []ImageInput {
	out := make([]ImageInput, len(in))
	for i, im := range in {
		out[i] = ImageInput{Name: im.GetName(), Path: im.GetPath(), Offset: im.GetOffset(), Size: im.GetSize(), Data: im.GetData(), Root: im.GetRoot()}
	}
	return out
}

func fieldsToProto(in []Field) []*pb.Field {
	out := make([]*pb.Field, len(in))
	for i, f := range in {
		out[i] = &pb.Field{Name: f.Name, Type: string(f.Type), Required: f.Required, Help: f.Help, Choices: f.Choices, Min: f.Min, Max: f.Max,
			KeepsEmbeddings: f.KeepsEmbeddings}
	}
	return out
}

func fieldsFromProto(in []*pb.Field) []Field {
	out := make([]Field, len(in))
	for i, f := range in {
		out[i] = Field{Name: f.GetName(), Type: FieldType(f.GetType()), Required: f.GetRequired(), Help: f.GetHelp(), Choices: f.GetChoices(),
			Min: f.Min, Max: f.Max, KeepsEmbeddings: f.GetKeepsEmbeddings()}
	}
	return out
}

func pluginInfoToProto(p *PluginInfo) *pb.PluginInfo {
	return &pb.PluginInfo{Name: p.Name, Version: p.Version, Description: p.Description, ProtocolVersion: ProtocolVersion,
		OptionFields: fieldsToProto(p.OptionFields), DatasetFields: fieldsToProto(p.DatasetFields)}
}

func pluginInfoFromProto(p *pb.PluginInfo) *PluginInfo {
	return &PluginInfo{Name: p.GetName(), Version: p.GetVersion(), Description: p.GetDescription(), ProtocolVersion: int(p.GetProtocolVersion()),
		OptionFields: fieldsFromProto(p.GetOptionFields()), DatasetFields: fieldsFromProto(p.GetDatasetFields())}
}

func modelInfoToProto(info *ModelInfo) *pb.ModelInfo {
	return &pb.ModelInfo{Name: info.Name, EmbedDim: int64(info.EmbedDim), ImageSize: int64(info.ImageSize),
		ContextLength: int64(info.ContextLength), LogitScale: info.LogitScale, Tokenizer: info.Tokenizer,
		Files: info.Files, Runtime: info.Runtime}
}

func modelInfoFromProto(p *pb.ModelInfo) *ModelInfo {
	return &ModelInfo{Name: p.GetName(), EmbedDim: int(p.GetEmbedDim()), ImageSize: int(p.GetImageSize()),
		ContextLength: int(p.GetContextLength()), LogitScale: p.GetLogitScale(), Tokenizer: p.GetTokenizer(),
		Files: p.GetFiles(), Runtime: p.GetRuntime()}
}

func problemsToProto(in []Problem) []*pb.Problem {
	out := make([]*pb.Problem, len(in))
	for i, p := range in {
		out[i] = &pb.Problem{Key: p.Key, Message: p.Message}
	}
	return out
}

func problemsFromProto(in []*pb.Problem) []Problem {
	out := make([]Problem, len(in))
	for i, p := range in {
		out[i] = Problem{Key: p.GetKey(), Message: p.GetMessage()}
	}
	return out
}

var directionsToProto = map[Direction]pb.Direction{HigherIsBetter: pb.Direction_HIGHER_IS_BETTER,
	LowerIsBetter: pb.Direction_LOWER_IS_BETTER, Informational: pb.Direction_INFORMATIONAL}

var unitsToProto = map[Unit]pb.Unit{Fraction: pb.Unit_FRACTION, Rank: pb.Unit_RANK, Count: pb.Unit_COUNT, Value: pb.Unit_VALUE}

// metricToProto converts m without its item values, which travel in chunks of their own.
func metricToProto(m Metric) *pb.Metric {
	out := &pb.Metric{Name: m.Name, Value: m.Value, Direction: directionsToProto[m.Direction], Unit: unitsToProto[m.Unit],
		ItemCount: int64(len(m.ItemValues)), Help: m.Help}
	if m.Interval != nil {
		out.Interval = &pb.Interval{Low: m.Interval.Low, High: m.Interval.High}
	}
	if c := m.Confusion; c != nil {
		out.Confusion = &pb.ConfusionMatrix{Classes: c.Classes}
		for _, row := range c.Counts {
			out.Confusion.Counts = append(out.Confusion.Counts, row...)
		}
	}
	return out
}

func metricFromProto(p *pb.Metric) (Metric, error) {
	m := Metric{Name: p.GetName(), Value: p.GetValue(), Help: p.GetHelp()}
	for d, v := range directionsToProto {
		if v == p.GetDirection() {
			m.Direction = d
		}
	}
	for u, v := range unitsToProto {
		if v == p.GetUnit() {
			m.Unit = u
		}
	}
	if m.Direction == "" || m.Unit == "" {
		return Metric{}, fmt.Errorf("metric %q declares direction %v and unit %v; every metric needs both", m.Name, p.GetDirection(), p.GetUnit())
	}
	if iv := p.GetInterval(); iv != nil {
		m.Interval = &Interval{Low: iv.GetLow(), High: iv.GetHigh()}
	}
	if c := p.GetConfusion(); c != nil {
		n := len(c.GetClasses())
		if len(c.GetCounts()) != n*n {
			return Metric{}, fmt.Errorf("metric %q: confusion matrix has %d counts for %d classes", m.Name, len(c.GetCounts()), n)
		}
		m.Confusion = &Confusion{Classes: c.GetClasses(), Counts: make([][]int64, n)}
		for i := range n {
			m.Confusion.Counts[i] = c.GetCounts()[i*n : (i+1)*n]
		}
	}
	return m, nil
}

func predictionToProto(p Prediction) *pb.Prediction {
	return &pb.Prediction{Item: p.Item, Truth: p.Truth, Predicted: p.Predicted, Correct: p.Correct, Group: p.Group}
}

func predictionFromProto(q *pb.Prediction) Prediction {
	return Prediction{Item: q.GetItem(), Truth: q.GetTruth(), Predicted: q.GetPredicted(), Correct: q.GetCorrect(), Group: q.GetGroup()}
}

func curveToProto(c Curve) *pb.Curve {
	return &pb.Curve{Name: c.Name, XLabel: c.XLabel, YLabel: c.YLabel, X: c.X, Y: c.Y}
}

func curveFromProto(c *pb.Curve) Curve {
	return Curve{Name: c.GetName(), XLabel: c.GetXLabel(), YLabel: c.GetYLabel(), X: c.GetX(), Y: c.GetY()}
}

// ints converts indices from their wire form.
func ints(v []int64) []int {
	if len(v) == 0 {
		return nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// int64s converts indices to their wire form.
func int64s(v []int) []int64 {
	if len(v) == 0 {
		return nil
	}
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

package sdk

import (
	"encoding/binary"
	"fmt"
	"math"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v1"
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
	out := &pb.Scores{Metrics: s.Metrics, Headline: s.Headline}
	for _, p := range s.Predictions {
		out.Predictions = append(out.Predictions, &pb.Prediction{Item: p.Item, Truth: p.Truth, Predicted: p.Predicted, Correct: p.Correct, Group: p.Group})
	}
	for _, c := range s.Curves {
		out.Curves = append(out.Curves, &pb.Curve{Name: c.Name, XLabel: c.XLabel, YLabel: c.YLabel, X: c.X, Y: c.Y})
	}
	return out
}

func scoresFromProto(p *pb.Scores) *Scores {
	out := &Scores{Metrics: p.GetMetrics(), Headline: p.GetHeadline()}
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

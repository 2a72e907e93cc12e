package benchmodel

import (
	"fmt"
	"hash/fnv"
	"math"

	"github.com/clipeval/clipeval/internal/onnxpb"
)

// weightStd is the standard deviation of every random weight (BERT's initializer_range).
const weightStd = 0.02

// graph accumulates one tower's nodes and initializers. Every node has one output, named after the node.
type graph struct {
	seed   uint64
	gelu   GELU
	nodes  []onnxpb.Node
	inits  []onnxpb.Tensor
	consts map[string]bool
}

func newGraph(c Config) *graph {
	return &graph{seed: c.Seed, gelu: c.GELU, consts: map[string]bool{}}
}

// op adds a node whose output is named name and returns that name.
func (g *graph) op(name, opType string, inputs []string, attrs ...onnxpb.Attribute) string {
	g.nodes = append(g.nodes, onnxpb.Node{Name: name, OpType: opType, Inputs: inputs, Outputs: []string{name}, Attributes: attrs})
	return name
}

// ints adds (once) an int64 constant; dims nil makes a scalar.
func (g *graph) ints(name string, dims []int64, v ...int64) string {
	if !g.consts[name] {
		g.consts[name] = true
		g.inits = append(g.inits, onnxpb.Int64Tensor(name, dims, v))
	}
	return name
}

// scalar adds (once) a float32 scalar constant.
func (g *graph) scalar(name string, v float32) string {
	if !g.consts[name] {
		g.consts[name] = true
		g.inits = append(g.inits, onnxpb.FloatTensor(name, nil, []float32{v}))
	}
	return name
}

// random adds a float32 initializer of seeded values with mean mean and standard deviation std.
func (g *graph) random(name string, mean, std float64, dims ...int64) string {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	vals := make([]float32, n)
	r := newStream(g.seed, name)
	for i := range vals {
		vals[i] = float32(mean + std*r.bell())
	}
	g.inits = append(g.inits, onnxpb.FloatTensor(name, dims, vals))
	return name
}

// linear is torch.nn.Linear(in, out): x·W (+ b). The weight is stored [in, out], as MatMul takes it (Linear's
// weight transposed), under prefix+".weight"; the bias under prefix+".bias".
func (g *graph) linear(x, prefix string, in, out int, bias bool) string {
	w := g.random(prefix+".weight", 0, weightStd, int64(in), int64(out))
	y := g.op(prefix+".matmul", "MatMul", []string{x, w})
	if !bias {
		return y
	}
	b := g.random(prefix+".bias", 0, weightStd, int64(out))
	return g.op(prefix+".add", "Add", []string{y, b})
}

// layerNorm normalises x over its last axis with learned scale (prefix.weight) and shift (prefix.bias).
func (g *graph) layerNorm(x, prefix string, width int, eps float32) string {
	s := g.random(prefix+".weight", 1, weightStd, int64(width))
	b := g.random(prefix+".bias", 0, weightStd, int64(width))
	return g.op(prefix, "LayerNormalization", []string{x, s, b},
		onnxpb.IntAttr("axis", -1), onnxpb.FloatAttr("epsilon", eps))
}

// geluAct is the exact GELU, x·½·(1+erf(x/√2)), in the config's form.
func (g *graph) geluAct(x, prefix string) string {
	if g.gelu == GELUOp {
		return g.op(prefix, "Gelu", []string{x})
	}
	d := g.op(prefix+".div", "Div", []string{x, g.scalar("const.sqrt2", float32(math.Sqrt2))})
	e := g.op(prefix+".erf", "Erf", []string{d})
	a := g.op(prefix+".add", "Add", []string{e, g.scalar("const.one", 1)})
	m := g.op(prefix+".mul", "Mul", []string{x, a})
	return g.op(prefix, "Mul", []string{m, g.scalar("const.half", 0.5)})
}

// heads reshapes [B, T, width] to [B, heads, T, width/heads], or to [B, heads, width/heads, T] when keyT (a key,
// ready to multiply).
func (g *graph) heads(x, name string, heads, width int, keyT bool) string {
	dh := int64(width / heads)
	shape := g.ints(fmt.Sprintf("const.shape_heads_%d_%d", heads, dh), []int64{4}, 0, 0, int64(heads), dh)
	r := g.op(name+".reshape", "Reshape", []string{x, shape})
	perm := []int64{0, 2, 1, 3}
	if keyT {
		perm = []int64{0, 2, 3, 1}
	}
	return g.op(name, "Transpose", []string{r}, onnxpb.IntsAttr("perm", perm...))
}

// mergeHeads is heads' inverse: [B, heads, T, dh] to [B, T, width].
func (g *graph) mergeHeads(x, name string, width int) string {
	t := g.op(name+".transpose", "Transpose", []string{x}, onnxpb.IntsAttr("perm", 0, 2, 1, 3))
	return g.op(name, "Reshape", []string{t, g.ints(fmt.Sprintf("const.shape_merge_%d", width), []int64{3}, 0, 0, int64(width))})
}

// model wraps the graph as an ONNX model of the config's opset, with the tower's metadata.
func (g *graph) model(c Config, name, doc string, meta string, inputs, outputs []onnxpb.ValueInfo) onnxpb.Model {
	opset, ir := c.opset()
	return onnxpb.Model{
		IRVersion:       ir,
		Opset:           opset,
		ProducerName:    "clipeval-benchmodel",
		ProducerVersion: fmt.Sprint(Version),
		DocString:       doc,
		Graph:           onnxpb.Graph{Name: name, Nodes: g.nodes, Initializers: g.inits, Inputs: inputs, Outputs: outputs},
		Metadata:        []onnxpb.KeyValue{{Key: MetadataKey, Value: meta}},
	}
}

// stream is a seeded sequence of pseudo-random numbers (SplitMix64), one per initializer: its seed mixes the
// config's seed with the initializer's name, so a weight does not depend on the order tensors are made in.
type stream struct{ state uint64 }

func newStream(seed uint64, name string) *stream {
	h := fnv.New64a()
	h.Write([]byte(name))
	s := &stream{state: seed ^ h.Sum64()}
	s.next() // decorrelate nearby seeds
	return s
}

func (s *stream) next() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// bellScale is the standard deviation of the sum of four independent uniform integers in [0, 65535].
var bellScale = math.Sqrt(4 * (65536.0*65536.0 - 1) / 12)

// bell returns a bell-shaped number with mean 0 and standard deviation 1: the sum of four uniform 16-bit integers
// (Irwin–Hall), centred and scaled, within ±√12 ≈ ±3.46. It is exact integer arithmetic up to one division, so it
// gives the same bits on every platform (math/rand's normal generator does not promise that across Go versions).
func (s *stream) bell() float64 {
	v := s.next()
	sum := int64(v&0xffff) + int64(v>>16&0xffff) + int64(v>>32&0xffff) + int64(v>>48)
	return float64(sum-2*65535) / bellScale
}

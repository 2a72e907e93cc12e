package onnxpb

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// The expected bytes are hand-encoded from onnx.proto's field numbers: a tag byte is field<<3 | wire type (0
// varint, 2 length-delimited), followed by the varint or the length and the bytes.
func TestMarshalParts(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  func() ([]byte, error)
		want []byte
	}{
		{
			name: "value info with a symbolic and a fixed dimension",
			got: func() ([]byte, error) {
				v := ValueInfo{Name: "x", ElemType: Float, Shape: []Dim{{Param: "b"}, {Value: 3}}}
				return v.marshal(), nil
			},
			// name=1 "x"; type=2 { tensor_type=1 { elem_type=1 1; shape=2 { dim=1 {dim_param=2 "b"}; dim=1 {dim_value=1 3} } } }
			want: []byte{0x0a, 1, 'x', 0x12, 15, 0x0a, 13, 0x08, 1, 0x12, 9, 0x0a, 3, 0x12, 1, 'b', 0x0a, 2, 0x08, 3},
		},
		{
			name: "int64 tensor as raw little-endian data",
			got: func() ([]byte, error) {
				tn := Int64Tensor("a", []int64{2}, []int64{2, 3})
				return tn.marshal()
			},
			// dims=1 2; data_type=2 7; name=8 "a"; raw_data=9 (16 bytes)
			want: []byte{0x08, 2, 0x10, 7, 0x42, 1, 'a', 0x4a, 16, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0},
		},
		{
			name: "float tensor",
			got: func() ([]byte, error) {
				tn := FloatTensor("w", []int64{1, 2}, []float32{1, -0.5})
				return tn.marshal()
			},
			// 1.0 = 0x3f800000, -0.5 = 0xbf000000
			want: []byte{0x08, 1, 0x08, 2, 0x10, 1, 0x42, 1, 'w', 0x4a, 8, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xbf},
		},
		{
			name: "node with a zero INT attribute",
			got: func() ([]byte, error) {
				n := Node{Name: "n", OpType: "Add", Inputs: []string{"x", "y"}, Outputs: []string{"z"},
					Attributes: []Attribute{IntAttr("k", 0)}}
				return n.marshal(), nil
			},
			// input=1 x2; output=2; name=3; op_type=4; attribute=5 { name=1 "k"; i=3 0; type=20 INT(2) }
			want: []byte{0x0a, 1, 'x', 0x0a, 1, 'y', 0x12, 1, 'z', 0x1a, 1, 'n', 0x22, 3, 'A', 'd', 'd',
				0x2a, 8, 0x0a, 1, 'k', 0x18, 0, 0xa0, 0x01, 2},
		},
		{
			name: "INTS attribute, packed",
			got: func() ([]byte, error) {
				a := Attribute{Name: "axes", Ints: []int64{2, 3}}
				return a.marshal(), nil
			},
			// name=1 "axes"; ints=8 packed {2,3}; type=20 INTS(7)
			want: []byte{0x0a, 4, 'a', 'x', 'e', 's', 0x42, 2, 2, 3, 0xa0, 0x01, 7},
		},
		{
			name: "FLOAT attribute",
			got: func() ([]byte, error) {
				a := FloatAttr("epsilon", 1)
				return a.marshal(), nil
			},
			// name=1 "epsilon"; f=2 fixed32 1.0 (0x3f800000); type=20 FLOAT(1)
			want: []byte{0x0a, 7, 'e', 'p', 's', 'i', 'l', 'o', 'n', 0x15, 0, 0, 0x80, 0x3f, 0xa0, 0x01, 1},
		},
		{
			name: "empty INTS attribute",
			got: func() ([]byte, error) {
				a := IntsAttr("perm")
				return a.marshal(), nil
			},
			want: []byte{0x0a, 4, 'p', 'e', 'r', 'm', 0x42, 0, 0xa0, 0x01, 7},
		},
		{
			name: "model with an empty graph",
			got: func() ([]byte, error) {
				m := Model{IRVersion: 8, Opset: 18, Graph: Graph{Name: "g"}}
				return m.Marshal()
			},
			// ir_version=1 8; graph=7 { name=2 "g" }; opset_import=8 { version=2 18 }
			want: []byte{0x08, 8, 0x3a, 3, 0x12, 1, 'g', 0x42, 2, 0x10, 18},
		},
		{
			name: "model metadata",
			got: func() ([]byte, error) {
				m := Model{IRVersion: 8, Opset: 17, Graph: Graph{Name: "g"}, Metadata: []KeyValue{{"k", "v"}}}
				return m.Marshal()
			},
			// ... opset_import=8 { version=2 17 }; metadata_props=14 { key=1 "k"; value=2 "v" }
			want: []byte{0x08, 8, 0x3a, 3, 0x12, 1, 'g', 0x42, 2, 0x10, 17, 0x72, 6, 0x0a, 1, 'k', 0x12, 1, 'v'},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestMarshalRejectsBadTensors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tensor  Tensor
		wantErr string
	}{
		{"too few values", FloatTensor("w", []int64{2, 2}, []float32{1, 2, 3}), `initializer "w" has 3 values for dims [2 2] (4 expected)`},
		{"too many values", Int64Tensor("i", []int64{1}, []int64{1, 2}), `initializer "i" has 2 values for dims [1] (1 expected)`},
		{"no values", Tensor{Name: "e", Dims: []int64{0}}, `initializer "e" must set exactly one of Float32 and Int64s`},
		{"both kinds", Tensor{Name: "b", Dims: []int64{1}, Float32: []float32{1}, Int64s: []int64{1}}, "exactly one"},
		{"negative dimension", FloatTensor("n", []int64{-1}, nil), `initializer "n" has negative dimension -1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Model{IRVersion: 8, Opset: 18, Graph: Graph{Name: "g", Initializers: []Tensor{tc.tensor}}}
			_, err := m.Marshal()
			require.ErrorContains(t, err, tc.wantErr)
			require.ErrorContains(t, err, `onnx model "g"`)
		})
	}
}

// TestWriteToStreamsWhatMarshalEncodes builds a model with initializers larger than the chunk WriteTo converts at
// a time and checks the streamed bytes against an encoding assembled field by field.
func TestWriteToStreamsWhatMarshalEncodes(t *testing.T) {
	big := make([]float32, 3*rawChunk+5)
	for i := range big {
		big[i] = float32(i) * 0.25
	}
	ints := make([]int64, rawChunk+1)
	for i := range ints {
		ints[i] = int64(i) - 7
	}
	m := Model{IRVersion: 8, Opset: 17, ProducerName: "p", Graph: Graph{
		Name:         "g",
		Nodes:        []Node{{Name: "n", OpType: "Identity", Inputs: []string{"w"}, Outputs: []string{"y"}}},
		Initializers: []Tensor{FloatTensor("w", []int64{int64(len(big))}, big), Int64Tensor("i", []int64{int64(len(ints))}, ints)},
		Outputs:      []ValueInfo{{Name: "y", ElemType: Float, Shape: []Dim{{Value: int64(len(big))}}}},
	}}
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)

	// The same model encoded by nesting whole messages.
	var graph []byte
	for _, nd := range m.Graph.Nodes {
		graph = appendBytesField(graph, graphNode, nd.marshal())
	}
	graph = appendStringField(graph, graphName, "g")
	for _, tn := range m.Graph.Initializers {
		tb, err := tn.marshal()
		require.NoError(t, err)
		graph = appendBytesField(graph, graphInitializer, tb)
	}
	for _, v := range m.Graph.Outputs {
		graph = appendBytesField(graph, graphOutput, v.marshal())
	}
	var want []byte
	want = appendVarintField(want, modelIRVersion, 8)
	want = appendStringField(want, modelProducerName, "p")
	want = appendBytesField(want, modelGraph, graph)
	want = appendBytesField(want, modelOpsetImport, appendVarintField(nil, opsetVersion, 17))
	require.Equal(t, want, buf.Bytes())

	again, err := m.Marshal()
	require.NoError(t, err)
	require.Equal(t, want, again)
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(b []byte) (int, error) {
	f.n += len(b)
	return 0, errors.New("disk full")
}

func TestWriteToErrors(t *testing.T) {
	bad := Model{Graph: Graph{Name: "g", Initializers: []Tensor{FloatTensor("w", []int64{2}, []float32{1})}}}
	w := &failingWriter{}
	_, err := bad.WriteTo(w)
	require.ErrorContains(t, err, `initializer "w" has 1 values`)
	require.Zero(t, w.n, "a malformed model writes nothing")

	good := Model{Graph: Graph{Name: "g", Initializers: []Tensor{FloatTensor("w", []int64{2}, []float32{1, 2})}}}
	_, err = good.WriteTo(&failingWriter{})
	require.ErrorContains(t, err, `writing onnx model "g": disk full`)
}

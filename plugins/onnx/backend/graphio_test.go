package backend

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/clipeval/clipeval/internal/sharedtest"
)

// A hand-written ONNX encoder for the test graphs: unlike internal/onnxpb it can leave a dimension unset, an output
// without a shape or element type, and list an initializer as an input.

func pbBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// unset marks a dimension with neither dim_value nor dim_param; noShape a tensor type without a shape.
type unsetDim struct{}

var unset unsetDim

// vinfo encodes a tensor ValueInfoProto. dims holds int64 (dim_value), string (dim_param) or unset; a nil dims
// writes no shape, and elem 0 no element type.
func vinfo(name string, elem int, dims []any) []byte {
	var tensor []byte
	if elem != 0 {
		tensor = pbVarint(tensor, 1, uint64(elem))
	}
	if dims != nil {
		var shape []byte
		for _, d := range dims {
			var db []byte
			switch d := d.(type) {
			case int:
				db = pbVarint(db, 1, uint64(d))
			case string:
				db = pbBytes(db, 2, []byte(d))
			}
			shape = pbBytes(shape, 1, db)
		}
		tensor = pbBytes(tensor, 2, shape)
	}
	var b []byte
	b = pbBytes(b, 1, []byte(name))
	return pbBytes(b, 2, pbBytes(nil, 1, tensor))
}

// floatInit encodes a float32 initializer; float_data is written before the name, raw_data after it.
func floatInit(name string, dims []int64, vals []float32, raw bool) []byte {
	var b []byte
	for _, d := range dims {
		b = pbVarint(b, 1, uint64(d))
	}
	b = pbVarint(b, 2, 1)
	if !raw {
		var packed []byte
		for _, v := range vals {
			packed = binary.LittleEndian.AppendUint32(packed, math.Float32bits(v))
		}
		b = pbBytes(b, 4, packed)
	}
	b = pbBytes(b, 8, []byte(name))
	if raw {
		var data []byte
		for _, v := range vals {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		b = pbBytes(b, 9, data)
	}
	return b
}

func node(op string, ins, outs []string) []byte {
	var b []byte
	for _, s := range ins {
		b = pbBytes(b, 1, []byte(s))
	}
	for _, s := range outs {
		b = pbBytes(b, 2, []byte(s))
	}
	return pbBytes(b, 4, []byte(op))
}

// onnxModel encodes a ModelProto (IR 8, opset 18) around a graph built of fields (already tagged).
func onnxModel(graph ...[]byte) []byte {
	var g []byte
	for _, f := range graph {
		g = append(g, f...)
	}
	var b []byte
	b = pbVarint(b, 1, 8)
	b = pbBytes(b, 2, []byte("clipeval-test"))
	b = pbBytes(b, 7, g)
	return pbBytes(b, 8, pbVarint(pbBytes(nil, 1, nil), 2, 18))
}

func gNode(op string, ins, outs []string) []byte { return pbBytes(nil, 1, node(op, ins, outs)) }
func gInit(t []byte) []byte                      { return pbBytes(nil, 5, t) }
func gIn(v []byte) []byte                        { return pbBytes(nil, 11, v) }
func gOut(v []byte) []byte                       { return pbBytes(nil, 12, v) }

// matmulModel is x · w [4, 3] → embeddings, with the given input and output declarations.
func matmulModel(in, out []byte, extra ...[]byte) []byte {
	w := make([]float32, 12)
	for i := range w {
		w[i] = float32(i) / 8
	}
	fields := [][]byte{gNode("MatMul", []string{"x", "w"}, []string{"embeddings"}), gInit(floatInit("w", []int64{4, 3}, w, true)), gIn(in), gOut(out)}
	return onnxModel(append(fields, extra...)...)
}

// imageModel is an image tower: pixel_values [batch, 3, 2, 2] → Flatten → · w [12, 3] → image_embeds, its output
// declared as out.
func imageModel(out []byte) []byte {
	w := make([]float32, 36)
	for i := range w {
		w[i] = float32(i) / 16
	}
	return onnxModel(gNode("Flatten", []string{"pixel_values"}, []string{"flat"}), gNode("MatMul", []string{"flat", "w"}, []string{"image_embeds"}),
		gInit(floatInit("w", []int64{12, 3}, w, false)), gIn(vinfo("pixel_values", 1, []any{"batch", 3, 2, 2})), gOut(out))
}

func TestReadGraphIOAgreesWithONNXRuntime(t *testing.T) {
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	require.NoError(t, b.init())
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	const f32, i64 = 1, 7
	bias := floatInit("bias", []int64{3}, []float32{1, 2, 3}, false)
	tests := []struct {
		name string
		path string
		// fast: the file settles the first output (inspectEncoder needs no session); inferred: it leaves the
		// output's type to shape inference, so only a session knows it.
		fast, inferred bool
	}{
		{"biomedclip image", sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip", "image.onnx"), true, false},
		{"biomedclip text", sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip", "text.onnx"), true, false},
		{"clip image", sharedtest.Path(t, "fixtures", "tiny-a", "clip", "image.onnx"), true, false},
		{"clip text", sharedtest.Path(t, "fixtures", "tiny-a", "clip", "text.onnx"), true, false},
		{"symbolic and unset dimensions", write("dims.onnx", matmulModel(vinfo("x", f32, []any{"batch", unset, 4}), vinfo("embeddings", f32, []any{"batch", unset, 3}))), false, false},
		{"initializers listed as inputs are not inputs", write("init.onnx", matmulModel(vinfo("x", f32, []any{"batch", 4}), vinfo("embeddings", f32, []any{"batch", 3}),
			gIn(vinfo("w", f32, []any{4, 3})), gInit(bias), gIn(vinfo("bias", f32, []any{3})),
			gNode("Add", []string{"embeddings", "bias"}, []string{"shifted"}), gOut(vinfo("shifted", f32, []any{"batch", 3})))), true, false},
		{"two int64 inputs", write("ids.onnx", onnxModel(
			gNode("Add", []string{"ids", "mask"}, []string{"text_embeds"}),
			gIn(vinfo("ids", i64, []any{"batch", "sequence"})), gIn(vinfo("mask", i64, []any{"batch", "sequence"})),
			gOut(vinfo("text_embeds", i64, []any{"batch", "sequence"})))), false, false},
		{"an output without a shape", write("noshape.onnx", imageModel(vinfo("image_embeds", f32, nil))), false, true},
		{"an output with a symbolic width", write("symwidth.onnx", imageModel(vinfo("image_embeds", f32, []any{"batch", "d"}))), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantIns, wantOuts, err := ort.GetInputOutputInfo(tc.path)
			require.NoError(t, err)
			g, err := readGraphIO(tc.path)
			require.NoError(t, err)
			assert.Equal(t, wantIns, g.inputs, "inputs")
			assert.Equal(t, tc.fast, g.declared[0] && declaredEnough(g.outputs[0]), "settled by the file")
			if !tc.inferred {
				assert.Equal(t, wantOuts, g.outputs, "outputs")
				return
			}
			// inspectEncoder then asks ONNX Runtime: it reports what a session reports.
			assert.NotEqual(t, wantOuts, g.outputs, "outputs")
			e, err := inspectEncoder(tc.path, "", "", "", false)
			require.NoError(t, err)
			assert.Equal(t, wantOuts[0], e.output)
		})
	}
	t.Run("ONNX Runtime's error when it is asked", func(t *testing.T) {
		p := write("notype.onnx", imageModel(vinfo("image_embeds", 0, []any{"batch", 3})))
		_, err := inspectEncoder(p, "", "", "", false)
		assert.ErrorContains(t, err, "reading inputs and outputs of "+p+": Error loading temporary session")
	})
}

func TestReadGraphIORefusesWhatIsNotONNX(t *testing.T) {
	good := matmulModel(vinfo("x", 1, []any{"batch", 4}), vinfo("embeddings", 1, []any{"batch", 3}))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"text", []byte("this is not an ONNX file"), "not an ONNX model: unexpected wire type 4"},
		{"empty", nil, "not an ONNX model: no ir_version or no graph"},
		{"cut short", good[:len(good)/2], "runs past its message"},
		{"a message without a graph", pbVarint(nil, 1, 8), "no ir_version or no graph"},
		{"trailing garbage", append(append([]byte(nil), good...), 0x08), "unexpected EOF"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "m.onnx")
			require.NoError(t, os.WriteFile(p, tc.data, 0o644))
			_, err := readGraphIO(p)
			require.Error(t, err)
			assert.ErrorIs(t, err, errNotONNX)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

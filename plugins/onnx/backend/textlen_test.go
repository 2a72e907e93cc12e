package backend

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/clipeval/clipeval/internal/onnxpb"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

func TestTextLength(t *testing.T) {
	tests := []struct {
		name string
		ids  []int64 // rows of 5
		want int
	}{
		{"the longest row decides", []int64{2, 7, 3, 0, 0, 2, 7, 7, 3, 0}, 4},
		{"a pad id inside a text is kept", []int64{2, 0, 0, 3, 0, 2, 3, 0, 0, 0}, 4},
		{"a full row keeps everything", []int64{2, 7, 7, 7, 3, 2, 3, 0, 0, 0}, 5},
		{"all padding keeps one", []int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, textLength(tc.ids, 2, 5, 0))
		})
	}
}

// attentionTextModel builds a small text tower whose sequence axis is dynamic and whose output depends on positions
// and on every token but the padding, as a BERT tower's does: token + position embeddings (the positions sliced to
// the input's length), one attention-pooling head masked by attention_mask (an input, or ids != 0 computed in the
// graph), a projection to 32 values. ids is the token ids' element type (onnxpb.Int64 or INT32 = 6).
func attentionTextModel(vocab, ctxLen int, maskInput bool, ids onnxpb.DataType) onnxpb.Model {
	const width, embed = 8, 32
	rng := rand.New(rand.NewPCG(1, 2))
	weights := func(n int) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		return w
	}
	dyn := []onnxpb.Dim{{Param: "batch"}, {Param: "sequence"}}
	inputs := []onnxpb.ValueInfo{{Name: "input_ids", ElemType: ids, Shape: dyn}}
	nodes := []onnxpb.Node{
		{OpType: "Gather", Inputs: []string{"word_embeddings", "input_ids"}, Outputs: []string{"tokens"}},
		{OpType: "Shape", Inputs: []string{"input_ids"}, Outputs: []string{"shape"}},
		{OpType: "Slice", Inputs: []string{"shape", "one", "two"}, Outputs: []string{"length"}},
		{OpType: "Slice", Inputs: []string{"position_embeddings", "zero", "length", "zero"}, Outputs: []string{"positions"}},
		{OpType: "Add", Inputs: []string{"tokens", "positions"}, Outputs: []string{"x"}},
	}
	if maskInput {
		inputs = append(inputs, onnxpb.ValueInfo{Name: "attention_mask", ElemType: onnxpb.Int64, Shape: dyn})
		nodes = append(nodes, onnxpb.Node{OpType: "Cast", Inputs: []string{"attention_mask"}, Outputs: []string{"maskf"},
			Attributes: []onnxpb.Attribute{onnxpb.IntAttr("to", int64(onnxpb.Float))}})
	} else {
		nodes = append(nodes,
			onnxpb.Node{OpType: "Cast", Inputs: []string{"input_ids"}, Outputs: []string{"idsf"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("to", int64(onnxpb.Float))}},
			onnxpb.Node{OpType: "Equal", Inputs: []string{"idsf", "zerof"}, Outputs: []string{"is_pad"}},
			onnxpb.Node{OpType: "Not", Inputs: []string{"is_pad"}, Outputs: []string{"not_pad"}},
			onnxpb.Node{OpType: "Cast", Inputs: []string{"not_pad"}, Outputs: []string{"maskf"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("to", int64(onnxpb.Float))}})
	}
	nodes = append(nodes,
		onnxpb.Node{OpType: "Unsqueeze", Inputs: []string{"maskf", "two"}, Outputs: []string{"mask3"}},
		onnxpb.Node{OpType: "Sub", Inputs: []string{"mask3", "onef"}, Outputs: []string{"off"}},
		onnxpb.Node{OpType: "Mul", Inputs: []string{"off", "big"}, Outputs: []string{"bias"}},
		onnxpb.Node{OpType: "MatMul", Inputs: []string{"x", "query"}, Outputs: []string{"scores"}},
		onnxpb.Node{OpType: "Add", Inputs: []string{"scores", "bias"}, Outputs: []string{"masked"}},
		onnxpb.Node{OpType: "Softmax", Inputs: []string{"masked"}, Outputs: []string{"attention"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("axis", 1)}},
		onnxpb.Node{OpType: "Mul", Inputs: []string{"x", "attention"}, Outputs: []string{"weighted"}},
		onnxpb.Node{OpType: "ReduceSum", Inputs: []string{"weighted", "one"}, Outputs: []string{"pooled"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("keepdims", 0)}},
		onnxpb.Node{OpType: "MatMul", Inputs: []string{"pooled", "projection"}, Outputs: []string{"text_embeds"}},
	)
	for i := range nodes {
		nodes[i].Name = nodes[i].OpType + "_" + string(rune('a'+i))
	}
	return onnxpb.Model{IRVersion: 8, Opset: 18, ProducerName: "clipeval-test", Graph: onnxpb.Graph{
		Name:  "attention_text_tower",
		Nodes: nodes,
		Initializers: []onnxpb.Tensor{
			onnxpb.FloatTensor("word_embeddings", []int64{int64(vocab), width}, weights(vocab*width)),
			onnxpb.FloatTensor("position_embeddings", []int64{int64(ctxLen), width}, weights(ctxLen*width)),
			onnxpb.FloatTensor("query", []int64{width, 1}, weights(width)),
			onnxpb.FloatTensor("projection", []int64{width, embed}, weights(width*embed)),
			onnxpb.Int64Tensor("zero", []int64{1}, []int64{0}),
			onnxpb.Int64Tensor("one", []int64{1}, []int64{1}),
			onnxpb.Int64Tensor("two", []int64{1}, []int64{2}),
			onnxpb.FloatTensor("zerof", nil, []float32{0}),
			onnxpb.FloatTensor("onef", nil, []float32{1}),
			onnxpb.FloatTensor("big", nil, []float32{1e9}),
		},
		Inputs:  inputs,
		Outputs: []onnxpb.ValueInfo{{Name: "text_embeds", ElemType: onnxpb.Float, Shape: []onnxpb.Dim{{Param: "batch"}, {Value: embed}}}},
	}}
}

// biomedclipCopy copies the tiny-a BiomedCLIP fixture's files into a temporary folder, with text.onnx replaced by
// text when it is set.
func biomedclipCopy(t testing.TB, text []byte) string {
	fixture := sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	dir := t.TempDir()
	for _, f := range []string{"open_clip_config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "image.onnx", "text.onnx"} {
		b, err := os.ReadFile(filepath.Join(fixture, f))
		require.NoError(t, err)
		if f == "text.onnx" && text != nil {
			b = text
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	return dir
}

// assertRelClose checks every value within rel relative to the largest magnitude of its row.
func assertRelClose(t *testing.T, want, got sdk.Matrix, rel float64) {
	t.Helper()
	require.Equal(t, [2]int{want.Rows, want.Cols}, [2]int{got.Rows, got.Cols})
	for r := range want.Rows {
		scale := 0.0
		for _, v := range want.Row(r) {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for c, w := range want.Row(r) {
			require.LessOrEqualf(t, math.Abs(float64(w)-float64(got.Row(r)[c])), rel*scale, "row %d col %d: want %g, got %g", r, c, w, got.Row(r)[c])
		}
	}
}

func TestLongestPaddingMatchesFullPadding(t *testing.T) {
	ref, err := npy.ReadNPZ(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.npz"))
	require.NoError(t, err)
	ids := ref["biomedclip_token_ids"] // [48, 256], BERT WordPiece of 12,000 entries
	const ctxLen, batch = 256, 8
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	tests := []struct {
		name  string
		model onnxpb.Model
	}{
		{"attention_mask input", attentionTextModel(12000, ctxLen, true, onnxpb.Int64)},
		{"mask made in the graph", attentionTextModel(12000, ctxLen, false, onnxpb.Int64)},
		{"int32 ids", attentionTextModel(12000, ctxLen, true, onnxpb.DataType(6))},
		{"two transformer layers", transformerTextModel(12000, ctxLen, 32, 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			onnx, err := tc.model.Marshal()
			require.NoError(t, err)
			dir := biomedclipCopy(t, onnx)
			longest, err := b.load(sdk.ModelRef{Dir: dir})
			require.NoError(t, err)
			full, err := b.load(sdk.ModelRef{Dir: dir, Options: map[string]string{OptionTextPadding: PaddingFull}})
			require.NoError(t, err)
			require.True(t, longest.cutText, "the sequence axis is dynamic")
			require.False(t, full.cutText)
			cut := 0
			for lo := 0; lo < ids.Shape[0]; lo += batch {
				hi := min(lo+batch, ids.Shape[0])
				rows := ids.Int64[lo*ctxLen : hi*ctxLen]
				if textLength(rows, hi-lo, ctxLen, 0) < ctxLen {
					cut++
				}
				want, err := full.EncodeIDs(context.Background(), rows, hi-lo)
				require.NoError(t, err)
				got, err := longest.EncodeIDs(context.Background(), rows, hi-lo)
				require.NoError(t, err)
				assertRelClose(t, want, got, 1e-6)
			}
			assert.Greater(t, cut, 3, "batches cut short")
		})
	}
}

// TestBenchModelLongestPadding checks longest against full padding on $CLIPEVAL_BENCH_MODEL (a full-size model
// folder whose text graph has a dynamic sequence axis) over the reference captions; it is skipped without one.
func TestBenchModelLongestPadding(t *testing.T) {
	dir := os.Getenv("CLIPEVAL_BENCH_MODEL")
	if dir == "" {
		t.Skip("set CLIPEVAL_BENCH_MODEL to a model folder")
	}
	_, texts := referenceInputs(t)
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	ctx := context.Background()
	full, err := b.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: sdk.ModelRef{Dir: dir, Options: map[string]string{OptionTextPadding: PaddingFull}}, Texts: texts[:16]})
	require.NoError(t, err)
	longest, err := b.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: sdk.ModelRef{Dir: dir}, Texts: texts[:16]})
	require.NoError(t, err)
	m, err := b.load(sdk.ModelRef{Dir: dir})
	require.NoError(t, err)
	if !m.cutText {
		t.Skip("the model's text graph has a fixed sequence axis")
	}
	assertRelClose(t, full.Embeddings, longest.Embeddings, 1e-6)
}

// withSequenceParam returns the ONNX file with the second dimension of every graph input made the dim_param
// "sequence", leaving the graph itself as it is.
func withSequenceParam(b []byte) []byte {
	path := []protowire.Number{7, 11, 2, 1, 2} // model.graph, graph.input, value_info.type, type.tensor_type, tensor.shape
	var rewrite func(b []byte, depth int) []byte
	rewrite = func(b []byte, depth int) []byte {
		var out []byte
		dims := 0
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			m := protowire.ConsumeFieldValue(num, typ, b[n:])
			field := b[:n+m]
			b = b[n+m:]
			switch {
			case depth < len(path) && num == path[depth] && typ == protowire.BytesType:
				v, _ := protowire.ConsumeBytes(field[n:])
				out = protowire.AppendBytes(protowire.AppendTag(out, num, typ), rewrite(v, depth+1))
			case depth == len(path) && num == 1 && typ == protowire.BytesType: // shape.dim
				if dims++; dims == 2 {
					out = protowire.AppendBytes(protowire.AppendTag(out, 1, typ), protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "sequence"))
					continue
				}
				out = append(out, field...)
			default:
				out = append(out, field...)
			}
		}
		return out
	}
	return rewrite(b, 0)
}

func TestTextPaddingOptions(t *testing.T) {
	ref, err := npy.ReadNPZ(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.npz"))
	require.NoError(t, err)
	ids := ref["biomedclip_token_ids"]
	rows, n := ids.Int64[:4*256], 4
	raw, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip", "text.onnx"))
	require.NoError(t, err)
	// The fixture's graph was exported for 256 tokens (the positions are a constant of that length) but here
	// declares its sequence axis dynamic: a cut batch fails, and the error says what to do.
	dir := biomedclipCopy(t, withSequenceParam(raw))
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	tests := []struct {
		name    string
		dir     string
		options map[string]string
		cut     bool
		wantErr string
	}{
		{"a fixed axis is fed full rows", sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip"), nil, false, ""},
		{"a dynamic axis is cut", dir, nil, true,
			"(the batch was cut to its longest text, 37 of 256 tokens, as the graph declares its sequence axis dynamic; the model option text_padding: full feeds every text padded to 256)"},
		{"text_padding full", dir, map[string]string{OptionTextPadding: PaddingFull}, false, ""},
		{"text_padding longest on a fixed axis", sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip"), map[string]string{OptionTextPadding: PaddingLongest}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := b.load(sdk.ModelRef{Dir: tc.dir, Options: tc.options})
			require.NoError(t, err)
			assert.Equal(t, tc.cut, m.cutText)
			got, err := m.EncodeIDs(context.Background(), rows, n)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assertClose(t, ref["biomedclip_text_embeds"].Float32[:n*32], got, "text embeddings")
		})
	}
	check, err := b.CheckModel(context.Background(), sdk.CheckModelRequest{Model: sdk.ModelRef{Dir: dir, Options: map[string]string{OptionTextPadding: "short"}}})
	require.NoError(t, err)
	require.Len(t, check.Problems, 1)
	assert.Equal(t, "options.text_padding", check.Problems[0].Key)
	assert.Contains(t, check.Problems[0].Message, `option text_padding "short": want longest or full`)
}

package backend

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/clipeval/clipeval/internal/onnxpb"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/digest"
	"github.com/clipeval/clipeval/plugins/tokenizer"
)

// benchModel is $CLIPEVAL_BENCH_MODEL (a model folder, e.g. a full-size BiomedCLIP export), else the tiny-a
// BiomedCLIP fixture.
func benchModel(b *testing.B) sdk.ModelRef {
	if dir := os.Getenv("CLIPEVAL_BENCH_MODEL"); dir != "" {
		return sdk.ModelRef{Dir: dir}
	}
	return fixtureRef(b, "biomedclip")
}

// BenchmarkReadInputsOutputs compares what learning a graph's inputs and outputs costs: a throwaway ONNX Runtime
// session (ort.GetInputOutputInfo, what inspectEncoder did) against reading them from the file (readGraphIO).
func BenchmarkReadInputsOutputs(b *testing.B) {
	bk := New(sharedtest.ORTLib(b))
	defer bk.Close()
	if err := bk.init(); err != nil {
		b.Fatal(err)
	}
	dir := benchModel(b).Dir
	for _, name := range []string{"image.onnx", "text.onnx"} {
		path := filepath.Join(dir, name)
		b.Run(name+"/session", func(b *testing.B) {
			for range b.N {
				if _, _, err := ort.GetInputOutputInfo(path); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/file", func(b *testing.B) {
			for range b.N {
				if _, err := readGraphIO(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadModel times loading a model as a fresh plugin process does (Info: folder, tokenizer, both sessions,
// file digests), with no digest memo and with a warm one.
func BenchmarkLoadModel(b *testing.B) {
	ref := benchModel(b)
	for _, memo := range []bool{false, true} {
		b.Run("memo="+strconv.FormatBool(memo), func(b *testing.B) {
			var m *digest.Memo
			if memo {
				m = digest.NewMemo(filepath.Join(b.TempDir(), digest.MemoFile))
				if _, err := loadOnce(ref, m); err != nil { // warm it
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				if _, err := loadOnce(ref, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckModel times CheckModel (what `clipeval validate` asks of a model folder).
func BenchmarkCheckModel(b *testing.B) {
	ref := benchModel(b)
	bk := New(sharedtest.ORTLib(b))
	defer bk.Close()
	for range b.N {
		r, err := bk.CheckModel(context.Background(), sdk.CheckModelRequest{Model: ref})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Problems) > 0 {
			b.Fatal(r.Problems)
		}
	}
}

// loadOnce loads ref in a new backend and closes it.
func loadOnce(ref sdk.ModelRef, memo *digest.Memo) (*sdk.ModelInfo, error) {
	bk := New(os.Getenv(LibEnvVar))
	bk.Digests = memo
	defer bk.Close()
	return bk.Info(context.Background(), sdk.ModelInfoRequest{Model: ref})
}

// transformerTextModel builds a BERT-like text tower with a dynamic sequence axis: token + position embeddings,
// layers of single-head self-attention (masked by attention_mask) and a ReLU feed-forward block, each with a
// residual and LayerNormalization, pooled at the first token and projected to 32 values. Its cost grows with the
// sequence length as a real tower's does.
func transformerTextModel(vocab, ctxLen, width, layers int) onnxpb.Model {
	rng := rand.New(rand.NewPCG(3, 4))
	weights := func(n int, scale float64) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(rng.NormFloat64() * scale)
		}
		return w
	}
	ones := make([]float32, width)
	for i := range ones {
		ones[i] = 1
	}
	d := int64(width)
	dyn := []onnxpb.Dim{{Param: "batch"}, {Param: "sequence"}}
	nodes := []onnxpb.Node{
		{OpType: "Gather", Inputs: []string{"word_embeddings", "input_ids"}, Outputs: []string{"tokens"}},
		{OpType: "Shape", Inputs: []string{"input_ids"}, Outputs: []string{"shape"}},
		{OpType: "Slice", Inputs: []string{"shape", "one", "two"}, Outputs: []string{"length"}},
		{OpType: "Slice", Inputs: []string{"position_embeddings", "zero", "length", "zero"}, Outputs: []string{"positions"}},
		{OpType: "Add", Inputs: []string{"tokens", "positions"}, Outputs: []string{"x0"}},
		{OpType: "Cast", Inputs: []string{"attention_mask"}, Outputs: []string{"maskf"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("to", int64(onnxpb.Float))}},
		{OpType: "Unsqueeze", Inputs: []string{"maskf", "one"}, Outputs: []string{"mask3"}},
		{OpType: "Sub", Inputs: []string{"mask3", "onef"}, Outputs: []string{"off"}},
		{OpType: "Mul", Inputs: []string{"off", "big"}, Outputs: []string{"bias"}},
	}
	inits := []onnxpb.Tensor{
		onnxpb.FloatTensor("word_embeddings", []int64{int64(vocab), d}, weights(vocab*width, 0.02)),
		onnxpb.FloatTensor("position_embeddings", []int64{int64(ctxLen), d}, weights(ctxLen*width, 0.02)),
		onnxpb.FloatTensor("projection", []int64{d, 32}, weights(width*32, 0.05)),
		onnxpb.FloatTensor("gamma", []int64{d}, ones),
		onnxpb.FloatTensor("beta", []int64{d}, make([]float32, width)),
		onnxpb.Int64Tensor("zero", []int64{1}, []int64{0}),
		onnxpb.Int64Tensor("one", []int64{1}, []int64{1}),
		onnxpb.Int64Tensor("two", []int64{1}, []int64{2}),
		onnxpb.Int64Tensor("first", nil, []int64{0}),
		onnxpb.FloatTensor("onef", nil, []float32{1}),
		onnxpb.FloatTensor("big", nil, []float32{1e9}),
		onnxpb.FloatTensor("scale", nil, []float32{float32(1 / float64(width))}),
	}
	x := "x0"
	for l := range layers {
		p := "l" + strconv.Itoa(l) + "_"
		for _, w := range []string{"wq", "wk", "wv", "wo"} {
			inits = append(inits, onnxpb.FloatTensor(p+w, []int64{d, d}, weights(width*width, 0.05)))
		}
		inits = append(inits, onnxpb.FloatTensor(p+"w1", []int64{d, 4 * d}, weights(4*width*width, 0.05)),
			onnxpb.FloatTensor(p+"w2", []int64{4 * d, d}, weights(4*width*width, 0.05)))
		ln := func(in, out string) onnxpb.Node {
			return onnxpb.Node{OpType: "LayerNormalization", Inputs: []string{in, "gamma", "beta"}, Outputs: []string{out},
				Attributes: []onnxpb.Attribute{onnxpb.IntAttr("axis", -1)}}
		}
		nodes = append(nodes,
			onnxpb.Node{OpType: "MatMul", Inputs: []string{x, p + "wq"}, Outputs: []string{p + "q"}},
			onnxpb.Node{OpType: "MatMul", Inputs: []string{x, p + "wk"}, Outputs: []string{p + "k"}},
			onnxpb.Node{OpType: "MatMul", Inputs: []string{x, p + "wv"}, Outputs: []string{p + "v"}},
			onnxpb.Node{OpType: "Transpose", Inputs: []string{p + "k"}, Outputs: []string{p + "kt"}, Attributes: []onnxpb.Attribute{{Name: "perm", Ints: []int64{0, 2, 1}}}},
			onnxpb.Node{OpType: "MatMul", Inputs: []string{p + "q", p + "kt"}, Outputs: []string{p + "s"}},
			onnxpb.Node{OpType: "Mul", Inputs: []string{p + "s", "scale"}, Outputs: []string{p + "ss"}},
			onnxpb.Node{OpType: "Add", Inputs: []string{p + "ss", "bias"}, Outputs: []string{p + "sm"}},
			onnxpb.Node{OpType: "Softmax", Inputs: []string{p + "sm"}, Outputs: []string{p + "a"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("axis", -1)}},
			onnxpb.Node{OpType: "MatMul", Inputs: []string{p + "a", p + "v"}, Outputs: []string{p + "c"}},
			onnxpb.Node{OpType: "MatMul", Inputs: []string{p + "c", p + "wo"}, Outputs: []string{p + "o"}},
			onnxpb.Node{OpType: "Add", Inputs: []string{x, p + "o"}, Outputs: []string{p + "r1"}},
			ln(p+"r1", p+"n1"),
			onnxpb.Node{OpType: "MatMul", Inputs: []string{p + "n1", p + "w1"}, Outputs: []string{p + "f"}},
			onnxpb.Node{OpType: "Relu", Inputs: []string{p + "f"}, Outputs: []string{p + "g"}},
			onnxpb.Node{OpType: "MatMul", Inputs: []string{p + "g", p + "w2"}, Outputs: []string{p + "h"}},
			onnxpb.Node{OpType: "Add", Inputs: []string{p + "n1", p + "h"}, Outputs: []string{p + "r2"}},
			ln(p+"r2", p+"out"),
		)
		x = p + "out"
	}
	nodes = append(nodes,
		onnxpb.Node{OpType: "Gather", Inputs: []string{x, "first"}, Outputs: []string{"cls"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("axis", 1)}},
		onnxpb.Node{OpType: "MatMul", Inputs: []string{"cls", "projection"}, Outputs: []string{"text_embeds"}})
	for i := range nodes {
		nodes[i].Name = "n" + strconv.Itoa(i)
	}
	return onnxpb.Model{IRVersion: 8, Opset: 18, ProducerName: "clipeval-bench", Graph: onnxpb.Graph{
		Name: "transformer_text_tower", Nodes: nodes, Initializers: inits,
		Inputs:  []onnxpb.ValueInfo{{Name: "input_ids", ElemType: onnxpb.Int64, Shape: dyn}, {Name: "attention_mask", ElemType: onnxpb.Int64, Shape: dyn}},
		Outputs: []onnxpb.ValueInfo{{Name: "text_embeds", ElemType: onnxpb.Float, Shape: []onnxpb.Dim{{Param: "batch"}, {Value: 32}}}},
	}}
}

// BenchmarkEncodeTexts runs a text tower with a dynamic sequence axis on the reference captions (48, in batches of
// 16, BERT ids padded to 256): fed padded (text_padding full) and cut to each batch's longest text. The tower is
// $CLIPEVAL_BENCH_MODEL's, else a 4-layer, 256-wide transformer.
func BenchmarkEncodeTexts(b *testing.B) {
	dir := os.Getenv("CLIPEVAL_BENCH_MODEL")
	if dir == "" {
		m := transformerTextModel(12000, 256, 256, 4)
		onnx, err := m.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		dir = biomedclipCopy(b, onnx)
	}
	_, texts := referenceInputs(b)
	bk := New(sharedtest.ORTLib(b))
	defer bk.Close()
	for _, padding := range []string{PaddingFull, PaddingLongest} {
		b.Run(padding, func(b *testing.B) {
			m, err := bk.load(sdk.ModelRef{Dir: dir, Options: map[string]string{OptionTextPadding: padding}})
			if err != nil {
				b.Fatal(err)
			}
			ids := tokenizer.EncodeBatch(m.tok, texts)
			c := m.tok.ContextLength()
			b.ResetTimer()
			for range b.N {
				for lo := 0; lo < len(texts); lo += 16 {
					hi := min(lo+16, len(texts))
					if _, err := m.EncodeIDs(context.Background(), ids[lo*c:hi*c], hi-lo); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "texts/s")
		})
	}
}

// BenchmarkEncodeImages preprocesses and encodes the reference images (31, in batches of 8) through EncodeImages
// with one call at a time and with two in flight (preprocessing of one batch overlapping inference of the other,
// as the harness will run them), ONNX Runtime's threads spinning or not. $CLIPEVAL_BENCH_MODEL names a bigger model.
func BenchmarkEncodeImages(b *testing.B) {
	images, _ := referenceInputs(b)
	bk := New(sharedtest.ORTLib(b))
	defer bk.Close()
	var batches [][]sdk.ImageInput
	for lo := 0; lo < len(images); lo += 8 {
		batches = append(batches, images[lo:min(lo+8, len(images))])
	}
	for _, spinning := range []string{"false", "true"} {
		for _, inFlight := range []int{1, 2} {
			b.Run("spinning="+spinning+"/in_flight="+strconv.Itoa(inFlight), func(b *testing.B) {
				ref := benchModel(b)
				ref.Options = map[string]string{OptionSpinning: spinning}
				for k, v := range fixtureRef(b, "biomedclip").Options {
					if os.Getenv("CLIPEVAL_BENCH_MODEL") == "" {
						ref.Options[k] = v
					}
				}
				if _, err := bk.Info(context.Background(), sdk.ModelInfoRequest{Model: ref}); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					next := make(chan []sdk.ImageInput)
					var wg sync.WaitGroup
					for range inFlight {
						wg.Go(func() {
							for batch := range next {
								if _, err := bk.EncodeImages(context.Background(), sdk.EncodeImagesRequest{Model: ref, Images: batch}); err != nil {
									b.Error(err)
								}
							}
						})
					}
					for _, batch := range batches {
						next <- batch
					}
					close(next)
					wg.Wait()
				}
				b.ReportMetric(float64(b.N*len(images))/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}

package demogen

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/clipeval/clipeval/internal/onnxpb"
)

// Model shape: tiny on purpose.
const (
	// EmbedDim is the width of both towers' embeddings.
	EmbedDim = 8
	// ImageSize is the side of the square image the image tower takes.
	ImageSize = 32
	// ContextLength is the number of token ids the text tower takes.
	ContextLength = 16
)

// Embedding dimensions and what they mean. An image embeds as (r, g, b, imageTone, 0, 0, 0, 0) where r, g, b are
// its mean channel values in [0, 1]; a text embeds as the sum of its words' vectors (vocabulary below).
const (
	dimRed    = 0
	dimGreen  = 1
	dimBlue   = 2
	dimTone   = 3 // every image has imageTone here; "dark", "grey", "yes" and "no" point along it, "bright" against it
	dimMostly = 4 // "mostly": off every image, so it only lowers a caption's cosines
	dimHalf   = 5 // "half"/"halves": likewise
	// Dimensions 6 and 7 are spare: no image or word uses them.
)

// imageTone is the constant every image embedding holds in dimTone. It keeps dark images away from the zero
// vector and lets the closed-question answers "yes" and "no" (both along dimTone) compete (see vqaQuestions).
const imageTone = 0.25

// clipMean and clipStd are OpenAI CLIP's normalisation constants (open_clip OPENAI_DATASET_MEAN/STD), which
// BiomedCLIP uses too.
func clipMean() [3]float64 { return [3]float64{0.48145466, 0.4578275, 0.40821073} }
func clipStd() [3]float64  { return [3]float64{0.26862954, 0.26130258, 0.27577711} }

// Special tokens, at the ids of BERT's uncased vocabularies.
const (
	padID = 0
	clsID = 2
	sepID = 3
)

// vocabEntry is one vocabulary line and its row of the text tower's embedding table.
type vocabEntry struct {
	token string
	vec   [EmbedDim]float32
}

// vec builds a word vector from (dimension, value) pairs. All values are dyadic rationals, so the text tower's sums
// are exact in float32.
func vec(pairs ...float32) [EmbedDim]float32 {
	var v [EmbedDim]float32
	for i := 0; i+1 < len(pairs); i += 2 {
		v[int(pairs[i])] += pairs[i+1]
	}
	return v
}

// vocabulary is the WordPiece vocabulary in id order. Every word is whole (no "##" pieces are ever needed) and
// every word outside the colour words below embeds as zero, as do the special tokens, so a text's embedding is
// the sum of its colour words' vectors.
func vocabulary() []vocabEntry {
	zero := func(tokens ...string) []vocabEntry {
		out := make([]vocabEntry, len(tokens))
		for i, t := range tokens {
			out[i] = vocabEntry{token: t}
		}
		return out
	}
	v := zero("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
	v = append(v, zero(".", ",", "?", "!", ":", ";", "-", "'", "(", ")")...)
	v = append(v, zero("a", "an", "and", "colour", "color", "does", "else", "fills", "image", "in", "is", "it",
		"nothing", "of", "photo", "picture", "show", "that", "the", "there", "this", "what", "which")...)
	v = append(v, []vocabEntry{
		{"red", vec(dimRed, 1)},
		{"green", vec(dimGreen, 1)},
		{"blue", vec(dimBlue, 1)},
		{"yellow", vec(dimRed, 1, dimGreen, 1)},
		{"cyan", vec(dimGreen, 1, dimBlue, 1)},
		{"magenta", vec(dimRed, 1, dimBlue, 1)},
		{"white", vec(dimRed, 1, dimGreen, 1, dimBlue, 1)},
		{"grey", vec(dimRed, 1, dimGreen, 1, dimBlue, 1, dimTone, 1)},
		{"orange", vec(dimRed, 1, dimGreen, 0.5)},
		{"dark", vec(dimTone, 1)},
		{"bright", vec(dimTone, -1)},
		{"mostly", vec(dimMostly, 0.75)},
		{"half", vec(dimHalf, 0.125)},
		{"halves", vec(dimHalf, 0.25)},
		{"yes", vec(dimTone, 0.25)},
		{"no", vec(dimTone, 4)},
	}...)
	return v
}

// basicTokens splits a text the way BERT's uncased basic tokenizer does for plain ASCII: lower case, split on
// white space, every punctuation character a token of its own.
func basicTokens(text string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsSpace(r):
			flush()
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			flush()
			out = append(out, string(r))
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

// tokenIDs returns the padded ids the text tower is fed for text: [CLS] words [SEP] [PAD]... It fails when a word
// is not a whole vocabulary entry or the text does not fit the context.
func tokenIDs(text string, ids map[string]int64) ([]int64, error) {
	words := basicTokens(text)
	if len(words)+2 > ContextLength {
		return nil, fmt.Errorf("text %q has %d words; at most %d fit the context of %d", text, len(words), ContextLength-2, ContextLength)
	}
	out := make([]int64, ContextLength)
	out[0] = clsID
	for i, w := range words {
		id, ok := ids[w]
		if !ok {
			return nil, fmt.Errorf("text %q: word %q is not in the demo vocabulary; add it to vocabulary()", text, w)
		}
		out[i+1] = id
	}
	out[len(words)+1] = sepID
	for i := len(words) + 2; i < ContextLength; i++ {
		out[i] = padID
	}
	return out, nil
}

// vocabIDs maps each token to its id.
func vocabIDs(vocab []vocabEntry) map[string]int64 {
	ids := make(map[string]int64, len(vocab))
	for i, e := range vocab {
		ids[e.token] = int64(i)
	}
	return ids
}

// textEmbedding is what the text tower computes for text: the sum of its words' vectors.
func textEmbedding(text string, vocab []vocabEntry) ([EmbedDim]float64, error) {
	var out [EmbedDim]float64
	ids, err := tokenIDs(text, vocabIDs(vocab))
	if err != nil {
		return out, err
	}
	for _, id := range ids {
		for d, x := range vocab[id].vec {
			out[d] += float64(x)
		}
	}
	if out == ([EmbedDim]float64{}) {
		return out, fmt.Errorf("text %q embeds as the zero vector (no colour word); its cosines would be undefined", text)
	}
	return out, nil
}

// imageEmbedding is what the image tower computes for an image whose mean colour is rgb (channel values 0..255).
func imageEmbedding(rgb [3]float64) [EmbedDim]float64 {
	var out [EmbedDim]float64
	for c := range 3 {
		out[dimRed+c] = rgb[c] / 255
	}
	out[dimTone] = imageTone
	return out
}

// imageModel builds image.onnx: pixel_values [batch,3,S,S] → ReduceMean over H and W → ×std + mean (undoing the
// normalisation, giving the mean colour in [0,1]) → MatMul by the 3×D projection that copies r, g, b into dimensions
// 0..2 → + bias (imageTone in dimTone) → image_embeds [batch,D].
func imageModel() onnxpb.Model {
	mean, std := clipMean(), clipStd()
	proj := make([]float32, 3*EmbedDim)
	for c := range 3 {
		proj[c*EmbedDim+dimRed+c] = 1
	}
	bias := make([]float32, EmbedDim)
	bias[dimTone] = imageTone
	return onnxpb.Model{
		IRVersion:       8,
		Opset:           18,
		ProducerName:    "clipeval-demogen",
		ProducerVersion: "1",
		DocString:       "Analytic demo image tower: mean colour in [0,1] into dimensions 0-2, 0.25 in dimension 3.",
		Graph: onnxpb.Graph{
			Name: "demo_image_tower",
			Nodes: []onnxpb.Node{
				{Name: "mean_pixel", OpType: "ReduceMean", Inputs: []string{"pixel_values", "axes_hw"},
					Outputs: []string{"mean_pixel"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("keepdims", 0)}},
				{Name: "unscale", OpType: "Mul", Inputs: []string{"mean_pixel", "std"}, Outputs: []string{"unscaled"}},
				{Name: "unshift", OpType: "Add", Inputs: []string{"unscaled", "mean"}, Outputs: []string{"rgb"}},
				{Name: "project", OpType: "MatMul", Inputs: []string{"rgb", "proj"}, Outputs: []string{"projected"}},
				{Name: "bias", OpType: "Add", Inputs: []string{"projected", "bias"}, Outputs: []string{"image_embeds"}},
			},
			Initializers: []onnxpb.Tensor{
				onnxpb.Int64Tensor("axes_hw", []int64{2}, []int64{2, 3}),
				onnxpb.FloatTensor("std", []int64{3}, []float32{float32(std[0]), float32(std[1]), float32(std[2])}),
				onnxpb.FloatTensor("mean", []int64{3}, []float32{float32(mean[0]), float32(mean[1]), float32(mean[2])}),
				onnxpb.FloatTensor("proj", []int64{3, EmbedDim}, proj),
				onnxpb.FloatTensor("bias", []int64{EmbedDim}, bias),
			},
			Inputs: []onnxpb.ValueInfo{{Name: "pixel_values", ElemType: onnxpb.Float,
				Shape: []onnxpb.Dim{{Param: "batch"}, {Value: 3}, {Value: ImageSize}, {Value: ImageSize}}}},
			Outputs: []onnxpb.ValueInfo{{Name: "image_embeds", ElemType: onnxpb.Float,
				Shape: []onnxpb.Dim{{Param: "batch"}, {Value: EmbedDim}}}},
		},
	}
}

// textModel builds text.onnx: input_ids [batch,L] → Gather rows of the embedding table → ReduceSum over tokens →
// text_embeds [batch,D]. Special tokens, punctuation and function words have zero rows.
func textModel(vocab []vocabEntry) onnxpb.Model {
	table := make([]float32, 0, len(vocab)*EmbedDim)
	for _, e := range vocab {
		table = append(table, e.vec[:]...)
	}
	return onnxpb.Model{
		IRVersion:       8,
		Opset:           18,
		ProducerName:    "clipeval-demogen",
		ProducerVersion: "1",
		DocString:       "Analytic demo text tower: bag of words, the sum of the tokens' embedding rows.",
		Graph: onnxpb.Graph{
			Name: "demo_text_tower",
			Nodes: []onnxpb.Node{
				{Name: "lookup", OpType: "Gather", Inputs: []string{"word_embeddings", "input_ids"},
					Outputs: []string{"token_vectors"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("axis", 0)}},
				{Name: "pool", OpType: "ReduceSum", Inputs: []string{"token_vectors", "axes_tokens"},
					Outputs: []string{"text_embeds"}, Attributes: []onnxpb.Attribute{onnxpb.IntAttr("keepdims", 0)}},
			},
			Initializers: []onnxpb.Tensor{
				onnxpb.FloatTensor("word_embeddings", []int64{int64(len(vocab)), EmbedDim}, table),
				onnxpb.Int64Tensor("axes_tokens", []int64{1}, []int64{1}),
			},
			Inputs: []onnxpb.ValueInfo{{Name: "input_ids", ElemType: onnxpb.Int64,
				Shape: []onnxpb.Dim{{Param: "batch"}, {Value: ContextLength}}}},
			Outputs: []onnxpb.ValueInfo{{Name: "text_embeds", ElemType: onnxpb.Float,
				Shape: []onnxpb.Dim{{Param: "batch"}, {Value: EmbedDim}}}},
		},
	}
}

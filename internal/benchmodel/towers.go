package benchmodel

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/clipeval/clipeval/internal/onnxpb"
)

// Graph input and output names: those the onnx backend looks for first.
const (
	// ImageInput is the image tower's input, float32 [batch, 3, image_size, image_size].
	ImageInput = "pixel_values"
	// ImageOutput is the image tower's output, float32 [batch, embed_dim].
	ImageOutput = "image_embeds"
	// TextInput is the text tower's token ids, int64 [batch, sequence].
	TextInput = "input_ids"
	// TextMask is the text tower's attention mask, int64 [batch, sequence]: 1 for a token, 0 for padding.
	TextMask = "attention_mask"
	// TextOutput is the text tower's output, float32 [batch, embed_dim].
	TextOutput = "text_embeds"
)

// Symbolic dimension names of the inputs and outputs.
const (
	// BatchDim names the batch axis of every input and output.
	BatchDim = "batch"
	// SequenceDim names the text inputs' token axis.
	SequenceDim = "sequence"
)

// MetadataKey is the ONNX metadata_props key under which each generated file stores its TowerInfo as JSON.
const MetadataKey = "clipeval.benchmodel"

// TowerInfo is what a generated ONNX file says about itself (as JSON under MetadataKey): enough for another
// implementation (torch_twin.py) to rebuild the network from the file's initializers.
type TowerInfo struct {
	// Tower is "image" or "text".
	Tower string `json:"tower"`
	// Version is the generator's Version.
	Version int `json:"version"`
	// LayerNormEps is the epsilon of every LayerNormalization of the tower.
	LayerNormEps float64 `json:"layer_norm_eps"`
	// Config is the whole model pair's configuration (defaults filled in).
	Config Config `json:"config"`
}

func towerMeta(tower string, eps float64, c Config) (string, error) {
	b, err := json.Marshal(TowerInfo{Tower: tower, Version: Version, LayerNormEps: eps, Config: c})
	if err != nil {
		return "", fmt.Errorf("benchmodel: encoding %s tower metadata: %w", tower, err)
	}
	return string(b), nil
}

// ImageModel builds the image tower, timm's VisionTransformer as open_clip's TimmModel wraps it for BiomedCLIP:
//
//	pixel_values [B,3,S,S] → Conv k=s=patch → [B,N,D] → prepend cls_token → + pos_embed →
//	blocks × L: x += attn(LN1(x)); x += fc2(GELU(fc1(LN2(x)))) → LN → token 0 → · head.proj → image_embeds [B,E]
//
// Attention is timm's: one qkv Linear, reshaped to [3,B,heads,T,dh], q scaled by dh^-½, softmax(q·kᵀ)·v, proj.
// Initializer names follow timm's state dict (linear weights stored transposed, see graph.linear).
func ImageModel(c Config) (onnxpb.Model, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return onnxpb.Model{}, err
	}
	v := c.Vision
	g := newGraph(c)
	d, p := int64(v.Width), int64(v.Patch)
	tokens := int64((v.ImageSize/v.Patch)*(v.ImageSize/v.Patch)) + 1
	eps := float32(VisionLayerNormEps)

	convW := g.random("patch_embed.proj.weight", 0, weightStd, d, 3, p, p)
	convB := g.random("patch_embed.proj.bias", 0, weightStd, d)
	x := g.op("patch_embed.proj", "Conv", []string{ImageInput, convW, convB},
		onnxpb.IntsAttr("kernel_shape", p, p), onnxpb.IntsAttr("strides", p, p))
	x = g.op("patch_embed.flatten", "Reshape", []string{x, g.ints("const.shape_patches", []int64{3}, 0, d, -1)})
	x = g.op("patch_embed.transpose", "Transpose", []string{x}, onnxpb.IntsAttr("perm", 0, 2, 1))
	batch := g.op("batch_size", "Shape", []string{ImageInput}, onnxpb.IntAttr("start", 0), onnxpb.IntAttr("end", 1))
	clsShape := g.op("cls_shape", "Concat", []string{batch, g.ints("const.one_width", []int64{2}, 1, d)}, onnxpb.IntAttr("axis", 0))
	cls := g.op("cls_expand", "Expand", []string{g.random("cls_token", 0, weightStd, 1, 1, d), clsShape})
	x = g.op("cat_cls", "Concat", []string{cls, x}, onnxpb.IntAttr("axis", 1))
	x = g.op("add_pos_embed", "Add", []string{x, g.random("pos_embed", 0, weightStd, 1, tokens, d)})

	dh := v.Width / v.Heads
	qkvShape := g.ints("const.shape_qkv", []int64{5}, 0, 0, 3, int64(v.Heads), int64(dh))
	scale := g.scalar("const.attn_scale", float32(1/math.Sqrt(float64(dh))))
	for i := range v.Layers {
		pre := fmt.Sprintf("blocks.%d", i)
		h := g.layerNorm(x, pre+".norm1", v.Width, eps)
		qkv := g.linear(h, pre+".attn.qkv", v.Width, 3*v.Width, true)
		qkv = g.op(pre+".attn.qkv_reshape", "Reshape", []string{qkv, qkvShape})
		qkv = g.op(pre+".attn.qkv_permute", "Transpose", []string{qkv}, onnxpb.IntsAttr("perm", 2, 0, 3, 1, 4))
		part := func(j int64, name string) string {
			return g.op(pre+".attn."+name, "Gather", []string{qkv, g.ints(fmt.Sprintf("const.index_%d", j), nil, j)}, onnxpb.IntAttr("axis", 0))
		}
		q, k, val := part(0, "q"), part(1, "k"), part(2, "v")
		q = g.op(pre+".attn.q_scaled", "Mul", []string{q, scale})
		kT := g.op(pre+".attn.k_t", "Transpose", []string{k}, onnxpb.IntsAttr("perm", 0, 1, 3, 2))
		s := g.op(pre+".attn.scores", "MatMul", []string{q, kT})
		s = g.op(pre+".attn.softmax", "Softmax", []string{s}, onnxpb.IntAttr("axis", -1))
		o := g.op(pre+".attn.context", "MatMul", []string{s, val})
		o = g.mergeHeads(o, pre+".attn.merge", v.Width)
		o = g.linear(o, pre+".attn.proj", v.Width, v.Width, true)
		x = g.op(pre+".residual1", "Add", []string{x, o})
		h = g.layerNorm(x, pre+".norm2", v.Width, eps)
		h = g.linear(h, pre+".mlp.fc1", v.Width, v.MLP, true)
		h = g.geluAct(h, pre+".mlp.act")
		h = g.linear(h, pre+".mlp.fc2", v.MLP, v.Width, true)
		x = g.op(pre+".residual2", "Add", []string{x, h})
	}
	x = g.layerNorm(x, "norm", v.Width, eps)
	x = g.op("pool_cls", "Gather", []string{x, g.ints("const.index_0", nil, 0)}, onnxpb.IntAttr("axis", 1))
	g.op(ImageOutput, "MatMul", []string{x, g.random("head.proj.weight", 0, weightStd, d, int64(c.EmbedDim))})

	meta, err := towerMeta("image", VisionLayerNormEps, c)
	if err != nil {
		return onnxpb.Model{}, err
	}
	side := int64(v.ImageSize)
	return g.model(c, "benchmodel_image_tower",
		fmt.Sprintf("clipeval benchmark image tower (seeded random weights): ViT patch %d, width %d, %d layers, %d heads, MLP %d, %d px, embed %d",
			v.Patch, v.Width, v.Layers, v.Heads, v.MLP, v.ImageSize, c.EmbedDim),
		meta,
		[]onnxpb.ValueInfo{{Name: ImageInput, ElemType: onnxpb.Float,
			Shape: []onnxpb.Dim{{Param: BatchDim}, {Value: 3}, {Value: side}, {Value: side}}}},
		[]onnxpb.ValueInfo{{Name: ImageOutput, ElemType: onnxpb.Float,
			Shape: []onnxpb.Dim{{Param: BatchDim}, {Value: int64(c.EmbedDim)}}}}), nil
}

// TextModel builds the text tower, Hugging Face's BertModel as open_clip's HFTextEncoder wraps it for BiomedCLIP:
//
//	input_ids, attention_mask [B,L] → word + token_type[0] + position[0:L] embeddings → LN →
//	layers × L: x = LN(x + attn(x)); x = LN(x + out(GELU(intermediate(x)))) → token 0 →
//	proj.0 (no bias) → GELU → proj.2 (no bias) → text_embeds [B,E]
//
// The attention mask is BERT's additive one: (1 − mask)·float32 min added to the scores, so a padded position
// gets no weight and the real tokens' outputs do not depend on how much padding follows them. The sequence axis is
// dynamic (up to MaxPositions). Initializer names follow BertModel's state dict and open_clip's proj.
func TextModel(c Config) (onnxpb.Model, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return onnxpb.Model{}, err
	}
	t := c.Text
	g := newGraph(c)
	d := int64(t.Width)
	eps := float32(TextLayerNormEps)

	words := g.op("embeddings.word", "Gather", []string{g.random("embeddings.word_embeddings.weight", 0, weightStd, int64(t.Vocab), d), TextInput},
		onnxpb.IntAttr("axis", 0))
	types := g.op("embeddings.token_type", "Gather", []string{
		g.random("embeddings.token_type_embeddings.weight", 0, weightStd, int64(t.TypeVocab), d), g.ints("const.index_0", nil, 0)},
		onnxpb.IntAttr("axis", 0))
	seqLen := g.op("sequence_length", "Shape", []string{TextInput}, onnxpb.IntAttr("start", 1), onnxpb.IntAttr("end", 2))
	zero := g.ints("const.zeros_1", []int64{1}, 0)
	pos := g.op("embeddings.position", "Slice", []string{
		g.random("embeddings.position_embeddings.weight", 0, weightStd, int64(t.MaxPositions), d), zero, seqLen, zero})
	x := g.op("embeddings.add_type", "Add", []string{words, types})
	x = g.op("embeddings.add_position", "Add", []string{x, pos})
	x = g.layerNorm(x, "embeddings.LayerNorm", t.Width, eps)

	mask := g.op("mask.float", "Cast", []string{TextMask}, onnxpb.IntAttr("to", int64(onnxpb.Float)))
	mask = g.op("mask.unsqueeze", "Unsqueeze", []string{mask, g.ints("const.axes_1_2", []int64{2}, 1, 2)})
	mask = g.op("mask.invert", "Sub", []string{g.scalar("const.one", 1), mask})
	mask = g.op("mask.additive", "Mul", []string{mask, g.scalar("const.float32_min", -math.MaxFloat32)})

	scale := g.scalar("const.attn_scale", float32(1/math.Sqrt(float64(t.Width/t.Heads))))
	for i := range t.Layers {
		pre := fmt.Sprintf("encoder.layer.%d", i)
		q := g.heads(g.linear(x, pre+".attention.self.query", t.Width, t.Width, true), pre+".attention.self.q", t.Heads, t.Width, false)
		kT := g.heads(g.linear(x, pre+".attention.self.key", t.Width, t.Width, true), pre+".attention.self.k_t", t.Heads, t.Width, true)
		v := g.heads(g.linear(x, pre+".attention.self.value", t.Width, t.Width, true), pre+".attention.self.v", t.Heads, t.Width, false)
		s := g.op(pre+".attention.self.scores", "MatMul", []string{q, kT})
		s = g.op(pre+".attention.self.scaled", "Mul", []string{s, scale})
		s = g.op(pre+".attention.self.masked", "Add", []string{s, mask})
		s = g.op(pre+".attention.self.softmax", "Softmax", []string{s}, onnxpb.IntAttr("axis", -1))
		o := g.op(pre+".attention.self.context", "MatMul", []string{s, v})
		o = g.mergeHeads(o, pre+".attention.self.merge", t.Width)
		o = g.linear(o, pre+".attention.output.dense", t.Width, t.Width, true)
		x = g.layerNorm(g.op(pre+".attention.output.residual", "Add", []string{o, x}), pre+".attention.output.LayerNorm", t.Width, eps)
		h := g.linear(x, pre+".intermediate.dense", t.Width, t.MLP, true)
		h = g.geluAct(h, pre+".intermediate.act")
		h = g.linear(h, pre+".output.dense", t.MLP, t.Width, true)
		x = g.layerNorm(g.op(pre+".output.residual", "Add", []string{h, x}), pre+".output.LayerNorm", t.Width, eps)
	}
	x = g.op("pool_cls", "Gather", []string{x, g.ints("const.index_0", nil, 0)}, onnxpb.IntAttr("axis", 1))
	x = g.linear(x, "proj.0", t.Width, t.ProjHidden, false)
	x = g.geluAct(x, "proj.1")
	g.op(TextOutput, "MatMul", []string{x, g.random("proj.2.weight", 0, weightStd, int64(t.ProjHidden), int64(c.EmbedDim))})

	meta, err := towerMeta("text", TextLayerNormEps, c)
	if err != nil {
		return onnxpb.Model{}, err
	}
	ids := []onnxpb.Dim{{Param: BatchDim}, {Param: SequenceDim}}
	return g.model(c, "benchmodel_text_tower",
		fmt.Sprintf("clipeval benchmark text tower (seeded random weights): BERT vocab %d, width %d, %d layers, %d heads, MLP %d, MLP projection %d, embed %d",
			t.Vocab, t.Width, t.Layers, t.Heads, t.MLP, t.ProjHidden, c.EmbedDim),
		meta,
		[]onnxpb.ValueInfo{
			{Name: TextInput, ElemType: onnxpb.Int64, Shape: ids},
			{Name: TextMask, ElemType: onnxpb.Int64, Shape: ids},
		},
		[]onnxpb.ValueInfo{{Name: TextOutput, ElemType: onnxpb.Float,
			Shape: []onnxpb.Dim{{Param: BatchDim}, {Value: int64(c.EmbedDim)}}}}), nil
}

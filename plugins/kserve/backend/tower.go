package backend

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/clipeval/clipeval/plugins/kserve/client"
	"github.com/clipeval/clipeval/plugins/modelfolder"
	inferencepb "github.com/clipeval/clipeval/plugins/proto/inference/v2"
)

// tensor is one input or output of a served model, as its metadata declares it.
type tensor struct {
	name     string
	datatype string
	shape    []int64
}

// String is the tensor as error messages show it: name, data type and shape.
func (t tensor) String() string { return fmt.Sprintf("%s %s %v", t.name, t.datatype, t.shape) }

func tensorOf(md *inferencepb.ModelMetadataResponse_TensorMetadata) tensor {
	return tensor{name: md.GetName(), datatype: md.GetDatatype(), shape: md.GetShape()}
}

func tensorsOf(mds []*inferencepb.ModelMetadataResponse_TensorMetadata) []tensor {
	out := make([]tensor, len(mds))
	for i, md := range mds {
		out[i] = tensorOf(md)
	}
	return out
}

// list shows tensors in a message: "[a FP32 [-1 3], b INT64 [-1]]", or "none".
func list(ts []tensor) string {
	if len(ts) == 0 {
		return "none"
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// tower is one served model (a tower): what to call and how to feed it.
type tower struct {
	model string
	// version is the version requests ask for: the option's, else the one the server lists ("" when it lists
	// several: the server's choice).
	version string
	// versions, platform, inputs and properties are what the server's metadata says.
	versions   []string
	platform   string
	inputs     []tensor
	properties map[string]string
	// input is the tower's input: the pixels, or the token ids.
	input tensor
	// mask is the text tower's attention mask input, when it has one: fed ids != pad.
	mask *tensor
	// output is the embeddings output.
	output tensor
	// rowValues is the number of input values per row (3·H·W pixels, or context_length ids).
	rowValues int
}

// describe is the tower in ModelInfo.Runtime: the model, its version and its platform.
func (t *tower) describe() string {
	v := t.version
	if v == "" {
		v = "[" + strings.Join(t.versions, ", ") + "]"
	}
	return fmt.Sprintf("%s version %s on %s", t.model, v, t.platform)
}

// keyedError is a problem with the model and the key it is about: "options.NAME", or "path" (the model folder).
type keyedError struct {
	key string
	err error
}

func (e *keyedError) Error() string { return e.err.Error() }
func (e *keyedError) Unwrap() error { return e.err }

// mismatch is a served model that does not fit the backend: the model_name option's problem.
func mismatch(format string, args ...any) error {
	return &keyedError{"options." + OptionModelName, fmt.Errorf(format, args...)}
}

// keyOf returns the problem key of err: its keyedError's, else that of the option a failed call points at.
func keyOf(err error) string {
	var ke *keyedError
	if errors.As(err, &ke) {
		return ke.key
	}
	switch client.CodeOf(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return "options." + OptionToken
	case codes.NotFound:
		return "options." + OptionModelName
	}
	return "options." + OptionURL
}

// remote is what the server says of the model: the server itself and both towers.
type remote struct {
	server      *inferencepb.ServerMetadataResponse
	image, text *tower
	embedDim    int
}

// runtime is ModelInfo.Runtime: the server's name and version and each tower's model, version and platform. The
// model fingerprint includes it, so that embeddings of another served model (another version: clipeval serve
// makes the version from the served model's own fingerprint) are never taken for these.
func (r *remote) runtime() string {
	return fmt.Sprintf("kserve v2: %s %s; %s; %s", r.server.GetName(), r.server.GetVersion(), r.image.describe(), r.text.describe())
}

// ask reads the server's metadata of both towers and checks them against the local model folder f, whose
// tokenizer is named tokName.
func ask(ctx context.Context, c *client.Client, o options, f *modelfolder.Folder, tokName string) (*remote, error) {
	server, err := c.ServerMetadata(ctx)
	if err != nil {
		return nil, err
	}
	r := &remote{server: server}
	if r.image, err = towerOf(ctx, c, o, o.modelName+inferencepb.ImageSuffix); err != nil {
		return nil, err
	}
	if r.text, err = towerOf(ctx, c, o, o.modelName+inferencepb.TextSuffix); err != nil {
		return nil, err
	}
	if err := r.image.imageInputs(f); err != nil {
		return nil, err
	}
	if err := r.text.textInputs(f, tokName); err != nil {
		return nil, err
	}
	if r.embedDim, err = r.embeddingWidth(f); err != nil {
		return nil, err
	}
	return r, nil
}

// towerOf reads one served model's metadata and checks what every tower needs: one FP32 output [-1, D].
func towerOf(ctx context.Context, c *client.Client, o options, name string) (*tower, error) {
	md, err := c.ModelMetadata(ctx, name, o.modelVersion)
	if err != nil {
		return nil, err
	}
	t := &tower{model: name, version: o.modelVersion, versions: md.GetVersions(), platform: md.GetPlatform(),
		inputs: tensorsOf(md.GetInputs()), properties: md.GetProperties()}
	if t.version == "" && len(t.versions) == 1 {
		t.version = t.versions[0] // pinned: a model replaced during the run fails its calls rather than mixing embeddings
	}
	if t.platform == "" {
		t.platform = "an unnamed platform"
	}
	outs := tensorsOf(md.GetOutputs())
	found := false
	for _, out := range outs {
		if len(outs) == 1 || out.name == inferencepb.EmbeddingsOutput {
			t.output, found = out, true
		}
	}
	if !found {
		return nil, mismatch("served model %s has outputs %s: want one, or one named %s (the raw embeddings, FP32 [-1, D])", name, list(outs), inferencepb.EmbeddingsOutput)
	}
	if sh := t.output.shape; t.output.datatype != inferencepb.DataTypeFP32 || len(sh) != 2 || sh[0] != -1 || sh[1] == 0 || sh[1] < -1 {
		return nil, mismatch("served model %s outputs %s: want FP32 [-1, D], a variable batch of embeddings "+
			"(in Triton: max_batch_size > 0, dims [D], data_type TYPE_FP32)", name, t.output)
	}
	return t, nil
}

// imageInputs picks the image tower's input, FP32 [-1, 3, H, W], and checks H and W against the folder's image size.
func (t *tower) imageInputs(f *modelfolder.Folder) error {
	s := int64(f.Image.Size)
	if len(t.inputs) != 1 {
		return mismatch("served model %s has inputs %s: an image tower takes one, the pixels FP32 [-1, 3, %d, %d]", t.model, list(t.inputs), s, s)
	}
	in := t.inputs[0]
	sh := in.shape
	if in.datatype != inferencepb.DataTypeFP32 || len(sh) != 4 || sh[0] != -1 || (sh[1] != 3 && sh[1] != -1) {
		return mismatch("served model %s takes %s: an image tower takes FP32 [-1, 3, H, W] pixels, a variable batch "+
			"(in Triton: max_batch_size > 0, dims [3, H, W], data_type TYPE_FP32)", t.model, in)
	}
	if (sh[2] != -1 && sh[2] != s) || (sh[3] != -1 && sh[3] != s) {
		return &keyedError{"path", fmt.Errorf("served model %s takes %dx%d images but the local model folder %s says image_size %d: "+
			"it must be a copy of the served model's folder (open_clip_config.json and the tokenizer files)", t.model, sh[2], sh[3], f.Dir, s)}
	}
	if err := t.checkProperty(inferencepb.PropertyImageSize, strconv.Itoa(f.Image.Size), f); err != nil {
		return err
	}
	t.input, t.rowValues = in, f.PixelsPerImage()
	return nil
}

// textInputs picks the text tower's token ids input, INT64 or INT32 [-1, L], and its attention mask when it has one
// (the input the folder's manifest names text_mask_input, else one whose name holds "mask"), and checks L and the
// tokenizer against the folder's.
func (t *tower) textInputs(f *modelfolder.Folder, tokName string) error {
	man := f.Manifest
	var ids, mask []tensor
	for _, in := range t.inputs {
		switch {
		case man.TextMaskInput != "" && in.name == man.TextMaskInput,
			man.TextMaskInput == "" && strings.Contains(strings.ToLower(in.name), "mask"):
			mask = append(mask, in)
		case man.TextInput == "" || in.name == man.TextInput:
			ids = append(ids, in)
		}
	}
	c := int64(f.ContextLength)
	if len(ids) != 1 || len(mask) > 1 || len(ids)+len(mask) != len(t.inputs) {
		return mismatch("served model %s has inputs %s: a text tower takes the token ids INT64 [-1, %d] and optionally an attention mask "+
			"of the same shape (named *mask*, or as the folder's %s names them: text_input, text_mask_input)", t.model, list(t.inputs), c, modelfolder.ManifestFile)
	}
	for _, in := range append(ids, mask...) {
		sh := in.shape
		if (in.datatype != inferencepb.DataTypeINT64 && in.datatype != inferencepb.DataTypeINT32) || len(sh) != 2 || sh[0] != -1 {
			return mismatch("served model %s takes %s: a text tower takes INT64 (or INT32) [-1, L] token ids, a variable batch "+
				"(in Triton: max_batch_size > 0, dims [L], data_type TYPE_INT64)", t.model, in)
		}
		if sh[1] != -1 && sh[1] != c {
			return &keyedError{"path", fmt.Errorf("served model %s takes %d tokens but the local model folder %s says context_length %d: "+
				"it must be a copy of the served model's folder (open_clip_config.json and the tokenizer files)", t.model, sh[1], f.Dir, c)}
		}
	}
	if err := t.checkProperty(inferencepb.PropertyContextLength, strconv.Itoa(f.ContextLength), f); err != nil {
		return err
	}
	if err := t.checkProperty(inferencepb.PropertyTokenizer, tokName, f); err != nil {
		return err
	}
	t.input, t.rowValues = ids[0], f.ContextLength
	if len(mask) == 1 {
		t.mask = &mask[0]
	}
	return nil
}

// checkProperty compares a property the server states (clipeval serve does, inferencepb.Property*; other servers
// need not) with the local folder's value.
func (t *tower) checkProperty(key, local string, f *modelfolder.Folder) error {
	if v, ok := t.properties[key]; ok && v != local {
		return &keyedError{"path", fmt.Errorf("served model %s has %s %s but the local model folder %s gives %s: "+
			"it must be a copy of the served model's folder (open_clip_config.json and the tokenizer files)", t.model, strings.TrimPrefix(key, "clipeval."), v, f.Dir, local)}
	}
	return nil
}

// embeddingWidth is the towers' embedding width: their outputs' (which must agree, and agree with the folder's
// embed_dim when it has one), else the folder's.
func (r *remote) embeddingWidth(f *modelfolder.Folder) (int, error) {
	di, dt := r.image.output.shape[1], r.text.output.shape[1]
	if di > 0 && dt > 0 && di != dt {
		return 0, mismatch("served models %s and %s output %d and %d values: the towers' embeddings must agree", r.image.model, r.text.model, di, dt)
	}
	d := max(di, dt)
	if d > 0 && f.EmbedDim > 0 && int(d) != f.EmbedDim {
		return 0, &keyedError{"path", fmt.Errorf("served models output %d values but the local model folder %s says embed_dim %d: "+
			"it must be a copy of the served model's folder", d, f.Dir, f.EmbedDim)}
	}
	if d <= 0 {
		if f.EmbedDim == 0 {
			return 0, &keyedError{"path", fmt.Errorf("served models %s and %s do not say their embedding width (FP32 [-1, -1]) and the local model folder %s has no embed_dim: "+
				"write model_cfg.embed_dim in its open_clip_config.json", r.image.model, r.text.model, f.Dir)}
		}
		return f.EmbedDim, nil
	}
	return int(d), nil
}

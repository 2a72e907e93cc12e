package backend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// encoder is one ONNX graph (the image or the text tower) with its resolved input/output names and a session
// created once and reused for every batch.
type encoder struct {
	path    string
	input   ort.InputOutputInfo
	mask    *ort.InputOutputInfo // text only: attention_mask, when the graph declares one
	output  ort.InputOutputInfo
	session *ort.DynamicAdvancedSession
	// running serialises the session's runs: ONNX Runtime would run two at once, but on the same intra-op threads,
	// each slower, with the activations of both in memory; one at a time, the second batch is preprocessed meanwhile.
	running sync.Mutex
}

// BatchesInFlight is how many batches a tower holds input buffers for: one running while the next is prepared.
const BatchesInFlight = 2

// feed is one batch's input buffers, kept from batch to batch (each grows to the largest batch it has held).
type feed struct {
	pixels        []float32
	ids, mask     []int64
	ids32, mask32 []int32
}

// feedSlots hands out a tower's feeds: take waits while every one is in use, so that memory stays at
// BatchesInFlight batches however many calls arrive at once.
type feedSlots chan *feed

func newFeedSlots(n int) feedSlots {
	s := make(feedSlots, n)
	for range n {
		s <- &feed{}
	}
	return s
}

// take returns a free feed, waiting for one (or for ctx).
func (s feedSlots) take(ctx context.Context) (*feed, error) {
	select {
	case f := <-s:
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// give returns a feed taken from s.
func (s feedSlots) give(f *feed) { s <- f }

// grow returns b resized to n values, reallocated only when its capacity is short.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// dynamicSequence reports whether the text graph takes any sequence length: its ids' (and mask's) second axis is a
// dim_param or unset.
func (e *encoder) dynamicSequence() bool {
	return e.input.Dimensions[1] < 0 && (e.mask == nil || (len(e.mask.Dimensions) == 2 && e.mask.Dimensions[1] < 0))
}

// openEncoder introspects an ONNX file (see inspectEncoder) and creates its session with the given options.
func openEncoder(path, wantInput, wantOutput, wantMask string, text bool, so SessionOptions) (*encoder, error) {
	e, err := inspectEncoder(path, wantInput, wantOutput, wantMask, text)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	opts, err := so.ortOptions(st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer opts.Destroy()
	inNames := []string{e.input.Name}
	if e.mask != nil {
		inNames = append(inNames, e.mask.Name)
	}
	e.session, err = ort.NewDynamicAdvancedSession(path, inNames, []string{e.output.Name}, opts)
	if err != nil {
		return nil, fmt.Errorf("creating ONNX Runtime session for %s: %w", path, err)
	}
	return e, nil
}

// inspectEncoder reads an ONNX file's inputs and outputs and resolves the ones clipeval feeds and reads, from the
// file itself (readGraphIO), without creating a session unless the file leaves the output's type to shape inference
// (then ONNX Runtime's GetInputOutputInfo answers). want* name the input/output when set (from the manifest);
// otherwise the conventional names are tried, then the only candidate.
func inspectEncoder(path, wantInput, wantOutput, wantMask string, text bool) (*encoder, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w (a model folder holds image.onnx and text.onnx, or names its files in %s)", err, ManifestFile)
	}
	g, err := readGraphIO(path)
	if err != nil {
		return nil, fmt.Errorf("reading inputs and outputs of %s: %w", path, err)
	}
	// Names do not depend on shape inference: a name that cannot be resolved is the same error ONNX Runtime's
	// lists would give.
	e, err := resolveEncoder(path, g.inputs, g.outputs, wantInput, wantOutput, wantMask, text)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(g.outputs, func(o ort.InputOutputInfo) bool { return o.Name == e.output.Name }); !g.declared[i] || !declaredEnough(e.output) {
		// The file leaves the output's type to shape inference (see graphio.go): ask ONNX Runtime, which runs it.
		ins, outs, err := ort.GetInputOutputInfo(path)
		if err != nil {
			return nil, fmt.Errorf("reading inputs and outputs of %s: %w", path, err)
		}
		if e, err = resolveEncoder(path, ins, outs, wantInput, wantOutput, wantMask, text); err != nil {
			return nil, err
		}
	}
	if err := e.checkTypes(text); err != nil {
		return nil, err
	}
	return e, nil
}

// declaredEnough reports whether an output's declared type settles what clipeval checks and reads: a tensor with
// an element type and a shape whose every dimension but the batch is fixed. Shape inference cannot change such a
// declaration, so ONNX Runtime reports it as it is.
func declaredEnough(out ort.InputOutputInfo) bool {
	if out.OrtValueType != ort.ONNXTypeTensor || out.DataType == ort.TensorElementDataTypeUndefined || len(out.Dimensions) == 0 {
		return false
	}
	for _, d := range out.Dimensions[1:] {
		if d < 0 {
			return false
		}
	}
	return true
}

// resolveEncoder picks the input, mask and output clipeval uses among a graph's inputs and outputs (their types
// are checkTypes').
func resolveEncoder(path string, ins, outs []ort.InputOutputInfo, wantInput, wantOutput, wantMask string, text bool) (*encoder, error) {
	var err error
	e := &encoder{path: path}
	var maskName string
	if text {
		for i := range ins {
			if ins[i].Name == wantMask || (wantMask == "" && ins[i].Name == "attention_mask") {
				e.mask = &ins[i]
				maskName = ins[i].Name
			}
		}
		if wantMask != "" && e.mask == nil {
			return nil, fmt.Errorf("%s has no input %q (the manifest's text_mask_input); inputs: %s", path, wantMask, names(ins))
		}
	}
	conventional := []string{"pixel_values", "image", "images", "input"}
	if text {
		conventional = []string{"input_ids", "text", "texts", "input"}
	}
	if e.input, err = pick(path, "input", ins, wantInput, conventional, maskName); err != nil {
		return nil, err
	}
	outConventional := []string{"image_embeds", "image_features", "embeddings", "output"}
	if text {
		outConventional = []string{"text_embeds", "text_features", "embeddings", "output"}
	}
	if e.output, err = pick(path, "output", outs, wantOutput, outConventional, ""); err != nil {
		return nil, err
	}
	return e, nil
}

func names(infos []ort.InputOutputInfo) string {
	s := make([]string, len(infos))
	for i, in := range infos {
		s[i] = in.Name
	}
	return strings.Join(s, ", ")
}

func pick(path, what string, infos []ort.InputOutputInfo, want string, conventional []string, exclude string) (ort.InputOutputInfo, error) {
	if want != "" {
		for _, in := range infos {
			if in.Name == want {
				return in, nil
			}
		}
		return ort.InputOutputInfo{}, fmt.Errorf("%s has no %s named %q (from the manifest); it has: %s", path, what, want, names(infos))
	}
	for _, name := range conventional {
		for _, in := range infos {
			if in.Name == name {
				return in, nil
			}
		}
	}
	var rest []ort.InputOutputInfo
	for _, in := range infos {
		if in.Name != exclude {
			rest = append(rest, in)
		}
	}
	if len(rest) == 1 {
		return rest[0], nil
	}
	return ort.InputOutputInfo{}, fmt.Errorf("%s has %d %ss (%s) and none has a conventional name: name the one to use in %s",
		path, len(rest), what, names(rest), filepath.Join(filepath.Dir(path), ManifestFile))
}

func (e *encoder) checkTypes(text bool) error {
	if e.output.DataType != ort.TensorElementDataTypeFloat {
		return fmt.Errorf("%s: output %q is %v; clipeval reads float32 embeddings", e.path, e.output.Name, e.output.DataType)
	}
	if len(e.output.Dimensions) != 2 {
		return fmt.Errorf("%s: output %q has shape %v; want [batch, embed_dim]", e.path, e.output.Name, e.output.Dimensions)
	}
	if text {
		if t := e.input.DataType; t != ort.TensorElementDataTypeInt64 && t != ort.TensorElementDataTypeInt32 {
			return fmt.Errorf("%s: input %q is %v; want int64 or int32 token ids", e.path, e.input.Name, t)
		}
		if len(e.input.Dimensions) != 2 {
			return fmt.Errorf("%s: input %q has shape %v; want [batch, context_length]", e.path, e.input.Name, e.input.Dimensions)
		}
		return nil
	}
	if e.input.DataType != ort.TensorElementDataTypeFloat {
		return fmt.Errorf("%s: input %q is %v; clipeval feeds float32 pixels (fp16 exports are not supported yet)", e.path, e.input.Name, e.input.DataType)
	}
	if d := e.input.Dimensions; len(d) != 4 || (d[1] > 0 && d[1] != 3) {
		return fmt.Errorf("%s: input %q has shape %v; want [batch, 3, height, width]", e.path, e.input.Name, d)
	}
	return nil
}

// fixedDim returns the declared size of dimension i, or 0 when it is dynamic.
func (e *encoder) fixedDim(i int) int {
	if d := e.input.Dimensions[i]; d > 0 {
		return int(d)
	}
	return 0
}

// runFloat runs the image graph on a [n, 3, size, size] batch, read in place, and returns [n, d] embeddings.
func (e *encoder) runFloat(ctx context.Context, pixels []float32, n, size int) ([]float32, int, error) {
	in, err := ort.NewTensor(ort.NewShape(int64(n), 3, int64(size), int64(size)), pixels)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: creating input tensor: %w", e.path, err)
	}
	defer in.Destroy()
	return e.run(ctx, []ort.Value{in}, n)
}

// runIDs runs the text graph on the first length ids of each row of ids [n, c] (and the attention mask ids != pad
// when the graph has one), converting them to the graph's integer types in f's buffers as needed; int64 ids of
// full rows are read in place.
func (e *encoder) runIDs(ctx context.Context, f *feed, ids []int64, n, c, length int, pad int64) ([]float32, int, error) {
	shape := ort.NewShape(int64(n), int64(length))
	if length < c {
		f.ids = grow(f.ids, n*length)
		for r := range n {
			copy(f.ids[r*length:(r+1)*length], ids[r*c:r*c+length])
		}
		ids = f.ids
	}
	inputs := make([]ort.Value, 0, 2)
	defer func() {
		for _, v := range inputs {
			v.Destroy()
		}
	}()
	// add feeds vals as the input info says: int64 in place, int32 converted into buf.
	add := func(info *ort.InputOutputInfo, vals []int64, buf *[]int32) error {
		var v ort.Value
		var err error
		if info.DataType == ort.TensorElementDataTypeInt32 {
			*buf = grow(*buf, len(vals))
			for i, x := range vals {
				(*buf)[i] = int32(x)
			}
			v, err = ort.NewTensor(shape, *buf)
		} else {
			v, err = ort.NewTensor(shape, vals)
		}
		if err != nil {
			return fmt.Errorf("%s: creating %s tensor: %w", e.path, info.Name, err)
		}
		inputs = append(inputs, v)
		return nil
	}
	if err := add(&e.input, ids, &f.ids32); err != nil {
		return nil, 0, err
	}
	if e.mask != nil {
		// As open_clip's HF text tower: attention_mask = (input_ids != pad_token_id).
		f.mask = grow(f.mask, len(ids))
		for i, id := range ids {
			f.mask[i] = 0
			if id != pad {
				f.mask[i] = 1
			}
		}
		if err := add(e.mask, f.mask, &f.mask32); err != nil {
			return nil, 0, err
		}
	}
	return e.run(ctx, inputs, n)
}

// run runs the session on inputs, one run at a time, and returns the [n, d] output. When the graph declares the
// output's width, ONNX Runtime writes the output straight into the returned slice; otherwise it is copied once from
// the tensor ONNX Runtime allocates.
func (e *encoder) run(ctx context.Context, inputs []ort.Value, n int) ([]float32, int, error) {
	outputs := []ort.Value{nil}
	var data []float32
	if d := e.output.Dimensions[1]; d > 0 {
		data = make([]float32, n*int(d))
		t, err := ort.NewTensor(ort.NewShape(int64(n), d), data)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: creating output tensor: %w", e.path, err)
		}
		outputs[0] = t
	}
	defer func() {
		if outputs[0] != nil {
			outputs[0].Destroy()
		}
	}()
	e.running.Lock()
	err := ctx.Err()
	if err == nil {
		err = e.session.Run(inputs, outputs)
	}
	e.running.Unlock()
	if err != nil {
		return nil, 0, fmt.Errorf("running %s: %w", e.path, err)
	}
	t, ok := outputs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, 0, fmt.Errorf("%s: output %q is not a float32 tensor", e.path, e.output.Name)
	}
	shape := t.GetShape()
	if len(shape) != 2 || shape[0] != int64(n) {
		return nil, 0, fmt.Errorf("%s: output %q has shape %v for a batch of %d; want [%d, embed_dim]", e.path, e.output.Name, shape, n, n)
	}
	if data == nil {
		data = append([]float32(nil), t.GetData()...)
	}
	return data, int(shape[1]), nil
}

func (e *encoder) close() {
	if e != nil && e.session != nil {
		e.session.Destroy()
	}
}

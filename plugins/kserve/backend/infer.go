package backend

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/clipeval/clipeval/plugins/kserve/client"
	inferencepb "github.com/clipeval/clipeval/plugins/proto/inference/v2"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// messageRoom is what a request may spend on tensor data under a message limit: the limit less room for the
// message's other fields (names, shapes, framing), 64 KiB or a sixteenth of a small limit.
func messageRoom(limit int) int {
	return limit - min(64<<10, limit/16)
}

// rowsPerRequest is how many rows of a tower's inputs one request carries: as many as fit the message limit (the
// request's inputs and the response's embeddings, rowBytes a row at most), and at most max_batch.
func (m *model) rowsPerRequest(t *tower, rowBytes int) (int, error) {
	rowBytes = max(rowBytes, 4*m.remote.embedDim)
	room := messageRoom(m.conn.MaxMessageBytes())
	if rowBytes > room {
		return 0, sdk.InvalidInput(fmt.Errorf("model %s: one input of %s is %d bytes, more than the %d MiB message limit allows: raise the %s option (and the server's limit, "+
			"clipeval serve --max-message-mb)", m.folder.Dir, t.model, rowBytes, m.conn.MaxMessageBytes()>>20, OptionMaxMessageMB))
	}
	n := room / rowBytes
	if m.opts.maxBatch > 0 {
		n = min(n, m.opts.maxBatch)
	}
	return n, nil
}

// encodePixels runs the image tower on pixels [n, 3, size, size], in as few requests as the limits allow.
func (m *model) encodePixels(ctx context.Context, pixels []float32, n int) (sdk.Matrix, error) {
	t := m.remote.image
	per := t.rowValues
	if len(pixels) != n*per {
		return sdk.Matrix{}, fmt.Errorf("%d pixel values for %d images of %d", len(pixels), n, per)
	}
	step, err := m.rowsPerRequest(t, 4*per)
	if err != nil {
		return sdk.Matrix{}, err
	}
	return m.batches(ctx, t, n, step, func(lo, hi int) ([]*inferencepb.ModelInferRequest_InferInputTensor, [][]byte, error) {
		in := &inferencepb.ModelInferRequest_InferInputTensor{Name: t.input.name, Datatype: inferencepb.DataTypeFP32,
			Shape: []int64{int64(hi - lo), 3, int64(m.folder.Image.Size), int64(m.folder.Image.Size)}}
		return []*inferencepb.ModelInferRequest_InferInputTensor{in}, [][]byte{inferencepb.RawFloat32(pixels[lo*per : hi*per])}, nil
	})
}

// encodeIDs runs the text tower on token ids [n, context_length] (and, when it takes one, their attention mask,
// ids != pad), in as few requests as the limits allow.
func (m *model) encodeIDs(ctx context.Context, ids []int64, n int) (sdk.Matrix, error) {
	t := m.remote.text
	c := t.rowValues
	if len(ids) != n*c {
		return sdk.Matrix{}, fmt.Errorf("%d token ids for %d texts of %d", len(ids), n, c)
	}
	rowBytes := inferencepb.ElementSize(t.input.datatype) * c
	if t.mask != nil {
		rowBytes += inferencepb.ElementSize(t.mask.datatype) * c
	}
	step, err := m.rowsPerRequest(t, rowBytes)
	if err != nil {
		return sdk.Matrix{}, err
	}
	pad := m.tok.PadID()
	return m.batches(ctx, t, n, step, func(lo, hi int) ([]*inferencepb.ModelInferRequest_InferInputTensor, [][]byte, error) {
		shape := []int64{int64(hi - lo), int64(c)}
		rows := ids[lo*c : hi*c]
		raw, err := rawInts(t.input.datatype, rows)
		if err != nil {
			return nil, nil, sdk.InvalidInput(fmt.Errorf("token ids for %s: %w", t.model, err))
		}
		ins := []*inferencepb.ModelInferRequest_InferInputTensor{{Name: t.input.name, Datatype: t.input.datatype, Shape: shape}}
		raws := [][]byte{raw}
		if t.mask != nil {
			mask := make([]int64, len(rows))
			for i, id := range rows {
				if id != pad {
					mask[i] = 1
				}
			}
			raw, _ := rawInts(t.mask.datatype, mask) // 0 and 1 fit either type
			ins = append(ins, &inferencepb.ModelInferRequest_InferInputTensor{Name: t.mask.name, Datatype: t.mask.datatype, Shape: shape})
			raws = append(raws, raw)
		}
		return ins, raws, nil
	})
}

// rawInts returns v as raw contents of the integer datatype (INT64 or INT32).
func rawInts(datatype string, v []int64) ([]byte, error) {
	if datatype == inferencepb.DataTypeINT32 {
		return inferencepb.RawInt32(v)
	}
	return inferencepb.RawInt64(v), nil
}

// batches runs tower t on n rows, step rows a request (inputs gives each request's tensors and their raw
// contents), and stacks the embeddings.
func (m *model) batches(ctx context.Context, t *tower, n, step int,
	inputs func(lo, hi int) ([]*inferencepb.ModelInferRequest_InferInputTensor, [][]byte, error)) (sdk.Matrix, error) {
	d := m.remote.embedDim
	out := make([]float32, 0, n*d)
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		ins, raws, err := inputs(lo, hi)
		if err != nil {
			return sdk.Matrix{}, err
		}
		req := &inferencepb.ModelInferRequest{ModelName: t.model, Inputs: ins, RawInputContents: raws,
			Outputs: []*inferencepb.ModelInferRequest_InferRequestedOutputTensor{{Name: t.output.name}}}
		if t.version != "" {
			req.ModelVersion = &t.version
		}
		resp, err := m.conn.Infer(ctx, req)
		if err != nil {
			return sdk.Matrix{}, callError(err)
		}
		emb, err := t.embeddings(resp, hi-lo, d)
		if err != nil {
			return sdk.Matrix{}, fmt.Errorf("inference server %s: %w", m.conn.Address(), err)
		}
		out = append(out, emb...)
	}
	return sdk.Matrix{Rows: n, Cols: d, Data: out}, nil
}

// callError marks a call the server refused for what it was sent (a request the served model does not take, a
// missing or wrong token, an unknown model) as bad input; any other failure (an unreachable server) stays an error.
func callError(err error) error {
	switch client.CodeOf(err) {
	case codes.InvalidArgument, codes.NotFound, codes.Unauthenticated, codes.PermissionDenied, codes.FailedPrecondition:
		return sdk.InvalidInput(err)
	}
	return err
}

// embeddings reads the embeddings of rows inputs, d values each, from a response of tower t: raw contents or
// fp32_contents, as the server chose.
func (t *tower) embeddings(resp *inferencepb.ModelInferResponse, rows, d int) ([]float32, error) {
	idx := -1
	for i, o := range resp.GetOutputs() {
		if o.GetName() == t.output.name {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("%s answered without the output %s it was asked for", t.model, t.output.name)
	}
	o := resp.GetOutputs()[idx]
	if o.GetDatatype() != inferencepb.DataTypeFP32 {
		return nil, fmt.Errorf("%s answered %s as %s; its metadata says FP32", t.model, o.GetName(), o.GetDatatype())
	}
	if sh := o.GetShape(); len(sh) != 2 || sh[0] != int64(rows) || sh[1] != int64(d) {
		return nil, fmt.Errorf("%s answered %s of shape %v for %d inputs; want [%d, %d]", t.model, o.GetName(), sh, rows, rows, d)
	}
	raw := resp.GetRawOutputContents()
	hasRaw := len(raw) > 0
	var data []byte
	if hasRaw {
		if len(raw) != len(resp.GetOutputs()) {
			return nil, fmt.Errorf("%s answered %d outputs with %d raw contents; the protocol wants one for each", t.model, len(resp.GetOutputs()), len(raw))
		}
		data = raw[idx]
	}
	v, err := inferencepb.Float32s(data, hasRaw, o.GetContents(), rows*d)
	if err != nil {
		return nil, fmt.Errorf("%s's output %s: %w", t.model, o.GetName(), err)
	}
	return v, nil
}

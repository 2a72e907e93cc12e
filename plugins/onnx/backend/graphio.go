package backend

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"

	ort "github.com/yalue/onnxruntime_go"
)

// Reading a graph's inputs and outputs from the ONNX file itself.
//
// ort.GetInputOutputInfo answers by creating a throwaway session, which for a full-size tower costs as much as the
// session clipeval keeps (1.4 to 1.8 s each for BiomedCLIP), and CheckModel paid it for nothing. What it reports is
// written in the file: ModelProto.graph.input and .output, ValueInfoProto messages of a few dozen bytes, beside the
// initializers that hold hundreds of megabytes. readGraphIO streams the file and seeks past everything else, so it
// reads a few pages of a 440 MB model (the tensors' raw bytes are skipped, never read) and needs no ONNX Runtime.
//
// Why not read the file once and hand the bytes to NewDynamicAdvancedSessionWithONNXData? CheckModel (and so
// `clipeval validate`) would then read the whole file to learn a few names; the bytes would double the peak memory
// of session creation (ONNX Runtime parses them into its own copy while the Go heap still holds them); and a model
// with external data resolves its tensor files relative to the model's path, which a byte array does not have.
//
// What ONNX Runtime reports, and so what readGraphIO returns:
//   - inputs: graph.input minus every name that is also an initializer (or sparse initializer): since IR version 4
//     an initializer may be listed as an input (to be overridable), and ONNX Runtime lists only true inputs;
//   - outputs: graph.output;
//   - for a tensor (or sparse tensor): its element type (TensorProto.DataType numbers are ONNX Runtime's
//     ONNXTensorElementDataType) and dims, dim_value as it is and a dim_param or an unset dimension as -1.
//
// One thing only ONNX Runtime knows: it runs shape inference and merges the inferred type into each graph output,
// so an output the file leaves without a shape or element type, or with a symbolic dimension that inference
// resolves, is reported more precisely by a session. inspectEncoder asks ONNX Runtime in that case (see
// declaredEnough); every exporter clipeval knows writes concrete output shapes, so it does not happen for them.

// Field numbers from onnx/onnx.proto.
const (
	pbModelIRVersion = 1
	pbModelGraph     = 7

	pbGraphInitializer       = 5
	pbGraphInput             = 11
	pbGraphOutput            = 12
	pbGraphSparseInitializer = 15

	pbTensorName       = 8
	pbSparseTensorVals = 1

	pbValueInfoName = 1
	pbValueInfoType = 2

	pbTypeTensor       = 1
	pbTypeSequence     = 4
	pbTypeMap          = 5
	pbTypeOpaque       = 7
	pbTypeSparseTensor = 8
	pbTypeOptional     = 9

	pbTensorTypeElem  = 1
	pbTensorTypeShape = 2
	pbShapeDim        = 1
	pbDimValue        = 1
)

// errNotONNX is what readGraphIO wraps when the bytes are not a well-formed ModelProto.
var errNotONNX = errors.New("not an ONNX model")

// graphIO is what an ONNX file declares about its main graph.
type graphIO struct {
	inputs, outputs []ort.InputOutputInfo
	// declared is, per output, whether the file gave it a shape (a nil Dimensions can be unset or a scalar).
	declared []bool
}

// readGraphIO reads the inputs and outputs an ONNX file's main graph declares, as ONNX Runtime reports them, without
// reading the weights.
func readGraphIO(path string) (*graphIO, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	r := &pbStream{f: f, r: bufio.NewReaderSize(f, 32<<10), size: st.Size()}
	g, err := r.model()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotONNX, err)
	}
	return g, nil
}

// pbStream reads protobuf fields from a file in order, skipping the ones not needed by seeking past them.
type pbStream struct {
	f    *os.File
	r    *bufio.Reader
	off  int64 // of the next byte r returns
	size int64
}

func (s *pbStream) byte() (byte, error) {
	b, err := s.r.ReadByte()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	s.off++
	return b, nil
}

func (s *pbStream) varint() (uint64, error) {
	var v uint64
	for i := 0; i < binary64Len; i++ {
		b, err := s.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("varint at byte %d is too long", s.off)
}

// binary64Len is the most bytes a varint takes.
const binary64Len = 10

// tag reads a field's tag; end is the offset where the enclosing message ends.
func (s *pbStream) tag(end int64) (protowire.Number, protowire.Type, error) {
	v, err := s.varint()
	if err != nil {
		return 0, 0, err
	}
	num, typ := protowire.DecodeTag(v)
	if num < protowire.MinValidNumber || s.off > end {
		return 0, 0, fmt.Errorf("bad field tag %#x before byte %d", v, s.off)
	}
	return num, typ, nil
}

// length reads a length prefix and checks that the field fits in the enclosing message ending at end.
func (s *pbStream) length(end int64) (int64, error) {
	n, err := s.varint()
	if err != nil {
		return 0, err
	}
	if n > uint64(end-s.off) {
		return 0, fmt.Errorf("field of %d bytes at byte %d runs past its message (which ends at byte %d)", n, s.off, end)
	}
	return int64(n), nil
}

// skip moves n bytes on, within the buffer when they are there, else by seeking.
func (s *pbStream) skip(n int64) error {
	if n <= int64(s.r.Buffered()) {
		_, err := s.r.Discard(int(n))
		s.off += n
		return err
	}
	if _, err := s.f.Seek(s.off+n, io.SeekStart); err != nil {
		return err
	}
	s.off += n
	s.r.Reset(s.f)
	return nil
}

// read returns the next n bytes (a small message).
func (s *pbStream) read(n int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	s.off += n
	return b, nil
}

// skipField skips the value of a field of wire type typ.
func (s *pbStream) skipField(typ protowire.Type, end int64) error {
	switch typ {
	case protowire.VarintType:
		_, err := s.varint()
		return err
	case protowire.Fixed32Type:
		return s.skipFixed(4, end)
	case protowire.Fixed64Type:
		return s.skipFixed(8, end)
	case protowire.BytesType:
		n, err := s.length(end)
		if err != nil {
			return err
		}
		return s.skip(n)
	}
	// ONNX has no groups: a group (or a reserved wire type) means these bytes are something else.
	return fmt.Errorf("unexpected wire type %d at byte %d", typ, s.off)
}

func (s *pbStream) skipFixed(n, end int64) error {
	if n > end-s.off {
		return fmt.Errorf("field at byte %d runs past its message", s.off)
	}
	return s.skip(n)
}

// fields calls f for every field of the message that ends at end; f must consume the field's value (and return
// handled true) or leave it to be skipped.
func (s *pbStream) fields(end int64, f func(num protowire.Number, typ protowire.Type) (handled bool, err error)) error {
	for s.off < end {
		num, typ, err := s.tag(end)
		if err != nil {
			return err
		}
		handled, err := f(num, typ)
		if err != nil {
			return err
		}
		if !handled {
			if err := s.skipField(typ, end); err != nil {
				return err
			}
		}
	}
	if s.off != end {
		return fmt.Errorf("message ends at byte %d, its last field at byte %d", end, s.off)
	}
	return nil
}

// message reads the length of a length-delimited field and returns where its value ends.
func (s *pbStream) message(typ protowire.Type, end int64) (int64, error) {
	if typ != protowire.BytesType {
		return 0, fmt.Errorf("field at byte %d has wire type %d, want a message", s.off, typ)
	}
	n, err := s.length(end)
	if err != nil {
		return 0, err
	}
	return s.off + n, nil
}

// model reads a ModelProto: its IR version and its graph's inputs, outputs and initializer names.
func (s *pbStream) model() (*graphIO, error) {
	var irVersion uint64
	var graphs int
	inits := map[string]bool{}
	var ins, outs [][]byte
	err := s.fields(s.size, func(num protowire.Number, typ protowire.Type) (bool, error) {
		switch {
		case num == pbModelIRVersion && typ == protowire.VarintType:
			v, err := s.varint()
			irVersion = v
			return true, err
		case num == pbModelGraph:
			end, err := s.message(typ, s.size)
			if err != nil {
				return true, err
			}
			graphs++
			return true, s.graph(end, inits, &ins, &outs)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if graphs == 0 || irVersion == 0 {
		return nil, errors.New("no ir_version or no graph")
	}
	g := &graphIO{}
	for _, raw := range ins {
		info, _, err := valueInfo(raw)
		if err != nil {
			return nil, fmt.Errorf("graph input: %w", err)
		}
		if !inits[info.Name] {
			g.inputs = append(g.inputs, info)
		}
	}
	for _, raw := range outs {
		info, declared, err := valueInfo(raw)
		if err != nil {
			return nil, fmt.Errorf("graph output: %w", err)
		}
		g.outputs = append(g.outputs, info)
		g.declared = append(g.declared, declared)
	}
	return g, nil
}

// graph reads a GraphProto ending at end: the raw input and output ValueInfoProtos and the initializers' names.
func (s *pbStream) graph(end int64, inits map[string]bool, ins, outs *[][]byte) error {
	return s.fields(end, func(num protowire.Number, typ protowire.Type) (bool, error) {
		switch num {
		case pbGraphInput, pbGraphOutput:
			vend, err := s.message(typ, end)
			if err != nil {
				return true, err
			}
			raw, err := s.read(vend - s.off)
			if num == pbGraphInput {
				*ins = append(*ins, raw)
			} else {
				*outs = append(*outs, raw)
			}
			return true, err
		case pbGraphInitializer:
			tend, err := s.message(typ, end)
			if err != nil {
				return true, err
			}
			name, err := s.tensorName(tend)
			inits[name] = true
			return true, err
		case pbGraphSparseInitializer:
			send, err := s.message(typ, end)
			if err != nil {
				return true, err
			}
			return true, s.fields(send, func(num protowire.Number, typ protowire.Type) (bool, error) {
				if num != pbSparseTensorVals {
					return false, nil
				}
				tend, err := s.message(typ, send)
				if err != nil {
					return true, err
				}
				name, err := s.tensorName(tend)
				inits[name] = true
				return true, err
			})
		}
		return false, nil
	})
}

// tensorName reads a TensorProto ending at end and returns its name, seeking past its data.
func (s *pbStream) tensorName(end int64) (string, error) {
	var name string
	err := s.fields(end, func(num protowire.Number, typ protowire.Type) (bool, error) {
		if num != pbTensorName || typ != protowire.BytesType {
			return false, nil
		}
		n, err := s.length(end)
		if err != nil {
			return true, err
		}
		b, err := s.read(n)
		name = string(b)
		return true, err
	})
	return name, err
}

// valueInfo decodes a ValueInfoProto as ONNX Runtime describes it; declared tells whether a tensor type has a shape.
func valueInfo(b []byte) (ort.InputOutputInfo, bool, error) {
	var info ort.InputOutputInfo
	declared := false
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == pbValueInfoName && typ == protowire.BytesType:
			info.Name = string(v)
		case num == pbValueInfoType && typ == protowire.BytesType:
			var err error
			declared, err = typeProto(v, &info)
			return err
		}
		return nil
	})
	return info, declared, err
}

// typeProto decodes a TypeProto into info's value type, element type and dimensions.
func typeProto(b []byte, info *ort.InputOutputInfo) (bool, error) {
	declared := false
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case pbTypeTensor, pbTypeSparseTensor:
			info.OrtValueType = ort.ONNXTypeTensor
			if num == pbTypeSparseTensor {
				info.OrtValueType = ort.ONNXTypeSparseTensor
			}
			info.DataType, info.Dimensions = ort.TensorElementDataTypeUndefined, nil
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				switch {
				case num == pbTensorTypeElem && typ == protowire.VarintType:
					x, _ := protowire.ConsumeVarint(v)
					info.DataType = ort.TensorElementDataType(int32(x))
				case num == pbTensorTypeShape && typ == protowire.BytesType:
					declared = true
					dims, err := shapeProto(v)
					info.Dimensions = dims
					return err
				}
				return nil
			})
		case pbTypeSequence:
			info.OrtValueType = ort.ONNXTypeSequence
		case pbTypeMap:
			info.OrtValueType = ort.ONNXTypeMap
		case pbTypeOpaque:
			info.OrtValueType = ort.ONNXTypeOpaque
		case pbTypeOptional:
			info.OrtValueType = ort.ONNXTypeOptional
		}
		return nil
	})
	if info.Dimensions == nil && (info.OrtValueType == ort.ONNXTypeTensor || info.OrtValueType == ort.ONNXTypeSparseTensor) {
		info.Dimensions = ort.Shape{} // as ONNX Runtime reports a tensor of unknown rank
	}
	return declared, err
}

// shapeProto decodes a TensorShapeProto: dim_value, or -1 for a dim_param or an unset dimension.
func shapeProto(b []byte) (ort.Shape, error) {
	dims := ort.Shape{}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != pbShapeDim || typ != protowire.BytesType {
			return nil
		}
		d := int64(-1)
		err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
			if num == pbDimValue && typ == protowire.VarintType {
				x, _ := protowire.ConsumeVarint(v)
				d = int64(x)
			}
			return nil
		})
		dims = append(dims, d)
		return err
	})
	return dims, err
}

// eachField calls f for each field of the message b with the field's value bytes (a varint's own bytes for
// varints).
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		v := b[:m]
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(v)
		}
		if err := f(num, typ, v); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}

// Package onnxpb writes ONNX models: just enough of onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto, ValueInfoProto) to describe the analytic demo models of internal/demogen and the full-size benchmark
// models of internal/benchmodel.
//
// Messages are encoded by hand with protowire from the field numbers of onnx/onnx.proto; no generated code is
// needed. Encoding is deterministic: the same Model always gives the same bytes. Model.WriteTo streams the
// initializers' data, so writing a model of hundreds of megabytes needs little memory beyond its weights.
package onnxpb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// DataType is an ONNX TensorProto.DataType value.
type DataType int32

// Element types used by the demo models (TensorProto.DataType in onnx.proto).
const (
	Float DataType = 1
	Int64 DataType = 7
)

// Model is an ONNX ModelProto with one default-domain opset import.
type Model struct {
	// IRVersion is ModelProto.ir_version (8 pairs with opsets 17 and 18).
	IRVersion int64
	// Opset is the version of the default ("ai.onnx") operator set imported.
	Opset int64
	// ProducerName and ProducerVersion say what wrote the model.
	ProducerName, ProducerVersion string
	// DocString documents the model.
	DocString string
	// Graph is the model's main graph.
	Graph Graph
	// Metadata is ModelProto.metadata_props, in order (ONNX Runtime reports it as the model's custom metadata).
	Metadata []KeyValue
}

// KeyValue is an ONNX StringStringEntryProto.
type KeyValue struct {
	Key, Value string
}

// Graph is an ONNX GraphProto.
type Graph struct {
	Name         string
	DocString    string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Node is an ONNX NodeProto in the default domain.
type Node struct {
	Name       string
	OpType     string
	Inputs     []string
	Outputs    []string
	Attributes []Attribute
}

// Attribute is an ONNX AttributeProto holding an INT, an INTS or a FLOAT value.
type Attribute struct {
	Name string
	// Ints, when non-nil, makes this an INTS attribute; otherwise it is the INT attribute Int, unless IsFloat is set.
	Ints []int64
	Int  int64
	// IsFloat makes this the FLOAT attribute Float.
	IsFloat bool
	Float   float32
}

// IntAttr returns an INT attribute.
func IntAttr(name string, v int64) Attribute { return Attribute{Name: name, Int: v} }

// IntsAttr returns an INTS attribute.
func IntsAttr(name string, v ...int64) Attribute {
	if v == nil {
		v = []int64{}
	}
	return Attribute{Name: name, Ints: v}
}

// FloatAttr returns a FLOAT attribute.
func FloatAttr(name string, v float32) Attribute {
	return Attribute{Name: name, IsFloat: true, Float: v}
}

// Tensor is an ONNX TensorProto (an initializer), stored as little-endian raw_data.
type Tensor struct {
	Name string
	Dims []int64
	// Exactly one of Float32 (for Float) and Int64s (for Int64) holds the row-major values.
	Float32 []float32
	Int64s  []int64
}

// FloatTensor returns a float32 tensor.
func FloatTensor(name string, dims []int64, values []float32) Tensor {
	return Tensor{Name: name, Dims: dims, Float32: values}
}

// Int64Tensor returns an int64 tensor.
func Int64Tensor(name string, dims []int64, values []int64) Tensor {
	return Tensor{Name: name, Dims: dims, Int64s: values}
}

// Dim is one dimension of a ValueInfo shape: a fixed size, or a symbolic name when Param is set.
type Dim struct {
	Value int64
	Param string
}

// ValueInfo is an ONNX ValueInfoProto of a tensor type (a graph input or output).
type ValueInfo struct {
	Name     string
	ElemType DataType
	Shape    []Dim
}

// Field numbers from onnx/onnx.proto.
const (
	modelIRVersion       = 1
	modelProducerName    = 2
	modelProducerVersion = 3
	modelDocString       = 6
	modelGraph           = 7
	modelOpsetImport     = 8
	modelMetadataProps   = 14

	entryKey   = 1
	entryValue = 2

	opsetDomain  = 1
	opsetVersion = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphDocString   = 10
	graphInput       = 11
	graphOutput      = 12

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5

	attrName = 1
	attrF    = 2
	attrI    = 3
	attrInts = 8
	attrType = 20

	attrTypeFloat = 1
	attrTypeInt   = 2
	attrTypeInts  = 7

	tensorDims     = 1
	tensorDataType = 2
	tensorName     = 8
	tensorRawData  = 9

	valueInfoName = 1
	valueInfoType = 2

	typeTensorType = 1
	tensorElemType = 1
	tensorShape    = 2
	shapeDim       = 1
	dimValue       = 1
	dimParam       = 2
)

// Marshal encodes the model as an ONNX file's bytes. It fails when a tensor's values do not match its dims.
func (m *Model) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTo writes the model's encoding (the bytes Marshal returns) to w and returns the number of bytes written.
// Initializer data is converted and written in small chunks, never held twice. Every tensor is checked before the
// first byte is written, so a malformed model writes nothing.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	g, err := m.Graph.layout()
	if err != nil {
		return 0, fmt.Errorf("onnx model %q: %w", m.Graph.Name, err)
	}
	var head []byte
	head = appendVarintField(head, modelIRVersion, uint64(m.IRVersion))
	head = appendStringField(head, modelProducerName, m.ProducerName)
	head = appendStringField(head, modelProducerVersion, m.ProducerVersion)
	head = appendStringField(head, modelDocString, m.DocString)
	head = protowire.AppendTag(head, modelGraph, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(g.size()))
	var opset []byte
	opset = appendStringField(opset, opsetDomain, "")
	opset = appendVarintField(opset, opsetVersion, uint64(m.Opset))
	tail := appendBytesField(nil, modelOpsetImport, opset)
	for _, kv := range m.Metadata {
		var e []byte
		e = appendStringField(e, entryKey, kv.Key)
		e = appendStringField(e, entryValue, kv.Value)
		tail = appendBytesField(tail, modelMetadataProps, e)
	}

	cw := &countingWriter{w: bufio.NewWriterSize(w, 1<<20)}
	cw.write(head)
	g.writeTo(cw)
	cw.write(tail)
	if cw.err == nil {
		cw.err = cw.w.(*bufio.Writer).Flush()
	}
	if cw.err != nil {
		return cw.n, fmt.Errorf("writing onnx model %q: %w", m.Graph.Name, cw.err)
	}
	return cw.n, nil
}

// countingWriter counts what it writes and keeps the first error, after which it writes nothing.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

// graphLayout is a graph's encoding in pieces: the fields before the initializers, each initializer's header (all
// of its TensorProto up to its raw_data bytes), and the fields after.
type graphLayout struct {
	head, tail []byte
	tensors    []*Tensor
	headers    [][]byte
	rawLens    []int
}

func (g *Graph) layout() (*graphLayout, error) {
	l := &graphLayout{}
	for _, n := range g.Nodes {
		l.head = appendBytesField(l.head, graphNode, n.marshal())
	}
	l.head = appendStringField(l.head, graphName, g.Name)
	for i := range g.Initializers {
		t := &g.Initializers[i]
		h, rawLen, err := t.header()
		if err != nil {
			return nil, err
		}
		l.tensors, l.headers, l.rawLens = append(l.tensors, t), append(l.headers, h), append(l.rawLens, rawLen)
	}
	l.tail = appendStringField(l.tail, graphDocString, g.DocString)
	for _, v := range g.Inputs {
		l.tail = appendBytesField(l.tail, graphInput, v.marshal())
	}
	for _, v := range g.Outputs {
		l.tail = appendBytesField(l.tail, graphOutput, v.marshal())
	}
	return l, nil
}

// size is the length of the GraphProto's encoding.
func (l *graphLayout) size() int {
	n := len(l.head) + len(l.tail)
	for i, h := range l.headers {
		n += protowire.SizeTag(graphInitializer) + protowire.SizeBytes(len(h)+l.rawLens[i])
	}
	return n
}

func (l *graphLayout) writeTo(w *countingWriter) {
	w.write(l.head)
	var buf []byte
	for i, t := range l.tensors {
		field := protowire.AppendTag(buf[:0], graphInitializer, protowire.BytesType)
		field = protowire.AppendVarint(field, uint64(len(l.headers[i])+l.rawLens[i]))
		w.write(field)
		w.write(l.headers[i])
		buf = t.writeRaw(w, field[:0])
	}
	w.write(l.tail)
}

// rawChunk is how many values writeRaw converts at a time.
const rawChunk = 16384

// writeRaw writes the tensor's values as little-endian raw_data bytes, through buf (returned for reuse).
func (t *Tensor) writeRaw(w *countingWriter, buf []byte) []byte {
	for i := 0; i < len(t.Float32); i += rawChunk {
		buf = buf[:0]
		for _, v := range t.Float32[i:min(i+rawChunk, len(t.Float32))] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		w.write(buf)
	}
	for i := 0; i < len(t.Int64s); i += rawChunk {
		buf = buf[:0]
		for _, v := range t.Int64s[i:min(i+rawChunk, len(t.Int64s))] {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
		}
		w.write(buf)
	}
	return buf
}

func (n *Node) marshal() []byte {
	var b []byte
	for _, s := range n.Inputs {
		b = protowire.AppendTag(b, nodeInput, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	for _, s := range n.Outputs {
		b = protowire.AppendTag(b, nodeOutput, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	b = appendStringField(b, nodeName, n.Name)
	b = appendStringField(b, nodeOpType, n.OpType)
	for _, a := range n.Attributes {
		b = appendBytesField(b, nodeAttribute, a.marshal())
	}
	return b
}

func (a *Attribute) marshal() []byte {
	var b []byte
	b = appendStringField(b, attrName, a.Name)
	if a.IsFloat {
		b = protowire.AppendTag(b, attrF, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.Float))
		return appendVarintField(b, attrType, attrTypeFloat)
	}
	if a.Ints != nil {
		var packed []byte
		for _, v := range a.Ints {
			packed = protowire.AppendVarint(packed, uint64(v))
		}
		// Repeated scalars may be written packed or unpacked; parsers must accept both.
		b = appendBytesField(b, attrInts, packed)
		return appendVarintField(b, attrType, attrTypeInts)
	}
	b = protowire.AppendTag(b, attrI, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.Int))
	return appendVarintField(b, attrType, attrTypeInt)
}

// marshal encodes the tensor as a whole TensorProto (for tests; WriteTo streams the raw data instead).
func (t *Tensor) marshal() ([]byte, error) {
	h, _, err := t.header()
	if err != nil {
		return nil, err
	}
	cw := &countingWriter{w: &bytes.Buffer{}}
	cw.write(h)
	t.writeRaw(cw, nil)
	return cw.w.(*bytes.Buffer).Bytes(), nil
}

// header checks the tensor and encodes its TensorProto up to and including raw_data's tag and length; rawLen is the
// number of raw_data bytes that follow.
func (t *Tensor) header() (b []byte, rawLen int, err error) {
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("initializer %q has negative dimension %d in %v", t.Name, d, t.Dims)
		}
		n *= d
	}
	var dtype DataType
	var count int
	switch {
	case t.Float32 != nil && t.Int64s == nil:
		dtype, count, rawLen = Float, len(t.Float32), 4*len(t.Float32)
	case t.Int64s != nil && t.Float32 == nil:
		dtype, count, rawLen = Int64, len(t.Int64s), 8*len(t.Int64s)
	default:
		return nil, 0, fmt.Errorf("initializer %q must set exactly one of Float32 and Int64s", t.Name)
	}
	if int64(count) != n {
		return nil, 0, fmt.Errorf("initializer %q has %d values for dims %v (%d expected)", t.Name, count, t.Dims, n)
	}
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, tensorDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = appendVarintField(b, tensorDataType, uint64(dtype))
	b = appendStringField(b, tensorName, t.Name)
	b = protowire.AppendTag(b, tensorRawData, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(rawLen))
	return b, rawLen, nil
}

func (v *ValueInfo) marshal() []byte {
	var shape []byte
	for _, d := range v.Shape {
		var db []byte
		if d.Param != "" {
			db = appendStringField(db, dimParam, d.Param)
		} else {
			db = protowire.AppendTag(db, dimValue, protowire.VarintType)
			db = protowire.AppendVarint(db, uint64(d.Value))
		}
		shape = appendBytesField(shape, shapeDim, db)
	}
	var tensor []byte
	tensor = appendVarintField(tensor, tensorElemType, uint64(v.ElemType))
	tensor = appendBytesField(tensor, tensorShape, shape)
	var typ []byte
	typ = appendBytesField(typ, typeTensorType, tensor)
	var b []byte
	b = appendStringField(b, valueInfoName, v.Name)
	return appendBytesField(b, valueInfoType, typ)
}

// appendVarintField writes a varint field, omitting the default zero as proto2 writers do for unset fields.
func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendStringField writes a string field, omitting the empty string.
func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendBytesField writes a length-delimited field (a nested message or bytes), even when empty: an empty nested
// message still marks the field as present.
func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// Package onnxpb writes small ONNX models: just enough of onnx.proto (ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto) to describe the analytic demo models of internal/demogen.
//
// Messages are encoded by hand with protowire from the field numbers of onnx/onnx.proto; no generated code is
// needed. Encoding is deterministic: the same Model always gives the same bytes.
package onnxpb

import (
	"encoding/binary"
	"fmt"
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

// Attribute is an ONNX AttributeProto holding an INT or an INTS value.
type Attribute struct {
	Name string
	// Ints, when non-nil, makes this an INTS attribute; otherwise it is the INT attribute Int.
	Ints []int64
	Int  int64
}

// IntAttr returns an INT attribute.
func IntAttr(name string, v int64) Attribute { return Attribute{Name: name, Int: v} }

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
	attrI    = 3
	attrInts = 8
	attrType = 20

	attrTypeInt  = 2
	attrTypeInts = 7

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
	graph, err := m.Graph.marshal()
	if err != nil {
		return nil, fmt.Errorf("onnx model %q: %w", m.Graph.Name, err)
	}
	var b []byte
	b = appendVarintField(b, modelIRVersion, uint64(m.IRVersion))
	b = appendStringField(b, modelProducerName, m.ProducerName)
	b = appendStringField(b, modelProducerVersion, m.ProducerVersion)
	b = appendStringField(b, modelDocString, m.DocString)
	b = appendBytesField(b, modelGraph, graph)
	var opset []byte
	opset = appendStringField(opset, opsetDomain, "")
	opset = appendVarintField(opset, opsetVersion, uint64(m.Opset))
	b = appendBytesField(b, modelOpsetImport, opset)
	return b, nil
}

func (g *Graph) marshal() ([]byte, error) {
	var b []byte
	for _, n := range g.Nodes {
		b = appendBytesField(b, graphNode, n.marshal())
	}
	b = appendStringField(b, graphName, g.Name)
	for _, t := range g.Initializers {
		tb, err := t.marshal()
		if err != nil {
			return nil, err
		}
		b = appendBytesField(b, graphInitializer, tb)
	}
	b = appendStringField(b, graphDocString, g.DocString)
	for _, v := range g.Inputs {
		b = appendBytesField(b, graphInput, v.marshal())
	}
	for _, v := range g.Outputs {
		b = appendBytesField(b, graphOutput, v.marshal())
	}
	return b, nil
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

func (t *Tensor) marshal() ([]byte, error) {
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 {
			return nil, fmt.Errorf("initializer %q has negative dimension %d in %v", t.Name, d, t.Dims)
		}
		n *= d
	}
	var dtype DataType
	var count int
	var raw []byte
	switch {
	case t.Float32 != nil && t.Int64s == nil:
		dtype, count = Float, len(t.Float32)
		for _, v := range t.Float32 {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	case t.Int64s != nil && t.Float32 == nil:
		dtype, count = Int64, len(t.Int64s)
		for _, v := range t.Int64s {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		}
	default:
		return nil, fmt.Errorf("initializer %q must set exactly one of Float32 and Int64s", t.Name)
	}
	if int64(count) != n {
		return nil, fmt.Errorf("initializer %q has %d values for dims %v (%d expected)", t.Name, count, t.Dims, n)
	}
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, tensorDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = appendVarintField(b, tensorDataType, uint64(dtype))
	b = appendStringField(b, tensorName, t.Name)
	b = appendBytesField(b, tensorRawData, raw)
	return b, nil
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

package onnxpb

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// onnx.proto field numbers ScaleInitializer walks through.
const (
	modelGraphField       protowire.Number = 7 // ModelProto.graph
	graphInitializerField protowire.Number = 5 // GraphProto.initializer
	tensorDataTypeField   protowire.Number = 2 // TensorProto.data_type
	tensorFloatDataField  protowire.Number = 4 // TensorProto.float_data (packed)
	tensorNameField       protowire.Number = 8 // TensorProto.name
	tensorRawDataField    protowire.Number = 9 // TensorProto.raw_data
	tensorDataTypeFloat                    = 1 // TensorProto.DataType.FLOAT
	minScaledElements                      = 64
)

// ScaleInitializer multiplies every value of the first float32 initializer of at least 64 elements whose name
// contains match by factor, in a serialized ModelProto, and returns the new model and the initializer's name: a
// deliberately perturbed export for tests of `clipeval verify-export`. Every other byte of the model is kept.
func ScaleInitializer(model []byte, match string, factor float32) ([]byte, string, error) {
	var name string
	out, err := rewriteField(model, modelGraphField, func(graph []byte) ([]byte, bool, error) {
		return rewriteEach(graph, graphInitializerField, func(tensor []byte) ([]byte, bool, error) {
			if name != "" {
				return tensor, false, nil
			}
			scaled, n, ok, err := scaleTensor(tensor, match, factor)
			if ok {
				name = n
			}
			return scaled, ok, err
		})
	})
	if err != nil {
		return nil, "", err
	}
	if name == "" {
		return nil, "", fmt.Errorf("onnx model has no float32 initializer of %d or more values named like %q to scale", minScaledElements, match)
	}
	return out, name, nil
}

// rewriteField replaces the first bytes field num of msg by what edit returns.
func rewriteField(msg []byte, num protowire.Number, edit func([]byte) ([]byte, bool, error)) ([]byte, error) {
	done := false
	out, _, err := rewriteEach(msg, num, func(b []byte) ([]byte, bool, error) {
		if done {
			return b, false, nil
		}
		done = true
		return edit(b)
	})
	return out, err
}

// rewriteEach re-encodes msg, passing every bytes field num through edit; other fields are copied as they are.
func rewriteEach(msg []byte, num protowire.Number, edit func([]byte) ([]byte, bool, error)) ([]byte, bool, error) {
	out := make([]byte, 0, len(msg))
	changed := false
	for len(msg) > 0 {
		n, typ, tagLen := protowire.ConsumeTag(msg)
		if tagLen < 0 {
			return nil, false, fmt.Errorf("onnx model: bad protobuf tag: %w", protowire.ParseError(tagLen))
		}
		valLen := protowire.ConsumeFieldValue(n, typ, msg[tagLen:])
		if valLen < 0 {
			return nil, false, fmt.Errorf("onnx model: bad protobuf field %d: %w", n, protowire.ParseError(valLen))
		}
		field := msg[:tagLen+valLen]
		msg = msg[tagLen+valLen:]
		if n != num || typ != protowire.BytesType {
			out = append(out, field...)
			continue
		}
		v, _ := protowire.ConsumeBytes(field[tagLen:])
		nv, ok, err := edit(v)
		if err != nil {
			return nil, false, err
		}
		changed = changed || ok
		out = protowire.AppendTag(out, n, protowire.BytesType)
		out = protowire.AppendBytes(out, nv)
	}
	return out, changed, nil
}

// scaleTensor scales a float32 TensorProto's raw_data or float_data; ok reports whether it was such a tensor.
func scaleTensor(t []byte, match string, factor float32) (out []byte, name string, ok bool, err error) {
	isFloat := false
	for rest := t; len(rest) > 0; {
		n, typ, tagLen := protowire.ConsumeTag(rest)
		valLen := protowire.ConsumeFieldValue(n, typ, rest[tagLen:])
		if tagLen < 0 || valLen < 0 {
			return nil, "", false, fmt.Errorf("onnx model: bad tensor encoding")
		}
		switch {
		case n == tensorDataTypeField && typ == protowire.VarintType:
			v, _ := protowire.ConsumeVarint(rest[tagLen:])
			isFloat = v == tensorDataTypeFloat
		case n == tensorNameField && typ == protowire.BytesType:
			v, _ := protowire.ConsumeBytes(rest[tagLen:])
			name = string(v)
		}
		rest = rest[tagLen+valLen:]
	}
	if !isFloat || !strings.Contains(name, match) {
		return t, "", false, nil
	}
	for _, field := range []protowire.Number{tensorRawDataField, tensorFloatDataField} {
		scaled := false
		out, _, err = rewriteEach(t, field, func(b []byte) ([]byte, bool, error) {
			if len(b)%4 != 0 || len(b)/4 < minScaledElements {
				return b, false, nil
			}
			nb := make([]byte, len(b))
			for i := 0; i < len(b); i += 4 {
				v := math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
				binary.LittleEndian.PutUint32(nb[i:], math.Float32bits(v*factor))
			}
			scaled = true
			return nb, true, nil
		})
		if err != nil || scaled {
			return out, name, scaled, err
		}
	}
	return t, "", false, nil
}

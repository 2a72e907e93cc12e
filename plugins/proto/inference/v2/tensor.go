// Package inferencepb is the Open Inference Protocol's gRPC binding (KServe V2, as KServe and NVIDIA Triton serve
// it): the Go code protoc generates from grpc_predict_v2.proto, and in this hand-written file (protoc does not
// touch it) the byte layout of tensor data, shared by both of clipeval's ends (clipeval serve and the kserve
// backend).
package inferencepb

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The protocol's data types that clipeval's towers take and give (the specification's names, case-sensitive).
const (
	// DataTypeFP32 is IEEE 754 binary32: pixels and embeddings.
	DataTypeFP32 = "FP32"
	// DataTypeINT64 is a signed 64-bit integer: token ids as open_clip feeds them.
	DataTypeINT64 = "INT64"
	// DataTypeINT32 is a signed 32-bit integer: token ids of exports that take them narrower.
	DataTypeINT32 = "INT32"
)

// ElementSize returns the bytes one element of datatype takes in raw contents, or 0 for a type this package does
// not read or write.
func ElementSize(datatype string) int {
	switch datatype {
	case DataTypeFP32, DataTypeINT32:
		return 4
	case DataTypeINT64:
		return 8
	}
	return 0
}

// ElementCount returns the number of elements a tensor of shape holds. It refuses a negative dimension (a tensor's
// shape, unlike metadata, has no variable dimensions) and a count above max.
func ElementCount(shape []int64, max int) (int, error) {
	n := int64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v: dimension %d is %d; a tensor's dimensions are 0 or more", shape, i, d)
		}
		if d != 0 && n > int64(max)/d {
			return 0, fmt.Errorf("shape %v holds more than %d elements", shape, max)
		}
		n *= d
	}
	return int(n), nil
}

// RawFloat32 returns v as raw tensor contents: each value's IEEE 754 bits, little-endian, in order.
func RawFloat32(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// RawInt64 returns v as raw INT64 tensor contents: little-endian two's complement, in order.
func RawInt64(v []int64) []byte {
	out := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(out[8*i:], uint64(x))
	}
	return out
}

// RawInt32 returns v as raw INT32 tensor contents, refusing a value out of the 32-bit range.
func RawInt32(v []int64) ([]byte, error) {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		if x < math.MinInt32 || x > math.MaxInt32 {
			return nil, fmt.Errorf("value %d (element %d) does not fit INT32", x, i)
		}
		binary.LittleEndian.PutUint32(out[4*i:], uint32(int32(x)))
	}
	return out, nil
}

// Float32s returns the n elements of an FP32 tensor, from its raw contents when hasRaw (the message carried
// raw_*_contents) and else from contents.fp32_contents. It refuses a size that is not n elements.
func Float32s(raw []byte, hasRaw bool, contents *InferTensorContents, n int) ([]float32, error) {
	if !hasRaw {
		v := contents.GetFp32Contents()
		if len(v) != n {
			return nil, fmt.Errorf("fp32_contents holds %d values; the shape makes %d", len(v), n)
		}
		return v, nil
	}
	if len(raw) != 4*n {
		return nil, fmt.Errorf("raw contents are %d bytes; %d FP32 values are %d", len(raw), n, 4*n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

// Ints returns the n elements of an INT64 or INT32 tensor (widened), from its raw contents when hasRaw and else
// from contents (int64_contents, int_contents). It refuses another data type and a size that is not n elements.
func Ints(datatype string, raw []byte, hasRaw bool, contents *InferTensorContents, n int) ([]int64, error) {
	switch datatype {
	case DataTypeINT64:
		if !hasRaw {
			v := contents.GetInt64Contents()
			if len(v) != n {
				return nil, fmt.Errorf("int64_contents holds %d values; the shape makes %d", len(v), n)
			}
			return v, nil
		}
		if len(raw) != 8*n {
			return nil, fmt.Errorf("raw contents are %d bytes; %d INT64 values are %d", len(raw), n, 8*n)
		}
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		return out, nil
	case DataTypeINT32:
		out := make([]int64, n)
		if !hasRaw {
			v := contents.GetIntContents()
			if len(v) != n {
				return nil, fmt.Errorf("int_contents holds %d values; the shape makes %d", len(v), n)
			}
			for i, x := range v {
				out[i] = int64(x)
			}
			return out, nil
		}
		if len(raw) != 4*n {
			return nil, fmt.Errorf("raw contents are %d bytes; %d INT32 values are %d", len(raw), n, 4*n)
		}
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("data type %q is not an integer type clipeval reads (INT64, INT32)", datatype)
}

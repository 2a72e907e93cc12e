package onnxpb

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScaleInitializer(t *testing.T) {
	small := FloatTensor("bias", []int64{2}, []float32{1, 2})
	values := make([]float32, 64)
	for i := range values {
		values[i] = float32(i)
	}
	big := FloatTensor("weight", []int64{8, 8}, values)
	m := &Model{Graph: Graph{Name: "g", Initializers: []Tensor{small, big}}}
	raw, err := m.Marshal()
	require.NoError(t, err)

	out, name, err := ScaleInitializer(raw, "", 2)
	require.NoError(t, err)
	assert.Equal(t, "weight", name, "the 2-value bias is too small to be picked")
	assert.Equal(t, len(raw), len(out))
	want := &Model{Graph: Graph{Name: "g", Initializers: []Tensor{small, FloatTensor("weight", []int64{8, 8}, scaled(values, 2))}}}
	wantRaw, err := want.Marshal()
	require.NoError(t, err)
	assert.Equal(t, wantRaw, out)

	_, _, err = ScaleInitializer(wantRawWithout(t), "", 2)
	assert.ErrorContains(t, err, "no float32 initializer of 64 or more values")
	_, _, err = ScaleInitializer(raw, "proj", 2)
	assert.ErrorContains(t, err, `named like "proj"`)
	_, _, err = ScaleInitializer([]byte{0xff}, "", 2)
	assert.ErrorContains(t, err, "bad protobuf")
}

func scaled(v []float32, f float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * f
	}
	return out
}

func wantRawWithout(t *testing.T) []byte {
	m := &Model{Graph: Graph{Name: "g", Initializers: []Tensor{Int64Tensor("shape", []int64{1}, []int64{3})}}}
	raw, err := m.Marshal()
	require.NoError(t, err)
	return raw
}

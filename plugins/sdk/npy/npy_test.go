package npy

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   *Array
	}{
		{"float32 matrix", Float32Array([]int{2, 3}, []float32{1, -2.5, 3, 0, 1e-7, 42})},
		{"int64 vector", Int64Array([]int{3}, []int64{49406, -1, 0})},
		{"float64 scalar", &Array{Shape: []int{}, DType: "<f8", Float64: []float64{3.25}}},
		{"uint8 empty rows", &Array{Shape: []int{0, 4}, DType: "|u1", Uint8: []uint8{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, Write(&buf, tc.in))
			assert.Zero(t, (buf.Len()-len(dataOf(tc.in)))%64, "header must be 64-byte aligned")
			got, err := Read(&buf)
			require.NoError(t, err)
			assert.Equal(t, tc.in, got)
		})
	}
}

// withHeader returns a version 1.0 stream with the given header and no data.
func withHeader(h string) string {
	return "\x93NUMPY\x01\x00" + string([]byte{byte(len(h)), 0}) + h
}

// truncated returns a valid two-float .npy stream cut one byte short.
func truncated() string {
	var buf bytes.Buffer
	_ = Write(&buf, Float32Array([]int{2}, []float32{1, 2}))
	return buf.String()[:buf.Len()-1]
}

func dataOf(a *Array) []byte {
	var buf bytes.Buffer
	_ = Write(&buf, a)
	b := buf.Bytes()
	hlen := int(b[8]) | int(b[9])<<8
	return b[10+hlen:]
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "reading magic"},
		{"bad magic", "PK\x03\x04abcdefgh", "bad magic"},
		{"fortran", withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }"), "Fortran"},
		{"dtype", withHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }"), "unsupported dtype"},
		{"short data", truncated(), "reading 2 <f4 values"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader([]byte(tc.in)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNPZRoundTripAndReference(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npz")
	in := map[string]*Array{"a": Float32Array([]int{1, 2}, []float32{1, 2}), "b": Int64Array([]int{1}, []int64{7})}
	require.NoError(t, WriteNPZ(path, in))
	got, err := ReadNPZ(path)
	require.NoError(t, err)
	assert.Equal(t, in["a"].Float32, got["a"].Float32)
	assert.Equal(t, in["b"].Int64, got["b"].Int64)

	ref, err := ReadNPZ(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.npz"))
	require.NoError(t, err)
	assert.Equal(t, []int{13, 3, 224, 224}, ref["pixels"].Shape)
	assert.Equal(t, []int{48, 256}, ref["biomedclip_token_ids"].Shape)
	assert.Equal(t, int64(2), ref["biomedclip_token_ids"].Int64[0], "[CLS] starts every BERT row")
	assert.Equal(t, int64(49406), ref["clip_token_ids"].Int64[0], "<start_of_text> starts every CLIP row")
}

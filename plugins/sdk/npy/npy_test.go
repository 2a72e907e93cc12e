package npy

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// TestHostileHeadersRefusedBeforeAllocating: a shape whose element count overflows (2, 2^62) once panicked in
// makeslice; a header declaring more data than the file or archive member holds is refused before any allocation,
// by every reader.
func TestHostileHeadersRefusedBeforeAllocating(t *testing.T) {
	dir := t.TempDir()
	overflow := headerBytes("<f4", []int{2, 1 << 62})
	huge := append(headerBytes("<f4", []int{1000, 1000, 1000}), make([]byte, 64)...)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"overflowing shape", overflow, "npy: shape (2, 4611686018427387904) holds more than 17179869184 elements; refusing it"},
		{"shape past the limit", headerBytes("<f8", []int{1 << 32, 3}), "npy: array of 12884901888 <f8 values (103079215104 bytes) is larger than the 17179869184 bytes clipeval reads"},
		{"more than the file holds", huge, "npy: reading 1000000000 <f4 values: shape [1000 1000 1000] needs 4000000000 bytes of data, the file has 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".npy")
			require.NoError(t, os.WriteFile(p, tc.data, 0o644))
			_, err := ReadFile(p)
			assert.ErrorContains(t, err, tc.want)
			z := strings.TrimSuffix(p, ".npy") + ".npz"
			f, err := os.Create(z)
			require.NoError(t, err)
			zw := zip.NewWriter(f)
			w, err := zw.CreateHeader(&zip.FileHeader{Name: "x.npy", Method: zip.Store})
			require.NoError(t, err)
			_, err = w.Write(tc.data)
			require.NoError(t, err)
			require.NoError(t, zw.Close())
			require.NoError(t, f.Close())
			_, err = ReadNPZ(z)
			assert.ErrorContains(t, err, "member x.npy: ")
			assert.ErrorContains(t, err, tc.want)
		})
	}
	p := filepath.Join(dir, "overflow-map.npy")
	require.NoError(t, os.WriteFile(p, overflow, 0o644))
	_, err := MapFloat32(p)
	assert.ErrorContains(t, err, "holds more than 17179869184 elements")
	_, err = Read(bytes.NewReader(overflow))
	assert.ErrorContains(t, err, "holds more than 17179869184 elements")
}

// TestReadNPZRefusesAManyMemberBomb: members of 1 MiB of zeros each pass the per-member expansion bound (1 MiB of
// slack), but together they would expand the archive far past 100 times its size: refused before inflating.
func TestReadNPZRefusesAManyMemberBomb(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bomb.npz")
	f, err := os.Create(p)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	zeros := make([]byte, 1<<20-128)
	for i := range 8 {
		w, err := zw.Create(fmt.Sprintf("m%d.npy", i))
		require.NoError(t, err)
		_, err = w.Write(headerBytes("|u1", []int{len(zeros)}))
		require.NoError(t, err)
		_, err = w.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	_, err = ReadNPZ(p)
	assert.ErrorContains(t, err, "bytes or more, over 100 times its size: refusing what looks like a decompression bomb")
}

// TestReadNPZMemberShorterThanItsShape: a member whose directory entry declares fewer bytes than its array's shape
// needs is refused from the sizes, before reading the data.
func TestReadNPZMemberShorterThanItsShape(t *testing.T) {
	p := filepath.Join(t.TempDir(), "short.npz")
	f, err := os.Create(p)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	data := append(headerBytes("<f4", []int{1 << 20}), make([]byte, 16)...)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "x.npy", Method: zip.Store})
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	_, err = ReadNPZ(p)
	assert.ErrorContains(t, err, "npz: "+p+": member x.npy: npy: reading 1048576 <f4 values: shape [1048576] needs 4194304 bytes of data, the file has 16")
}

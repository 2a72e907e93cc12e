package npy

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// npyBytes is a encoded with Write.
func npyBytes(t testing.TB, a *Array) []byte {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, a))
	return buf.Bytes()
}

// npySeeds are .npy streams of every dtype Read decodes, and a few broken ones.
func npySeeds(t testing.TB) [][]byte {
	i4 := []byte(withHeader("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }"))
	i4 = append(i4, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0)
	return [][]byte{
		npyBytes(t, Float32Array([]int{2, 3}, []float32{1, -2.5, 3, 0, 1e-7, 42})),
		npyBytes(t, Int64Array([]int{3}, []int64{49406, -1, 0})),
		npyBytes(t, &Array{Shape: []int{}, DType: "<f8", Float64: []float64{3.25}}),
		npyBytes(t, &Array{Shape: []int{0, 4}, DType: "|u1", Uint8: []uint8{}}),
		npyBytes(t, &Array{Shape: []int{2}, DType: "|b1", Uint8: []uint8{0, 1}}),
		i4,
		[]byte(withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }")),
		[]byte(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4611686018427387904), }")),
		[]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'descr': '<f2'}"),
		[]byte(truncated()),
	}
}

// FuzzRead decodes fuzzed .npy streams: an error, or an array whose data is the stream's bytes after the header,
// which Write encodes back into a stream that decodes to the same array (<i4 data widened to <i8).
func FuzzRead(f *testing.F) {
	for _, s := range npySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Read(bytes.NewReader(data))
		if err != nil {
			require.Nil(t, a)
			return
		}
		size, ok := dtypeSize[a.DType]
		require.True(t, ok, "dtype %q", a.DType)
		n := 1
		for _, d := range a.Shape {
			require.GreaterOrEqual(t, d, 0)
			n *= d
		}
		require.Equal(t, n, a.Len())
		_, start, err := readHeader(bytes.NewReader(data))
		require.NoError(t, err)
		require.LessOrEqual(t, start+n*size, len(data), "the data the shape needs is in the stream")
		if a.DType == "<i4" {
			a.DType = "<i8" // Read widens <i4 to int64; Write writes int64 as <i8
			size = 8
		}
		out := npyBytes(t, a)
		require.Zero(t, len(headerBytes(a.DType, a.Shape))%64, "data starts 64-byte aligned")
		b, err := Read(bytes.NewReader(out))
		require.NoError(t, err)
		assert.Equal(t, out, npyBytes(t, b), "Write(Read(Write(a))) == Write(a)")
		if a.DType == dataTypeOf(data, start) {
			assert.Equal(t, data[start:start+n*size], out[len(out)-n*size:], "the data bytes are the stream's")
		}
	})
}

// dataTypeOf returns the dtype of a stream Read decoded, as its header writes it.
func dataTypeOf(data []byte, start int) string {
	a, _, err := readHeader(bytes.NewReader(data[:start]))
	if err != nil {
		return ""
	}
	return a.DType
}

// FuzzReadNPZ reads fuzzed .npz archives: an error, or arrays that WriteNPZ writes back into an archive that reads
// back the same. The seeds are archives of the .npy seeds, stored and deflated.
func FuzzReadNPZ(f *testing.F) {
	for i, s := range npySeeds(f)[:6] {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		method := zip.Store
		if i%2 == 1 {
			method = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "arr_" + string(rune('0'+i)) + ".npy", Method: method})
		require.NoError(f, err)
		_, err = w.Write(s)
		require.NoError(f, err)
		require.NoError(f, zw.Close())
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "a.npz")
		require.NoError(t, os.WriteFile(p, data, 0o644))
		arrays, err := ReadNPZ(p)
		if err != nil {
			return
		}
		for name, a := range arrays {
			require.Equal(t, a.Len(), arrayLen(a), "array %s holds its shape's values", name)
			if a.DType == "<i4" {
				a.DType = "<i8"
			}
		}
		back := filepath.Join(dir, "b.npz")
		require.NoError(t, WriteNPZ(back, arrays))
		again, err := ReadNPZ(back)
		require.NoError(t, err)
		require.Len(t, again, len(arrays))
		for name, a := range arrays {
			require.Contains(t, again, name)
			assert.Equal(t, npyBytes(t, a), npyBytes(t, again[name]), "array %s", name)
		}
	})
}

// arrayLen returns the number of values a holds in its typed slice.
func arrayLen(a *Array) int {
	switch a.DType {
	case "<f4":
		return len(a.Float32)
	case "<f8":
		return len(a.Float64)
	case "<i8", "<i4":
		return len(a.Int64)
	}
	return len(a.Uint8)
}

// FuzzMapFloat32 maps fuzzed files as 2-D float32 matrices: an error, or Rows × Cols values that are the file's
// data bytes, as Read decodes them; never a mapping past the file.
func FuzzMapFloat32(f *testing.F) {
	f.Add(npyBytes(f, Float32Array([]int{2, 3}, []float32{1, -2.5, 3, 0, 1e-7, 42})))
	f.Add(npyBytes(f, Float32Array([]int{0, 3}, []float32{})))
	f.Add(npyBytes(f, Float32Array([]int{6}, []float32{1, -2.5, 3, 0, 1e-7, 42})))
	f.Add(headerBytes("<f4", []int{1 << 31, 1 << 31})) // 4 × 2^62 bytes wraps to 0: once mapped 2^62 values past the file
	f.Add(append([]byte(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }")), 0, 0, 0x80, 0x3f))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "m.npy")
		require.NoError(t, os.WriteFile(p, data, 0o644))
		m, err := MapFloat32(p)
		if err != nil {
			return
		}
		defer m.Close()
		require.True(t, m.Rows >= 0 && m.Cols >= 0, "shape %d×%d", m.Rows, m.Cols)
		require.Len(t, m.Float32, m.Rows*m.Cols)
		require.LessOrEqual(t, len(m.Float32), len(data)/4, "the values lie inside the file")
		if len(m.Float32) == 0 {
			return
		}
		a, err := Read(bytes.NewReader(data))
		require.NoError(t, err)
		want := unsafe.Slice((*byte)(unsafe.Pointer(&a.Float32[0])), 4*len(a.Float32))
		got := unsafe.Slice((*byte)(unsafe.Pointer(&m.Float32[0])), 4*len(m.Float32))
		assert.Equal(t, want, got, "mapped values are the decoded ones, bit for bit")
	})
}

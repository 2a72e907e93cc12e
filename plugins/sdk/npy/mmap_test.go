package npy

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMapFloat32RoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		rows, cols int
		data       []float32
	}{
		{"matrix", 2, 3, []float32{1, -2.5, 3, 0, 1e-7, 42}},
		{"one value", 1, 1, []float32{-0.125}},
		{"zero rows", 0, 512, []float32{}},
		{"zero cols", 3, 0, []float32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "e.npy")
			require.NoError(t, WriteFloat32File(path, tc.rows, tc.cols, tc.data))
			m, err := MapFloat32(path)
			require.NoError(t, err)
			assert.Equal(t, tc.rows, m.Rows)
			assert.Equal(t, tc.cols, m.Cols)
			if len(tc.data) == 0 {
				assert.Empty(t, m.Float32)
			} else {
				assert.Equal(t, tc.data, m.Float32)
			}
			require.NoError(t, m.Close())
			assert.Nil(t, m.Float32, "Close drops the mapped values")
			require.NoError(t, m.Close(), "a second Close is safe")

			// The same file read the ordinary way agrees.
			a, err := ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, []int{tc.rows, tc.cols}, a.Shape)
		})
	}
}

func TestMapFloat32Large(t *testing.T) {
	const rows, cols = 1000, 512
	data := make([]float32, rows*cols)
	for i := range data {
		data[i] = float32(i) / 3
	}
	path := filepath.Join(t.TempDir(), "e.npy")
	require.NoError(t, WriteFloat32File(path, rows, cols, data))
	m, err := MapFloat32(path)
	require.NoError(t, err)
	defer m.Close()
	require.Len(t, m.Float32, rows*cols)
	for i, v := range m.Float32 {
		if v != data[i] {
			t.Fatalf("value %d is %g, want %g", i, v, data[i])
		}
	}
}

func TestCloseNil(t *testing.T) {
	var m *Mapped
	assert.NoError(t, m.Close())
	assert.NoError(t, (&Mapped{}).Close())
}

func TestMapFloat32Rejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, a *Array) string {
		path := filepath.Join(dir, name)
		require.NoError(t, WriteFile(path, a))
		return path
	}
	int64s := write("ids.npy", Int64Array([]int{2, 2}, []int64{1, 2, 3, 4}))
	float64s := write("f8.npy", &Array{Shape: []int{1, 1}, DType: "<f8", Float64: []float64{1}})
	vector := write("vector.npy", Float32Array([]int{4}, []float32{1, 2, 3, 4}))
	cube := write("cube.npy", Float32Array([]int{1, 1, 2}, []float32{1, 2}))
	long := write("long.npy", Float32Array([]int{1, 2}, []float32{1, 2}))
	f, err := os.OpenFile(long, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{0})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	short := write("short.npy", Float32Array([]int{2, 2}, []float32{1, 2, 3, 4}))
	st, err := os.Stat(short)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(short, st.Size()-4))
	notNpy := filepath.Join(dir, "x.txt")
	require.NoError(t, os.WriteFile(notNpy, []byte("hello, not numpy"), 0o644))
	missing := filepath.Join(dir, "missing.npy")

	tests := []struct {
		name, path, want string
	}{
		{"int64", int64s, fmt.Sprintf("mapping %s: want a 2-D <f4 array, have <i8 of shape [2 2]", int64s)},
		{"float64", float64s, fmt.Sprintf("mapping %s: want a 2-D <f4 array, have <f8 of shape [1 1]", float64s)},
		{"1-D", vector, fmt.Sprintf("mapping %s: want a 2-D <f4 array, have <f4 of shape [4]", vector)},
		{"3-D", cube, fmt.Sprintf("mapping %s: want a 2-D <f4 array, have <f4 of shape [1 1 2]", cube)},
		{"a byte too many", long, fmt.Sprintf("mapping %s: shape [1, 2] needs 136 bytes, the file has 137", long)},
		{"a value short", short, fmt.Sprintf("mapping %s: shape [2, 2] needs 144 bytes, the file has 140", short)},
		{"missing", missing, fmt.Sprintf("npy: open %s: no such file or directory", missing)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := MapFloat32(tc.path)
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Equal(t, tc.want, err.Error())
		})
	}
	t.Run("not npy", func(t *testing.T) {
		_, err := MapFloat32(notNpy)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "mapping "+notNpy+": ")
	})
}

func TestWriteFloat32File(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.npy")
	require.NoError(t, WriteFloat32File(path, 1, 2, []float32{1, 2}))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")

	tests := []struct {
		name       string
		rows, cols int
		data       []float32
		want       string
	}{
		{"too few values", 2, 2, []float32{1}, fmt.Sprintf("npy: writing %s: shape [2, 2] needs 4 values, have 1", path)},
		{"negative rows", -1, 2, nil, fmt.Sprintf("npy: writing %s: shape [-1, 2] needs -2 values, have 0", path)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteFloat32File(path, tc.rows, tc.cols, tc.data)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			m, err := MapFloat32(path)
			require.NoError(t, err)
			defer m.Close()
			assert.Equal(t, []float32{1, 2}, m.Float32, "a failed write leaves the old file")
		})
	}
	t.Run("missing folder", func(t *testing.T) {
		bad := filepath.Join(dir, "no", "e.npy")
		err := WriteFloat32File(bad, 1, 1, []float32{1})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "npy: open "+filepath.Join(dir, "no")+"/.e.npy.")
	})
}

// TestReadNPZRefusesABomb: an .npz member of 64 MiB of zeros deflates to about 64 KiB; it is refused from the
// archive's directory before anything is inflated.
func TestReadNPZRefusesABomb(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bomb.npz")
	f, err := os.Create(p)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	w, err := zw.Create("x.npy")
	require.NoError(t, err)
	const n = 16 << 20 // float32 values: 64 MiB
	_, err = w.Write(headerBytes("<f4", []int{n}))
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for range 64 {
		_, err = w.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	_, err = ReadNPZ(p)
	assert.ErrorContains(t, err, "member x.npy would expand from")
	assert.ErrorContains(t, err, "refusing what looks like a decompression bomb")
}

func TestFloat32WriterRowsInAnyOrder(t *testing.T) {
	for _, scratch := range []bool{false, true} {
		p := filepath.Join(t.TempDir(), "m.npy")
		w, err := CreateFloat32(p, 3, 2)
		require.NoError(t, err)
		w.Scratch = scratch
		require.NoError(t, w.WriteRows(2, []float32{5, 6}))
		require.NoError(t, w.WriteRows(0, []float32{1, 2, 3, 4}))
		assert.ErrorContains(t, w.WriteRows(2, []float32{1, 2, 3, 4}), "do not fit a [3, 2] matrix")
		assert.ErrorContains(t, w.WriteRows(0, []float32{1}), "do not fit")
		_, err = os.Stat(p)
		assert.True(t, os.IsNotExist(err), "nothing at the path before Close")
		require.NoError(t, w.Close())
		m, err := MapFloat32(p)
		require.NoError(t, err)
		assert.Equal(t, []float32{1, 2, 3, 4, 5, 6}, m.Float32, "scratch %v", scratch)
		m.Close()
		entries, err := os.ReadDir(filepath.Dir(p))
		require.NoError(t, err)
		assert.Len(t, entries, 1, "only the file itself")
	}

	w, err := CreateFloat32(filepath.Join(t.TempDir(), "gone.npy"), 2, 2)
	require.NoError(t, err)
	w.Abort()
	entries, err := os.ReadDir(filepath.Dir(w.path))
	require.NoError(t, err)
	assert.Empty(t, entries, "Abort leaves nothing behind")
}

func TestCreateFloat32Shape(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pixels.npy")
	w, err := CreateFloat32Shape(p, []int{3, 2, 1, 2})
	require.NoError(t, err)
	require.NoError(t, w.WriteRows(2, []float32{9, 10, 11, 12}))
	require.NoError(t, w.WriteRows(0, []float32{1, 2, 3, 4, 5, 6, 7, 8}))
	assert.ErrorContains(t, w.WriteRows(1, []float32{1, 2, 3}), "do not fit a [3, 4] matrix")
	require.NoError(t, w.Close())
	a, err := ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, []int{3, 2, 1, 2}, a.Shape)
	assert.Equal(t, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, a.Float32)

	for _, tc := range []struct {
		shape []int
		err   string
	}{
		{nil, "no shape"},
		{[]int{2, -1}, "is invalid"},
		{[]int{-2}, "is invalid"},
		{[]int{2, 1 << 40, 1 << 30}, "is too large"},
		{[]int{1 << 62, 2}, "is too large"},
	} {
		_, err := CreateFloat32Shape(filepath.Join(dir, "bad.npy"), tc.shape)
		assert.ErrorContains(t, err, tc.err, "%v", tc.shape)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "refused shapes leave nothing behind")
}

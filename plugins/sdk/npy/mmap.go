package npy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"
)

// Mapped is a 2-D float32 .npy file mapped read-only into memory: Float32 aliases the file's pages, so a matrix of
// any size costs no copy and no heap. It stays valid until Close.
type Mapped struct {
	// Rows and Cols are the matrix's shape.
	Rows, Cols int
	// Float32 holds Rows*Cols values in C order; it must not be written to.
	Float32 []float32
	mem     []byte
}

// MapFloat32 maps the 2-D little-endian float32 .npy file at path read-only. The file must not change while it is
// mapped.
func MapFloat32(path string) (*Mapped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	a, start, err := readHeader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	if a.DType != "<f4" || len(a.Shape) != 2 {
		return nil, fmt.Errorf("mapping %s: want a 2-D <f4 array, have %s of shape %v", path, a.DType, a.Shape)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	rows, cols := a.Shape[0], a.Shape[1]
	want := int64(start) + 4*int64(rows)*int64(cols)
	if st.Size() != want {
		return nil, fmt.Errorf("mapping %s: shape [%d, %d] needs %d bytes, the file has %d", path, rows, cols, want, st.Size())
	}
	m := &Mapped{Rows: rows, Cols: cols}
	if rows*cols == 0 {
		return m, nil
	}
	if start%4 != 0 || !littleEndian() {
		// Unaligned data or a big-endian host: decode into memory instead of aliasing the pages.
		arr, err := ReadFile(path)
		if err != nil {
			return nil, err
		}
		m.Float32 = arr.Float32
		return m, nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(want), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	m.mem = mem
	m.Float32 = unsafe.Slice((*float32)(unsafe.Pointer(&mem[start])), rows*cols)
	return m, nil
}

// Close unmaps the file; Float32 must not be used afterwards.
func (m *Mapped) Close() error {
	if m == nil || m.mem == nil {
		return nil
	}
	mem := m.mem
	m.mem, m.Float32 = nil, nil
	if err := syscall.Munmap(mem); err != nil {
		return fmt.Errorf("npy: unmapping: %w", err)
	}
	return nil
}

// littleEndian reports whether the host stores numbers little-endian, as .npy "<f4" data is.
func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// WriteFloat32File writes a rows × cols float32 matrix as a .npy file, streamed in blocks (no second copy of the
// data in memory) and atomically: it is written under a temporary name in the same folder and renamed into place,
// so a reader never sees a partial file.
func WriteFloat32File(path string, rows, cols int, data []float32) (err error) {
	if rows < 0 || cols < 0 || len(data) != rows*cols {
		return fmt.Errorf("npy: writing %s: shape [%d, %d] needs %d values, have %d", path, rows, cols, rows*cols, len(data))
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := w.Write(headerBytes("<f4", []int{rows, cols})); err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	var buf [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
		if _, err := w.Write(buf[:]); err != nil {
			return fmt.Errorf("npy: writing %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

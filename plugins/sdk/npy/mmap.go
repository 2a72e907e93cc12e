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

// WriteFloat32File writes a rows × cols float32 matrix as a .npy file atomically (see Float32Writer): a reader never
// sees a partial file.
func WriteFloat32File(path string, rows, cols int, data []float32) error {
	if rows < 0 || cols < 0 || len(data) != rows*cols {
		return fmt.Errorf("npy: writing %s: shape [%d, %d] needs %d values, have %d", path, rows, cols, rows*cols, len(data))
	}
	w, err := CreateFloat32(path, rows, cols)
	if err != nil {
		return err
	}
	if err := w.WriteRows(0, data); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// Float32Writer writes a rows × cols float32 .npy file whose rows arrive in any order, without holding the
// matrix: the file is laid out at its full size under a temporary name in the destination's folder, rows are
// written in place, and Close syncs it and renames it into place (Abort removes it).
type Float32Writer struct {
	// Scratch skips the sync in Close, for a file that need not survive a crash of the machine (one in a run's work
	// folder, removed when the run ends): readers still never see it half-written.
	Scratch bool

	path       string
	f          *os.File
	rows, cols int
	start      int64
	buf        []byte
}

// CreateFloat32 starts a rows × cols float32 .npy file that Close puts at path.
func CreateFloat32(path string, rows, cols int) (*Float32Writer, error) {
	return CreateFloat32Shape(path, []int{rows, cols})
}

// CreateFloat32Shape starts a float32 .npy file of the given shape (at least one axis) that Close puts at path;
// its rows are the first axis, each the product of the others long (WriteRows takes whole rows).
func CreateFloat32Shape(path string, shape []int) (*Float32Writer, error) {
	if len(shape) == 0 {
		return nil, fmt.Errorf("npy: writing %s: no shape", path)
	}
	rows, cols := shape[0], 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("npy: writing %s: shape %v is invalid", path, shape)
		}
	}
	for _, d := range shape[1:] {
		if d != 0 && cols > math.MaxInt64/4/d {
			return nil, fmt.Errorf("npy: writing %s: shape %v is too large", path, shape)
		}
		cols *= d
	}
	if cols != 0 && rows > math.MaxInt64/4/cols {
		return nil, fmt.Errorf("npy: writing %s: shape %v is too large", path, shape)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	header := headerBytes("<f4", shape)
	w := &Float32Writer{path: path, f: f, rows: rows, cols: cols, start: int64(len(header))}
	if _, err := f.Write(header); err != nil {
		w.Abort()
		return nil, fmt.Errorf("npy: writing %s: %w", path, err)
	}
	if err := f.Truncate(w.start + 4*int64(rows)*int64(cols)); err != nil {
		w.Abort()
		return nil, fmt.Errorf("npy: writing %s: %w", path, err)
	}
	return w, nil
}

// WriteRows writes consecutive rows starting at row first; data holds whole rows.
func (w *Float32Writer) WriteRows(first int, data []float32) error {
	if w.cols == 0 || len(data) == 0 {
		return nil
	}
	n := len(data) / w.cols
	if len(data)%w.cols != 0 || first < 0 || first+n > w.rows {
		return fmt.Errorf("npy: writing %s: %d values from row %d do not fit a [%d, %d] matrix", w.path, len(data), first, w.rows, w.cols)
	}
	const block = 1 << 16 // values per write
	for lo := 0; lo < len(data); lo += block {
		part := data[lo:min(lo+block, len(data))]
		if cap(w.buf) < 4*len(part) {
			w.buf = make([]byte, 4*block)
		}
		b := w.buf[:4*len(part)]
		for i, v := range part {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		if _, err := w.f.WriteAt(b, w.start+4*(int64(first)*int64(w.cols)+int64(lo))); err != nil {
			return fmt.Errorf("npy: writing %s: %w", w.path, err)
		}
	}
	return nil
}

// Close syncs the file (unless Scratch is set) and renames it into place.
func (w *Float32Writer) Close() error {
	if err := w.f.Chmod(0o644); err != nil {
		w.Abort()
		return fmt.Errorf("npy: %w", err)
	}
	if !w.Scratch {
		if err := w.f.Sync(); err != nil {
			w.Abort()
			return fmt.Errorf("npy: writing %s: %w", w.path, err)
		}
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("npy: writing %s: %w", w.path, err)
	}
	if err := os.Rename(w.f.Name(), w.path); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// Abort removes the unfinished file.
func (w *Float32Writer) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

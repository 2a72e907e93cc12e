// Package npy reads and writes numpy's .npy and .npz formats (little-endian, C order), enough for clipeval's
// embeddings, pixels and token ids: float32, float64, int64, int32, uint8 and bool arrays.
package npy

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/clipeval/clipeval/plugins/sdk/atomicfile"
)

// Array is one n-dimensional array. Exactly one of the typed slices is set, matching DType.
type Array struct {
	// Shape is the array's shape; an empty shape is a scalar.
	Shape []int
	// DType is numpy's type string: "<f4", "<f8", "<i8", "<i4", "|u1" or "|b1".
	DType string
	// Float32 holds "<f4" data.
	Float32 []float32
	// Float64 holds "<f8" data.
	Float64 []float64
	// Int64 holds "<i8" and "<i4" data (widened).
	Int64 []int64
	// Uint8 holds "|u1" and "|b1" data.
	Uint8 []uint8
}

// Float32Array returns an "<f4" array with the given shape and data.
func Float32Array(shape []int, data []float32) *Array {
	return &Array{Shape: shape, DType: "<f4", Float32: data}
}

// Int64Array returns an "<i8" array with the given shape and data.
func Int64Array(shape []int, data []int64) *Array {
	return &Array{Shape: shape, DType: "<i8", Int64: data}
}

// Len returns the number of elements the shape describes.
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

var headerRE = regexp.MustCompile(`'descr':\s*'([^']*)'.*'fortran_order':\s*(True|False).*'shape':\s*\(([^)]*)\)`)

// readHeader reads a .npy stream's magic and header and returns the array's dtype and shape (no data) and the
// number of bytes read, which is where the data starts.
func readHeader(r io.Reader) (*Array, int, error) {
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil {
		return nil, 0, fmt.Errorf("npy: reading magic: %w", err)
	}
	if string(magic[:6]) != "\x93NUMPY" {
		return nil, 0, errors.New("npy: not a .npy stream (bad magic)")
	}
	var hlen, prefix int
	switch magic[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, 0, fmt.Errorf("npy: reading header length: %w", err)
		}
		hlen, prefix = int(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, 0, fmt.Errorf("npy: reading header length: %w", err)
		}
		hlen, prefix = int(binary.LittleEndian.Uint32(b[:])), 12
	default:
		return nil, 0, fmt.Errorf("npy: unsupported format version %d.%d", magic[6], magic[7])
	}
	if hlen > 1<<20 {
		return nil, 0, fmt.Errorf("npy: header of %d bytes is too long", hlen)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, 0, fmt.Errorf("npy: reading header: %w", err)
	}
	m := headerRE.FindStringSubmatch(string(header))
	if m == nil {
		return nil, 0, fmt.Errorf("npy: cannot parse header %q", strings.TrimSpace(string(header)))
	}
	if m[2] == "True" {
		return nil, 0, errors.New("npy: Fortran-order arrays are not supported")
	}
	a := &Array{DType: m[1], Shape: []int{}}
	n := 1
	for _, f := range strings.Split(m[3], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, 0, fmt.Errorf("npy: bad shape %q", m[3])
		}
		a.Shape = append(a.Shape, d)
		if d != 0 && n > MaxBytes/d { // checked before multiplying: (2, 2^62) must not wrap around
			return nil, 0, fmt.Errorf("npy: shape (%s) holds more than %d elements; refusing it (the header is corrupt, or the array too large for clipeval)", m[3], MaxBytes)
		}
		n *= d
	}
	return a, prefix + hlen, nil
}

// MaxBytes is the most data bytes (16 GiB) one array may hold; a header declaring more is refused before anything
// is allocated.
const MaxBytes = 1 << 34

// dtypeSize is the byte size of each dtype Read decodes.
var dtypeSize = map[string]int{"<f4": 4, "<f8": 8, "<i8": 8, "<i4": 4, "|u1": 1, "|b1": 1}

// readChunk is how many data bytes Read decodes at a time.
const readChunk = 1 << 20

// Read decodes one .npy stream. Memory grows with the data that arrives, not with what the header declares.
func Read(r io.Reader) (*Array, error) {
	a, _, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	if err := readData(r, a, -1); err != nil {
		return nil, err
	}
	return a, nil
}

// readData decodes a's data from r, after its header. avail is how many data bytes the file or archive member
// holds (-1: unknown): a shape needing more is refused before reading, and when known the values are allocated
// at once; otherwise they grow as the data arrives, so that a short or hostile stream costs what it holds.
func readData(r io.Reader, a *Array, avail int64) error {
	size, ok := dtypeSize[a.DType]
	if !ok {
		return fmt.Errorf("npy: unsupported dtype %q", a.DType)
	}
	n := a.Len() // readHeader bounded it by MaxBytes: no overflow
	need := int64(n) * int64(size)
	if need > MaxBytes {
		return fmt.Errorf("npy: array of %d %s values (%d bytes) is larger than the %d bytes clipeval reads", n, a.DType, need, int64(MaxBytes))
	}
	if avail >= 0 && need > avail {
		return fmt.Errorf("npy: reading %d %s values: shape %v needs %d bytes of data, the file has %d", n, a.DType, a.Shape, need, avail)
	}
	capacity := 0
	if avail >= 0 {
		capacity = n
	}
	switch a.DType {
	case "<f4":
		a.Float32 = make([]float32, 0, capacity)
	case "<f8":
		a.Float64 = make([]float64, 0, capacity)
	case "<i8", "<i4":
		a.Int64 = make([]int64, 0, capacity)
	default:
		a.Uint8 = make([]uint8, 0, capacity)
	}
	buf := make([]byte, min(need, readChunk/int64(size)*int64(size)))
	for got := int64(0); got < need; {
		chunk := buf[:min(int64(len(buf)), need-got)]
		m, err := io.ReadFull(r, chunk)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("npy: reading %d %s values: shape %v needs %d bytes of data, the stream has %d", n, a.DType, a.Shape, need, got+int64(m))
			}
			return fmt.Errorf("npy: reading %d %s values: %w", n, a.DType, err)
		}
		got += int64(m)
		switch a.DType {
		case "<f4":
			for i := 0; i < m; i += 4 {
				a.Float32 = append(a.Float32, math.Float32frombits(binary.LittleEndian.Uint32(chunk[i:])))
			}
		case "<f8":
			for i := 0; i < m; i += 8 {
				a.Float64 = append(a.Float64, math.Float64frombits(binary.LittleEndian.Uint64(chunk[i:])))
			}
		case "<i8":
			for i := 0; i < m; i += 8 {
				a.Int64 = append(a.Int64, int64(binary.LittleEndian.Uint64(chunk[i:])))
			}
		case "<i4":
			for i := 0; i < m; i += 4 {
				a.Int64 = append(a.Int64, int64(int32(binary.LittleEndian.Uint32(chunk[i:]))))
			}
		default:
			a.Uint8 = append(a.Uint8, chunk...)
		}
	}
	return nil
}

// Write encodes a as a version 1.0 .npy stream.
func Write(w io.Writer, a *Array) error {
	n := a.Len()
	var data []byte
	switch a.DType {
	case "<f4":
		if len(a.Float32) != n {
			return fmt.Errorf("npy: shape %v needs %d values, have %d", a.Shape, n, len(a.Float32))
		}
		data = make([]byte, 4*n)
		for i, v := range a.Float32 {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
	case "<f8":
		if len(a.Float64) != n {
			return fmt.Errorf("npy: shape %v needs %d values, have %d", a.Shape, n, len(a.Float64))
		}
		data = make([]byte, 8*n)
		for i, v := range a.Float64 {
			binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(v))
		}
	case "<i8":
		if len(a.Int64) != n {
			return fmt.Errorf("npy: shape %v needs %d values, have %d", a.Shape, n, len(a.Int64))
		}
		data = make([]byte, 8*n)
		for i, v := range a.Int64 {
			binary.LittleEndian.PutUint64(data[8*i:], uint64(v))
		}
	case "|u1", "|b1":
		if len(a.Uint8) != n {
			return fmt.Errorf("npy: shape %v needs %d values, have %d", a.Shape, n, len(a.Uint8))
		}
		data = a.Uint8
	default:
		return fmt.Errorf("npy: cannot write dtype %q", a.DType)
	}
	if _, err := w.Write(headerBytes(a.DType, a.Shape)); err != nil {
		return fmt.Errorf("npy: writing header: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("npy: writing data: %w", err)
	}
	return nil
}

// headerBytes returns a version 1.0 .npy header for dtype and shape, padded with spaces so that the data starts
// at a multiple of 64 bytes, as numpy does.
func headerBytes(dtype string, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	sh := strings.Join(dims, ", ")
	if len(dims) == 1 {
		sh += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", dtype, sh)
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	_ = binary.Write(&buf, binary.LittleEndian, uint16(len(header)))
	buf.WriteString(header)
	return buf.Bytes()
}

// WriteFile writes a as a .npy file, atomically (see atomicfile).
func WriteFile(path string, a *Array) error {
	var buf bytes.Buffer
	if err := Write(&buf, a); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// ReadFile reads a .npy file; a header declaring more data than the file holds is refused before allocating.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	br := bufio.NewReader(f)
	a, start, err := readHeader(br)
	if err == nil {
		err = readData(br, a, st.Size()-int64(start))
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return a, nil
}

// maxExpansion bounds how many times its compressed size an .npz member may expand to: arrays of numbers deflate
// a few times at most, runs of zeros about a thousand times. The archive as a whole may expand to at most
// maxExpansion times its file size plus npzSlack, whatever its number of members.
const (
	maxExpansion = 100
	npzSlack     = 1 << 20
)

// ReadNPZ reads every array of an .npz archive (stored or deflated), keyed by name without the ".npy" suffix.
// Before inflating anything it refuses members, and archives, that would expand more than maxExpansion times (a
// decompression bomb) or past MaxBytes; while reading, a member yields at most the size its directory entry
// declares (archive/zip checks), and each array at most what its header's shape needs.
func ReadNPZ(path string) (map[string]*Array, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("npz: opening %s: %w", path, err)
	}
	defer zr.Close()
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("npz: %w", err)
	}
	var total uint64
	for _, f := range zr.File {
		if f.UncompressedSize64 > maxExpansion*f.CompressedSize64+npzSlack {
			return nil, fmt.Errorf("npz: %s: member %s would expand from %d to %d bytes, more than %d times: refusing what looks like a decompression bomb",
				path, f.Name, f.CompressedSize64, f.UncompressedSize64, maxExpansion)
		}
		total += f.UncompressedSize64
		if total > maxExpansion*uint64(st.Size())+npzSlack || total > MaxBytes {
			return nil, fmt.Errorf("npz: %s: its members would expand the %d-byte archive to %d bytes or more, over %d times its size: refusing what looks like a decompression bomb",
				path, st.Size(), total, maxExpansion)
		}
	}
	out := make(map[string]*Array, len(zr.File))
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("npz: %s: opening %s: %w", path, f.Name, err)
		}
		a, start, err := readHeader(rc)
		if err == nil {
			err = readData(rc, a, int64(f.UncompressedSize64)-int64(start))
		}
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("npz: %s: member %s: %w", path, f.Name, err)
		}
		out[strings.TrimSuffix(f.Name, ".npy")] = a
	}
	return out, nil
}

// WriteNPZ writes arrays as an uncompressed .npz archive (numpy.savez layout), members in name order, atomically.
func WriteNPZ(path string, arrays map[string]*Array) error {
	names := make([]string, 0, len(arrays))
	for name := range arrays {
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
		if err != nil {
			return fmt.Errorf("npz: %s: %w", path, err)
		}
		if err := Write(w, arrays[name]); err != nil {
			return fmt.Errorf("npz: %s: member %s: %w", path, name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("npz: %s: %w", path, err)
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	return nil
}

package testutil

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Transfer syntax UIDs WriteDICOM writes natively.
const (
	ImplicitVRLittleEndian         = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian         = "1.2.840.10008.1.2.1"
	DeflatedExplicitVRLittleEndian = "1.2.840.10008.1.2.1.99"
	ExplicitVRBigEndian            = "1.2.840.10008.1.2.2"
)

// DICOMElement is one data element for WriteDICOM. Value is a string (padded to even length with a space, or a
// NUL for VR UI), []uint16 (each value in the transfer syntax's byte order) or []byte (as is, padded with a NUL).
type DICOMElement struct {
	Group, Element uint16
	VR             string
	Value          any
}

// Gray returns the elements of a one-sample grayscale image: Samples per Pixel 1, the photometric interpretation,
// Rows, Columns, Bits Allocated, Bits Stored, High Bit (bitsStored − 1), Pixel Representation and Pixel Data (OW
// of the pixels for 16 bits allocated, OB of their low bytes for 8).
func Gray(photometric string, rows, cols, bitsAllocated, bitsStored, pixelRepresentation int, pixels []uint16) []DICOMElement {
	var data any = pixels
	vr := "OW"
	if bitsAllocated == 8 {
		b := make([]byte, len(pixels))
		for i, p := range pixels {
			b[i] = byte(p)
		}
		data, vr = b, "OB"
	}
	return []DICOMElement{
		{0x0028, 0x0002, "US", []uint16{1}},
		{0x0028, 0x0004, "CS", photometric},
		{0x0028, 0x0010, "US", []uint16{uint16(rows)}},
		{0x0028, 0x0011, "US", []uint16{uint16(cols)}},
		{0x0028, 0x0100, "US", []uint16{uint16(bitsAllocated)}},
		{0x0028, 0x0101, "US", []uint16{uint16(bitsStored)}},
		{0x0028, 0x0102, "US", []uint16{uint16(bitsStored - 1)}},
		{0x0028, 0x0103, "US", []uint16{uint16(pixelRepresentation)}},
		{0x7FE0, 0x0010, vr, data},
	}
}

// WriteDICOM writes a DICOM Part 10 file at path (its folder created): a 128-byte zero preamble, "DICM", the file
// meta group (group length, version, transfer syntax UID; explicit VR little endian) and the elements, sorted by
// tag, in the transfer syntax ts (implicit or explicit VR, little or big endian, or deflated). It returns path.
func WriteDICOM(t testing.TB, path, ts string, elements ...DICOMElement) string {
	t.Helper()
	var meta bytes.Buffer
	writeElement(&meta, DICOMElement{0x0002, 0x0001, "OB", []byte{0, 1}}, binary.LittleEndian, false)
	writeElement(&meta, DICOMElement{0x0002, 0x0010, "UI", ts}, binary.LittleEndian, false)
	var head bytes.Buffer
	head.Write(make([]byte, 128))
	head.WriteString("DICM")
	writeElement(&head, DICOMElement{0x0002, 0x0000, "UL", uint32(meta.Len())}, binary.LittleEndian, false)
	head.Write(meta.Bytes())

	var order binary.AppendByteOrder = binary.LittleEndian
	if ts == ExplicitVRBigEndian {
		order = binary.BigEndian
	}
	sorted := slices.Clone(elements)
	slices.SortStableFunc(sorted, func(a, b DICOMElement) int {
		return int(a.Group)<<16 + int(a.Element) - (int(b.Group)<<16 + int(b.Element))
	})
	var body bytes.Buffer
	for _, e := range sorted {
		writeElement(&body, e, order, ts == ImplicitVRLittleEndian)
	}
	if ts == DeflatedExplicitVRLittleEndian {
		var z bytes.Buffer
		fw, err := flate.NewWriter(&z, flate.DefaultCompression)
		require.NoError(t, err)
		_, err = fw.Write(body.Bytes())
		require.NoError(t, err)
		require.NoError(t, fw.Close())
		body = z
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, append(head.Bytes(), body.Bytes()...), 0o644))
	return path
}

// writeElement appends one element: tag, VR (explicit only), length and value (PS3.5 7.1).
func writeElement(w *bytes.Buffer, e DICOMElement, order binary.AppendByteOrder, implicit bool) {
	var value []byte
	switch v := e.Value.(type) {
	case string:
		value = []byte(v)
		if len(value)%2 == 1 {
			pad := byte(' ')
			if e.VR == "UI" {
				pad = 0
			}
			value = append(value, pad)
		}
	case []uint16:
		for _, x := range v {
			value = order.AppendUint16(value, x)
		}
	case uint32:
		value = order.AppendUint32(value, v)
	case []byte:
		value = slices.Clone(v)
		if len(value)%2 == 1 {
			value = append(value, 0)
		}
	}
	w.Write(order.AppendUint16(nil, e.Group))
	w.Write(order.AppendUint16(nil, e.Element))
	switch {
	case implicit:
		w.Write(order.AppendUint32(nil, uint32(len(value))))
	case slices.Contains([]string{"OB", "OW", "OF", "SQ", "UT", "UN"}, e.VR):
		w.WriteString(e.VR)
		w.Write([]byte{0, 0})
		w.Write(order.AppendUint32(nil, uint32(len(value))))
	default:
		w.WriteString(e.VR)
		w.Write(order.AppendUint16(nil, uint16(len(value))))
	}
	w.Write(value)
}

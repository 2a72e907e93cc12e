package datasets

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
)

// ds is a decimal string element (VR DS) of group 0028.
func ds(element uint16, value string) testutil.DICOMElement {
	return testutil.DICOMElement{Group: 0x0028, Element: element, VR: "DS", Value: value}
}

// Elements of the VOI and Modality LUT modules used below.
const (
	windowCenter     = 0x1050
	windowWidth      = 0x1051
	rescaleIntercept = 0x1052
	rescaleSlope     = 0x1053
)

// rescaled12 is a 1×6 MONOCHROME2 image, 16 bits allocated, 12 stored, unsigned, stored values 0, 100 (written
// as 0xF064: the bits above High Bit must be masked off), 200, 300, 400, 4095, slope 2, intercept −100, so the
// modality values are −100, 100, 300, 500, 700, 8090; window centre 400, width 401.
func rescaled12() []testutil.DICOMElement {
	return append(testutil.Gray("MONOCHROME2", 1, 6, 16, 12, 0, []uint16{0, 0xF064, 200, 300, 400, 4095}),
		ds(windowCenter, "400"), ds(windowWidth, "401 "), ds(rescaleIntercept, "-100"), ds(rescaleSlope, "2"))
}

// LINEAR window c = 400, w = 401 (PS3.3 C.11.2.1.2.1): x ≤ 399.5 − 200 = 199.5 → 0; x > 599.5 → 255; otherwise
// ((x − 399.5)/400 + 0.5)·255: 300 → 64.06875 → 64, 500 → 191.56875 → 192.
var rescaled12Want = []uint8{0, 0, 64, 192, 255, 255}

func TestReadDICOM(t *testing.T) {
	tests := []struct {
		name     string
		ts       string
		elements []testutil.DICOMElement
		cols     int
		want     []uint8
	}{
		{"explicit VR LE, 12 of 16 bits, rescale, LINEAR window", testutil.ExplicitVRLittleEndian, rescaled12(), 6, rescaled12Want},
		{"implicit VR LE", testutil.ImplicitVRLittleEndian, rescaled12(), 6, rescaled12Want},
		{"explicit VR BE", testutil.ExplicitVRBigEndian, rescaled12(), 6, rescaled12Want},
		{"deflated explicit VR LE", testutil.DeflatedExplicitVRLittleEndian, rescaled12(), 6, rescaled12Want},
		{
			// Signed 16-bit −1, 0, 1, −3; no window: min–max (x + 3)/4·255 = 127.5, 191.25, 255, 0; MONOCHROME1
			// inverts before rounding: 127.5 → 128, 63.75 → 64, 0, 255.
			"signed, min-max, MONOCHROME1", testutil.ExplicitVRLittleEndian,
			testutil.Gray("MONOCHROME1", 2, 2, 16, 16, 1, []uint16{0xFFFF, 0, 1, 0xFFFD}), 2, []uint8{128, 64, 0, 255},
		},
		{
			// Signed 12-bit in 16: 0x0FFF → −1, 0x0800 → −2048, 0x07FF → 2047, 0xF001 → 1. LINEAR_EXACT c = 0,
			// w = 100 (C.11.2.1.3.2): x ≤ −50 → 0, x > 50 → 255, else (x/100 + 0.5)·255: −1 → 124.95 → 125,
			// 1 → 130.05 → 130.
			"signed 12-bit, LINEAR_EXACT", testutil.ExplicitVRLittleEndian,
			append(testutil.Gray("MONOCHROME2", 2, 2, 16, 12, 1, []uint16{0x0FFF, 0x0800, 0x07FF, 0xF001}),
				ds(windowCenter, "0"), ds(windowWidth, "100"),
				testutil.DICOMElement{Group: 0x0028, Element: 0x1056, VR: "CS", Value: "LINEAR_EXACT"}),
			2, []uint8{125, 0, 255, 130},
		},
		{
			// 8 bits; two windows, the first used: c = 25, w = 11: x ≤ 19.5 → 0, x > 29.5 → 255, else
			// ((x − 24.5)/10 + 0.5)·255: 20 → 12.75 → 13.
			"8-bit, first of two windows", testutil.ExplicitVRLittleEndian,
			append(testutil.Gray("MONOCHROME2", 2, 2, 8, 8, 0, []uint16{10, 20, 30, 40}),
				ds(windowCenter, `25\100`), ds(windowWidth, `11\50`)),
			2, []uint8{0, 13, 255, 255},
		},
		{
			// SIGMOID c = 0, w = 4 (C.11.2.1.3.1): 255/(1 + exp(−x)): 0 → 127.5 → 128, 1 → 186.42 → 186.
			"SIGMOID", testutil.ExplicitVRLittleEndian,
			append(testutil.Gray("MONOCHROME2", 1, 2, 16, 16, 0, []uint16{0, 1}),
				ds(windowCenter, "0"), ds(windowWidth, "4"),
				testutil.DICOMElement{Group: 0x0028, Element: 0x1056, VR: "CS", Value: "SIGMOID"}),
			2, []uint8{128, 186},
		},
		{"constant image", testutil.ExplicitVRLittleEndian,
			testutil.Gray("MONOCHROME2", 1, 3, 16, 16, 0, []uint16{7, 7, 7}), 3, []uint8{0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testutil.WriteDICOM(t, filepath.Join(t.TempDir(), "a.dcm"), tc.ts, tc.elements...)
			img, err := ReadDICOM(p)
			require.NoError(t, err)
			assert.Equal(t, image.Rect(0, 0, tc.cols, len(tc.want)/tc.cols), img.Rect)
			assert.Equal(t, tc.want, img.Pix)
		})
	}
}

func TestReadDICOMErrors(t *testing.T) {
	gray := func(extra ...testutil.DICOMElement) []testutil.DICOMElement {
		return append(testutil.Gray("MONOCHROME2", 1, 2, 16, 16, 0, []uint16{1, 2}), extra...)
	}
	tests := []struct {
		name     string
		ts       string
		elements []testutil.DICOMElement
		err      string
	}{
		{"JPEG baseline", "1.2.840.10008.1.2.4.50", gray(),
			"transfer syntax 1.2.840.10008.1.2.4.50 (JPEG Baseline (Process 1)) holds compressed pixel data, which clipeval does not decode; decompress"},
		{"JPEG-LS", "1.2.840.10008.1.2.4.80", gray(), "transfer syntax 1.2.840.10008.1.2.4.80 (JPEG-LS Lossless Image Compression)"},
		{"JPEG 2000", "1.2.840.10008.1.2.4.90", gray(), "transfer syntax 1.2.840.10008.1.2.4.90 (JPEG 2000 Image Compression (Lossless Only))"},
		{"RLE", "1.2.840.10008.1.2.5", gray(), "transfer syntax 1.2.840.10008.1.2.5 (RLE Lossless)"},
		{"unknown syntax", "1.2.3.4", gray(), "transfer syntax 1.2.3.4 (an unknown transfer syntax)"},
		{"colour", testutil.ExplicitVRLittleEndian, testutil.Gray("RGB", 1, 2, 16, 16, 0, []uint16{1, 2}),
			`photometric interpretation "RGB" is not grayscale`},
		{"frames", testutil.ExplicitVRLittleEndian, append(testutil.Gray("MONOCHROME2", 1, 1, 16, 16, 0, []uint16{1, 2}),
			testutil.DICOMElement{Group: 0x0028, Element: 0x0008, VR: "IS", Value: "2"}), "2 frames; only single-frame"},
		{"width without centre", testutil.ExplicitVRLittleEndian, gray(ds(windowWidth, "10")),
			"0 Window Center and 1 Window Width values; both or neither"},
		{"narrow LINEAR window", testutil.ExplicitVRLittleEndian, gray(ds(windowCenter, "1"), ds(windowWidth, "0.5")),
			"Window Width 0.5 is below 1"},
		{"bad window value", testutil.ExplicitVRLittleEndian, gray(ds(windowCenter, "x"), ds(windowWidth, "4")),
			`Window Center (0028,1050) value "x" is not a number`},
		{"unknown VOI function", testutil.ExplicitVRLittleEndian, gray(ds(windowCenter, "1"), ds(windowWidth, "4"),
			testutil.DICOMElement{Group: 0x0028, Element: 0x1056, VR: "CS", Value: "LOG"}), `VOI LUT Function "LOG" is not`},
		{"modality LUT sequence", testutil.ExplicitVRLittleEndian,
			gray(testutil.DICOMElement{Group: 0x0028, Element: 0x3000, VR: "SQ", Value: []byte{}}),
			"has a Modality LUT Sequence (0028,3000), which clipeval does not apply"},
		{"VOI LUT sequence without window", testutil.ExplicitVRLittleEndian,
			gray(testutil.DICOMElement{Group: 0x0028, Element: 0x3010, VR: "SQ", Value: []byte{}}),
			"has a VOI LUT Sequence (0028,3010), which clipeval does not apply"},
		{"no pixel data", testutil.ExplicitVRLittleEndian, gray()[:8], "the file has no Pixel Data"},
		{"no rows", testutil.ExplicitVRLittleEndian, append(gray()[:2], gray()[3:]...), "the file has no Rows (0028,0010)"},
		{"rows as text", testutil.ExplicitVRLittleEndian, append(append(gray()[:2:2],
			testutil.DICOMElement{Group: 0x0028, Element: 0x0010, VR: "CS", Value: "1"}), gray()[3:]...),
			"Rows (0028,0010) is not an integer value"},
		{"bits allocated", testutil.ExplicitVRLittleEndian, testutil.Gray("MONOCHROME2", 1, 1, 32, 32, 0, []uint16{1, 2}),
			"Bits Allocated is 32; only 8 and 16"},
		{"bits stored", testutil.ExplicitVRLittleEndian, testutil.Gray("MONOCHROME2", 1, 2, 8, 12, 0, []uint16{1, 2}),
			"Bits Stored 12 and High Bit 11 do not fit in 8 bits allocated"},
		{"short pixel data", testutil.ExplicitVRLittleEndian, testutil.Gray("MONOCHROME2", 2, 2, 16, 16, 0, []uint16{1, 2}),
			"Pixel Data holds 4 bytes, but 2×2 pixels of 16 bits allocated need 8; the file is damaged"},
		// YBR_FULL_422 holds 2 bytes a pixel where 3 samples would need 3: named as colour, not as a length error
		{"YBR colour", testutil.ExplicitVRLittleEndian, ybr422(), `photometric interpretation "YBR_FULL_422" is not grayscale`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testutil.WriteDICOM(t, filepath.Join(t.TempDir(), "a.dcm"), tc.ts, tc.elements...)
			_, err := ReadDICOM(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "DICOM "+p+": ")
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

// TestReadImageDICOM reads DICOM files named in a manifest: found by the marker whatever the name, rendered as PNG
// into the spool under the file's path; a .dcm file without the marker is an error, and so is a DICOM file without
// a work folder to render it into.
func TestReadImageDICOM(t *testing.T) {
	dir := t.TempDir()
	p := testutil.WriteDICOM(t, filepath.Join(dir, "scan"), testutil.ExplicitVRLittleEndian, rescaled12()...)
	testutil.WriteFiles(t, dir, map[string]string{"fake.DCM": "not dicom", "a.png": "png"})
	sp := NewSpool(t.TempDir())
	img, err := ReadImage(dir, "scan", sp)
	require.NoError(t, err)
	require.NoError(t, sp.Close())
	assert.Equal(t, p, img.Name)
	assert.Equal(t, p, img.Label())
	assert.Equal(t, p, img.File)
	assert.Nil(t, img.Data, "the rendering travels by reference")
	assert.Equal(t, int64(0), img.Offset)
	b, err := img.Bytes()
	require.NoError(t, err)
	assert.Equal(t, int64(len(b)), img.Size)
	decoded, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	require.IsType(t, &image.Gray{}, decoded)
	assert.Equal(t, rescaled12Want, decoded.(*image.Gray).Pix)

	img, err = ReadImage(dir, "a.png", nil)
	require.NoError(t, err)
	assert.Equal(t, RootedImage(dir, filepath.Join(dir, "a.png")), img)

	_, err = ReadImage(dir, "scan", NewSpool(""))
	assert.ErrorContains(t, err, "DICOM "+p+": image "+p+" must be written to the task's work folder, but the load request has no work_dir")
	_, err = ReadImage(dir, "fake.DCM", nil)
	assert.ErrorContains(t, err, `image "fake.DCM" (`+filepath.Join(dir, "fake.DCM")+`) is named .dcm but has no "DICM" marker at byte 128`)
}

// ybr422 is a 2×2 YBR_FULL_422 image, 8 bits, native: 3 samples per pixel, but two bytes a pixel (Y Y Cb Cr per
// pair of pixels), as pydicom's SC_ybr_full_422_uncompressed.dcm.
func ybr422() []testutil.DICOMElement {
	el := testutil.Gray("YBR_FULL_422", 2, 2, 8, 8, 0, nil)
	el[0].Value = []uint16{3}
	el = append(el, testutil.DICOMElement{Group: 0x0028, Element: 0x0006, VR: "US", Value: []uint16{0}})
	el[len(el)-2].Value = []byte{10, 20, 128, 128, 30, 40, 128, 128}
	return el
}

// TestReadDICOMAsPydicom reads what pydicom reads of its own test files' quirks, made here: Pixel Data longer
// than the image (MR_small_padded.dcm: 128 bytes of trailing padding inside the value), elements and stray bytes
// after Pixel Data, and 8-bit pixels in big-endian 16-bit words; and names what it refuses: a file truncated
// inside Pixel Data (MR_truncated.dcm) or inside an earlier element.
func TestReadDICOMAsPydicom(t *testing.T) {
	const stored = 0x0100 // 16 bits: values 0, 256, 512, 768 → min–max 0, 85, 170, 255
	pixels := []uint16{0, stored, 2 * stored, 3 * stored}
	want := []uint8{0, 85, 170, 255}
	padded := testutil.Gray("MONOCHROME2", 2, 2, 16, 16, 0, append(pixels, make([]uint16, 64)...))
	t.Run("Pixel Data with trailing padding", func(t *testing.T) {
		for _, ts := range []string{testutil.ExplicitVRLittleEndian, testutil.ImplicitVRLittleEndian, testutil.ExplicitVRBigEndian} {
			p := testutil.WriteDICOM(t, filepath.Join(t.TempDir(), "a.dcm"), ts, padded...)
			img, err := ReadDICOM(p)
			require.NoError(t, err, ts)
			assert.Equal(t, want, img.Pix, ts)
		}
	})
	t.Run("elements and bytes after Pixel Data", func(t *testing.T) {
		el := append(testutil.Gray("MONOCHROME2", 2, 2, 16, 16, 0, pixels),
			testutil.DICOMElement{Group: 0xFFFC, Element: 0xFFFC, VR: "OB", Value: make([]byte, 16)})
		p := testutil.WriteDICOM(t, filepath.Join(t.TempDir(), "a.dcm"), testutil.ExplicitVRLittleEndian, el...)
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.Write([]byte{0, 0, 0, 0, 0, 0, 1}) // not an element
		require.NoError(t, err)
		require.NoError(t, f.Close())
		img, err := ReadDICOM(p)
		require.NoError(t, err)
		assert.Equal(t, want, img.Pix)
	})
	t.Run("8 bits in big-endian words", func(t *testing.T) {
		el := testutil.Gray("MONOCHROME2", 2, 2, 8, 8, 0, nil)
		// OW words (p1 | p0<<8)... big-endian: each word's high byte first, so pixels 0..3 = 10, 20, 30, 40 are
		// stored 20, 10, 40, 30
		el[len(el)-1] = testutil.DICOMElement{Group: 0x7FE0, Element: 0x0010, VR: "OW", Value: []byte{20, 10, 40, 30}}
		el = append(el, ds(windowCenter, "25"), ds(windowWidth, "31"))
		p := testutil.WriteDICOM(t, filepath.Join(t.TempDir(), "a.dcm"), testutil.ExplicitVRBigEndian, el...)
		img, err := ReadDICOM(p)
		require.NoError(t, err)
		// LINEAR c = 25, w = 31: ((x − 24.5)/30 + 0.5)·255: 10 → 4.25 → 4, 20 → 89.25 → 89, 30 → 174.25 → 174,
		// 40 → 259.25 → 255
		assert.Equal(t, []uint8{4, 89, 174, 255}, img.Pix)
	})
	whole := testutil.WriteDICOM(t, filepath.Join(t.TempDir(), "whole.dcm"), testutil.ExplicitVRLittleEndian,
		testutil.Gray("MONOCHROME2", 2, 2, 16, 16, 0, pixels)...)
	data, err := os.ReadFile(whole)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		cut  int // bytes cut off the end
		err  string
	}{
		{"truncated inside Pixel Data", 3, "the file ends inside its Pixel Data: it is truncated"},
		{"truncated at a pixel boundary", 4, "the file ends inside its Pixel Data: it is truncated"},
		{"truncated inside Pixel Data's header", 10, "the file ends inside its Pixel Data: it is truncated"},
		{"truncated inside an earlier element", 8 + 12 + 5, "the file ends inside the element after High Bit (0028,0102): it is truncated"},
		{"ending after the last attribute", 8 + 12, "the file has no Pixel Data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "cut.dcm")
			require.NoError(t, os.WriteFile(p, data[:len(data)-tc.cut], 0o644))
			_, err := ReadDICOM(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "DICOM "+p+": ")
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

// A DICOM file of a few hundred bytes whose elements declare values of gigabytes is refused before the parser
// allocates them (found by FuzzReadDICOM: the parser allocates each value at its declared length, up to 4 GiB,
// before reading it, and the fuzzing process died of it), wherever the element is: top level, inside a sequence's
// item, in implicit VR, in a deflated data set, or in the file meta information.
func TestReadDICOMRefusesLengthsPastTheFile(t *testing.T) {
	huge := []byte{0xF0, 0xFF, 0xFF, 0xFF}
	ob := append([]byte{0x09, 0x00, 0x10, 0x00, 'O', 'B', 0, 0}, huge...)         // (0009,0010) OB, 4 GiB
	item := append([]byte{0xFE, 0xFF, 0x00, 0xE0, byte(len(ob)), 0, 0, 0}, ob...) // an item holding it
	gray := testutil.Gray("MONOCHROME2", 1, 2, 16, 16, 0, []uint16{1, 2})
	tests := []struct {
		name string
		ts   string
		// patch turns the written file into the hostile one
		patch func([]byte) []byte
		want  string
	}{
		{"top level", testutil.ExplicitVRLittleEndian, func(b []byte) []byte {
			i := bytes.Index(b, []byte{0x28, 0x00, 0x02, 0x00, 'U', 'S'}) // before Samples per Pixel
			return append(append(b[:i:i], ob...), b[i:]...)
		}, "the file ends inside (0009,0010), which declares 4294967280 bytes (VR OB)"},
		{"implicit VR, unknown tag", testutil.ImplicitVRLittleEndian, func(b []byte) []byte {
			i := bytes.Index(b, []byte{0x28, 0x00, 0x02, 0x00}) // before Samples per Pixel
			return append(append(b[:i:i], append([]byte{0x09, 0x00, 0x10, 0x00}, huge...)...), b[i:]...)
		}, "the file ends inside (0009,0010), which declares 4294967280 bytes (VR UN)"},
		{"inside a sequence item", testutil.ExplicitVRLittleEndian, func(b []byte) []byte {
			sq := append([]byte{0x08, 0x00, 0x15, 0x11, 'S', 'Q', 0, 0, byte(len(item)), 0, 0, 0}, item...) // (0008,1115)
			i := bytes.Index(b, []byte{0x28, 0x00, 0x02, 0x00, 'U', 'S'})
			return append(append(b[:i:i], sq...), b[i:]...)
		}, "the file ends inside (0009,0010), which declares 4294967280 bytes (VR OB)"},
		{"file meta information", testutil.ExplicitVRLittleEndian, func(b []byte) []byte {
			i := bytes.Index(b, []byte{0x02, 0x00, 0x01, 0x00, 'O', 'B'}) // the version element
			binary.LittleEndian.PutUint32(b[i+8:], 0xFFFFFFF0)
			return b
		}, "the file ends inside File Meta Information Version (0002,0001), which declares 4294967280 bytes (VR OB)"},
		{"pixel data", testutil.ExplicitVRLittleEndian, func(b []byte) []byte {
			i := bytes.Index(b, []byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'W'})
			binary.LittleEndian.PutUint32(b[i+8:], 0xFFFFFFF0)
			return b
		}, "the file ends inside its Pixel Data: it is truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testutil.WriteDICOM(t, filepath.Join(t.TempDir(), "a.dcm"), tc.ts, gray...)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, tc.patch(b), 0o644))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = ReadDICOM(p)
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "DICOM "+p+": "+tc.want)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated reading a %d-byte file", len(b))
		})
	}
	t.Run("deflated data set", func(t *testing.T) {
		sq := testutil.DICOMElement{Group: 0x0008, Element: 0x1115, VR: "SQ", Value: item}
		p := testutil.WriteDICOM(t, filepath.Join(t.TempDir(), "a.dcm"), testutil.DeflatedExplicitVRLittleEndian, append(gray, sq)...)
		_, err := ReadDICOM(p)
		assert.ErrorContains(t, err, "the file ends inside (0009,0010), which declares 4294967280 bytes (VR OB)")
	})
}

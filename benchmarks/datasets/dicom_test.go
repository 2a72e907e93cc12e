package datasets

import (
	"bytes"
	"image"
	"image/png"
	"path/filepath"
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
		{"no rows", testutil.ExplicitVRLittleEndian, append(gray()[:2], gray()[3:]...), "error finding Rows tag"},
		{"rows as text", testutil.ExplicitVRLittleEndian, append(append(gray()[:2:2],
			testutil.DICOMElement{Group: 0x0028, Element: 0x0010, VR: "CS", Value: "1"}), gray()[3:]...),
			"the DICOM parser failed on malformed data"},
		{"bits allocated", testutil.ExplicitVRLittleEndian, testutil.Gray("MONOCHROME2", 1, 1, 32, 32, 0, []uint16{1, 2}),
			"Bits Allocated is 32; only 8 and 16"},
		{"bits stored", testutil.ExplicitVRLittleEndian, testutil.Gray("MONOCHROME2", 1, 2, 8, 12, 0, []uint16{1, 2}),
			"Bits Stored 12 and High Bit 11 do not fit in 8 bits allocated"},
		{"short pixel data", testutil.ExplicitVRLittleEndian, testutil.Gray("MONOCHROME2", 2, 2, 16, 16, 0, []uint16{1, 2}),
			"expected_vl=8 actual_vl=4"},
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

// readImage resolves an image named in a manifest in folder dir and reads it, as the manifest readers do.
func readImage(dir, name string) (Image, error) {
	r, err := newRoot(dir, "the manifest's folder")
	if err != nil {
		return Image{}, err
	}
	return r.image(name)
}

// TestReadImageDICOM reads DICOM files named in a manifest: found by the marker whatever the name, sent as PNG
// bytes under the file's path; a .dcm file without the marker is an error.
func TestReadImageDICOM(t *testing.T) {
	dir := t.TempDir()
	p := testutil.WriteDICOM(t, filepath.Join(dir, "scan"), testutil.ExplicitVRLittleEndian, rescaled12()...)
	testutil.WriteFiles(t, dir, map[string]string{"fake.DCM": "not dicom", "a.png": "png"})
	img, err := readImage(dir, "scan")
	require.NoError(t, err)
	assert.Equal(t, p, img.Path)
	assert.Equal(t, p, img.File)
	decoded, err := png.Decode(bytes.NewReader(img.Data))
	require.NoError(t, err)
	require.IsType(t, &image.Gray{}, decoded)
	assert.Equal(t, rescaled12Want, decoded.(*image.Gray).Pix)

	img, err = readImage(dir, "a.png")
	require.NoError(t, err)
	assert.Equal(t, FileImage(filepath.Join(dir, "a.png")), img)

	_, err = readImage(dir, "fake.DCM")
	assert.ErrorContains(t, err, `image "fake.DCM" (`+filepath.Join(dir, "fake.DCM")+`) is named .dcm but has no "DICM" marker at byte 128`)
}

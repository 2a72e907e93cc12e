package datasets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// nativeTransferSyntax reports whether pixel data under the transfer syntax ts is stored uncompressed ("native"):
// Implicit VR Little Endian, Explicit VR Little Endian, Deflated Explicit VR Little Endian (the whole data set is
// deflated, the pixels themselves are native) and the retired Explicit VR Big Endian. Every other transfer syntax
// (JPEG, JPEG-LS, JPEG 2000, RLE, ...) encapsulates compressed frames.
func nativeTransferSyntax(ts string) bool {
	switch ts {
	case uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.DeflatedExplicitVRLittleEndian, uid.ExplicitVRBigEndian:
		return true
	}
	return false
}

// ReadDICOM reads the DICOM Part 10 file at p (parsed with github.com/suyashkumar/dicom) and returns its image as
// 8-bit grayscale, as a viewer displays it. Supported: native (uncompressed) pixel data of one frame, one sample
// per pixel (MONOCHROME1 or MONOCHROME2), 8 or 16 bits allocated, any Bits Stored / High Bit, unsigned or two's
// complement (Pixel Representation). Each stored value goes through:
//
//  1. the Modality LUT as a linear rescale (PS3.3 C.11.1.1.2): x = stored · Rescale Slope + Rescale Intercept
//     (slope 1 and intercept 0 when absent);
//
//  2. the VOI LUT (PS3.3 C.11.2.1.2) with the first Window Center c and Window Width w when the file has them,
//     onto the output range 0..255 (ymin = 0, ymax = 255), by the VOI LUT Function:
//     - LINEAR (the default, C.11.2.1.2.1): x ≤ c − 0.5 − (w−1)/2 → 0; x > c − 0.5 + (w−1)/2 → 255; otherwise
//     y = ((x − (c − 0.5)) / (w − 1) + 0.5) · 255; w must be at least 1;
//     - LINEAR_EXACT (C.11.2.1.3.2): x ≤ c − w/2 → 0; x > c + w/2 → 255; otherwise y = ((x − c) / w + 0.5) · 255;
//     w must be positive;
//     - SIGMOID (C.11.2.1.3.1): y = 255 / (1 + exp(−4 (x − c) / w)); w must be positive;
//
//     without a window, a min–max stretch of the image's own values: y = (x − min) / (max − min) · 255 (0 where
//     max = min);
//
//  3. for MONOCHROME1 (minimum value shown white), inversion: y = 255 − y;
//
//  4. rounding to the nearest integer, halves away from zero.
//
// The pixels are the first Rows × Columns × Bits Allocated / 8 bytes of Pixel Data, read in the transfer syntax's
// byte order; bytes past them (trailing padding, as in pydicom's MR_small_padded.dcm) and elements after Pixel
// Data are ignored, as pydicom ignores them. Compressed transfer syntaxes, a Modality LUT Sequence, or a VOI LUT
// Sequence without a window, give an error that names the file and says what to do; so do colour images, several
// frames, a file that ends inside an element (truncated) and Pixel Data shorter than the image.
func ReadDICOM(p string) (img *image.Gray, err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading DICOM: %w", err)
	}
	defer f.Close()
	return readDICOM(f, p)
}

// readDICOMInRoot is ReadDICOM of the file at p inside the folder root, opened without following a link out of
// root (sdk.OpenInRoot).
func readDICOMInRoot(root, p string) (*image.Gray, error) {
	f, err := sdk.OpenInRoot(root, p)
	if err != nil {
		return nil, fmt.Errorf("reading DICOM: %w", err)
	}
	defer f.Close()
	return readDICOM(f, p)
}

// readDICOM is ReadDICOM of the open file f, named p in errors.
func readDICOM(f *os.File, p string) (img *image.Gray, err error) {
	defer func() { // the parser indexes values of malformed files without checking
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("DICOM %s: the DICOM parser failed on malformed data (%v); check the file with a DICOM tool (e.g. dciodvfy)", p, r)
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading DICOM: %w", err)
	}
	if err := checkDICOMLengths(f); err != nil {
		return nil, fmt.Errorf("DICOM %s: %w", p, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading DICOM: %w", err)
	}
	// Pixel Data is read as its raw bytes (nativePixels decodes them): the parser's own decoding insists that the
	// value's length equal the image's, before the attributes that say what the image is could be checked.
	parser, err := dicom.NewParser(f, st.Size(), nil, dicom.SkipProcessingPixelDataValue())
	if err != nil {
		return nil, fmt.Errorf("DICOM %s: reading the file meta information: %w", p, err)
	}
	ds := parser.GetMetadata()
	ts, err := dicomString(ds, tag.TransferSyntaxUID)
	if err != nil {
		return nil, fmt.Errorf("DICOM %s: %w", p, err)
	}
	if !nativeTransferSyntax(ts) {
		name := "an unknown transfer syntax"
		if info, err := uid.Lookup(ts); err == nil {
			name = info.Name
		}
		return nil, fmt.Errorf("DICOM %s: transfer syntax %s (%s) holds compressed pixel data, which clipeval does not decode; "+
			"decompress the file first (e.g. dcmdjpeg, dcmdjpls, dcmdrle from DCMTK, or gdcmconv --raw)", p, ts, name)
	}
	if err := readUntilPixelData(parser, &ds); err != nil {
		return nil, fmt.Errorf("DICOM %s: %w", p, err)
	}
	img, err = dicomGray(ds, ts == uid.ExplicitVRBigEndian)
	if err != nil {
		return nil, fmt.Errorf("DICOM %s: %w", p, err)
	}
	return img, nil
}

// readUntilPixelData appends the data set's top-level elements to ds up to and including Pixel Data, and stops
// there: nothing after Pixel Data (Data Set Trailing Padding, signatures, stray bytes) concerns the image. A file
// that ends inside an element is truncated.
func readUntilPixelData(parser *dicom.Parser, ds *dicom.Dataset) error {
	last := "the file meta information"
	for {
		e, err := parser.Next()
		switch {
		case errors.Is(err, dicom.ErrorEndOfDICOM):
			return nil
		case errors.Is(err, io.EOF) && strings.Contains(err.Error(), "reading element tag"):
			return nil // the (inflated) data set ends between two elements
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			if strings.Contains(err.Error(), tag.PixelData.String()) {
				return fmt.Errorf("the file ends inside its Pixel Data: it is truncated (copied or downloaded only in part); copy or export it again")
			}
			return fmt.Errorf("the file ends inside the element after %s: it is truncated (copied or downloaded only in part); copy or export it again", last)
		case err != nil:
			return err
		}
		ds.Elements = append(ds.Elements, e)
		if e.Tag == tag.PixelData {
			return nil
		}
		last = tagName(e.Tag)
	}
}

// pixelFormat holds the Image Pixel attributes (PS3.3 C.7.6.3) ReadDICOM needs.
type pixelFormat struct {
	rows, cols                                      int
	bitsAllocated, bitsStored, highBit, pixelSigned int
	monochrome1                                     bool
}

// dicomGray converts the pixel data of a parsed data set as ReadDICOM describes; bigEndian is the transfer
// syntax's byte order.
func dicomGray(ds dicom.Dataset, bigEndian bool) (*image.Gray, error) {
	pf, err := dicomPixelFormat(ds)
	if err != nil {
		return nil, err
	}
	lut := tag.ModalityLUTSequence
	if !hasElement(ds, lut) && hasElement(ds, tag.VOILUTSequence) && !hasElement(ds, tag.WindowCenter) {
		lut = tag.VOILUTSequence
	}
	if hasElement(ds, lut) {
		return nil, fmt.Errorf("the file has a %s, which clipeval does not apply; convert the image with a DICOM tool that "+
			"does (e.g. dcm2pnm from DCMTK) and list the PNG", tagName(lut))
	}
	raw, err := nativePixels(ds, pf, bigEndian)
	if err != nil {
		return nil, err
	}
	slope, err := dicomDecimal(ds, tag.RescaleSlope, 1)
	if err != nil {
		return nil, err
	}
	intercept, err := dicomDecimal(ds, tag.RescaleIntercept, 0)
	if err != nil {
		return nil, err
	}
	x := make([]float64, len(raw))
	for i, v := range raw {
		x[i] = float64(storedValue(v, pf))*slope + intercept
	}
	voi, err := dicomVOI(ds, x)
	if err != nil {
		return nil, err
	}
	img := image.NewGray(image.Rect(0, 0, pf.cols, pf.rows))
	for i, v := range x {
		y := voi(v)
		if pf.monochrome1 {
			y = 255 - y
		}
		img.Pix[i] = uint8(math.Round(min(max(y, 0), 255)))
	}
	return img, nil
}

// dicomPixelFormat reads and checks the Image Pixel attributes.
func dicomPixelFormat(ds dicom.Dataset) (pixelFormat, error) {
	var pf pixelFormat
	photometric, err := dicomString(ds, tag.PhotometricInterpretation)
	if err != nil {
		return pf, err
	}
	switch photometric {
	case "MONOCHROME1":
		pf.monochrome1 = true
	case "MONOCHROME2":
	default:
		return pf, fmt.Errorf("photometric interpretation %q is not grayscale (MONOCHROME1 or MONOCHROME2); convert the image "+
			"to PNG with a DICOM tool (e.g. dcm2pnm) and list the PNG", photometric)
	}
	var samples int
	for _, a := range []struct {
		t   tag.Tag
		dst *int
		def int // -1: required
	}{
		{tag.SamplesPerPixel, &samples, -1}, {tag.Rows, &pf.rows, -1}, {tag.Columns, &pf.cols, -1},
		{tag.BitsAllocated, &pf.bitsAllocated, -1}, {tag.BitsStored, &pf.bitsStored, -1},
		{tag.PixelRepresentation, &pf.pixelSigned, 0},
	} {
		if *a.dst, err = dicomInt(ds, a.t, a.def); err != nil {
			return pf, err
		}
	}
	if pf.highBit, err = dicomInt(ds, tag.HighBit, pf.bitsStored-1); err != nil {
		return pf, err
	}
	frames := 1
	if s, err := dicomString(ds, tag.NumberOfFrames); err == nil {
		if frames, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return pf, fmt.Errorf("Number of Frames %q is not an integer", s)
		}
	}
	switch {
	case samples != 1:
		return pf, fmt.Errorf("%d samples per pixel; only grayscale images (1 sample) are read", samples)
	case frames != 1:
		return pf, fmt.Errorf("%d frames; only single-frame images are read (export the frame you want as PNG)", frames)
	case pf.bitsAllocated != 8 && pf.bitsAllocated != 16:
		return pf, fmt.Errorf("Bits Allocated is %d; only 8 and 16 are read", pf.bitsAllocated)
	case pf.bitsStored < 1 || pf.highBit >= pf.bitsAllocated || pf.highBit+1 < pf.bitsStored:
		return pf, fmt.Errorf("Bits Stored %d and High Bit %d do not fit in %d bits allocated", pf.bitsStored, pf.highBit, pf.bitsAllocated)
	case pf.pixelSigned != 0 && pf.pixelSigned != 1:
		return pf, fmt.Errorf("Pixel Representation is %d, not 0 (unsigned) or 1 (two's complement)", pf.pixelSigned)
	case pf.rows < 1 || pf.cols < 1:
		return pf, fmt.Errorf("the image is %d×%d pixels", pf.cols, pf.rows)
	}
	return pf, nil
}

// nativePixels returns the raw pixel cells of the single native frame, row by row: the first Rows × Columns
// cells of Pixel Data's bytes (the rest, if any, is padding), in the transfer syntax's byte order.
func nativePixels(ds dicom.Dataset, pf pixelFormat, bigEndian bool) ([]uint32, error) {
	e, err := ds.FindElementByTag(tag.PixelData)
	if err != nil {
		return nil, fmt.Errorf("the file has no Pixel Data (7FE0,0010): it holds no image, or it was cut short between two elements; " +
			"check it with a DICOM tool (e.g. dcmdump from DCMTK)")
	}
	if e.Value.ValueType() != dicom.PixelData {
		return nil, fmt.Errorf("Pixel Data could not be read as pixels")
	}
	info := dicom.MustGetPixelDataInfo(e.Value)
	if info.IsEncapsulated || !info.IntentionallyUnprocessed {
		return nil, fmt.Errorf("Pixel Data is encapsulated (undefined length) under a native transfer syntax; the file is malformed: " +
			"rewrite it with a DICOM tool (e.g. dcmconv or gdcmconv --raw)")
	}
	data := info.UnprocessedValueData
	n := pf.rows * pf.cols
	cell := pf.bitsAllocated / 8
	if len(data) < n*cell {
		return nil, fmt.Errorf("Pixel Data holds %d bytes, but %d×%d pixels of %d bits allocated need %d; the file is damaged "+
			"or its Rows, Columns or Bits Allocated are wrong", len(data), pf.cols, pf.rows, pf.bitsAllocated, n*cell)
	}
	out := make([]uint32, n)
	switch {
	case cell == 2 && bigEndian:
		for i := range out {
			out[i] = uint32(binary.BigEndian.Uint16(data[2*i:]))
		}
	case cell == 2:
		for i := range out {
			out[i] = uint32(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case bigEndian && e.RawValueRepresentation == "OW":
		// 8-bit cells in 16-bit words (OW): the first pixel is a word's low byte, which big endian stores second
		for i := range out {
			out[i] = uint32(data[i^1])
		}
	default:
		for i := range out {
			out[i] = uint32(data[i])
		}
	}
	return out, nil
}

// storedValue extracts the stored value from a pixel cell (PS3.5 8.1.1): Bits Stored bits ending at High Bit,
// sign-extended when Pixel Representation is 1.
func storedValue(cell uint32, pf pixelFormat) int64 {
	v := int64(cell>>uint(pf.highBit+1-pf.bitsStored)) & (1<<uint(pf.bitsStored) - 1)
	if pf.pixelSigned == 1 && v&(1<<uint(pf.bitsStored-1)) != 0 {
		v -= 1 << uint(pf.bitsStored)
	}
	return v
}

// dicomVOI returns the VOI transformation onto 0..255 (see ReadDICOM): the first window of the file, or the
// min–max stretch of x.
func dicomVOI(ds dicom.Dataset, x []float64) (func(float64) float64, error) {
	centers, err := dicomDecimals(ds, tag.WindowCenter)
	if err != nil {
		return nil, err
	}
	widths, err := dicomDecimals(ds, tag.WindowWidth)
	if err != nil {
		return nil, err
	}
	if len(centers) == 0 && len(widths) == 0 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range x {
			lo, hi = min(lo, v), max(hi, v)
		}
		if hi == lo {
			return func(float64) float64 { return 0 }, nil
		}
		return func(v float64) float64 { return (v - lo) / (hi - lo) * 255 }, nil
	}
	if len(centers) == 0 || len(widths) == 0 {
		return nil, fmt.Errorf("the file has %d Window Center and %d Window Width values; both or neither are needed", len(centers), len(widths))
	}
	c, w := centers[0], widths[0]
	function := "LINEAR"
	if s, err := dicomString(ds, tag.VOILUTFunction); err == nil && s != "" {
		function = s
	}
	switch function {
	case "LINEAR":
		if w < 1 {
			return nil, fmt.Errorf("Window Width %v is below 1, the least a LINEAR window allows", w)
		}
		return func(v float64) float64 {
			switch {
			case v <= c-0.5-(w-1)/2:
				return 0
			case v > c-0.5+(w-1)/2:
				return 255
			}
			return ((v-(c-0.5))/(w-1) + 0.5) * 255
		}, nil
	case "LINEAR_EXACT":
		if !(w > 0) {
			return nil, fmt.Errorf("Window Width %v is not positive", w)
		}
		return func(v float64) float64 {
			switch {
			case v <= c-w/2:
				return 0
			case v > c+w/2:
				return 255
			}
			return ((v-c)/w + 0.5) * 255
		}, nil
	case "SIGMOID":
		if !(w > 0) {
			return nil, fmt.Errorf("Window Width %v is not positive", w)
		}
		return func(v float64) float64 { return 255 / (1 + math.Exp(-4*(v-c)/w)) }, nil
	}
	return nil, fmt.Errorf("VOI LUT Function %q is not LINEAR, LINEAR_EXACT or SIGMOID", function)
}

// hasElement reports whether the data set has an element with tag t.
func hasElement(ds dicom.Dataset, t tag.Tag) bool {
	_, err := ds.FindElementByTag(t)
	return err == nil
}

// tagName names a tag for messages: its dictionary name and number.
func tagName(t tag.Tag) string {
	if info, err := tag.Find(t); err == nil {
		return fmt.Sprintf("%s %s", info.Name, t)
	}
	return t.String()
}

// dicomString returns the first value of a string attribute, with surrounding spaces removed.
func dicomString(ds dicom.Dataset, t tag.Tag) (string, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil {
		return "", fmt.Errorf("the file has no %s", tagName(t))
	}
	s, ok := e.Value.GetValue().([]string)
	if !ok || len(s) == 0 {
		return "", fmt.Errorf("%s is not a text value", tagName(t))
	}
	return strings.TrimSpace(s[0]), nil
}

// dicomInt returns the first value of an integer attribute, or def when it is absent (def −1: required).
func dicomInt(ds dicom.Dataset, t tag.Tag, def int) (int, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil {
		if def >= 0 {
			return def, nil
		}
		return 0, fmt.Errorf("the file has no %s", tagName(t))
	}
	v, ok := e.Value.GetValue().([]int)
	if !ok || len(v) == 0 {
		return 0, fmt.Errorf("%s is not an integer value", tagName(t))
	}
	return v[0], nil
}

// dicomDecimals returns the values of a decimal string (DS) attribute; none when it is absent or empty.
func dicomDecimals(ds dicom.Dataset, t tag.Tag) ([]float64, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil {
		return nil, nil
	}
	strs, ok := e.Value.GetValue().([]string)
	if !ok {
		return nil, fmt.Errorf("%s is not a decimal string", tagName(t))
	}
	var out []float64
	for _, s := range strs {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("%s value %q is not a number", tagName(t), s)
		}
		out = append(out, v)
	}
	return out, nil
}

// dicomDecimal returns the first value of a decimal string attribute, or def when it is absent.
func dicomDecimal(ds dicom.Dataset, t tag.Tag, def float64) (float64, error) {
	v, err := dicomDecimals(ds, t)
	if err != nil || len(v) == 0 {
		return def, err
	}
	return v[0], nil
}

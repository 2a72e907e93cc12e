package imageprep

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// MaxPixels is Pillow's decompression-bomb limit: Image.open refuses an image of more than
// 2 × Image.MAX_IMAGE_PIXELS (2 × 89,478,485) pixels, and so does Decode, before decoding any pixel data.
const MaxPixels = 2 * 89478485

// Decode decodes an encoded image into the Pillow mode Pillow 12.3's Image.open gives it, with the same pixel
// values. The format is identified by content, not by name:
//
//   - JPEG (libjpeg through cgo, as Pillow): 1 component → L, 3 → RGB, 4 → CMYK (inverted, Pillow's "CMYK;I"
//     Adobe convention). ISLOW IDCT, fancy upsampling. Corrupt-data warnings are ignored as Pillow ignores them;
//     data that ends before the last scanline is an error ("image file is truncated" in Pillow).
//   - PNG: gray 1-bit → "1", 2/4/8-bit → L, 16-bit → I;16; RGB → RGB (16-bit: high byte); palette → P; gray+alpha
//     8-bit → LA, 16-bit → RGBA; RGBA → RGBA (16-bit: high byte). tRNS is ignored (convert("RGB") drops it).
//   - TIFF (golang.org/x/image/tiff: uncompressed, LZW, Deflate, PackBits): gray 1-bit → "1", 2..8-bit → L,
//     16-bit → I;16 from a little-endian file ("II") and I;16B from a big-endian one ("MM"), WhiteIsZero 16-bit
//     kept as stored (Pillow does not invert it; Pillow cannot open it from a big-endian file, nor can Decode);
//     RGB → RGB; RGBA → RGBA (associated alpha divided out as Pillow's "RGBa" unpacker does); palette → P.
//   - BMP (golang.org/x/image/bmp: uncompressed 1/2/4/8/24/32-bit): 24-bit and 32-bit → RGB, 32-bit with
//     BI_BITFIELDS alpha → RGBA; paletted → P, or "1"/L when the palette is Pillow's grayscale ramp.
//
// A DICOM file ("DICM" at byte 128) is refused with an error that says so, unless its preamble holds a TIFF
// that decodes (a dual-personality file, which Pillow opens as TIFF). Anything else, an empty or corrupt file, or
// more than MaxPixels pixels is an error.
func Decode(data []byte) (*Image, error) {
	return decode(data, nil)
}

// decode is Decode with buffers from s: with a scratch (the preprocessing path), JPEG pixels go into s's decode
// slot and RGB images keep four bytes per pixel (Image.rgbx), as the resampler wants them; the Go decoders'
// buffers are used in place where their layout is already Pillow's. With nil, every result is a fresh,
// compact Image.
func decode(data []byte, s *scratch) (*Image, error) {
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("imageprep: empty image data (0 bytes)")
	case isDICOM(data):
		if isTIFF(data) {
			if im, err := decodeTIFF(data, s); err == nil {
				return im, nil
			}
		}
		return nil, fmt.Errorf("imageprep: this is a DICOM file (\"DICM\" at byte 128), which Pillow does not open and the " +
			"model's image decoder does not read; list it in a dataset manifest (the dataset readers render DICOM with its " +
			"window, as clipeval run feeds it), or convert it to PNG first (e.g. dcm2pnm from DCMTK)")
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return decodeJPEG(data, s)
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return decodePNG(data, s)
	case isTIFF(data):
		return decodeTIFF(data, s)
	case bytes.HasPrefix(data, []byte("BM")):
		return decodeBMP(data, s)
	}
	head := data[:min(len(data), 8)]
	return nil, fmt.Errorf("imageprep: unrecognised image format (first bytes % x); supported: JPEG, PNG, TIFF, BMP", head)
}

// isDICOM reports whether data is a DICOM Part 10 file: "DICM" after the 128-byte preamble (PS3.10 7.1).
func isDICOM(data []byte) bool {
	return len(data) >= 132 && string(data[128:132]) == "DICM"
}

// isTIFF reports whether data starts with a TIFF header.
func isTIFF(data []byte) bool {
	return bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*"))
}

// checkSize refuses empty sizes and decompression bombs.
func checkSize(format string, w, h int) error {
	if w < 1 || h < 1 {
		return fmt.Errorf("imageprep: %s image has an empty size %dx%d", format, w, h)
	}
	if w > MaxPixels/h {
		return fmt.Errorf("imageprep: %s image of %dx%d pixels exceeds the decompression-bomb limit of %d pixels (Pillow's); refusing to decode it", format, w, h, MaxPixels)
	}
	return nil
}

// admit checks the size an image's header declares (checkSize) and, with a scratch that has a budget, reserves the
// image's decoding cost from it before any pixel is decoded (once per scratch: a second call adds nothing). The
// reservation is returned by putScratch.
func (s *scratch) admit(format string, w, h int) error {
	if err := checkSize(format, w, h); err != nil {
		return err
	}
	if s == nil || s.budget == nil || s.reserved > 0 {
		return nil
	}
	s.reserved = int64(w) * int64(h) * DecodeBytesPerPixel
	s.budget.reserve(s.reserved)
	return nil
}

// goDecode runs a Go decoder after checking the size its header declares (and reserving its cost from s's budget);
// a decoder panic on hostile input becomes an error.
func goDecode(format string, data []byte, s *scratch, config func([]byte) (image.Config, error), decode func([]byte) (image.Image, error)) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("imageprep: decoding %s: corrupt data (decoder failed: %v)", format, r)
		}
	}()
	cfg, err := config(data)
	if err != nil {
		return nil, fmt.Errorf("imageprep: reading %s header: %w", format, err)
	}
	if err := s.admit(format, cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	img, err = decode(data)
	if err != nil {
		return nil, fmt.Errorf("imageprep: decoding %s: %w", format, err)
	}
	return img, nil
}

func decodePNG(data []byte, s *scratch) (*Image, error) {
	// IHDR must be the first chunk: length, "IHDR", width, height, bit depth (byte 24), colour type (byte 25).
	if len(data) < 33 || string(data[12:16]) != "IHDR" {
		return nil, fmt.Errorf("imageprep: PNG data is truncated or has no IHDR chunk first")
	}
	depth, ctype := data[24], data[25]
	img, err := goDecode("PNG", data, s,
		func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) },
		func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) })
	if err != nil {
		return nil, err
	}
	var mode Mode
	switch ctype {
	case 0:
		mode = map[byte]Mode{1: Mode1, 16: ModeI16}[depth]
		if mode == "" {
			mode = ModeL
		}
	case 2:
		mode = ModeRGB
	case 3:
		mode = ModeP
	case 4:
		mode = ModeLA
		if depth == 16 { // Pillow opens 16-bit gray+alpha as RGBA ("LA;16B" rawmode)
			mode = ModeRGBA
		}
	case 6:
		mode = ModeRGBA
	default:
		return nil, fmt.Errorf("imageprep: PNG colour type %d is not valid", ctype)
	}
	return fromGo(img, mode, s != nil)
}

func decodeTIFF(data []byte, s *scratch) (*Image, error) {
	tags, err := tiffTags(data)
	if err != nil {
		return nil, err
	}
	if tags.sampleFormat != 1 {
		kind := map[int]string{2: "signed integer", 3: "floating-point"}[tags.sampleFormat]
		if kind == "" {
			kind = "undefined"
		}
		return nil, fmt.Errorf("imageprep: TIFF with %s samples (SampleFormat %d), which Pillow opens as mode I or F; clipeval "+
			"reads unsigned samples only: convert the image (e.g. to a 16-bit PNG, shifting signed values to unsigned)", kind, tags.sampleFormat)
	}
	if tags.bits == 16 && tags.samples == 1 && tags.photometric == 0 && tags.bigEndian {
		return nil, fmt.Errorf("imageprep: TIFF: 16-bit WhiteIsZero gray in a big-endian file, which Pillow cannot open " +
			"(\"unknown pixel mode\"); save it as BlackIsZero or little-endian")
	}
	img, err := goDecode("TIFF", data, s,
		func(b []byte) (image.Config, error) { return tiff.DecodeConfig(bytes.NewReader(b)) },
		func(b []byte) (image.Image, error) { return tiff.Decode(bytes.NewReader(b)) })
	if err != nil {
		return nil, err
	}
	var mode Mode
	switch m := img.(type) {
	case *image.Gray:
		mode = ModeL
		if tags.bits == 1 && tags.photometric <= 1 {
			mode = Mode1
		}
	case *image.Gray16:
		mode = ModeI16
		if tags.bigEndian {
			mode = ModeI16B
		}
		if tags.photometric == 0 {
			// Pillow reads 16-bit WhiteIsZero as stored ("I;16" rawmode); the Go decoder inverted it.
			for i := 0; i+1 < len(m.Pix); i += 2 {
				m.Pix[i], m.Pix[i+1] = ^m.Pix[i], ^m.Pix[i+1]
			}
		}
	case *image.Paletted:
		mode = ModeP
	case *image.NRGBA, *image.NRGBA64:
		mode = ModeRGBA
	case *image.RGBA, *image.RGBA64:
		// 3 samples (RGB), or 4 with associated alpha, which Pillow opens as RGBA ("RGBa" rawmode)
		mode = ModeRGB
		if tags.samples == 4 {
			mode = ModeRGBA
		}
	default:
		return nil, fmt.Errorf("imageprep: TIFF decoded to an unsupported pixel layout %T", img)
	}
	return fromGo(img, mode, s != nil)
}

// tiffInfo is what tiffTags reads from a TIFF's header and first IFD.
type tiffInfo struct {
	bits, photometric, samples, sampleFormat int
	bigEndian                                bool
}

// tiffTags reads the byte order, BitsPerSample (first value), PhotometricInterpretation, SamplesPerPixel and
// SampleFormat (first value) from the first IFD, which the Go decoder does not report but which decide Pillow's mode ("1" for 1-bit gray,
// RGBA for 4 samples, I;16B for big-endian 16-bit gray).
func tiffTags(data []byte) (tiffInfo, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	bad := fmt.Errorf("imageprep: TIFF data is truncated or its first directory is corrupt")
	if len(data) < 8 {
		return tiffInfo{}, bad
	}
	off := int64(bo.Uint32(data[4:8]))
	if off < 8 || off+2 > int64(len(data)) {
		return tiffInfo{}, bad
	}
	n := int64(bo.Uint16(data[off:]))
	if off+2+12*n > int64(len(data)) {
		return tiffInfo{}, bad
	}
	bits, photometric, samples, sampleFormat := 1, -1, 1, 1
	for i := int64(0); i < n; i++ {
		e := data[off+2+12*i:]
		tag, typ, count := bo.Uint16(e), bo.Uint16(e[2:]), bo.Uint32(e[4:])
		value := func() int { // first value of a SHORT or LONG entry
			if typ == 3 {
				if count <= 2 {
					return int(bo.Uint16(e[8:]))
				}
				p := int64(bo.Uint32(e[8:]))
				if p+2 <= int64(len(data)) {
					return int(bo.Uint16(data[p:]))
				}
				return -1
			}
			return int(bo.Uint32(e[8:]))
		}
		switch tag {
		case 258:
			bits = value()
		case 262:
			photometric = value()
		case 277:
			samples = value()
		case 339:
			sampleFormat = value()
		}
	}
	return tiffInfo{bits: bits, photometric: photometric, samples: samples, sampleFormat: sampleFormat, bigEndian: data[0] == 'M'}, nil
}

func decodeBMP(data []byte, s *scratch) (*Image, error) {
	img, err := goDecode("BMP", data, s,
		func(b []byte) (image.Config, error) { return bmp.DecodeConfig(bytes.NewReader(b)) },
		func(b []byte) (image.Image, error) { return bmp.Decode(bytes.NewReader(b)) })
	if err != nil {
		return nil, err
	}
	switch m := img.(type) {
	case *image.Paletted:
		// Pillow (BmpImagePlugin) drops a palette that is the grayscale ramp: 2 colours black and white → "1",
		// otherwise entry i == (i, i, i) for every entry → "L".
		gray := true
		for i, c := range m.Palette {
			want := uint8(i)
			if len(m.Palette) == 2 {
				want = uint8(255 * i)
			}
			r, g, b := rgb8(c)
			gray = gray && r == want && g == want && b == want
		}
		switch {
		case gray && len(m.Palette) == 2:
			return fromGo(img, Mode1, s != nil)
		case gray:
			return fromGo(img, ModeL, s != nil)
		}
		return fromGo(img, ModeP, s != nil)
	case *image.NRGBA:
		// 32-bit: Pillow reads BI_RGB as "BGRX" (RGB, alpha ignored) and BI_BITFIELDS with an alpha mask as RGBA.
		if len(data) >= 34 && binary.LittleEndian.Uint32(data[30:34]) == 3 {
			return fromGo(img, ModeRGBA, s != nil)
		}
	}
	return fromGo(img, ModeRGB, s != nil)
}

// rgb8 returns a palette colour's straight RGB bytes.
func rgb8(c color.Color) (r, g, b uint8) {
	switch v := c.(type) {
	case color.RGBA:
		if v.A == 0xFF || v.A == 0 {
			return v.R, v.G, v.B
		}
	case color.NRGBA:
		return v.R, v.G, v.B
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return n.R, n.G, n.B
}

// fromGo copies a Go image into a Pillow-mode Image (ModeRGB with four bytes per pixel when rgbx), using the Go
// image's own buffer where its layout is already the Image's. 16-bit samples keep their high byte in the 8-bit
// modes (Pillow's "RGB;16B"-style unpackers); premultiplied RGBA with partial alpha is divided out as Pillow's
// "RGBa" unpacker does (alpha 0 → all 0).
func fromGo(img image.Image, mode Mode, rgbx bool) (*Image, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if err := checkSize("decoded", w, h); err != nil {
		return nil, err
	}
	out := &Image{Mode: mode, Width: w, Height: h, rgbx: rgbx && mode == ModeRGB}
	switch mode {
	case ModeP:
		p, ok := img.(*image.Paletted)
		if !ok {
			return nil, fmt.Errorf("imageprep: internal: palette mode from %T", img)
		}
		out.Palette = make([]uint8, 768)
		for i, c := range p.Palette {
			if i < 256 {
				out.Palette[3*i], out.Palette[3*i+1], out.Palette[3*i+2] = rgb8(c)
			}
		}
		out.Pix = rows8(p.Pix, p.Stride, w, h, 1)
		return out, nil
	case ModeI16, ModeI16B:
		out.Pix16 = make([]uint16, w*h)
		if g, ok := img.(*image.Gray16); ok {
			for y := 0; y < h; y++ {
				row := g.Pix[y*g.Stride : y*g.Stride+2*w]
				dst := out.Pix16[y*w : (y+1)*w]
				for x := range dst {
					dst[x] = uint16(row[2*x])<<8 | uint16(row[2*x+1])
				}
			}
			return out, nil
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out.Pix16[y*w+x] = gray16(img, b.Min.X+x, b.Min.Y+y)
			}
		}
		return out, nil
	}
	if fastCopy(out, img) {
		return out, nil
	}
	c := out.pixelBytes()
	out.Pix = make([]uint8, w*h*c)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			px := rgba8(img, b.Min.X+x, b.Min.Y+y)
			dst := out.Pix[(y*w+x)*c : (y*w+x+1)*c]
			switch mode {
			case Mode1, ModeL:
				dst[0] = px[0]
			case ModeLA:
				dst[0], dst[1] = px[0], px[3]
			default: // RGB (RGBX), RGBA
				copy(dst, px[:c])
			}
		}
	}
	return out, nil
}

// rows8 returns the w×h pixels of c bytes of a Go image's buffer as one compact slice: the buffer itself when it
// has no padding between rows, else a copy.
func rows8(pix []uint8, stride, w, h, c int) []uint8 {
	if stride == w*c {
		return pix[: w*h*c : w*h*c]
	}
	out := make([]uint8, w*h*c)
	for y := 0; y < h; y++ {
		copy(out[y*w*c:(y+1)*w*c], pix[y*stride:y*stride+w*c])
	}
	return out
}

// fastCopy sets out.Pix straight from the pixel layouts the Go decoders give most often (gray to L/"1", opaque
// RGBA to RGB, NRGBA to RGBA, and their 16-bit forms), without a call per pixel, reporting whether it did.
func fastCopy(out *Image, img image.Image) bool {
	w, h := out.Width, out.Height
	switch m := img.(type) {
	case *image.Gray:
		if out.Mode != ModeL && out.Mode != Mode1 {
			return false
		}
		out.Pix = rows8(m.Pix, m.Stride, w, h, 1)
		return true
	case *image.RGBA:
		if out.Mode != ModeRGB {
			return false
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				if row[4*x+3] != 0xFF {
					return false // partial alpha: the generic path divides it out
				}
			}
		}
		if out.rgbx {
			out.Pix = rows8(m.Pix, m.Stride, w, h, 4) // R, G, B and an opaque alpha as the unused byte
			return true
		}
		out.Pix = make([]uint8, 3*w*h)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			dst := out.Pix[3*y*w : 3*(y+1)*w]
			for x := 0; x < w; x++ {
				dst[3*x], dst[3*x+1], dst[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
		return true
	case *image.NRGBA:
		if out.Mode != ModeRGBA {
			return false
		}
		out.Pix = rows8(m.Pix, m.Stride, w, h, 4)
		return true
	case *image.RGBA64: // 16-bit RGB: the high bytes
		if out.Mode != ModeRGB {
			return false
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+8*w]
			for x := 0; x < w; x++ {
				if row[8*x+6] != 0xFF || row[8*x+7] != 0xFF {
					return false // partial alpha: the generic path divides it out
				}
			}
		}
		c := out.pixelBytes()
		out.Pix = make([]uint8, c*w*h)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+8*w]
			dst := out.Pix[c*y*w : c*(y+1)*w]
			for x := 0; x < w; x++ {
				d, p := dst[c*x:c*x+3:c*x+3], row[8*x:8*x+6:8*x+6]
				d[0], d[1], d[2] = p[0], p[2], p[4]
			}
		}
		return true
	case *image.NRGBA64: // 16-bit RGBA (and gray+alpha, which Pillow opens as RGBA): the high bytes
		if out.Mode != ModeRGBA {
			return false
		}
		out.Pix = make([]uint8, 4*w*h)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+8*w]
			dst := out.Pix[4*y*w : 4*(y+1)*w]
			for x := 0; x < w; x++ {
				d, p := dst[4*x:4*x+4:4*x+4], row[8*x:8*x+8:8*x+8]
				d[0], d[1], d[2], d[3] = p[0], p[2], p[4], p[6]
			}
		}
		return true
	}
	return false
}

// gray16 returns a 16-bit gray sample.
func gray16(img image.Image, x, y int) uint16 {
	switch m := img.(type) {
	case *image.Gray16:
		return m.Gray16At(x, y).Y
	case *image.NRGBA64:
		return m.NRGBA64At(x, y).R
	}
	r, _, _, _ := img.At(x, y).RGBA()
	return uint16(r)
}

// rgba8 returns a pixel's straight (not premultiplied) RGBA bytes as Pillow's unpackers would produce them.
func rgba8(img image.Image, x, y int) [4]uint8 {
	switch m := img.(type) {
	case *image.Gray:
		v := m.GrayAt(x, y).Y
		return [4]uint8{v, v, v, 255}
	case *image.NRGBA:
		c := m.NRGBAAt(x, y)
		return [4]uint8{c.R, c.G, c.B, c.A}
	case *image.NRGBA64:
		c := m.NRGBA64At(x, y)
		return [4]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8), uint8(c.A >> 8)}
	case *image.RGBA:
		c := m.RGBAAt(x, y)
		return unpremul8(c.R, c.G, c.B, c.A)
	case *image.RGBA64:
		c := m.RGBA64At(x, y)
		return unpremul8(uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8), uint8(c.A>>8))
	case *image.Paletted:
		r, g, b := rgb8(m.Palette[m.ColorIndexAt(x, y)])
		return [4]uint8{r, g, b, 255}
	}
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	return [4]uint8{c.R, c.G, c.B, c.A}
}

// unpremul8 is Pillow's unpackRGBa: alpha 0 → (0, 0, 0, 0), 255 → as is, else CLIP8(v·255/a).
func unpremul8(r, g, b, a uint8) [4]uint8 {
	switch a {
	case 0:
		return [4]uint8{}
	case 255:
		return [4]uint8{r, g, b, a}
	}
	d := func(v uint8) uint8 { return uint8(clampByte(int(v) * 255 / int(a))) }
	return [4]uint8{d(r), d(g), d(b), a}
}

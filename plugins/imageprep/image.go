package imageprep

import "fmt"

// Mode names a Pillow image mode: how many bands an image has and how each pixel is stored.
type Mode string

// The Pillow modes this package decodes to and preprocesses.
const (
	// Mode1 is Pillow's bilevel mode "1": one byte per pixel, 0 or 255 (PNG and TIFF 1-bit gray).
	Mode1 Mode = "1"
	// ModeL is 8-bit gray.
	ModeL Mode = "L"
	// ModeLA is 8-bit gray with alpha: two bytes per pixel (L, A).
	ModeLA Mode = "LA"
	// ModeRGB is 8-bit RGB: three bytes per pixel.
	ModeRGB Mode = "RGB"
	// ModeRGBA is 8-bit RGB with straight (not premultiplied) alpha: four bytes per pixel.
	ModeRGBA Mode = "RGBA"
	// ModeP is 8-bit palette indices into Image.Palette.
	ModeP Mode = "P"
	// ModeCMYK is 8-bit CMYK: four bytes per pixel, 0 = no ink (as Pillow stores it after decoding).
	ModeCMYK Mode = "CMYK"
	// ModeI16 is Pillow's "I;16": unsigned 16-bit gray stored little-endian, held in Image.Pix16 (as values).
	ModeI16 Mode = "I;16"
	// ModeI16B is Pillow's "I;16B": unsigned 16-bit gray stored big-endian (Pillow opens big-endian 16-bit TIFF
	// so), held in Image.Pix16 as values. It converts like I;16 but resizes differently (see loadI16B).
	ModeI16B Mode = "I;16B"
	// ModeI is Pillow's "I": signed 32-bit gray, held in Image.Pix32.
	ModeI Mode = "I"
	// ModeF is Pillow's "F": 32-bit float gray, held in Image.PixF.
	ModeF Mode = "F"
)

// Image is a decoded image in its own Pillow mode, row-major, top row first, with no padding between rows.
// Exactly one pixel slice is used, chosen by Mode: Pix for the 8-bit modes (Bands bytes per pixel, interleaved),
// Pix16 for ModeI16 and ModeI16B, Pix32 for ModeI and PixF for ModeF.
type Image struct {
	// Mode is the Pillow mode the pixels are in.
	Mode Mode
	// Width and Height are the size in pixels.
	Width, Height int
	// Pix holds the pixels of the 8-bit modes (1, L, LA, RGB, RGBA, P, CMYK).
	Pix []uint8
	// Pix16 holds ModeI16 and ModeI16B pixels.
	Pix16 []uint16
	// Pix32 holds ModeI pixels.
	Pix32 []int32
	// PixF holds ModeF pixels.
	PixF []float32
	// Palette holds ModeP's colours: 256 RGB triplets (768 bytes). Entries a file does not define are black,
	// as in Pillow.
	Palette []uint8
	// rgbx marks a ModeRGB image whose Pix holds four bytes per pixel (R, G, B, unused), as Pillow stores RGB:
	// what the preprocessing path decodes to, so that the resampler works on 4-byte pixels.
	rgbx bool
}

// pixelBytes returns how many bytes of Pix one pixel takes.
func (im *Image) pixelBytes() int {
	if im.rgbx {
		return 4
	}
	return im.Mode.Bands()
}

// Bands returns the number of bytes per pixel in Pix for the 8-bit modes, or 1 for the 16/32-bit modes.
// It returns 0 for an unknown mode.
func (m Mode) Bands() int {
	switch m {
	case Mode1, ModeL, ModeP, ModeI16, ModeI16B, ModeI, ModeF:
		return 1
	case ModeLA:
		return 2
	case ModeRGB:
		return 3
	case ModeRGBA, ModeCMYK:
		return 4
	}
	return 0
}

// Validate reports whether the image is consistent: a known mode, a positive size, and a pixel slice of the
// right length (plus a 768-byte palette for ModeP).
func (im *Image) Validate() error {
	if im == nil {
		return fmt.Errorf("imageprep: nil image")
	}
	b := im.Mode.Bands()
	if b == 0 {
		return fmt.Errorf("imageprep: unknown image mode %q (want one of 1, L, LA, RGB, RGBA, P, CMYK, I;16, I;16B, I, F)", im.Mode)
	}
	if im.Width < 1 || im.Height < 1 {
		return fmt.Errorf("imageprep: image size %dx%d is empty", im.Width, im.Height)
	}
	n := im.Width * im.Height
	var got int
	switch im.Mode {
	case ModeI16, ModeI16B:
		got = len(im.Pix16)
	case ModeI:
		got = len(im.Pix32)
	case ModeF:
		got = len(im.PixF)
	default:
		n *= im.pixelBytes()
		got = len(im.Pix)
	}
	if got != n {
		return fmt.Errorf("imageprep: %s image %dx%d holds %d samples, want %d", im.Mode, im.Width, im.Height, got, n)
	}
	if im.Mode == ModeP && len(im.Palette) != 768 {
		return fmt.Errorf("imageprep: palette image has a %d-byte palette, want 768 (256 RGB entries)", len(im.Palette))
	}
	return nil
}

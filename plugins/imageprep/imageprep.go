// Package imageprep reproduces open_clip's eval image transform bit-exactly in Go, so that the pixels a model
// sees equal what Pillow 12.3 + torchvision produce for the same file:
//
//	Resize(Size, BICUBIC) of the shorter side  — torchvision F.resize → PIL Image.resize, in the image's own mode
//	CenterCrop(Size)                             — torchvision F.center_crop: top = int(round((h - Size) / 2.0))
//	convert("RGB")                               — open_clip MaybeConvertMode → PIL Image.convert
//	ToTensor                                     — float32(v) / 255
//	Normalize(mean, std)                         — (x - mean) / std in float32, CHW
//
// Decoding follows Pillow too: JPEG through libjpeg (cgo, ISLOW DCT, fancy upsampling, grayscale stays "L",
// 4-component stays CMYK with Pillow's Adobe inversion), PNG/TIFF/BMP through the Go decoders mapped onto the
// Pillow mode Pillow would open the file in. See Decode.
//
// Resizing is Pillow's two-pass fixed-point bicubic (resample.go), computed only for the pixels the centre crop
// keeps, in vectorised C kernels that add Pillow's own integer products (kernels_cgo.go); "P" and "1" images are
// scaled with NEAREST as Pillow does, "RGBA"/"LA" through premultiplied alpha. PreprocessInto decodes RGB as
// RGBX (four bytes a pixel, as Pillow stores RGB), reuses pooled buffers, and converts and normalises the crop in
// one pass.
package imageprep

import (
	"fmt"
	"math"
)

// maxSize bounds Config.Size so that Size*Size*3 cannot overflow and a typo cannot ask for gigabytes.
const maxSize = 16384

// Config is the eval transform of one model: the square input side and the per-channel normalisation.
// It comes from open_clip_config.json (vision_cfg.image_size, preprocess_cfg.mean/std); see ConfigFromOpenCLIP.
type Config struct {
	// Size is the side of the square the image is resized (shorter side) and centre-cropped to.
	Size int
	// Mean and Std normalise each RGB channel after scaling to [0, 1]: (x - Mean) / Std.
	Mean, Std [3]float32
}

// Validate reports whether the config can preprocess: 1 <= Size <= 16384, finite means, finite non-zero stds.
func (c Config) Validate() error {
	if c.Size < 1 || c.Size > maxSize {
		return fmt.Errorf("imageprep: image size %d is out of range (want 1..%d; set vision_cfg.image_size)", c.Size, maxSize)
	}
	for ch := 0; ch < 3; ch++ {
		m, s := float64(c.Mean[ch]), float64(c.Std[ch])
		if math.IsNaN(m) || math.IsInf(m, 0) {
			return fmt.Errorf("imageprep: mean[%d] = %v is not finite", ch, m)
		}
		if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("imageprep: std[%d] = %v must be finite and non-zero", ch, s)
		}
	}
	return nil
}

// ResizedSize returns the size torchvision's Resize(size) gives a w×h image (_compute_resized_output_size for an
// int size): the shorter side becomes size, the longer int(size * long / short), truncated.
func ResizedSize(w, h, size int) (nw, nh int) {
	if w <= h {
		return size, int(float64(size*h) / float64(w))
	}
	return int(float64(size*w) / float64(h)), size
}

// cropOrigin is torchvision's centre-crop offset int(round((n - size) / 2.0)): Python's round, half to even.
func cropOrigin(n, size int) int {
	return int(math.RoundToEven(float64(n-size) / 2.0))
}

// ResizeCrop applies the transform's first two steps to an image in its own mode: Resize of the shorter side to
// Size (Pillow's BICUBIC; NEAREST for "P" and "1"; premultiplied for "RGBA" and "LA"; no resampling at all when
// the size already fits) and CenterCrop(Size). The result is Size×Size in the same mode.
func (c Config) ResizeCrop(im *Image) (*Image, error) {
	return c.resizeCrop(im, nil)
}

// resizeCrop is ResizeCrop with its 8-bit buffers from s (nil: fresh ones); with a scratch, the result's pixels
// are s's and live until s is used again.
func (c Config) resizeCrop(im *Image, s *scratch) (*Image, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("imageprep: resizing: %w", err)
	}
	nw, nh := ResizedSize(im.Width, im.Height, c.Size)
	if nw < 1 || nh < 1 {
		return nil, fmt.Errorf("imageprep: %dx%d image resized to %d gives %dx%d; the image is too elongated", im.Width, im.Height, c.Size, nw, nh)
	}
	wd := window{w: im.Width, h: im.Height, nw: nw, nh: nh,
		x0: cropOrigin(nw, c.Size), y0: cropOrigin(nh, c.Size), ww: c.Size, wh: c.Size}
	out := &Image{Mode: im.Mode, Width: c.Size, Height: c.Size, Palette: im.Palette, rgbx: im.rgbx}
	resized := nw != im.Width || nh != im.Height
	switch b := im.pixelBytes(); {
	case im.Mode == ModeI16:
		out.Pix16 = resampleWide(im.Pix16, wd, storeI16)
	case im.Mode == ModeI16B:
		out.Pix16 = resampleWideLoad(im.Pix16, wd, loadI16B, storeI16B)
	case im.Mode == ModeI:
		out.Pix32 = resampleWide(im.Pix32, wd, storeI)
	case im.Mode == ModeF:
		out.PixF = resampleWide(im.PixF, wd, storeF)
	case resized && (im.Mode == ModeP || im.Mode == Mode1):
		out.Pix = nearest(im.Pix, wd)
	case resized && (im.Mode == ModeRGBA || im.Mode == ModeLA):
		out.Pix = resample8With(premultiplyWith(im.Pix, b, s), b, wd, s)
		unpremultiply(out.Pix, b)
	default:
		out.Pix = resample8With(im.Pix, b, wd, s)
	}
	return out, nil
}

// RGB8Image returns the Size×Size×3 HWC RGB bytes of an image after resize, centre crop and convert("RGB"):
// what torchvision's ToTensor would scale to [0, 1].
func (c Config) RGB8Image(im *Image) ([]uint8, error) {
	crop, err := c.ResizeCrop(im)
	if err != nil {
		return nil, err
	}
	out := make([]uint8, c.Size*c.Size*3)
	toRGB(out, crop)
	return out, nil
}

// Normalize writes ToTensor + Normalize of Size×Size×3 HWC RGB bytes into dst as 3×Size×Size CHW float32:
// (float32(v)/255 - mean) / std, each step rounded to float32 as torch computes it on CPU — torchvision's
// to_tensor is img.to(float32).div(255) (a true float32 division) and F.normalize is tensor.sub_(mean).div_(std)
// with mean and std as float32 tensors.
func (c Config) Normalize(dst []float32, rgb []uint8) error {
	if err := c.Validate(); err != nil {
		return err
	}
	n := c.Size * c.Size
	if len(rgb) != 3*n || len(dst) != 3*n {
		return fmt.Errorf("imageprep: normalising needs %d RGB bytes and a %d-float destination (3x%dx%d), got %d and %d",
			3*n, 3*n, c.Size, c.Size, len(rgb), len(dst))
	}
	lut := c.lut()
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:]
	for i := 0; i < n; i++ {
		p := rgb[3*i : 3*i+3]
		r[i], g[i], b[i] = lut[0][p[0]], lut[1][p[1]], lut[2][p[2]]
	}
	return nil
}

// lut returns, per channel, the normalised value of each byte (see Normalize).
func (c Config) lut() *[3][256]float32 {
	var lut [3][256]float32
	for ch := range lut {
		for v := range lut[ch] {
			x := float32(v) / 255
			lut[ch][v] = (x - c.Mean[ch]) / c.Std[ch]
		}
	}
	return &lut
}

// PreprocessImageInto writes the full eval transform of a decoded image into dst (3×Size×Size CHW float32).
func (c Config) PreprocessImageInto(dst []float32, im *Image) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if len(dst) != 3*c.Size*c.Size {
		return fmt.Errorf("imageprep: destination holds %d floats, want 3x%dx%d = %d", len(dst), c.Size, c.Size, 3*c.Size*c.Size)
	}
	rgb, err := c.RGB8Image(im)
	if err != nil {
		return err
	}
	return c.Normalize(dst, rgb)
}

// PreprocessInto decodes an encoded image and writes its eval transform into dst (3×Size×Size CHW float32),
// for filling a batch tensor in place. Decoding, resizing and conversion reuse pooled buffers, so that a stream
// of images allocates little beyond what the PNG/TIFF/BMP decoders allocate themselves.
func (c Config) PreprocessInto(dst []float32, data []byte) error {
	return c.PreprocessWithin(nil, dst, data)
}

// PreprocessWithin is PreprocessInto with the image's decoding cost reserved from budget (nil: none) from the
// moment its header is read until its pixels are in dst: parallel decodes sharing a budget stay within it.
func (c Config) PreprocessWithin(budget *Budget, dst []float32, data []byte) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if len(dst) != 3*c.Size*c.Size {
		return fmt.Errorf("imageprep: destination holds %d floats, want 3x%dx%d = %d", len(dst), c.Size, c.Size, 3*c.Size*c.Size)
	}
	s := getScratch()
	s.budget = budget
	defer putScratch(s)
	im, err := decode(data, s)
	if err != nil {
		return err
	}
	crop, err := c.resizeCrop(im, s)
	if err != nil {
		return err
	}
	c.normalizeImage(dst, crop)
	return nil
}

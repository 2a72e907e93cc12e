package imageprep

import "math"

// This file reproduces the Pillow conversions the eval transform goes through (src/libImaging/Convert.c,
// Pillow 12.3): the premultiplication round trip Image.resize does for "RGBA" and "LA", and convert("RGB").

// mulDiv255 is ImagingUtils.h's MULDIV255: a·b/255 rounded, in integers.
func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

// premultiply returns a copy of an RGBA (c = 4) or LA (c = 2) pixel buffer with the colour bands multiplied by
// alpha, as Pillow's convert to "RGBa"/"La" does (rgbA2rgba, lA2la).
func premultiply(pix []uint8, c int) []uint8 { return premultiplyWith(pix, c, nil) }

// premultiplyWith is premultiply into s's slot bufPremul (nil: a fresh buffer).
func premultiplyWith(pix []uint8, c int, s *scratch) []uint8 {
	out := s.bytes(bufPremul, len(pix))
	for i := 0; i+c <= len(pix); i += c {
		a := int(pix[i+c-1])
		for ch := 0; ch < c-1; ch++ {
			out[i+ch] = uint8(mulDiv255(int(pix[i+ch]), a))
		}
		out[i+c-1] = uint8(a)
	}
	return out
}

// unpremultiply divides the colour bands by alpha in place, as Pillow's "RGBa"→"RGBA" and "La"→"LA"
// conversions do (rgba2rgbA, la2lA): alpha 0 and 255 leave the bands as they are, otherwise 255·v/alpha
// truncated and clipped to 255.
func unpremultiply(pix []uint8, c int) {
	for i := 0; i+c <= len(pix); i += c {
		a := int(pix[i+c-1])
		if a == 0 || a == 255 {
			continue
		}
		for ch := 0; ch < c-1; ch++ {
			pix[i+ch] = uint8(clampByte(255 * int(pix[i+ch]) / a))
		}
	}
}

// toRGB converts a valid image to 8-bit RGB exactly as Pillow's Image.convert("RGB") does, writing
// Width×Height×3 bytes into out: alpha is dropped (not composited), a palette is looked up, CMYK becomes
// (255-K) - (255-K)·C/255 per band, I;16 and I;16B (through "L") and I values above 255 become 255 (I below 0
// becomes 0), F goes through "L" (truncated, clamped).
func toRGB(out []uint8, im *Image) {
	n := im.Width * im.Height
	gray := func(i int, v uint8) { out[3*i], out[3*i+1], out[3*i+2] = v, v, v }
	switch im.Mode {
	case Mode1:
		for i := 0; i < n; i++ {
			var v uint8
			if im.Pix[i] != 0 {
				v = 255
			}
			gray(i, v)
		}
	case ModeL:
		for i := 0; i < n; i++ {
			gray(i, im.Pix[i])
		}
	case ModeLA:
		for i := 0; i < n; i++ {
			gray(i, im.Pix[2*i])
		}
	case ModeRGB:
		if !im.rgbx {
			copy(out, im.Pix)
			break
		}
		for i := 0; i < n; i++ {
			copy(out[3*i:3*i+3], im.Pix[4*i:4*i+3])
		}
	case ModeRGBA:
		for i := 0; i < n; i++ {
			copy(out[3*i:3*i+3], im.Pix[4*i:4*i+3])
		}
	case ModeP:
		for i := 0; i < n; i++ {
			p := int(im.Pix[i]) * 3
			copy(out[3*i:3*i+3], im.Palette[p:p+3])
		}
	case ModeCMYK:
		for i := 0; i < n; i++ {
			p := im.Pix[4*i : 4*i+4]
			nk := 255 - int(p[3])
			for ch := 0; ch < 3; ch++ {
				out[3*i+ch] = uint8(clampByte(nk - mulDiv255(int(p[ch]), nk)))
			}
		}
	case ModeI16, ModeI16B:
		// I;16 → RGB is I16_RGB; I;16B has no converter to RGB, so Image.convert goes through its base mode "L"
		// (I16B_L): both give 255 above 255.
		for i, v := range im.Pix16 {
			gray(i, uint8(min(v, 255)))
		}
	case ModeI:
		for i, v := range im.Pix32 {
			gray(i, uint8(max(0, min(v, 255))))
		}
	case ModeF:
		for i, v := range im.PixF {
			var b uint8
			switch {
			case math.IsNaN(float64(v)) || v <= 0:
				b = 0
			case v >= 255:
				b = 255
			default:
				b = uint8(v)
			}
			gray(i, b)
		}
	}
}

// normalizeImage writes ToTensor + Normalize of a Size×Size image in any mode into dst (3×Size×Size CHW float32):
// the values Normalize(dst, rgb) gives for rgb = convert("RGB") of the image, read straight from its L or RGB
// bytes where it has them.
func (c Config) normalizeImage(dst []float32, im *Image) {
	n := im.Width * im.Height
	lut := c.lut()
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:3*n]
	switch {
	case im.Mode == ModeL:
		for i, v := range im.Pix[:n] {
			r[i], g[i], b[i] = lut[0][v], lut[1][v], lut[2][v]
		}
	case im.Mode == ModeRGB && im.rgbx:
		px := im.Pix[:4*n]
		for i := range r {
			p := px[4*i : 4*i+3]
			r[i], g[i], b[i] = lut[0][p[0]], lut[1][p[1]], lut[2][p[2]]
		}
	default:
		rgb := make([]uint8, 3*n)
		toRGB(rgb, im)
		for i := range r {
			p := rgb[3*i : 3*i+3]
			r[i], g[i], b[i] = lut[0][p[0]], lut[1][p[1]], lut[2][p[2]]
		}
	}
}

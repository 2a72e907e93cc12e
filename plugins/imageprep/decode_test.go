package imageprep

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setJPEGSize rewrites the size in a JPEG's SOF0 header.
func setJPEGSize(t *testing.T, data []byte, w, h int) []byte {
	t.Helper()
	out := bytes.Clone(data)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	require.Positive(t, i, "no SOF0 marker")
	binary.BigEndian.PutUint16(out[i+5:], uint16(h))
	binary.BigEndian.PutUint16(out[i+7:], uint16(w))
	return out
}

func TestDecodeErrors(t *testing.T) {
	jpg := photoJPEG(t, 64, 48)
	png := pngFile(t, 4, 4, 8, 0, repeatRows([]byte{1, 2, 3, 4}, 4))
	badCRC := bytes.Clone(png)
	badCRC[len(badCRC)-20] ^= 0xFF // inside IDAT
	for _, tc := range []struct {
		name, errLike string
		data          []byte
	}{
		{"empty", "empty image data", nil},
		{"text", "unrecognised image format", []byte("hello, world")},
		{"GIF", "unrecognised image format", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")},
		{"WebP", "unrecognised image format", []byte("RIFF\x10\x00\x00\x00WEBPVP8 ")},
		{"JPEG signature only", "JPEG", []byte{0xFF, 0xD8, 0xFF}},
		{"JPEG garbage after SOI", "decoding JPEG", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{7}, 100)...)},
		{"JPEG truncated", "truncated", jpg[:len(jpg)/2]},
		{"JPEG bomb", "decompression-bomb", setJPEGSize(t, jpg, 40000, 40000)},
		{"JPEG zero width", "JPEG", setJPEGSize(t, jpg, 0, 48)},
		{"PNG truncated", "PNG", png[:len(png)-20]},
		{"PNG header only", "PNG", png[:20]},
		{"PNG bad CRC", "PNG", badCRC},
		{"PNG bomb", "decompression-bomb", pngFile(t, 20000, 20000, 8, 0, nil)},
		{"PNG zero size", "PNG", pngFile(t, 0, 4, 8, 0, nil)},
		{"TIFF garbage", "TIFF", []byte("II*\x00\x08\x00\x00\x00garbage")},
		{"TIFF header only", "TIFF", []byte("MM\x00*")},
		{"BMP garbage", "BMP", []byte("BM\x00\x00garbage")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := Decode(tc.data)
			require.Error(t, err)
			assert.Nil(t, im)
			assert.Contains(t, err.Error(), tc.errLike)
			_, err = preprocess(openAI(224), tc.data)
			assert.Error(t, err)
		})
	}
}

// TestDecodeCutsNeverPanic decodes every prefix of a JPEG and a PNG: each must return an image or an error,
// and every prefix missing more than the trailer must be an error.
func TestDecodeCutsNeverPanic(t *testing.T) {
	for name, data := range map[string][]byte{
		"JPEG": photoJPEG(t, 40, 24),
		"PNG":  pngFile(t, 9, 7, 8, 2, repeatRows(repeat([]byte{1, 2, 3}, 9), 7)),
	} {
		t.Run(name, func(t *testing.T) {
			for cut := 0; cut < len(data); cut++ {
				_, err := Decode(data[:cut])
				if cut < len(data)-16 {
					require.Errorf(t, err, "prefix of %d of %d bytes decoded", cut, len(data))
				}
			}
		})
	}
}

func TestImageValidate(t *testing.T) {
	for _, tc := range []struct {
		name, errLike string
		im            *Image
	}{
		{"nil", "nil image", nil},
		{"unknown mode", "unknown image mode", &Image{Mode: "YCbCr", Width: 1, Height: 1, Pix: []uint8{1, 2, 3}}},
		{"empty", "empty", &Image{Mode: ModeL}},
		{"short pixels", "holds 3 samples, want 4", &Image{Mode: ModeL, Width: 2, Height: 2, Pix: []uint8{1, 2, 3}}},
		{"RGB counts bytes", "holds 4 samples, want 12", &Image{Mode: ModeRGB, Width: 2, Height: 2, Pix: []uint8{1, 2, 3, 4}}},
		{"I;16 uses Pix16", "holds 0 samples", &Image{Mode: ModeI16, Width: 1, Height: 1, Pix: []uint8{1, 2}}},
		{"P needs a palette", "palette", &Image{Mode: ModeP, Width: 1, Height: 1, Pix: []uint8{0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.im.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.errLike)
			_, err = openAI(4).RGB8Image(tc.im)
			assert.Error(t, err)
		})
	}
}

func TestDestinationErrors(t *testing.T) {
	cfg := testConfig(4)
	data := grayJPEG(t, 8, 8, 1, true)
	assert.ErrorContains(t, cfg.PreprocessInto(make([]float32, 47), data), "destination holds 47 floats, want 3x4x4 = 48")
	assert.ErrorContains(t, cfg.Normalize(make([]float32, 48), make([]uint8, 47)), "normalising needs 48 RGB bytes")
	dst := make([]float32, 48)
	require.NoError(t, cfg.PreprocessInto(dst, data))
	assert.Equal(t, float32(1.0/255), dst[0]) // gray level 1, mean 0, std 1
}

// TestDecodeWhiteIsZero16 checks that a little-endian 16-bit WhiteIsZero TIFF keeps its stored values, as Pillow
// opens it ("I;16" rawmode, no inversion), where the Go decoder inverts them.
func TestDecodeWhiteIsZero16(t *testing.T) {
	im, err := Decode(tiff16(binary.LittleEndian, 3, 1, 0, []uint16{0, 100, 65535}))
	require.NoError(t, err)
	assert.Equal(t, &Image{Mode: ModeI16, Width: 3, Height: 1, Pix16: []uint16{0, 100, 65535}}, im)
	im, err = Decode(tiff16(binary.LittleEndian, 3, 1, 1, []uint16{0, 100, 65535}))
	require.NoError(t, err)
	assert.Equal(t, &Image{Mode: ModeI16, Width: 3, Height: 1, Pix16: []uint16{0, 100, 65535}}, im)
	// signed 16-bit (SampleFormat 2), which Pillow opens as mode I: refused by name, not read as unsigned
	_, err = Decode(tiff16(binary.LittleEndian, 3, 1, 1, []uint16{0, 100, 65535}, [3]uint32{339, 3, 2}))
	assert.ErrorContains(t, err, "TIFF with signed integer samples (SampleFormat 2), which Pillow opens as mode I or F")
}

// TestDecodeDICOM checks that a DICOM file is named as one, whatever its 128-byte preamble holds (zeros, or the
// start of a TIFF header, as in files written to be both), and that a dual-personality file whose preamble is a
// whole TIFF decodes as that TIFF, as Pillow opens it.
func TestDecodeDICOM(t *testing.T) {
	dicomAfter := func(preamble []byte) []byte {
		data := make([]byte, 128, 300)
		copy(data, preamble)
		data = append(data, "DICM"...)
		return append(data, bytes.Repeat([]byte{2, 0, 0, 0}, 20)...) // a file meta group would follow
	}
	for name, data := range map[string][]byte{
		"zero preamble":         dicomAfter(nil),
		"TIFF-looking preamble": dicomAfter([]byte("II*\x00\x08\x00\x00\x00")),
		"big-endian TIFF start": dicomAfter([]byte("MM\x00*\x00\x00\x00\x08")),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `this is a DICOM file ("DICM" at byte 128), which Pillow does not open`)
			assert.Contains(t, err.Error(), "convert it to PNG first")
			_, err = preprocess(openAI(4), data)
			assert.ErrorContains(t, err, "this is a DICOM file")
		})
	}
	t.Run("dual-personality TIFF", func(t *testing.T) {
		// A 1x1 TIFF whose IFD and pixel fit in the preamble, then "DICM".
		tif := tiff16(binary.LittleEndian, 1, 1, 1, []uint16{1234})
		require.Less(t, len(tif), 128)
		im, err := Decode(dicomAfter(tif))
		require.NoError(t, err)
		assert.Equal(t, &Image{Mode: ModeI16, Width: 1, Height: 1, Pix16: []uint16{1234}}, im)
	})
}

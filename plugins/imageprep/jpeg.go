//go:build cgo

package imageprep

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

// ipErr is a libjpeg error manager that jumps back on errors and records premature end of data.
typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	int eof;
	char msg[JMSG_LENGTH_MAX];
} ipErr;

static void ipErrorExit(j_common_ptr cinfo) {
	ipErr *e = (ipErr *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->msg);
	longjmp(e->jump, 1);
}

// ipEmit ignores warnings and traces, as Pillow's decoder does, but notes when the data ran out.
static void ipEmit(j_common_ptr cinfo, int level) {
	ipErr *e = (ipErr *)cinfo->err;
	if (level < 0) {
		if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
			e->eof = 1;
		}
		cinfo->err->num_warnings++;
	}
}

enum { ipOK = 0, ipFail = 1, ipTruncated = 2, ipUnsupported = 3, ipTooSmall = 4 };

// ipDecode decodes a baseline/progressive 8-bit JPEG with libjpeg's defaults (what Pillow uses): ISLOW IDCT,
// fancy upsampling; 1 component as gray, 3 as RGB (colour space as libjpeg detects it), 4 as CMYK as stored.
// With rgbx (and libjpeg-turbo's colour-space extensions), 3 components come out as RGBX, 4 bytes a pixel: the
// same R, G, B values (libjpeg-turbo converts to every RGB layout with the same code), in the layout the
// resampler wants. It always sets *w, *h, *comps (the file's) and *outComps (bytes per output pixel) from the
// header; with out == NULL or outLen too small it stops after the header.
static int ipDecode(const unsigned char *data, unsigned long len, unsigned char *out, size_t outLen, int rgbx,
                    int *w, int *h, int *comps, int *outComps, char *msg, size_t msgLen) {
	struct jpeg_decompress_struct cinfo;
	ipErr jerr;
	memset(&cinfo, 0, sizeof cinfo);
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = ipErrorExit;
	jerr.pub.emit_message = ipEmit;
	jerr.eof = 0;
	jerr.msg[0] = 0;
	if (setjmp(jerr.jump)) {
		jpeg_destroy_decompress(&cinfo);
		snprintf(msg, msgLen, "%s", jerr.msg);
		return ipFail;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, len);
	jpeg_read_header(&cinfo, TRUE);
	*w = (int)cinfo.image_width;
	*h = (int)cinfo.image_height;
	*comps = cinfo.num_components;
	if (jerr.eof) {
		jpeg_destroy_decompress(&cinfo);
		return ipTruncated;
	}
	*outComps = cinfo.num_components;
	switch (cinfo.num_components) {
	case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
	case 3:
		cinfo.out_color_space = JCS_RGB;
#ifdef JCS_EXTENSIONS
		if (rgbx) {
			cinfo.out_color_space = JCS_EXT_RGBX;
			*outComps = 4;
		}
#endif
		break;
	case 4: cinfo.out_color_space = JCS_CMYK; break;
	default:
		jpeg_destroy_decompress(&cinfo);
		return ipUnsupported;
	}
	size_t need = (size_t)cinfo.image_width * cinfo.image_height * *outComps;
	if (out == NULL || outLen < need) {
		jpeg_destroy_decompress(&cinfo);
		return ipTooSmall;
	}
	jpeg_start_decompress(&cinfo);
	if ((int)cinfo.output_width != *w || (int)cinfo.output_height != *h || cinfo.output_components != *outComps) {
		jpeg_destroy_decompress(&cinfo);
		return ipUnsupported;
	}
	size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
	JSAMPROW rows[16];
	while (cinfo.output_scanline < cinfo.output_height) {
		JDIMENSION n = cinfo.output_height - cinfo.output_scanline;
		if (n > 16) n = 16;
		for (JDIMENSION i = 0; i < n; i++) rows[i] = out + (cinfo.output_scanline + i) * stride;
		jpeg_read_scanlines(&cinfo, rows, n);
	}
	if (jerr.eof) {
		jpeg_destroy_decompress(&cinfo);
		return ipTruncated;
	}
	// Pillow finishes the stream, but a missing EOI after the last scanline is not an error there either.
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	return ipOK;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// decodeJPEG decodes a JPEG with libjpeg the way Pillow's JpegImagePlugin does. With a scratch, the pixels go into
// its decode slot, RGB as RGBX (Image.rgbx).
func decodeJPEG(data []byte, s *scratch) (*Image, error) {
	var w, h, comps, outComps C.int
	var msg [200]C.char
	rgbx := C.int(0)
	if s != nil {
		rgbx = 1
	}
	call := func(out []byte) C.int {
		var outPtr *C.uchar
		if len(out) > 0 {
			outPtr = (*C.uchar)(unsafe.Pointer(&out[0]))
		}
		return C.ipDecode((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), outPtr, C.size_t(len(out)), rgbx,
			&w, &h, &comps, &outComps, &msg[0], C.size_t(len(msg)))
	}
	rc := call(nil)
	if rc == C.ipTooSmall {
		if err := s.admit("JPEG", int(w), int(h)); err != nil {
			return nil, err
		}
		out := s.bytes(bufDecode, int(w)*int(h)*int(outComps))
		if rc = call(out); rc == C.ipOK {
			return jpegImage(out, int(w), int(h), int(comps), int(outComps)), nil
		}
	}
	switch rc {
	case C.ipTruncated:
		return nil, fmt.Errorf("imageprep: JPEG data is truncated (the file ends before the last scanline)")
	case C.ipUnsupported:
		return nil, fmt.Errorf("imageprep: JPEG with %d components is not supported (want 1, 3 or 4)", int(comps))
	}
	return nil, fmt.Errorf("imageprep: decoding JPEG: %s", C.GoString(&msg[0]))
}

// jpegImage wraps decoded JPEG samples in the Pillow mode: L, RGB (RGBX when outComps is 4), or CMYK inverted
// back from Adobe's convention (Pillow's "CMYK;I" rawmode, applied to every 4-component JPEG).
func jpegImage(pix []byte, w, h, comps, outComps int) *Image {
	mode := map[int]Mode{1: ModeL, 3: ModeRGB, 4: ModeCMYK}[comps]
	if mode == ModeCMYK {
		for i := range pix {
			pix[i] = ^pix[i]
		}
	}
	return &Image{Mode: mode, Width: w, Height: h, Pix: pix, rgbx: mode == ModeRGB && outComps == 4}
}

//go:build !cgo

package imageprep

import "fmt"

// decodeJPEG needs libjpeg through cgo to match Pillow; without cgo JPEG input is refused rather than decoded
// with a decoder whose pixels differ.
func decodeJPEG([]byte, *scratch) (*Image, error) {
	return nil, fmt.Errorf("imageprep: JPEG decoding needs cgo and libjpeg (build with CGO_ENABLED=1 and libjpeg62-turbo-dev installed)")
}

//go:build !cgo

package imageprep

// Without cgo the 8-bit passes are the Go kernels of kernels_go.go.

func hpass8(out []uint8, outStride int, src []uint8, srcStride, rows, inW, c int, tp passTaps) {
	hpass8Go(out, outStride, src, srcStride, rows, inW, c, tp)
}

func vpass8(out []uint8, outStride int, src []uint8, srcStride, width int, tp passTaps) {
	vpass8Go(out, outStride, src, srcStride, width, tp)
}

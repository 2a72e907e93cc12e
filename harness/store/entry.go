package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// An entry's value is
//
//	version (1 byte, entryVersion) | dim (uint32 LE) | dim float32 LE | crc32c (uint32 LE)
//
// where the crc32c (Castagnoli) covers the model's fingerprint, the 32-byte key and every byte before it, so that a
// value that is damaged, cut short, or found under another key or model fails verification.
const (
	entryVersion = 1
	entryHeader  = 1 + 4
	entryTrailer = 4
	// maxDim bounds an embedding's width: far above any CLIP model's, and small enough that a damaged dim can never
	// ask for a large allocation.
	maxDim = 1 << 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entrySize is the length of an entry's value for a vector of dim values.
func entrySize(dim int) int { return entryHeader + 4*dim + entryTrailer }

// encodeEntry returns the value stored for vec under model and key.
func encodeEntry(model string, key Key, vec []float32) []byte {
	b := make([]byte, entrySize(len(vec)))
	b[0] = entryVersion
	binary.LittleEndian.PutUint32(b[1:], uint32(len(vec)))
	for i, v := range vec {
		binary.LittleEndian.PutUint32(b[entryHeader+4*i:], math.Float32bits(v))
	}
	n := len(b) - entryTrailer
	binary.LittleEndian.PutUint32(b[n:], entryChecksum(model, key, b[:n]))
	return b
}

func entryChecksum(model string, key Key, body []byte) uint32 {
	c := crc32.Update(0, castagnoli, []byte(model))
	c = crc32.Update(c, castagnoli, key[:])
	return crc32.Update(c, castagnoli, body)
}

// errCorrupt is why an entry failed verification.
var errCorrupt = errors.New("corrupt entry")

// checkEntry verifies a stored value and returns its dimension.
func checkEntry(model string, key []byte, b []byte) (int, error) {
	if len(key) != len(Key{}) {
		return 0, fmt.Errorf("%w: key of %d bytes, want %d", errCorrupt, len(key), len(Key{}))
	}
	if len(b) < entryHeader+entryTrailer {
		return 0, fmt.Errorf("%w: %d bytes, shorter than any entry", errCorrupt, len(b))
	}
	if b[0] != entryVersion {
		return 0, fmt.Errorf("%w: format version %d, want %d", errCorrupt, b[0], entryVersion)
	}
	dim := int(binary.LittleEndian.Uint32(b[1:]))
	if dim < 1 || dim > maxDim || len(b) != entrySize(dim) {
		return 0, fmt.Errorf("%w: %d bytes for a dimension of %d", errCorrupt, len(b), dim)
	}
	n := len(b) - entryTrailer
	if got, want := entryChecksum(model, Key(key), b[:n]), binary.LittleEndian.Uint32(b[n:]); got != want {
		return 0, fmt.Errorf("%w: checksum %08x, stored %08x", errCorrupt, got, want)
	}
	return dim, nil
}

// decodeEntry verifies a stored value and returns a copy of its vector (the value itself lives in the store's
// memory map, valid only during its transaction).
func decodeEntry(model string, key []byte, b []byte) ([]float32, error) {
	dim, err := checkEntry(model, key, b)
	if err != nil {
		return nil, err
	}
	vec := make([]float32, dim)
	for i := range vec {
		vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[entryHeader+4*i:]))
	}
	return vec, nil
}

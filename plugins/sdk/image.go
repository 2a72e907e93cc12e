package sdk

import (
	"fmt"
	"io"
	"os"
)

// MaxImageBytes is the largest encoded image (1 GiB) ImageInput.Bytes reads.
const MaxImageBytes = 1 << 30

// ImageInput is one image to encode, by reference: the whole file at Path, or, when Size > 0, the Size bytes at
// Offset in it (a member of an uncompressed tar shard). Data, when set, holds the encoded bytes instead (small
// items only: a Load chunk is at most ChunkBytes). The backend reads the bytes itself, so images never travel
// through the harness.
type ImageInput struct {
	// Name identifies the image in messages and caches (e.g. "shard-000.tar#000042.jpg"); empty means Path.
	Name string
	// Path is the absolute path of the image file, or of the file holding it.
	Path string
	// Offset and Size locate the image inside Path when Size > 0.
	Offset, Size int64
	// Data, when non-empty, holds the encoded image bytes and Path is not read.
	Data []byte
	// Root, when set, is the dataset folder Path lies inside: Bytes opens Path relative to it without following a
	// symbolic link (or "..") out of it at the moment of opening, so that an image replaced by a link after Load
	// is refused rather than read (see OpenInRoot).
	Root string
}

// FileImage returns the image stored as the whole file at path.
func FileImage(path string) ImageInput { return ImageInput{Path: path} }

// Label returns the image's name for messages and caches: Name, else Path with the byte range when there is one.
func (im ImageInput) Label() string {
	switch {
	case im.Name != "":
		return im.Name
	case im.Size > 0:
		return fmt.Sprintf("%s@%d+%d", im.Path, im.Offset, im.Size)
	}
	return im.Path
}

// open opens the image's file: inside Root when it is set (OpenInRoot), else as it is.
func (im ImageInput) open() (*os.File, error) {
	if im.Root == "" {
		return os.Open(im.Path)
	}
	return OpenInRoot(im.Root, im.Path)
}

// Bytes returns the encoded image: Data, the file at Path (inside Root when set), or its byte range. Its errors are marked InvalidInput:
// a missing, unreadable or oversized image is a problem of the dataset.
func (im ImageInput) Bytes() ([]byte, error) {
	b, err := im.bytes()
	return b, InvalidInput(err)
}

// bytes is Bytes without the mark.
func (im ImageInput) bytes() ([]byte, error) {
	if len(im.Data) > 0 {
		return im.Data, nil
	}
	if im.Path == "" {
		return nil, fmt.Errorf("image %q has neither a path nor data", im.Label())
	}
	if im.Size == 0 && im.Offset == 0 {
		f, err := im.open()
		if err != nil {
			return nil, fmt.Errorf("reading image: %w", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("reading image: %w", err)
		}
		if st.Size() > MaxImageBytes {
			return nil, fmt.Errorf("image %s is %d bytes, more than the %d an image may have", im.Path, st.Size(), MaxImageBytes)
		}
		b, err := io.ReadAll(io.LimitReader(f, MaxImageBytes+1))
		if err != nil {
			return nil, fmt.Errorf("reading image: %w", err)
		}
		if len(b) > MaxImageBytes {
			return nil, fmt.Errorf("image %s holds more than the %d bytes an image may have", im.Path, MaxImageBytes)
		}
		return b, nil
	}
	if im.Offset < 0 || im.Size <= 0 || im.Size > MaxImageBytes {
		return nil, fmt.Errorf("image %s: byte range %d+%d is invalid (size must be 1..%d)", im.Label(), im.Offset, im.Size, MaxImageBytes)
	}
	f, err := im.open()
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", im.Label(), err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", im.Label(), err)
	}
	if im.Offset+im.Size > st.Size() {
		return nil, fmt.Errorf("image %s: byte range %d+%d ends past the end of %s (%d bytes); was the file changed?",
			im.Label(), im.Offset, im.Size, im.Path, st.Size())
	}
	b := make([]byte, im.Size)
	if _, err := f.ReadAt(b, im.Offset); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading image %s: %w", im.Label(), err)
	}
	return b, nil
}

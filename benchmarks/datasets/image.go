package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// imageExtensions lists, for messages, the file extensions isImageName accepts.
const imageExtensions = ".png, .jpg, .jpeg, .tif, .tiff, .bmp, .dcm"

// isImageName reports whether a file name ends, in any letter case, in the extension of a format the model
// backend decodes (PNG 8/16-bit, JPEG, TIFF, BMP) or of DICOM, which the readers convert to PNG.
func isImageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm":
		return true
	}
	return false
}

// Image is one image of a data set as the model backend gets it: by reference (sdk.ImageInput without Data),
// never as bytes in memory, plus the file it came from.
type Image struct {
	// ImageInput locates the image's bytes: the image file itself (Path); a byte range of a plain tar shard
	// (Name "<shard>#<key>.<ext>", Path the shard, Offset, Size); or a byte range of the task's spool file for
	// images the task made (a DICOM file's pixels as PNG, named by the DICOM file's path; a member of a
	// compressed shard). Its Label is the image's identity: two images are the same when their labels are.
	sdk.ImageInput
	// File is the file the image was read from, for provenance: the image or DICOM file, or the tar shard.
	File string
}

// FileImage is the image stored in the file at the absolute path p, which the backend reads itself.
func FileImage(p string) Image { return Image{ImageInput: sdk.FileImage(p), File: p} }

// RootedImage is the image stored in the file at the absolute path p inside the dataset folder root: the backend
// opens it relative to root, without following a link out of it (sdk.ImageInput.Root), when it reads it.
func RootedImage(root, p string) Image {
	im := FileImage(p)
	im.Root = root
	return im
}

// root is a folder that the image paths of a data set are resolved in and must stay inside.
type root struct {
	dir  string // the folder as given
	real string // dir with every symbolic link resolved
	what string // how errors name the folder, e.g. "the manifest's folder"
}

// newRoot prepares dir for resolving image paths; what names it in errors.
func newRoot(dir, what string) (*root, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset folder %s: %w", dir, err)
	}
	return &root{dir: dir, real: real, what: what}, nil
}

// resolve returns the absolute path of name, a path relative to the root. The name must stay inside the root
// (no absolute paths, no ".." out of it, no symbolic link leading out of it) and name an existing regular file.
func (r *root) resolve(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("image path is empty")
	}
	if filepath.IsAbs(name) || filepath.VolumeName(name) != "" {
		return "", fmt.Errorf("image path %q is absolute; write it relative to %s %s", name, r.what, r.dir)
	}
	if !filepath.IsLocal(name) {
		return "", fmt.Errorf("image path %q leaves %s %s", name, r.what, r.dir)
	}
	p := filepath.Join(r.dir, name)
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("image %q (%s) is not a regular file", name, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", name, err)
	}
	if rel, err := filepath.Rel(r.real, real); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("image %q is a symbolic link to %s, outside %s %s; copy the file into the data set",
			name, real, r.what, r.dir)
	}
	return p, nil
}

// image resolves name (see resolve) and returns the image: the file itself, or for a DICOM file (found by the
// "DICM" marker at byte 128, whatever the extension) its pixels converted as ReadDICOM does, as PNG bytes written
// to sp under the DICOM file's path. A file named *.dcm without the marker is an error.
func (r *root) image(name string, sp *Spool) (Image, error) {
	p, gray, err := r.open(name)
	if err != nil {
		return Image{}, sp.bad(r.path(name), err)
	}
	if gray == nil {
		return RootedImage(r.dir, p), nil
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, gray); err != nil {
		return Image{}, fmt.Errorf("DICOM %s: encoding the pixels as PNG: %w", p, err)
	}
	in, err := sp.Add(p, buf.Bytes())
	if err != nil {
		return Image{}, fmt.Errorf("DICOM %s: %w", p, err)
	}
	return Image{ImageInput: in, File: p}, nil
}

// open resolves name (see resolve) and, for a DICOM file, reads its pixels (gray; nil for other images). Its
// errors are the image's own (missing, unreadable, out of the root, not convertible): a bad image.
func (r *root) open(name string) (p string, gray *image.Gray, err error) {
	if p, err = r.resolve(name); err != nil {
		return "", nil, err
	}
	isDICOM, err := hasDICOMMarker(r.dir, p)
	if err != nil {
		return "", nil, fmt.Errorf("image %q: %w", name, err)
	}
	if !isDICOM {
		if strings.EqualFold(filepath.Ext(p), ".dcm") {
			return "", nil, fmt.Errorf("image %q (%s) is named .dcm but has no \"DICM\" marker at byte 128; "+
				"only DICOM Part 10 files are read (rewrite it with a DICOM tool, e.g. dcmconv)", name, p)
		}
		return p, nil, nil
	}
	if gray, err = readDICOMInRoot(r.dir, p); err != nil {
		return "", nil, err
	}
	return p, gray, nil
}

// path is how a skipped image is named: its path in the root when name is a path inside it, else name as the
// data set wrote it.
func (r *root) path(name string) string {
	if name != "" && filepath.IsLocal(name) {
		return filepath.Join(r.dir, name)
	}
	return name
}

// ReadImage resolves an image path written in a manifest relative to the manifest's folder dir, as ResolveImage
// does, and returns the image: the file, or a DICOM file's pixels as PNG bytes in sp (see ReadDICOM).
func ReadImage(dir, name string, sp *Spool) (Image, error) {
	r, err := newRoot(dir, "the manifest's folder")
	if err != nil {
		return Image{}, err
	}
	return r.image(name, sp)
}

// dicomMarker is the magic word of a DICOM Part 10 file, after its 128-byte preamble (PS3.10 7.1).
const dicomMarker = "DICM"

// hasDICOMMarker reports whether the file at p, inside the folder root, holds "DICM" at byte 128; it opens the file
// without following a link out of root (sdk.OpenInRoot).
func hasDICOMMarker(root, p string) (bool, error) {
	f, err := sdk.OpenInRoot(root, p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 128+len(dicomMarker))
	if _, err := io.ReadFull(f, head); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, err
	}
	return string(head[128:]) == dicomMarker, nil
}

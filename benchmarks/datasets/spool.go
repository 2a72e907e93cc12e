package datasets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// Spool collects images a task makes during Load (DICOM renderings, members of compressed shards) into one file in
// the task's work folder (sdk.LoadRequest.WorkDir, which the harness makes and removes), so that they travel to the
// model backend by reference (path, offset, size) and never sit in memory or in a message. The file is created on
// the first image; Close syncs and closes it and must be called before Load returns. A Spool is not safe for
// concurrent use; its zero value has no work folder and refuses every image.
//
// A Spool also carries the task's bad-image policy (SkipBadImages): the readers that take one leave out the items
// whose image cannot be opened or converted while loading, and record the image (Skipped), instead of failing.
type Spool struct {
	dir    string
	f      *os.File
	size   int64
	byName map[string]sdk.ImageInput
	closed bool

	skip    bool
	skipped []sdk.SkippedImage
	seen    map[string]bool // images in skipped
}

// NewSpool returns a spool writing into the work folder dir (the LoadRequest's WorkDir; it may be empty as long as
// no image needs spooling).
func NewSpool(dir string) *Spool { return &Spool{dir: dir} }

// SkipBadImages sets the bad-image policy of the load (sdk.LoadRequest.SkipBadImages, a task's `bad_images:
// skip`): when on, an image that cannot be opened or converted (missing, not a regular file, a link out of the
// data set, a DICOM file that cannot be read) leaves out the items that need it and is recorded, instead of
// failing the load.
func (s *Spool) SkipBadImages(on bool) { s.skip = on }

// Skipped returns the images left out under SkipBadImages, each once, in the order the readers met them.
func (s *Spool) Skipped() []sdk.SkippedImage {
	if s == nil {
		return nil
	}
	return s.skipped
}

// IsSkipped reports whether the image at path (as Skipped names it) was left out under SkipBadImages.
func (s *Spool) IsSkipped(path string) bool { return s != nil && s.seen[path] }

// errSkipped says that an image was bad and has been recorded as skipped: the reader leaves out the item that
// needs it and goes on.
var errSkipped = errors.New("the image is skipped (bad_images: skip)")

// bad takes err, why the image at path (as the data set names it: a file path) cannot be used. Under
// SkipBadImages it records the image (once) and returns errSkipped; else it returns err.
func (s *Spool) bad(path string, err error) error {
	if s == nil || !s.skip {
		return err
	}
	if !s.seen[path] {
		if s.seen == nil {
			s.seen = map[string]bool{}
		}
		s.seen[path] = true
		s.skipped = append(s.skipped, sdk.SkippedImage{Image: path, Error: err.Error()})
	}
	return errSkipped
}

// noneLeft is the error for a data set whose every item was left out for bad images (what names the data set);
// nil when n, the number of items kept, is not 0 or no image was skipped.
func (s *Spool) noneLeft(n int, what string) error {
	if n > 0 || len(s.Skipped()) == 0 {
		return nil
	}
	first := s.skipped[0]
	return fmt.Errorf("%s: every item's image is bad (bad_images: skip leaves none to score); the first, %s: %s",
		what, first.Image, first.Error)
}

// Add stores the encoded image data under name (a stable unique name, e.g. the DICOM file's path) and returns its
// reference in the spool file. Adding a name again returns the first reference.
func (s *Spool) Add(name string, data []byte) (sdk.ImageInput, error) {
	return s.write(name, int64(len(data)), func(w io.Writer) (int64, error) {
		n, err := w.Write(data)
		return int64(n), err
	})
}

// Copy stores the size bytes read from r under name (see Add); r ending early is an error.
func (s *Spool) Copy(name string, r io.Reader, size int64) (sdk.ImageInput, error) {
	return s.write(name, size, func(w io.Writer) (int64, error) { return io.CopyN(w, r, size) })
}

// write appends size bytes written by fill to the spool file under name.
func (s *Spool) write(name string, size int64, fill func(io.Writer) (int64, error)) (sdk.ImageInput, error) {
	if s == nil || s.dir == "" {
		return sdk.ImageInput{}, fmt.Errorf("image %s must be written to the task's work folder, but the load request has no "+
			"work_dir; the harness must create one for the task and pass it (sdk.LoadRequest.WorkDir)", name)
	}
	if s.closed {
		return sdk.ImageInput{}, fmt.Errorf("image %s: the image spool in %s is already closed (a task bug: Close it when Load is done)", name, s.dir)
	}
	if in, ok := s.byName[name]; ok {
		return in, nil
	}
	if size <= 0 || size > sdk.MaxImageBytes {
		return sdk.ImageInput{}, fmt.Errorf("image %s is %d bytes; an image must have 1 to %d bytes", name, size, sdk.MaxImageBytes)
	}
	if s.f == nil {
		if !filepath.IsAbs(s.dir) {
			return sdk.ImageInput{}, fmt.Errorf("the task's work folder %q is not an absolute path; the harness must pass one", s.dir)
		}
		f, err := os.CreateTemp(s.dir, "images-*.spool")
		if err != nil {
			return sdk.ImageInput{}, fmt.Errorf("creating the image spool in the task's work folder: %w (does the harness create it, and is it writable?)", err)
		}
		s.f, s.byName = f, map[string]sdk.ImageInput{}
	}
	n, err := fill(s.f)
	if err == nil && n != size {
		err = io.ErrShortWrite
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return sdk.ImageInput{}, fmt.Errorf("writing image %s to the spool %s: %w", name, s.f.Name(), err)
	}
	in := sdk.ImageInput{Name: name, Path: s.f.Name(), Offset: s.size, Size: size, Root: s.dir}
	s.size += size
	s.byName[name] = in
	return in, nil
}

// Close syncs the spool file to disk and closes it (nothing to do when no image was added); later calls do
// nothing.
func (s *Spool) Close() error {
	if s == nil || s.closed {
		return nil
	}
	s.closed = true
	if s.f == nil {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return fmt.Errorf("syncing the image spool %s: %w", s.f.Name(), err)
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("closing the image spool %s: %w", s.f.Name(), err)
	}
	return nil
}

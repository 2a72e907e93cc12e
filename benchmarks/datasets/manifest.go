// Package datasets reads the data sets the benchmark task plugins evaluate on: JSON Lines and CSV manifests
// (image–caption and image–label pairs), ImageFolder trees, webdataset tar shards, the VQA-RAD and SLAKE releases
// and DICOM images, and decodes task configs strictly. Images go to the model backend by reference (a file, or a
// byte range of a plain tar shard); those a task makes (DICOM renderings, members of compressed shards) are
// written to one spool file in the task's work folder (Spool).
package datasets

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Decode decodes a task's `dataset:` or `options:` mapping (what names it in errors) into v, rejecting unknown
// keys and trailing data. An empty or null mapping leaves v as it is, so v can hold the defaults.
func Decode(what string, raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	if err := decodeStrict(raw, v); err != nil {
		return fmt.Errorf("%s: %w (check the keys and types against `clipeval plugins`)", what, err)
	}
	return nil
}

// decodeStrict decodes exactly one JSON value into v, rejecting unknown object keys and anything after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// CheckAbs reports an error when a path field the harness should have resolved is empty or not absolute.
func CheckAbs(field, path string) error {
	if path == "" {
		return fmt.Errorf("dataset field %q is required", field)
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("dataset field %q: path %q is not absolute (the harness resolves paths against the config file's folder)", field, path)
	}
	return nil
}

// ResolveImage returns the absolute path of an image named in a manifest, relative to the manifest's folder dir.
// The name must stay inside dir (no absolute paths, no ".." out of it, no symbolic link pointing out of it) and
// name an existing regular file.
func ResolveImage(dir, name string) (string, error) {
	r, err := newRoot(dir, "the manifest's folder")
	if err != nil {
		return "", err
	}
	return r.resolve(name)
}

// Captioned is one line of a retrieval manifest: an image and its captions.
type Captioned struct {
	// Name is the image path as the manifest writes it (relative to the manifest's folder).
	Name string
	// Image is the image: its file, or for a DICOM file its rendering in the spool (see ReadImage).
	Image Image
	// Captions are the image's captions, in manifest order.
	Captions []string
}

// Labeled is one line of a classification manifest: an image and its class label.
type Labeled struct {
	// Name is the image path as the manifest writes it (relative to the manifest's folder).
	Name string
	// Image is the image: its file, or for a DICOM file its rendering in the spool (see ReadImage).
	Image Image
	// Label is the image's class label.
	Label string
}

// ReadCaptions reads a retrieval manifest: JSON Lines, one object per line,
// {"image": "images/a.png", "captions": ["...", ...]}; blank lines are skipped. Every image must exist inside the
// manifest's folder (see ReadImage) and have at least one caption. A caption may be empty: the reference fixtures
// encode "" too. DICOM renderings go to sp.
func ReadCaptions(manifest string, sp *Spool) ([]Captioned, error) {
	type line struct {
		Image    string   `json:"image"`
		Captions []string `json:"captions"`
	}
	r, err := newRoot(filepath.Dir(manifest), "the manifest's folder")
	if err != nil {
		return nil, err
	}
	var out []Captioned
	err = readJSONL(manifest, func(l *line) error {
		if len(l.Captions) == 0 {
			return fmt.Errorf(`image %q has no "captions"`, l.Image)
		}
		p, err := r.image(l.Image, sp)
		if errors.Is(err, errSkipped) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, Captioned{Name: l.Image, Image: p, Captions: l.Captions})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, sp.noneLeft(len(out), manifest)
}

// ReadLabels reads a classification manifest: JSON Lines, one object per line, {"image": "...", "label": "red"};
// blank lines are skipped. Every image must exist inside the manifest's folder (see ReadImage) and have a
// non-empty label, the same on every line that lists it. DICOM renderings go to sp.
func ReadLabels(manifest string, sp *Spool) ([]Labeled, error) {
	type line struct {
		Image string `json:"image"`
		Label string `json:"label"`
	}
	r, err := newRoot(filepath.Dir(manifest), "the manifest's folder")
	if err != nil {
		return nil, err
	}
	var out []Labeled
	err = readJSONL(manifest, func(l *line) error {
		if l.Label == "" {
			return fmt.Errorf(`image %q has no "label"`, l.Image)
		}
		p, err := r.image(l.Image, sp)
		if errors.Is(err, errSkipped) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, Labeled{Name: l.Image, Image: p, Label: l.Label})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := sp.noneLeft(len(out), manifest); err != nil {
		return nil, err
	}
	return out, oneLabelEach(manifest, out)
}

// oneLabelEach refuses a manifest that lists one image twice with different labels (the image would count as both
// right and wrong); an image listed twice with the same label passes. Entries are numbered from 1 in manifest
// order.
func oneLabelEach(manifest string, rows []Labeled) error {
	first := map[string]int{}
	for i, r := range rows {
		j, ok := first[r.Image.Label()]
		if !ok {
			first[r.Image.Label()] = i
			continue
		}
		if rows[j].Label != r.Label {
			return fmt.Errorf("manifest %s: image %q has two labels, %q (entry %d) and %q (entry %d); an image has one label: fix or remove one of the entries",
				manifest, r.Name, rows[j].Label, j+1, r.Label, i+1)
		}
	}
	return nil
}

// MaxRecordBytes is the longest line of a JSON Lines manifest, or record of a CSV manifest, the readers accept
// (16 MiB): a file that is not a manifest (one endless line) is refused before it fills memory.
const MaxRecordBytes = 16 << 20

// errRecordTooLong is returned by readLine for a line over its limit, and by boundedReader for a CSV record.
var errRecordTooLong = errors.New("record too long")

// readLine reads one line of r, with its '\n' (none at the end of the input), of at most limit bytes.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > limit {
			return nil, errRecordTooLong
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// boundedReader fails once more than limit bytes have been read past mark, which the CSV reader's caller moves to
// the end of each record: one record may not exceed limit (plus the reader's buffer).
type boundedReader struct {
	r                 io.Reader
	read, mark, limit int64
}

// Read implements io.Reader.
func (b *boundedReader) Read(p []byte) (int, error) {
	if b.read-b.mark > b.limit {
		return 0, errRecordTooLong
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// readJSONL decodes each non-blank line of path strictly into a fresh T and hands it to each; errors name the
// file and line. A file without any item is an error.
func readJSONL[T any](path string, each func(*T) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	items := 0
	for n := 1; ; n++ {
		text, err := readLine(r, MaxRecordBytes)
		if errors.Is(err, errRecordTooLong) {
			return fmt.Errorf("%s:%d: the line is longer than %d bytes; a manifest line is one item (an image and its label or captions): check that the file is a JSON Lines manifest", path, n, MaxRecordBytes)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if n == 1 {
			text = bytes.TrimPrefix(text, []byte("\uFEFF"))
		}
		if len(bytes.TrimSpace(text)) > 0 {
			var v T
			if derr := decodeStrict(text, &v); derr != nil {
				return fmt.Errorf("%s:%d: bad JSON line: %w", path, n, derr)
			}
			if derr := each(&v); derr != nil {
				return fmt.Errorf("%s:%d: %w", path, n, derr)
			}
			items++
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if items == 0 {
		return fmt.Errorf("manifest %s holds no items", path)
	}
	return nil
}

// CheckFields reports an error when a `dataset:` field is set that the format does not read; what names the
// mapping in the error, set says which fields are set, and uses lists the fields format reads.
func CheckFields(what, format string, set map[string]bool, uses []string) error {
	var extra []string
	for f, ok := range set {
		if ok && !slices.Contains(uses, f) {
			extra = append(extra, f)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	return fmt.Errorf("%s: format %s does not read %s (it reads %s); remove the field or change the format",
		what, format, strings.Join(extra, ", "), strings.Join(uses, ", "))
}

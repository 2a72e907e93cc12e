package datasets

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Columns names the columns of a CSV manifest that the readers take the fields from; an empty name means the
// default: "image", "label" and "caption".
type Columns struct {
	Image, Label, Caption string
}

// withDefaults returns c with every empty name replaced by its default.
func (c Columns) withDefaults() Columns {
	if c.Image == "" {
		c.Image = "image"
	}
	if c.Label == "" {
		c.Label = "label"
	}
	if c.Caption == "" {
		c.Caption = "caption"
	}
	return c
}

// ReadCSVLabels reads a classification manifest in CSV (RFC 4180, a header row, other columns ignored): one row
// per item, the image path in column cols.Image, relative to the manifest's folder (see ReadImage), and a
// non-empty label in column cols.Label, the same on every row that lists the image. DICOM renderings go to sp.
// Errors name the file and line.
func ReadCSVLabels(manifest string, cols Columns, sp *Spool) ([]Labeled, error) {
	cols = cols.withDefaults()
	var out []Labeled
	err := readCSV(manifest, []string{cols.Image, cols.Label}, func(r *root, v []string) error {
		if v[1] == "" {
			return fmt.Errorf("image %q has an empty %q", v[0], cols.Label)
		}
		img, err := r.image(v[0], sp)
		if errors.Is(err, errSkipped) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, Labeled{Name: v[0], Image: img, Label: v[1]})
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

// ReadCSVCaptions reads a retrieval manifest in CSV (RFC 4180, a header row, other columns ignored): one row per
// image–caption pair, the image path in column cols.Image, relative to the manifest's folder (see ReadImage), the
// caption in column cols.Caption. Rows naming the same image file give it several captions: images are listed in
// the order they first appear, each with its captions in row order. DICOM renderings go to sp. Errors name the
// file and line.
func ReadCSVCaptions(manifest string, cols Columns, sp *Spool) ([]Captioned, error) {
	cols = cols.withDefaults()
	var out []Captioned
	byPath := map[string]int{}
	err := readCSV(manifest, []string{cols.Image, cols.Caption}, func(r *root, v []string) error {
		img, err := r.image(v[0], sp)
		if errors.Is(err, errSkipped) {
			return nil
		}
		if err != nil {
			return err
		}
		if i, ok := byPath[img.Label()]; ok {
			out[i].Captions = append(out[i].Captions, v[1])
			return nil
		}
		byPath[img.Label()] = len(out)
		out = append(out, Captioned{Name: v[0], Image: img, Captions: []string{v[1]}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, sp.noneLeft(len(out), manifest)
}

// readCSV reads the CSV file at path (an optional UTF-8 byte order mark, then a header row naming columns) and
// hands each row's values of the columns named to each, with the manifest's folder as root. Errors name the file
// and line. A file without rows is an error.
func readCSV(path string, columns []string, each func(r *root, values []string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	defer f.Close()
	r, err := newRoot(filepath.Dir(path), "the manifest's folder")
	if err != nil {
		return err
	}
	bounded := &boundedReader{r: f, limit: MaxRecordBytes}
	br := bufio.NewReader(bounded)
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	tooLong := func(err error) error {
		if errors.Is(err, errRecordTooLong) {
			return fmt.Errorf("%s: the record starting at byte %d is longer than %d bytes: check that the file is a CSV manifest (an unclosed quote makes the rest of the file one field)", path, bounded.mark, MaxRecordBytes)
		}
		return nil
	}
	header, err := cr.Read()
	if e := tooLong(err); e != nil {
		return e
	}
	bounded.mark = cr.InputOffset()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("manifest %s is empty; a CSV manifest starts with a header row naming its columns", path)
	}
	if err != nil {
		return csvError(path, err)
	}
	index := make([]int, len(columns))
	for i, c := range columns {
		index[i] = slices.Index(header, c)
		if index[i] < 0 {
			return fmt.Errorf("%s:1: the header has no column %q (it has %q); name the column in the dataset's "+
				"image_column, label_column or caption_column", path, c, header)
		}
		if slices.Index(header[index[i]+1:], c) >= 0 {
			return fmt.Errorf("%s:1: the header names column %q twice", path, c)
		}
	}
	rows := 0
	values := make([]string, len(columns))
	for {
		rec, err := cr.Read()
		if e := tooLong(err); e != nil {
			return e
		}
		bounded.mark = cr.InputOffset()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return csvError(path, err)
		}
		for i, k := range index {
			values[i] = rec[k]
		}
		if err := each(r, values); err != nil {
			line, _ := cr.FieldPos(0)
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		rows++
	}
	if rows == 0 {
		return fmt.Errorf("manifest %s holds no items (only a header row)", path)
	}
	return nil
}

// csvError names the file and line of a CSV syntax error.
func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: bad CSV: %w (every row needs as many fields as the header; quote fields holding commas or quotes)",
			path, pe.Line, pe.Err)
	}
	return fmt.Errorf("reading manifest %s: %w", path, err)
}

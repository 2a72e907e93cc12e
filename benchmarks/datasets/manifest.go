// Package datasets reads the data sets the benchmark task plugins evaluate on: JSON Lines manifests (image–caption
// and image–label pairs) and the VQA-RAD release, and decodes task configs strictly.
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
// The name must stay inside dir (no absolute paths, no ".." out of it) and name an existing regular file.
// The check is on the path as written: a symbolic link inside dir may point elsewhere.
func ResolveImage(dir, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("image path is empty")
	}
	if filepath.IsAbs(name) || filepath.VolumeName(name) != "" {
		return "", fmt.Errorf("image path %q is absolute; write it relative to the manifest's folder", name)
	}
	if !filepath.IsLocal(name) {
		return "", fmt.Errorf("image path %q leaves the manifest's folder %s", name, dir)
	}
	p := filepath.Join(dir, name)
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("image %q (%s) is not a regular file", name, p)
	}
	return p, nil
}

// Captioned is one line of a retrieval manifest: an image and its captions.
type Captioned struct {
	// Name is the image path as the manifest writes it (relative to the manifest's folder).
	Name string
	// Image is the image's absolute path.
	Image string
	// Captions are the image's captions, in manifest order.
	Captions []string
}

// Labeled is one line of a classification manifest: an image and its class label.
type Labeled struct {
	// Name is the image path as the manifest writes it (relative to the manifest's folder).
	Name string
	// Image is the image's absolute path.
	Image string
	// Label is the image's class label.
	Label string
}

// ReadCaptions reads a retrieval manifest: JSON Lines, one object per line,
// {"image": "images/a.png", "captions": ["...", ...]}; blank lines are skipped. Every image must exist inside the
// manifest's folder and have at least one caption. A caption may be empty: the reference fixtures encode "" too.
func ReadCaptions(manifest string) ([]Captioned, error) {
	type line struct {
		Image    string   `json:"image"`
		Captions []string `json:"captions"`
	}
	var out []Captioned
	err := readJSONL(manifest, func(l *line) error {
		p, err := ResolveImage(filepath.Dir(manifest), l.Image)
		if err != nil {
			return err
		}
		if len(l.Captions) == 0 {
			return fmt.Errorf(`image %q has no "captions"`, l.Image)
		}
		out = append(out, Captioned{Name: l.Image, Image: p, Captions: l.Captions})
		return nil
	})
	return out, err
}

// ReadLabels reads a classification manifest: JSON Lines, one object per line, {"image": "...", "label": "red"};
// blank lines are skipped. Every image must exist inside the manifest's folder and have a non-empty label.
func ReadLabels(manifest string) ([]Labeled, error) {
	type line struct {
		Image string `json:"image"`
		Label string `json:"label"`
	}
	var out []Labeled
	err := readJSONL(manifest, func(l *line) error {
		p, err := ResolveImage(filepath.Dir(manifest), l.Image)
		if err != nil {
			return err
		}
		if l.Label == "" {
			return fmt.Errorf(`image %q has no "label"`, l.Image)
		}
		out = append(out, Labeled{Name: l.Image, Image: p, Label: l.Label})
		return nil
	})
	return out, err
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
		text, err := r.ReadBytes('\n')
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

package datasets

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxMember is the largest tar member (1 GiB) the webdataset reader reads into memory.
const maxMember = 1 << 30

// webImageExts returns the member extensions a webdataset sample's image is taken from, in order of preference.
func webImageExts() []string { return []string{"jpg", "jpeg", "png", "tif", "tiff", "bmp"} }

// WebSample is one sample of a webdataset shard: the members sharing a key, as webdataset groups them.
type WebSample struct {
	// Key is the sample's key: a member's path in the tar up to the first dot of its base name.
	Key string
	// Name is "<shard file name>#<key>", for reports.
	Name string
	// Image is the sample's image: the bytes of its first member of jpg, jpeg, png, tif, tiff, bmp, under the
	// name "<shard>#<key>.<ext>", with the shard as File.
	Image Image
	// Text is the content of the member the reader was asked for (e.g. cls, txt or json).
	Text []byte
	// Member is the name of that member in the tar ("<key>.<ext>"), for messages.
	Member string
}

// ShardPaths returns the shards a webdataset config names: each pattern (filepath.Match syntax, relative to dir,
// which it must not leave) matched in dir, matches in sorted order, patterns in the order given. A pattern that
// matches nothing, or a shard matched twice, is an error. No patterns means "*.tar".
func ShardPaths(dir string, patterns []string) ([]string, error) {
	r, err := newRoot(dir, "the webdataset root")
	if err != nil {
		return nil, err
	}
	if len(patterns) == 0 {
		patterns = []string{"*.tar"}
	}
	var out []string
	for _, pat := range patterns {
		if filepath.IsAbs(pat) || !filepath.IsLocal(pat) {
			return nil, fmt.Errorf("shard pattern %q must be relative to the webdataset root %s and stay inside it", pat, dir)
		}
		matches, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("shard pattern %q: %w", pat, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("shard pattern %q matches no file in %s", pat, dir)
		}
		slices.Sort(matches)
		for _, m := range matches {
			rel, err := filepath.Rel(dir, m)
			if err != nil {
				return nil, err
			}
			p, err := r.resolve(rel)
			if err != nil {
				return nil, fmt.Errorf("shard pattern %q: %w", pat, err)
			}
			if slices.Contains(out, p) {
				return nil, fmt.Errorf("shard %s is matched twice (pattern %q); list each shard once", p, pat)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// ReadWebDataset streams the tar shards (plain, or gzip-compressed when named *.gz or *.tgz) without extracting
// them and returns their samples in order, each with its image bytes and the content of its member textExt
// (e.g. "cls"). As webdataset does: only regular files count; a member's key is its path up to the first dot of
// its base name and the rest, in lower case, its extension (members whose base name has no dot or starts with one,
// and top-level names starting and ending with "__", are skipped); consecutive members with the same key form a
// sample. textExt is matched in lower case. A sample without an
// image or without textExt, a key whose members are not consecutive, and an extension twice in a sample are
// errors that name the shard and the key.
func ReadWebDataset(shards []string, textExt string) ([]WebSample, error) {
	textExt = strings.ToLower(textExt)
	var out []WebSample
	for _, s := range shards {
		samples, err := readShard(s, textExt)
		if err != nil {
			return nil, err
		}
		out = append(out, samples...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the webdataset shards %q hold no samples", shards)
	}
	return out, nil
}

// readShard reads the samples of one shard (see ReadWebDataset).
func readShard(shard, textExt string) ([]WebSample, error) {
	f, err := os.Open(shard)
	if err != nil {
		return nil, fmt.Errorf("reading webdataset shard: %w", err)
	}
	defer f.Close()
	var in io.Reader = bufio.NewReader(f)
	if ext := strings.ToLower(filepath.Ext(shard)); ext == ".gz" || ext == ".tgz" {
		gz, err := gzip.NewReader(in)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", shard, err)
		}
		defer gz.Close()
		in = gz
	}
	var (
		out     []WebSample
		key     string
		members map[string][]byte // extension → content, of the wanted members of the current sample
		exts    []string          // every extension of the current sample
		done    = map[string]bool{}
	)
	finish := func() error {
		if exts == nil {
			return nil
		}
		s, err := webSample(shard, key, members, exts, textExt)
		if err != nil {
			return err
		}
		out = append(out, s)
		done[key] = true
		return nil
	}
	tr := tar.NewReader(in)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("shard %s: not a readable tar archive: %w", shard, err)
		}
		k, ext, ok := splitMember(h)
		if !ok {
			continue
		}
		if k != key || exts == nil {
			if err := finish(); err != nil {
				return nil, err
			}
			if done[k] {
				return nil, fmt.Errorf("shard %s: the members of sample %q are not next to each other (%s comes after other samples); "+
					"write each sample's files together, as webdataset's tar writers do", shard, k, h.Name)
			}
			key, members, exts = k, map[string][]byte{}, []string{}
		}
		if slices.Contains(exts, ext) {
			return nil, fmt.Errorf("shard %s: sample %q has two members with extension %q (%s)", shard, k, ext, h.Name)
		}
		exts = append(exts, ext)
		if ext == textExt || slices.Contains(webImageExts(), ext) {
			if h.Size > maxMember {
				return nil, fmt.Errorf("shard %s: member %s is %d bytes, more than the %d an image or label may have", shard, h.Name, h.Size, maxMember)
			}
			b := make([]byte, h.Size)
			if _, err := io.ReadFull(tr, b); err != nil {
				return nil, fmt.Errorf("shard %s: reading %s: %w", shard, h.Name, err)
			}
			members[ext] = b
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return out, nil
}

// splitMember returns the key and the lower-case extension of a tar member as webdataset's base_plus_ext splits
// its name, and false for members skipped: anything but a regular file, a base name without a dot or starting with
// one, and top-level "__...__" names.
func splitMember(h *tar.Header) (key, ext string, ok bool) {
	if h.Typeflag != tar.TypeReg {
		return "", "", false
	}
	name := h.Name
	if !strings.Contains(name, "/") && strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__") {
		return "", "", false
	}
	dir, base := path.Split(name)
	dot := strings.IndexByte(base, '.')
	if dot <= 0 {
		return "", "", false
	}
	return dir + base[:dot], strings.ToLower(base[dot+1:]), true
}

// webSample builds the sample of key from its wanted members.
func webSample(shard, key string, members map[string][]byte, exts []string, textExt string) (WebSample, error) {
	s := WebSample{Key: key, Name: filepath.Base(shard) + "#" + key}
	for _, e := range webImageExts() {
		if b, ok := members[e]; ok {
			s.Image = Image{Path: shard + "#" + key + "." + e, Data: b, File: shard}
			break
		}
	}
	if s.Image.Path == "" {
		return s, fmt.Errorf("shard %s: sample %q has no image (members %q; want one of %q)", shard, key, exts, webImageExts())
	}
	text, ok := members[textExt]
	if !ok {
		return s, fmt.Errorf("shard %s: sample %q has no %q member (members %q)", shard, key, textExt, exts)
	}
	s.Text, s.Member = text, key+"."+textExt
	return s, nil
}

// WebLabels turns webdataset samples into labelled images; the label member holds, as UTF-8 text with surrounding
// white space ignored, either a class index (a non-negative integer, as CLIP_benchmark's webdatasets write cls) into
// classes, or a class name. Each item's Name is the sample's Name.
func WebLabels(samples []WebSample, classes []string) ([]Labeled, error) {
	out := make([]Labeled, len(samples))
	for i, s := range samples {
		label := strings.TrimSpace(string(s.Text))
		if label == "" {
			return nil, fmt.Errorf("%s: %s is empty; it must hold a class index or name", s.Image.File, s.Member)
		}
		if n, err := strconv.Atoi(label); err == nil {
			if n < 0 || n >= len(classes) {
				return nil, fmt.Errorf("%s: %s holds class index %d, but the classes option lists %d classes; "+
					"list the class names in order in options.classes", s.Image.File, s.Member, n, len(classes))
			}
			label = classes[n]
		}
		out[i] = Labeled{Name: s.Name, Image: s.Image, Label: label}
	}
	return out, nil
}

// WebCaptions turns webdataset samples into captioned images. A txt member holds one caption per line (blank
// lines skipped, a trailing "\r" dropped); a json member an object with "captions": a non-empty list of strings
// (other keys ignored). Each item's Name is the sample's Name.
func WebCaptions(samples []WebSample) ([]Captioned, error) {
	out := make([]Captioned, len(samples))
	for i, s := range samples {
		var caps []string
		switch {
		case strings.HasSuffix(s.Member, ".json"):
			var v struct {
				Captions []string `json:"captions"`
			}
			if err := json.Unmarshal(s.Text, &v); err != nil {
				return nil, fmt.Errorf("%s: %s: want {\"captions\": [\"...\"]}: %w", s.Image.File, s.Member, err)
			}
			caps = v.Captions
		default:
			for line := range bytes.SplitSeq(s.Text, []byte("\n")) {
				if c := strings.TrimSuffix(string(line), "\r"); strings.TrimSpace(c) != "" {
					caps = append(caps, c)
				}
			}
		}
		if len(caps) == 0 {
			return nil, fmt.Errorf("%s: %s holds no caption", s.Image.File, s.Member)
		}
		out[i] = Captioned{Name: s.Name, Image: s.Image, Captions: caps}
	}
	return out, nil
}

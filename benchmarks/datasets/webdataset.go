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
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// maxTextMember is the largest text member (a label or captions: txt, json, cls; 16 MiB) the webdataset reader
// reads into memory.
const maxTextMember = 16 << 20

// DefaultMaxExpansion is the default bound on how many times its own size a compressed shard may expand to (see
// WebOptions.MaxExpansion).
const DefaultMaxExpansion = 100

// WebOptions configure ReadWebDataset.
type WebOptions struct {
	// Spool receives the images of compressed shards (nil: compressed shards are refused).
	Spool *Spool
	// MaxExpansion bounds the uncompressed size of a compressed shard to this many times its compressed size
	// (0: DefaultMaxExpansion): a shard expanding past it is refused as a likely decompression bomb before any of
	// it is extracted. It must be at least 1.
	MaxExpansion float64
}

// webImageExts returns the member extensions a webdataset sample's image is taken from, in order of preference.
func webImageExts() []string { return []string{"jpg", "jpeg", "png", "tif", "tiff", "bmp"} }

// WebSample is one sample of a webdataset shard: the members sharing a key, as webdataset groups them.
type WebSample struct {
	// Key is the sample's key: a member's path in the tar up to the first dot of its base name.
	Key string
	// Name is "<shard file name>#<key>", for reports.
	Name string
	// Image is the sample's image: its first member of jpg, jpeg, png, tif, tiff, bmp, named
	// "<shard>#<key>.<ext>", by reference: its byte range in a plain tar shard, or in the spool for a compressed
	// one; the shard is its File.
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

// ReadWebDataset reads the tar shards without extracting them and returns their samples in order, each with its
// image by reference and the content of its member textExt (e.g. "cls"). Plain tar shards are read header by
// header: an image is the byte range of its member in the shard, and image bytes are never read. Shards named *.gz
// or *.tgz are gzip-compressed tar streams: a first pass inflates the stream without keeping it, counting its
// bytes, and refuses the shard once they exceed opt.MaxExpansion times its compressed size; a second pass copies
// the image members into opt.Spool. As webdataset does: only regular files count; a member's key is its path up to
// the first dot of its base name and the rest, in lower case, its extension (members whose base name has no dot or
// starts with one, and top-level names starting and ending with "__", are skipped); consecutive members with the
// same key form a sample. textExt is matched in lower case. A sample without an image or without textExt, a key
// whose members are not consecutive, an extension twice in a sample, an empty image, a text member over 16 MiB and
// a sparse member are errors that name the shard and the key or member.
func ReadWebDataset(shards []string, textExt string, opt WebOptions) ([]WebSample, error) {
	if opt.MaxExpansion == 0 {
		opt.MaxExpansion = DefaultMaxExpansion
	}
	if !(opt.MaxExpansion >= 1) {
		return nil, fmt.Errorf("webdataset: max_expansion is %v; it must be at least 1 (default %d)", opt.MaxExpansion, DefaultMaxExpansion)
	}
	textExt = strings.ToLower(textExt)
	var out []WebSample
	for _, s := range shards {
		samples, err := readShard(s, textExt, opt)
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

// compressed reports whether a shard is read as a gzip stream: its name ends in .gz or .tgz.
func compressed(shard string) bool {
	ext := strings.ToLower(filepath.Ext(shard))
	return ext == ".gz" || ext == ".tgz"
}

// checkExpansion inflates the gzip shard without keeping what it inflates and fails once the inflated bytes exceed
// maxExpansion times the shard's size: a decompression bomb is refused before anything is extracted.
func checkExpansion(shard string, maxExpansion float64) error {
	f, err := os.Open(shard)
	if err != nil {
		return fmt.Errorf("reading webdataset shard: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading webdataset shard: %w", err)
	}
	limit := int64(math.MaxInt64)
	if l := maxExpansion * float64(st.Size()); l < float64(math.MaxInt64) {
		limit = int64(l)
	}
	gz, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("shard %s: not a gzip stream: %w", shard, err)
	}
	defer gz.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(gz, limit+1))
	if err != nil {
		return fmt.Errorf("shard %s: inflating: %w", shard, err)
	}
	if n > limit {
		return fmt.Errorf("shard %s expands to more than %d bytes (%g times its %d compressed bytes; stopped after inflating %d): "+
			"refused as a likely decompression bomb; if the shard is genuine, raise the dataset option max_expansion",
			shard, limit, maxExpansion, st.Size(), n)
	}
	return nil
}

// sparse reports whether a tar member is a sparse file (GNU or PAX sparse formats), whose bytes are not one
// contiguous range of the archive.
func sparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// readShard reads the samples of one shard (see ReadWebDataset).
func readShard(shard, textExt string, opt WebOptions) ([]WebSample, error) {
	gzipped := compressed(shard)
	if gzipped {
		if opt.Spool == nil {
			return nil, fmt.Errorf("shard %s is compressed: its images must be extracted to the task's work folder, but none was given", shard)
		}
		if err := checkExpansion(shard, opt.MaxExpansion); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(shard)
	if err != nil {
		return nil, fmt.Errorf("reading webdataset shard: %w", err)
	}
	defer f.Close()
	// A plain shard is read straight from the file, so that after Next the file offset is where the member's data
	// starts (tar reads exactly the header blocks, and seeks over data it skips).
	var in io.Reader = f
	if gzipped {
		gz, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, fmt.Errorf("shard %s: not a gzip stream: %w", shard, err)
		}
		defer gz.Close()
		in = gz
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading webdataset shard: %w", err)
	}
	tr := tar.NewReader(in)
	image := func(h *tar.Header, name string) (sdk.ImageInput, error) {
		if gzipped {
			return opt.Spool.Copy(name, tr, h.Size)
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return sdk.ImageInput{}, err
		}
		if off+h.Size > st.Size() {
			return sdk.ImageInput{}, fmt.Errorf("its header declares %d bytes at byte %d, past the end of the %d-byte shard: the shard is truncated or corrupt", h.Size, off, st.Size())
		}
		return sdk.ImageInput{Name: name, Path: shard, Offset: off, Size: h.Size, Root: filepath.Dir(shard)}, nil
	}
	var (
		out    []WebSample
		key    string
		images map[string]sdk.ImageInput // image extension → reference, of the current sample
		text   []byte                    // the textExt member of the current sample (nil: none yet)
		exts   []string                  // every extension of the current sample
		done   = map[string]bool{}
	)
	finish := func() error {
		if exts == nil {
			return nil
		}
		s, err := webSample(shard, key, images, text, exts, textExt)
		if err != nil {
			return err
		}
		out = append(out, s)
		done[key] = true
		return nil
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("shard %s: not a readable tar archive: %w", shard, err)
		}
		if sparse(h) {
			return nil, fmt.Errorf("shard %s: member %s is a sparse file, which is not read; rewrite the shard without sparse files (e.g. GNU tar without --sparse)", shard, h.Name)
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
			key, images, text, exts = k, map[string]sdk.ImageInput{}, nil, []string{}
		}
		if slices.Contains(exts, ext) {
			return nil, fmt.Errorf("shard %s: sample %q has two members with extension %q (%s)", shard, k, ext, h.Name)
		}
		exts = append(exts, ext)
		switch {
		case ext == textExt:
			if h.Size > maxTextMember {
				return nil, fmt.Errorf("shard %s: member %s is %d bytes, more than the %d a label or caption member may have", shard, h.Name, h.Size, maxTextMember)
			}
			text = make([]byte, h.Size)
			if _, err := io.ReadFull(tr, text); err != nil {
				return nil, fmt.Errorf("shard %s: reading %s: %w", shard, h.Name, err)
			}
		case slices.Contains(webImageExts(), ext):
			if h.Size <= 0 || h.Size > sdk.MaxImageBytes {
				return nil, fmt.Errorf("shard %s: image member %s is %d bytes; an image must have 1 to %d bytes", shard, h.Name, h.Size, int64(sdk.MaxImageBytes))
			}
			im, err := image(h, shard+"#"+k+"."+ext)
			if err != nil {
				return nil, fmt.Errorf("shard %s: image member %s: %w", shard, h.Name, err)
			}
			images[ext] = im
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

// webSample builds the sample of key from its wanted members: its images by extension and its text member.
func webSample(shard, key string, images map[string]sdk.ImageInput, text []byte, exts []string, textExt string) (WebSample, error) {
	s := WebSample{Key: key, Name: filepath.Base(shard) + "#" + key}
	for _, e := range webImageExts() {
		if im, ok := images[e]; ok {
			s.Image = Image{ImageInput: im, File: shard}
			break
		}
	}
	if s.Image.Name == "" {
		return s, fmt.Errorf("shard %s: sample %q has no image (members %q; want one of %q)", shard, key, exts, webImageExts())
	}
	if text == nil {
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

// MaxExpansionField declares the `max_expansion` dataset field of the tasks that read webdataset shards (see
// WebOptions.MaxExpansion).
func MaxExpansionField() sdk.Field {
	return sdk.Field{Name: "max_expansion", Type: sdk.FieldFloat, Min: sdk.Bound(1),
		Help: "webdataset: a compressed shard (.tar.gz, .tgz) may expand to at most this many times its size, or it is " +
			"refused as a likely decompression bomb before anything is extracted (default " + strconv.Itoa(DefaultMaxExpansion) + ")"}
}

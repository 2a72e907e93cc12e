package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
)

// The fuzz targets of the dataset readers. Each writes the fuzzed bytes as the file a reader reads, in a folder
// of images made once per fuzzing process, and asserts what the reader promises of what it returns: images inside
// the folder, non-empty fields, byte ranges that hold the member's bytes; and that what it returned, written back
// in the same format, reads back the same.

// fuzzImages makes the image folder the manifests of the fuzz targets name: plain images (their bytes are never
// decoded by the readers), a DICOM file, a .dcm file without the marker, a folder named like an image and a
// symbolic link out of the folder.
func fuzzImages(f *testing.F) string {
	dir := f.TempDir()
	testutil.WriteFiles(f, dir, map[string]string{"a.png": "a", "b.jpg": "b", "sub/c.png": "c", "fake.dcm": "no marker",
		"dir.png/x": "", "Up.TIFF": "u"})
	testutil.WriteDICOM(f, filepath.Join(dir, "x.dcm"), testutil.ExplicitVRLittleEndian, rescaled12()...)
	outside := filepath.Join(f.TempDir(), "secret.png")
	require.NoError(f, os.WriteFile(outside, []byte("s"), 0o644))
	require.NoError(f, os.Symlink(outside, filepath.Join(dir, "link.png")))
	return dir
}

// checkImage asserts what a reader promises of an image it resolved from name in dir: the file inside dir, a
// regular file; a DICOM file's rendering in the spool as a PNG that decodes, every other image by its path.
func checkImage(t *testing.T, dir, name string, img Image) {
	t.Helper()
	assert.True(t, filepath.IsLocal(name), "image name %q stays inside the folder", name)
	assert.Equal(t, filepath.Join(dir, name), img.File)
	st, err := os.Lstat(img.File)
	require.NoError(t, err)
	assert.True(t, st.Mode().IsRegular(), "%s is a regular file, not a link or folder", img.File)
	if img.Path == img.File {
		assert.Zero(t, img.Size, "a file image is the whole file")
		return
	}
	b, err := img.Bytes()
	require.NoError(t, err)
	_, err = png.Decode(bytes.NewReader(b))
	require.NoError(t, err, "a DICOM rendering is a PNG")
}

// nonBlankLines counts the lines readJSONL reads an item from.
func nonBlankLines(data []byte) int {
	n := 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		if i == 0 {
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}

// FuzzReadJSONL reads fuzzed JSON Lines manifests as classification and retrieval manifests.
func FuzzReadJSONL(f *testing.F) {
	dir := fuzzImages(f)
	f.Add([]byte(`{"image": "a.png", "label": "red"}` + "\n\n" + `{"image": "sub/c.png", "label": "blue"}`))
	f.Add([]byte("\uFEFF" + `{"image": "x.dcm", "captions": ["a scan", ""]}` + "\n" + `{"image": "b.jpg", "captions": ["b"]}` + "\n"))
	f.Add([]byte(`{"image": "link.png", "label": "x"}`))
	f.Add([]byte(`{"image": "../a.png", "label": "x"}` + "\n" + `{"image": "/etc/passwd", "label": "y"}`))
	f.Add([]byte(`{"image": "fake.dcm", "label": "x", "extra": 1}`))
	f.Add([]byte(`{"image": "dir.png", "label": "x"} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		manifest := filepath.Join(dir, "manifest.jsonl")
		require.NoError(t, os.WriteFile(manifest, data, 0o644))
		if labels, err := ReadLabels(manifest, NewSpool(t.TempDir())); err == nil {
			require.Len(t, labels, nonBlankLines(data), "one item per non-blank line")
			var back bytes.Buffer
			for _, l := range labels {
				checkImage(t, dir, l.Name, l.Image)
				assert.NotEmpty(t, l.Label)
				b, err := json.Marshal(map[string]string{"image": l.Name, "label": l.Label})
				require.NoError(t, err)
				back.Write(append(b, '\n'))
			}
			require.NoError(t, os.WriteFile(manifest, back.Bytes(), 0o644))
			again, err := ReadLabels(manifest, NewSpool(t.TempDir()))
			require.NoError(t, err, "the items written back:\n%s", back.Bytes())
			assert.Equal(t, namesLabels(labels), namesLabels(again))
			require.NoError(t, os.WriteFile(manifest, data, 0o644))
		}
		if caps, err := ReadCaptions(manifest, NewSpool(t.TempDir())); err == nil {
			require.Len(t, caps, nonBlankLines(data), "one item per non-blank line")
			for _, c := range caps {
				checkImage(t, dir, c.Name, c.Image)
				assert.NotEmpty(t, c.Captions)
			}
		}
	})
}

// namesLabels returns the name and label of each item.
func namesLabels(items []Labeled) [][2]string {
	out := make([][2]string, len(items))
	for i, l := range items {
		out[i] = [2]string{l.Name, l.Label}
	}
	return out
}

// FuzzReadCSV reads fuzzed CSV manifests as classification and retrieval manifests.
func FuzzReadCSV(f *testing.F) {
	dir := fuzzImages(f)
	f.Add([]byte("image,label\na.png,red\nsub/c.png,\"blue, dark\"\n"))
	f.Add([]byte("\uFEFFcaption,image,other\n\"a \"\"quoted\"\" one\",a.png,1\nsecond,a.png,2\nthird,x.dcm,3\n"))
	f.Add([]byte("image,label,image\na.png,x,b.jpg\n"))
	f.Add([]byte("image,label\n../a.png,x\nlink.png,y\n"))
	f.Add([]byte("image,label\na.png\n"))
	f.Add([]byte("image,caption\r\nb.jpg,\"two\nlines\"\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		manifest := filepath.Join(dir, "manifest.csv")
		require.NoError(t, os.WriteFile(manifest, data, 0o644))
		if labels, err := ReadCSVLabels(manifest, Columns{}, NewSpool(t.TempDir())); err == nil {
			require.NotEmpty(t, labels)
			rows := [][]string{{"image", "label"}}
			for _, l := range labels {
				checkImage(t, dir, l.Name, l.Image)
				assert.NotEmpty(t, l.Label)
				rows = append(rows, []string{l.Name, l.Label})
			}
			again, err := ReadCSVLabels(writeCSV(t, manifest, rows), Columns{}, NewSpool(t.TempDir()))
			require.NoError(t, err, "the items written back: %q", rows)
			assert.Equal(t, namesLabels(labels), namesLabels(again))
			require.NoError(t, os.WriteFile(manifest, data, 0o644))
		}
		if caps, err := ReadCSVCaptions(manifest, Columns{}, NewSpool(t.TempDir())); err == nil {
			require.NotEmpty(t, caps)
			rows := [][]string{{"caption", "image"}}
			seen := map[string]bool{}
			for _, c := range caps {
				checkImage(t, dir, c.Name, c.Image)
				assert.False(t, seen[c.Image.Label()], "image %s listed twice", c.Image.Label())
				seen[c.Image.Label()] = true
				assert.NotEmpty(t, c.Captions)
				for _, s := range c.Captions {
					rows = append(rows, []string{s, c.Name})
				}
			}
			again, err := ReadCSVCaptions(writeCSV(t, manifest, rows), Columns{}, NewSpool(t.TempDir()))
			require.NoError(t, err, "the items written back: %q", rows)
			require.Len(t, again, len(caps))
			for i := range caps {
				assert.Equal(t, caps[i].Name, again[i].Name)
				assert.Equal(t, caps[i].Captions, again[i].Captions)
			}
		}
	})
}

// writeCSV writes rows as the CSV file at path and returns path.
func writeCSV(t *testing.T, path string, rows [][]string) string {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	require.NoError(t, w.WriteAll(rows))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

// FuzzReadImageFolder builds an ImageFolder tree from fuzzed paths (one a line; a trailing "/" makes a folder,
// a line starting with "@" a DICOM file, other files are empty) and reads it: it succeeds exactly when every class
// folder holds an image and no .dcm file lacks the DICOM marker, and then lists every image once, by class and
// path in sorted order.
func FuzzReadImageFolder(f *testing.F) {
	var dicom []byte
	{
		p := testutil.WriteDICOM(f, filepath.Join(f.TempDir(), "x.dcm"), testutil.ExplicitVRLittleEndian, rescaled12()...)
		var err error
		dicom, err = os.ReadFile(p)
		require.NoError(f, err)
	}
	f.Add([]byte("cat/a.png\ncat/b.JPG\ndog/x/y.tif\ndog/notes.txt\ntop.png\n"))
	f.Add([]byte("a/\nb/c.png\n"))
	f.Add([]byte("scans/@s.dcm\nscans/bad.dcm\n"))
	f.Add([]byte("scans/@ok.DCM\nb/b.bmp\nb/a.jpeg\nB/z.png\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		type entry struct{ class, name string }
		var images []entry
		classes := map[string]bool{}
		bad := false
		lines := strings.Split(string(data), "\n")
		for _, line := range lines[:min(len(lines), 32)] {
			isDir := strings.HasSuffix(line, "/")
			name := strings.TrimSuffix(line, "/")
			isDICOM := false
			if i := strings.LastIndexByte(name, '/'); i >= 0 && strings.HasPrefix(name[i+1:], "@") {
				name, isDICOM = name[:i+1]+name[i+2:], true
			}
			if name == "" || len(name) > 200 || !filepath.IsLocal(name) || filepath.Clean(name) != name || strings.ContainsRune(name, 0) {
				continue
			}
			p := filepath.Join(root, name)
			class, below, nested := strings.Cut(name, "/")
			if isDir {
				if os.MkdirAll(p, 0o755) == nil {
					classes[class] = true
				}
				continue
			}
			if _, err := os.Lstat(p); err == nil || os.MkdirAll(filepath.Dir(p), 0o755) != nil {
				continue
			}
			if nested {
				classes[class] = true
			}
			var content []byte
			if isDICOM {
				content = dicom
			}
			if os.WriteFile(p, content, 0o644) != nil || !nested {
				continue
			}
			if isImageName(below) {
				images = append(images, entry{class, name})
				bad = bad || strings.EqualFold(filepath.Ext(name), ".dcm") && !isDICOM
			}
		}
		// A class folder must hold an image; so must the root, through its classes.
		for c := range classes {
			bad = bad || !slices.ContainsFunc(images, func(e entry) bool { return e.class == c })
		}
		bad = bad || len(images) == 0
		items, err := ReadImageFolder(root, NewSpool(t.TempDir()))
		if bad {
			require.Error(t, err, "images %v, classes %v", images, classes)
			return
		}
		require.NoError(t, err)
		slices.SortFunc(images, func(a, b entry) int {
			if c := strings.Compare(a.class, b.class); c != 0 {
				return c
			}
			return comparePaths(a.name, b.name)
		})
		require.Len(t, items, len(images))
		for i, it := range items {
			assert.Equal(t, images[i].name, it.Name)
			assert.Equal(t, images[i].class, it.Label)
			checkImage(t, root, it.Name, it.Image)
		}
	})
}

// comparePaths orders slash-separated paths as filepath.WalkDir visits them: element by element, each folder's
// entries in lexical order.
func comparePaths(a, b string) int {
	return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
}

// FuzzReadWebDataset reads a fuzzed tar archive as a plain shard and, gzipped, as a compressed one. Whatever the
// bytes, both give the same samples or both fail; a sample's image is the byte range of its member (in the shard,
// or in the spool for the compressed one), its text the bytes of its text member.
func FuzzReadWebDataset(f *testing.F) {
	tarOf := func(members ...testutil.TarMember) []byte {
		b, err := os.ReadFile(testutil.WriteTar(f, filepath.Join(f.TempDir(), "s.tar"), members...))
		require.NoError(f, err)
		return b
	}
	f.Add(tarOf(shardSamples()...), "cls")
	f.Add(tarOf(shardSamples()...), "txt")
	f.Add(tarOf(testutil.TarMember{Name: "z.bmp", Content: "Z"}, testutil.TarMember{Name: "z.json", Content: `{"captions": ["j"]}`}), "json")
	f.Add(tarOf(testutil.TarMember{Name: "a.png", Content: "A"}, testutil.TarMember{Name: "b.cls", Content: "1"},
		testutil.TarMember{Name: "a.cls", Content: "0"}), "cls")
	f.Add(tarOf(testutil.TarMember{Name: "a.png", Content: ""}, testutil.TarMember{Name: "a.cls", Content: "0"}), "cls")
	f.Fuzz(func(t *testing.T, data []byte, ext string) {
		dir := t.TempDir()
		plain := filepath.Join(dir, "s.tar")
		require.NoError(t, os.WriteFile(plain, data, 0o644))
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, err := zw.Write(data)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		packed := filepath.Join(dir, "s.tar.gz")
		require.NoError(t, os.WriteFile(packed, gz.Bytes(), 0o644))

		samples, err := ReadWebDataset([]string{plain}, ext, WebOptions{})
		sp := NewSpool(t.TempDir())
		unpacked, gzErr := ReadWebDataset([]string{packed}, ext, WebOptions{Spool: sp, MaxExpansion: 1e12})
		require.NoError(t, sp.Close())
		require.Equal(t, err == nil, gzErr == nil, "plain: %v; gzipped: %v", err, gzErr)
		if err != nil {
			return
		}
		members := tarMembers(t, data)
		require.Len(t, unpacked, len(samples))
		keys := map[string]bool{}
		for i, s := range samples {
			assert.False(t, keys[s.Key], "key %q twice", s.Key)
			keys[s.Key] = true
			assert.Equal(t, "s.tar#"+s.Key, s.Name)
			assert.Equal(t, s.Key+"."+strings.ToLower(ext), s.Member)
			assert.Equal(t, members[s.Member], s.Text, "text of %s", s.Member)
			assert.Equal(t, plain, s.Image.File)
			assert.Equal(t, plain, s.Image.Path)
			member := strings.TrimPrefix(s.Image.Name, plain+"#")
			require.Contains(t, members, member)
			require.True(t, s.Image.Offset >= 0 && s.Image.Size > 0 && s.Image.Offset+s.Image.Size <= int64(len(data)),
				"image range %d+%d of %d bytes", s.Image.Offset, s.Image.Size, len(data))
			assert.Equal(t, members[member], data[s.Image.Offset:s.Image.Offset+s.Image.Size], "image bytes of %s", member)

			u := unpacked[i]
			assert.Equal(t, [3]string{s.Key, s.Member, string(s.Text)}, [3]string{u.Key, u.Member, string(u.Text)})
			assert.Equal(t, packed+"#"+member, u.Image.Name)
			b, err := u.Image.Bytes()
			require.NoError(t, err)
			assert.Equal(t, members[member], b, "spooled image bytes of %s", member)
		}
		if labels, err := WebLabels(samples, []string{"zero", "one"}); err == nil {
			for i, l := range labels {
				assert.NotEmpty(t, l.Label)
				assert.Equal(t, samples[i].Name, l.Name)
			}
		}
		if caps, err := WebCaptions(samples); err == nil {
			for _, c := range caps {
				assert.NotEmpty(t, c.Captions)
			}
		}
	})
}

// tarMembers reads the regular members of a tar archive by name, in lower case after the key as webdataset
// splits names ("<key>.<ext>"); the last of a name wins, as only the first of a sample's extension is read.
func tarMembers(t *testing.T, data []byte) map[string][]byte {
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		key, ext, ok := splitMember(h)
		if !ok {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return out
		}
		if _, dup := out[key+"."+ext]; !dup {
			out[key+"."+ext] = b
		}
	}
}

// vqaImages makes the images folder of a VQA-RAD or SLAKE root.
func vqaImages(f *testing.F, root, images string) {
	testutil.WriteFiles(f, root, map[string]string{images + "/a.jpg": "a", images + "/b.jpg": "b", images + "/s/c.png": "c"})
}

// FuzzReadVQARAD reads a fuzzed VQA_RAD_Dataset_Public.json; what it returns, written back, reads back the same.
func FuzzReadVQARAD(f *testing.F) {
	root := f.TempDir()
	vqaImages(f, root, "images")
	f.Add([]byte(`[{"qid": 1, "image_name": "a.jpg", "question": "is it?", "answer": "yes", "answer_type": "CLOSED ", "phrase_type": "freeform"},` +
		`{"qid": "2b", "image_name": "s/c.png", "question": "how many?", "answer": 4, "answer_type": "OPEN", "phrase_type": "test_para", "image_organ": "HEAD"}]`))
	f.Add([]byte(`[{"qid": 1, "image_name": "../a.jpg", "question": "q", "answer": "a", "answer_type": "OPEN", "phrase_type": "para"}]`))
	f.Add([]byte(`[{"qid": 1.5e3, "image_name": "b.jpg", "question": " ", "answer": [], "answer_type": "MAYBE", "phrase_type": "x"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"qid": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(root, VQARADFile)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		rows, err := ReadVQARAD(root, nil)
		if err != nil {
			return
		}
		require.NotEmpty(t, rows)
		checkRows(t, filepath.Join(root, "images"), rows, []string{SplitTrain, SplitTest})
		n := 0
		for _, split := range []string{SplitTrain, SplitTest} {
			if part, err := VQARADSplit(rows, split); err == nil {
				n += len(part)
			}
		}
		assert.Equal(t, len(rows), n, "every row is in the train or the test split")
		require.NoError(t, os.WriteFile(p, rowsJSON(t, rows), 0o644))
		again, err := ReadVQARAD(root, nil)
		require.NoError(t, err)
		assert.Equal(t, rowValues(rows), rowValues(again))
	})
}

// FuzzReadSLAKE reads fuzzed SLAKE train.json and test.json files.
func FuzzReadSLAKE(f *testing.F) {
	root := f.TempDir()
	vqaImages(f, root, "imgs")
	row := func(qid int, img, lang string) string {
		return `{"qid": ` + string(rune('0'+qid)) + `, "img_name": "` + img + `", "question": "q?", "answer": "yes", "answer_type": "CLOSED", "q_lang": "` + lang + `"}`
	}
	f.Add([]byte("["+row(1, "a.jpg", "en")+","+row(2, "b.jpg", "zh")+"]"), []byte("["+row(3, "s/c.png", "en")+"]"))
	f.Add([]byte("["+row(1, "a.jpg", "zh")+"]"), []byte("[]"))
	f.Add([]byte("["+row(1, "nope.jpg", "en")+"]"), []byte("null"))
	f.Fuzz(func(t *testing.T, train, test []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(root, "train.json"), train, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(root, "test.json"), test, 0o644))
		rows, files, err := ReadSLAKE(root, nil)
		if err != nil {
			return
		}
		assert.Equal(t, []string{filepath.Join(root, "train.json"), filepath.Join(root, "test.json")}, files)
		checkRows(t, filepath.Join(root, "imgs"), rows, []string{SplitTrain, SplitTest})
		for _, r := range rows {
			lang, err := r.Field("q_lang")
			require.NoError(t, err)
			assert.Equal(t, "en", strings.TrimSpace(lang))
		}
		assert.True(t, slices.IsSortedFunc(rows, func(a, b VQARADRow) int {
			return slices.Index([]string{SplitTrain, SplitTest}, a.Split) - slices.Index([]string{SplitTrain, SplitTest}, b.Split)
		}), "train rows come first")
	})
}

// checkRows asserts what ReadVQARAD and ReadSLAKE promise of every row: its fields set, its split one of splits,
// its image an existing file inside the images folder.
func checkRows(t *testing.T, images string, rows []VQARADRow, splits []string) {
	for _, r := range rows {
		for _, s := range []string{r.QID, r.ImageName, r.Question, r.Answer} {
			assert.NotEmpty(t, strings.TrimSpace(s))
		}
		qid, err := r.Field("qid")
		require.NoError(t, err)
		assert.Equal(t, r.QID, qid)
		assert.Contains(t, splits, r.Split)
		assert.True(t, filepath.IsLocal(r.ImageName), "image %q stays inside %s", r.ImageName, images)
		assert.Equal(t, filepath.Join(images, r.ImageName), r.Image)
		st, err := os.Stat(r.Image)
		require.NoError(t, err)
		assert.True(t, st.Mode().IsRegular())
	}
}

// rowValues returns the rows without the fields they were read from (which writing back compacts).
func rowValues(rows []VQARADRow) []VQARADRow {
	out := slices.Clone(rows)
	for i := range out {
		out[i].fields = nil
	}
	return out
}

// rowsJSON writes rows back as a release file: every field of every row as read.
func rowsJSON(t *testing.T, rows []VQARADRow) []byte {
	list := make([]map[string]json.RawMessage, len(rows))
	for i, r := range rows {
		list[i] = r.fields
	}
	b, err := json.Marshal(list)
	require.NoError(t, err)
	return b
}

// FuzzReadDICOM reads fuzzed DICOM files: an error, or a grayscale image whose pixels the readers' PNG rendering
// holds exactly; never a panic, and never more pixels than the file's bytes could hold after inflating.
func FuzzReadDICOM(f *testing.F) {
	dicomOf := func(ts string, elements ...testutil.DICOMElement) []byte {
		b, err := os.ReadFile(testutil.WriteDICOM(f, filepath.Join(f.TempDir(), "x.dcm"), ts, elements...))
		require.NoError(f, err)
		return b
	}
	f.Add(dicomOf(testutil.ExplicitVRLittleEndian, rescaled12()...))
	f.Add(dicomOf(testutil.ImplicitVRLittleEndian, rescaled12()...))
	f.Add(dicomOf(testutil.ExplicitVRBigEndian, rescaled12()...))
	f.Add(dicomOf(testutil.DeflatedExplicitVRLittleEndian, rescaled12()...))
	f.Add(dicomOf(testutil.ExplicitVRLittleEndian, append(testutil.Gray("MONOCHROME1", 2, 2, 8, 8, 0, []uint16{10, 20, 30, 40}),
		ds(windowCenter, `25\100`), ds(windowWidth, `11\50`), testutil.DICOMElement{Group: 0x0028, Element: 0x1056, VR: "CS", Value: "SIGMOID"})...))
	f.Add(dicomOf(testutil.ExplicitVRLittleEndian, testutil.Gray("MONOCHROME2", 2, 2, 16, 12, 1, []uint16{0x0FFF, 0x0800, 0x07FF, 0xF001})...))
	f.Add(dicomOf("1.2.840.10008.1.2.4.50", testutil.Gray("MONOCHROME2", 1, 2, 16, 16, 0, []uint16{1, 2})...))
	f.Add(dicomOf(testutil.ExplicitVRLittleEndian, ybr422()...))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "x.dcm")
		require.NoError(t, os.WriteFile(p, data, 0o644))
		img, err := ReadDICOM(p)
		if err != nil {
			require.Nil(t, img)
			assert.Contains(t, err.Error(), p, "the error names the file")
			return
		}
		b := img.Bounds()
		require.Equal(t, image.Point{}, b.Min)
		require.True(t, b.Dx() >= 1 && b.Dy() >= 1, "size %v", b)
		require.Len(t, img.Pix, b.Dx()*b.Dy())
		assert.LessOrEqual(t, b.Dx()*b.Dy(), 1100*len(data), "pixels from %d bytes", len(data))
		sp := NewSpool(t.TempDir())
		rendered, err := ReadImage(dir, "x.dcm", sp)
		if marked, _ := hasDICOMMarker(dir, p); !marked {
			require.ErrorContains(t, err, `has no "DICM" marker at byte 128`, "a manifest reads only marked DICOM files")
			return
		}
		require.NoError(t, err)
		require.NoError(t, sp.Close())
		raw, err := rendered.Bytes()
		require.NoError(t, err)
		back, err := png.Decode(bytes.NewReader(raw))
		require.NoError(t, err)
		require.IsType(t, &image.Gray{}, back)
		assert.Equal(t, img.Rect, back.(*image.Gray).Rect)
		assert.Equal(t, img.Pix, back.(*image.Gray).Pix)
	})
}

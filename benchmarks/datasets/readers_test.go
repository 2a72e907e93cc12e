package datasets

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/plugins/sdk"
)

func TestResolveImageSymlinks(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	testutil.WriteFiles(t, outside, map[string]string{"x.png": ""})
	testutil.WriteFiles(t, dir, map[string]string{"in/a.png": ""})
	require.NoError(t, os.Symlink(filepath.Join(outside, "x.png"), filepath.Join(dir, "out.png")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "outdir")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "in", "a.png"), filepath.Join(dir, "ok.png")))
	tests := []struct{ name, image, err string }{
		{"link inside", "ok.png", ""},
		{"link to a file outside", "out.png", `image "out.png" is a symbolic link to ` + filepath.Join(outside, "x.png") + ", outside the manifest's folder"},
		{"through a linked folder", "outdir/x.png", `image "outdir/x.png" is a symbolic link to ` + filepath.Join(outside, "x.png")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveImage(dir, tc.image)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(dir, tc.image), got)
		})
	}
}

func TestReadCSV(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{
		"a.png": "", "b/b.TIF": "", "c.bmp": "",
		"l.csv": "\uFEFFid,path,class\r\n1,a.png,red\n2,b/b.TIF,\"blue, dark\"\n\n3,./a.png,red\n",
		"c.csv": "image,caption\na.png,one\nb/b.TIF,\"two, \"\"quoted\"\"\"\n./a.png,three\nc.bmp,\n",
	})
	file := func(n string) Image { return RootedImage(dir, filepath.Join(dir, n)) }
	labels, err := ReadCSVLabels(filepath.Join(dir, "l.csv"), Columns{Image: "path", Label: "class"}, nil)
	require.NoError(t, err)
	assert.Equal(t, []Labeled{
		{Name: "a.png", Image: file("a.png"), Label: "red"},
		{Name: "b/b.TIF", Image: file("b/b.TIF"), Label: "blue, dark"},
		{Name: "./a.png", Image: file("a.png"), Label: "red"},
	}, labels)
	caps, err := ReadCSVCaptions(filepath.Join(dir, "c.csv"), Columns{}, nil)
	require.NoError(t, err)
	assert.Equal(t, []Captioned{
		{Name: "a.png", Image: file("a.png"), Captions: []string{"one", "three"}},
		{Name: "b/b.TIF", Image: file("b/b.TIF"), Captions: []string{`two, "quoted"`}},
		{Name: "c.bmp", Image: file("c.bmp"), Captions: []string{""}},
	}, caps)

	tests := []struct {
		name, content string
		cols          Columns
		err           string
	}{
		{"missing column", "img,label\na.png,x\n", Columns{}, `m.csv:1: the header has no column "image" (it has ["img" "label"]); name the column`},
		{"column twice", "image,label,image\na.png,x,a.png\n", Columns{}, `m.csv:1: the header names column "image" twice`},
		{"field count", "image,label\na.png,x\nb.png\n", Columns{}, "m.csv:3: bad CSV: wrong number of fields"},
		{"bad quote", "image,label\na.png,\"x\n", Columns{}, "m.csv:2: bad CSV: extraneous or missing \" in quoted-field"},
		{"empty label", "image,label\n\na.png,x\nc.bmp,\n", Columns{}, `m.csv:4: image "c.bmp" has an empty "label"`},
		{"escaping image", "image,label\n../a.png,x\n", Columns{}, `m.csv:2: image path "../a.png" leaves the manifest's folder`},
		{"missing image", "image,label\nz.png,x\n", Columns{}, `m.csv:2: image "z.png": stat`},
		{"conflicting labels", "image,label\na.png,x\nb/b.TIF,y\n./a.png,z\n", Columns{},
			`m.csv: image "./a.png" has two labels, "x" (entry 1) and "z" (entry 3); an image has one label: fix or remove one of the entries`},
		{"header only", "image,label\n", Columns{}, "holds no items (only a header row)"},
		{"empty", "", Columns{}, "is empty; a CSV manifest starts with a header row"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testutil.WriteFiles(t, dir, map[string]string{"m.csv": tc.content})
			_, err := ReadCSVLabels(filepath.Join(dir, "m.csv"), tc.cols, nil)
			assert.ErrorContains(t, err, tc.err)
		})
	}
	_, err = ReadCSVLabels(filepath.Join(dir, "none.csv"), Columns{}, nil)
	assert.ErrorContains(t, err, "reading manifest: open")
}

func TestReadImageFolder(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{
		"b/2.png": "", "b/1.JPG": "", "b/notes.txt": "", "b/sub/0.tiff": "", "a/x.jpeg": "", "a/y.Bmp": "",
		"readme.md": "", "c/deep/z.tif": "",
	})
	testutil.WriteDICOM(t, filepath.Join(dir, "c", "s.dcm"), testutil.ExplicitVRLittleEndian, rescaled12()...)
	sp := NewSpool(t.TempDir())
	got, err := ReadImageFolder(dir, sp)
	require.NoError(t, err)
	require.NoError(t, sp.Close())
	var names, labels []string
	for _, it := range got {
		names, labels = append(names, it.Name), append(labels, it.Label)
		if it.Name == "c/s.dcm" {
			assert.Equal(t, filepath.Join(dir, "c", "s.dcm"), it.Image.Name, "DICOM travels as PNG in the spool")
			assert.Positive(t, it.Image.Size)
		} else {
			assert.Equal(t, RootedImage(dir, filepath.Join(dir, filepath.FromSlash(it.Name))), it.Image)
		}
	}
	assert.Equal(t, []string{"a/x.jpeg", "a/y.Bmp", "b/1.JPG", "b/2.png", "b/sub/0.tiff", "c/deep/z.tif", "c/s.dcm"}, names)
	assert.Equal(t, []string{"a", "a", "b", "b", "b", "c", "c"}, labels)

	// A class folder reached through a link is read; one whose images lie outside the root is refused.
	linked := t.TempDir()
	testutil.WriteFiles(t, linked, map[string]string{"real/d/1.png": ""})
	require.NoError(t, os.Symlink(filepath.Join(linked, "real", "d"), filepath.Join(linked, "d")))
	got, err = ReadImageFolder(linked, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"d/1.png", "real/d/1.png"}, []string{got[0].Name, got[1].Name})
	assert.Equal(t, []string{"d", "real"}, []string{got[0].Label, got[1].Label})

	escape := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(linked, "real"), filepath.Join(escape, "cls")))
	_, err = ReadImageFolder(escape, nil)
	assert.ErrorContains(t, err, `class "cls": image "cls/d/1.png" is a symbolic link to `+filepath.Join(linked, "real", "d", "1.png"))

	empty := t.TempDir()
	testutil.WriteFiles(t, empty, map[string]string{"a/1.png": "", "b/notes.txt": ""})
	_, err = ReadImageFolder(empty, nil)
	assert.ErrorContains(t, err, `class folder "b" holds no images (.png, .jpg, .jpeg, .tif, .tiff, .bmp, .dcm)`)
	_, err = ReadImageFolder(filepath.Join(empty, "a"), nil)
	assert.ErrorContains(t, err, "holds no class folders")
	_, err = ReadImageFolder(filepath.Join(empty, "none"), nil)
	assert.ErrorContains(t, err, "reading ImageFolder")
}

// shardSamples are the members of a small shard: keys a (png and jpg: jpg wins), dir/b (with a member of the
// two-part extension seg.png, not an image extension), c (upper-case extensions); meta, folder and dot-less
// members are skipped.
func shardSamples() []testutil.TarMember {
	return []testutil.TarMember{
		{Name: "__meta__", Content: "ignored"},
		{Name: "dir", Dir: true},
		{Name: "a.png", Content: "A-png"},
		{Name: "a.jpg", Content: "A-jpg"},
		{Name: "a.cls", Content: " 1\n"},
		{Name: "a.txt", Content: "first\r\n\nsecond\n"},
		{Name: "README", Content: "no dot"},
		{Name: "dir/b.png", Content: "B"},
		{Name: "dir/b.seg.png", Content: "mask"},
		{Name: "dir/b.cls", Content: "tumor"},
		{Name: "dir/b.txt", Content: "only"},
		{Name: "c.TIFF", Content: "C"},
		{Name: "c.CLS", Content: "0"},
		{Name: "c.txt", Content: "third"},
	}
}

func TestReadWebDataset(t *testing.T) {
	dir := t.TempDir()
	s1 := testutil.WriteTar(t, filepath.Join(dir, "s-1.tar"), shardSamples()...)
	s0 := testutil.WriteTar(t, filepath.Join(dir, "s-0.tar"), testutil.TarMember{Name: "z.bmp", Content: "Z"},
		testutil.TarMember{Name: "z.cls", Content: "normal"}, testutil.TarMember{Name: "z.json", Content: `{"captions": ["j1", "j2"], "id": 3}`})
	shards, err := ShardPaths(dir, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{s0, s1}, shards)

	samples, err := ReadWebDataset(shards, "CLS", WebOptions{})
	require.NoError(t, err)
	var keys []string
	for _, s := range samples {
		keys = append(keys, s.Key)
	}
	assert.Equal(t, []string{"z", "a", "dir/b", "c"}, keys)
	// Images are byte ranges of the shard: a.jpg's data follows the headers of __meta__, dir, a.png and its own,
	// with __meta__'s and a.png's data, 512 bytes each (USTAR headers and padding).
	assert.Equal(t, Image{ImageInput: sdk.ImageInput{Name: s1 + "#a.jpg", Path: s1, Offset: 6 * 512, Size: 5, Root: dir}, File: s1}, samples[1].Image)
	for i, want := range []string{"Z", "A-jpg", "B", "C"} {
		b, err := samples[i].Image.Bytes()
		require.NoError(t, err)
		assert.Equal(t, want, string(b), samples[i].Key)
	}
	assert.Equal(t, s1+"#dir/b.png", samples[2].Image.Name)
	assert.Equal(t, s1+"#c.tiff", samples[3].Image.Label())
	assert.Equal(t, "s-1.tar#dir/b", samples[2].Name)

	labels, err := WebLabels(samples, []string{"normal", "tumor"})
	require.NoError(t, err)
	assert.Equal(t, []Labeled{
		{Name: "s-0.tar#z", Image: samples[0].Image, Label: "normal"},
		{Name: "s-1.tar#a", Image: samples[1].Image, Label: "tumor"},
		{Name: "s-1.tar#dir/b", Image: samples[2].Image, Label: "tumor"},
		{Name: "s-1.tar#c", Image: samples[3].Image, Label: "normal"},
	}, labels)
	_, err = WebLabels(samples, []string{"normal"})
	assert.ErrorContains(t, err, s1+": a.cls holds class index 1, but the classes option lists 1 classes")

	txt, err := ReadWebDataset([]string{s1}, "txt", WebOptions{})
	require.NoError(t, err)
	caps, err := WebCaptions(txt)
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"first", "second"}, {"only"}, {"third"}}, [][]string{caps[0].Captions, caps[1].Captions, caps[2].Captions})
	js, err := ReadWebDataset([]string{s0}, "json", WebOptions{})
	require.NoError(t, err)
	caps, err = WebCaptions(js)
	require.NoError(t, err)
	assert.Equal(t, []Captioned{{Name: "s-0.tar#z", Image: Image{ImageInput: sdk.ImageInput{Name: s0 + "#z.bmp", Path: s0, Offset: 512, Size: 1, Root: dir}, File: s0},
		Captions: []string{"j1", "j2"}}}, caps)

	// Compressed shards stream through gzip.
	f, err := os.Create(filepath.Join(dir, "g.tar.gz"))
	require.NoError(t, err)
	raw, err := os.ReadFile(s0)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	_, err = zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	g := filepath.Join(dir, "g.tar.gz")
	_, err = ReadWebDataset([]string{g}, "cls", WebOptions{})
	assert.ErrorContains(t, err, "shard "+g+" is compressed: its images must be extracted to the task's work folder, but none was given")
	_, err = ReadWebDataset([]string{g}, "cls", WebOptions{Spool: NewSpool("")})
	assert.ErrorContains(t, err, "must be written to the task's work folder, but the load request has no work_dir")
	work := t.TempDir()
	sp := NewSpool(work)
	gz, err := ReadWebDataset([]string{g}, "cls", WebOptions{Spool: sp})
	require.NoError(t, err)
	require.NoError(t, sp.Close())
	assert.Equal(t, g+"#z.bmp", gz[0].Image.Name)
	assert.Equal(t, g, gz[0].Image.File)
	assert.Equal(t, work, filepath.Dir(gz[0].Image.Path), "extracted into the work folder")
	b, err := gz[0].Image.Bytes()
	require.NoError(t, err)
	assert.Equal(t, "Z", string(b))
	// The s-0 tar is mostly zero padding: it expands far more than 1.5 times.
	_, err = ReadWebDataset([]string{g}, "cls", WebOptions{Spool: NewSpool(work), MaxExpansion: 1.5})
	assert.ErrorContains(t, err, "shard "+g+" expands to more than")
	assert.ErrorContains(t, err, "raise the dataset option max_expansion")
	_, err = ReadWebDataset([]string{g}, "cls", WebOptions{MaxExpansion: 0.5})
	assert.ErrorContains(t, err, "max_expansion is 0.5; it must be at least 1")
}

func TestReadWebDatasetErrors(t *testing.T) {
	dir := t.TempDir()
	m := func(name, content string) testutil.TarMember { return testutil.TarMember{Name: name, Content: content} }
	tests := []struct {
		name    string
		members []testutil.TarMember
		ext     string
		err     string
	}{
		{"no image", []testutil.TarMember{m("a.cls", "1"), m("a.webp", "x")}, "cls", `sample "a" has no image (members ["cls" "webp"]; want one of ["jpg" "jpeg" "png" "tif" "tiff" "bmp"])`},
		{"no label", []testutil.TarMember{m("a.png", "x"), m("a.txt", "y")}, "cls", `sample "a" has no "cls" member (members ["png" "txt"])`},
		{"split sample", []testutil.TarMember{m("a.png", "x"), m("a.cls", "1"), m("b.png", "y"), m("b.cls", "1"), m("a.txt", "z")}, "cls",
			`the members of sample "a" are not next to each other (a.txt comes after other samples)`},
		{"extension twice", []testutil.TarMember{m("a.png", "x"), m("a.PNG", "y")}, "cls", `sample "a" has two members with extension "png" (a.PNG)`},
		{"empty", []testutil.TarMember{m("README", "x")}, "cls", "hold no samples"},
		{"empty image", []testutil.TarMember{m("a.png", ""), m("a.cls", "1")}, "cls", "image member a.png is 0 bytes; an image must have 1 to"},
		{"long label", []testutil.TarMember{m("a.png", "x"), m("a.cls", strings.Repeat("1", 16<<20+1))}, "cls", "member a.cls is 16777217 bytes, more than the 16777216"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testutil.WriteTar(t, filepath.Join(dir, tc.name+".tar"), tc.members...)
			_, err := ReadWebDataset([]string{s}, tc.ext, WebOptions{})
			assert.ErrorContains(t, err, tc.err)
		})
	}
	cut := testutil.WriteTar(t, filepath.Join(dir, "cut.tar"), m("a.png", strings.Repeat("x", 5000)), m("a.cls", "1"))
	require.NoError(t, os.Truncate(cut, 512+100))
	_, err := ReadWebDataset([]string{cut}, "cls", WebOptions{})
	assert.EqualError(t, err, "shard "+cut+": image member a.png: its header declares 5000 bytes at byte 512, past the end of the 612-byte shard: the shard is truncated or corrupt")
	testutil.WriteFiles(t, dir, map[string]string{"bad.tar": "not a tar archive, just some text that is long enough"})
	_, err = ReadWebDataset([]string{filepath.Join(dir, "bad.tar")}, "cls", WebOptions{})
	assert.ErrorContains(t, err, "bad.tar: not a readable tar archive")
	_, err = ReadWebDataset([]string{filepath.Join(dir, "none.tar")}, "cls", WebOptions{})
	assert.ErrorContains(t, err, "reading webdataset shard: open")

	samples := []WebSample{{Key: "k", Name: "s.tar#k", Member: "k.cls", Text: []byte(" \n"), Image: Image{File: "s.tar"}}}
	_, err = WebLabels(samples, nil)
	assert.ErrorContains(t, err, "s.tar: k.cls is empty")
	samples[0].Member, samples[0].Text = "k.json", []byte(`["x"]`)
	_, err = WebCaptions(samples)
	assert.ErrorContains(t, err, `s.tar: k.json: want {"captions": ["..."]}`)
	samples[0].Text = []byte(`{"captions": []}`)
	_, err = WebCaptions(samples)
	assert.ErrorContains(t, err, "s.tar: k.json holds no caption")
}

func TestShardPaths(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{"a/s-2.tar": "", "a/s-10.tar": "", "b.tar": "", "x.txt": ""})
	tests := []struct {
		name     string
		patterns []string
		want     []string
		err      string
	}{
		{"default", nil, []string{"b.tar"}, ""},
		{"glob and path, in order", []string{"b.tar", "a/s-*.tar"}, []string{"b.tar", "a/s-10.tar", "a/s-2.tar"}, ""},
		{"no match", []string{"c-*.tar"}, nil, `shard pattern "c-*.tar" matches no file in`},
		{"twice", []string{"*.tar", "b.tar"}, nil, "b.tar is matched twice (pattern \"b.tar\")"},
		{"escaping", []string{"../*.tar"}, nil, `shard pattern "../*.tar" must be relative to the webdataset root`},
		{"absolute", []string{filepath.Join(dir, "b.tar")}, nil, "must be relative"},
		{"bad pattern", []string{"[.tar"}, nil, `shard pattern "[.tar": syntax error in pattern`},
		{"folder", []string{"a"}, nil, `image "a" (` + filepath.Join(dir, "a") + ") is not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ShardPaths(dir, tc.patterns)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			var want []string
			for _, w := range tc.want {
				want = append(want, filepath.Join(dir, w))
			}
			assert.Equal(t, want, got)
		})
	}
}

// sr is a SLAKE question.
func sr(qid int, image, question, answer, answerType, lang string) testutil.SLAKERow {
	return testutil.SLAKERow{QID: qid, Image: image, Question: question, Answer: answer, AnswerType: answerType, Lang: lang}
}

func TestReadSLAKE(t *testing.T) {
	train := []testutil.SLAKERow{
		sr(0, "xmlab1/source.jpg", "Is this a CT?", "Yes", "CLOSED", "en"),
		sr(1, "xmlab1/source.jpg", "这是CT吗?", "是", "CLOSED", "zh"),
		sr(2, "xmlab2/source.jpg", "Which organ?", "Lung", "OPEN", "en"),
	}
	test := []testutil.SLAKERow{sr(10, "xmlab3/source.jpg", "Where is the lesion?", "Left", "OPEN", "en")}
	dir := testutil.WriteSLAKE(t, t.TempDir(), map[string][]testutil.SLAKERow{"train.json": train, "test.json": test,
		"validate.json": {sr(5, "xmlab2/source.jpg", "Is it normal?", "No", "CLOSED", "en")}})
	rows, files, err := ReadSLAKE(dir, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "train.json"), filepath.Join(dir, "validate.json"), filepath.Join(dir, "test.json")}, files)
	type row struct {
		qid, image, question, answer, split string
		closed                              bool
	}
	var got []row
	for _, r := range rows {
		got = append(got, row{r.QID, r.Image, r.Question, r.Answer, r.Split, r.Closed})
	}
	img := func(n string) string { return filepath.Join(dir, "imgs", n, "source.jpg") }
	assert.Equal(t, []row{
		{"0", img("xmlab1"), "Is this a CT?", "Yes", SplitTrain, true},
		{"2", img("xmlab2"), "Which organ?", "Lung", SplitTrain, false},
		{"5", img("xmlab2"), "Is it normal?", "No", SplitValidate, true},
		{"10", img("xmlab3"), "Where is the lesion?", "Left", SplitTest, false},
	}, got)
	part, err := VQARADSplit(rows, SplitTest)
	require.NoError(t, err)
	assert.Len(t, part, 1)

	// validate.json is optional; train.json and test.json are not.
	require.NoError(t, os.Remove(filepath.Join(dir, "validate.json")))
	_, files, err = ReadSLAKE(dir, nil)
	require.NoError(t, err)
	assert.Len(t, files, 2)
	require.NoError(t, os.Remove(filepath.Join(dir, "test.json")))
	_, _, err = ReadSLAKE(dir, nil)
	assert.ErrorContains(t, err, "reading SLAKE: stat "+filepath.Join(dir, "test.json"))

	tests := []struct {
		name string
		rows []testutil.SLAKERow
		err  string
	}{
		{"bad answer type", []testutil.SLAKERow{sr(7, "a.jpg", "q", "a", "MAYBE", "en")}, `train.json: row 0: qid 7: answer_type "MAYBE" is neither CLOSED nor OPEN`},
		{"no language", []testutil.SLAKERow{sr(7, "a.jpg", "q", "a", "OPEN", "")}, ""},
		{"escaping image", []testutil.SLAKERow{sr(7, "../a.jpg", "q", "a", "OPEN", "en")}, `train.json: row 0 (qid 7): image path "../a.jpg" leaves`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := testutil.WriteSLAKE(t, t.TempDir(), map[string][]testutil.SLAKERow{"train.json": tc.rows, "test.json": test})
			rows, _, err := ReadSLAKE(d, nil)
			if tc.err == "" {
				require.NoError(t, err)
				assert.Len(t, rows, 1, "only the English test question")
				return
			}
			assert.ErrorContains(t, err, tc.err)
		})
	}
	d := testutil.WriteSLAKE(t, t.TempDir(), map[string][]testutil.SLAKERow{"test.json": test})
	testutil.WriteFiles(t, d, map[string]string{"train.json": `[{"qid": 1, "img_name": "xmlab3/source.jpg", "question": "q", "answer": "a", "answer_type": "OPEN"}]`})
	_, _, err = ReadSLAKE(d, nil)
	assert.ErrorContains(t, err, `train.json: row 0: qid 1: question 1 has no field "q_lang"`)
}

func TestInputsImages(t *testing.T) {
	var in Inputs
	a := sdk.ImageInput{Name: "/s.tar#a.jpg", Path: "/s.tar", Offset: 512, Size: 1}
	c := sdk.ImageInput{Name: "/s.tar#c.png", Path: "/s.tar", Offset: 1536, Size: 1}
	dcm := sdk.ImageInput{Name: "/x/d.dcm", Path: "/w/images-1.spool", Offset: 0, Size: 9}
	assert.Equal(t, 0, in.AddImage(Image{ImageInput: a, File: "/s.tar"}))
	assert.Equal(t, 1, in.Image("/x/b.png"))
	assert.Equal(t, 2, in.AddImage(Image{ImageInput: c, File: "/s.tar"}))
	assert.Equal(t, 0, in.AddImage(Image{ImageInput: a, File: "/s.tar"}))
	assert.Equal(t, 3, in.AddImage(Image{ImageInput: dcm, File: "/x/d.dcm"}))
	d := in.Dataset(4, "", "/s.tar", "/x/b.png")
	assert.Equal(t, []sdk.ImageInput{a, {Path: "/x/b.png"}, c, dcm}, d.Images)
	assert.Equal(t, []string{"/s.tar", "/x/b.png", "/x/d.dcm"}, d.Files, "each file once")
}

func TestCheckFields(t *testing.T) {
	uses := []string{"root", "shards"}
	assert.NoError(t, CheckFields("d", "webdataset", map[string]bool{"root": true, "manifest": false}, uses))
	assert.EqualError(t, CheckFields("d", "webdataset", map[string]bool{"root": true, "manifest": true, "images": true}, uses),
		"d: format webdataset does not read images, manifest (it reads root, shards); remove the field or change the format")
}

// TestManifestRecordLimits: a JSON Lines manifest with a line, or a CSV manifest with a record, longer than
// MaxRecordBytes (a file that is not a manifest, an unclosed quote) is refused with its place, before it fills
// memory; a VQA-RAD file over its limit likewise.
func TestManifestRecordLimits(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", MaxRecordBytes+1)
	testutil.WriteFiles(t, dir, map[string]string{
		"a.png":   "",
		"l.jsonl": `{"image": "a.png", "label": "x"}` + "\n" + long + "\n",
		"q.csv":   "image,label\na.png,x\nb.png,\"" + long,
	})
	_, err := ReadLabels(filepath.Join(dir, "l.jsonl"), nil)
	assert.EqualError(t, err, filepath.Join(dir, "l.jsonl")+":2: the line is longer than 16777216 bytes; a manifest line is one item (an image and its label or captions): check that the file is a JSON Lines manifest")
	_, err = ReadCSVLabels(filepath.Join(dir, "q.csv"), Columns{}, nil)
	assert.EqualError(t, err, filepath.Join(dir, "q.csv")+": the record starting at byte 20 is longer than 16777216 bytes: check that the file is a CSV manifest (an unclosed quote makes the rest of the file one field)")

	vqa := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(vqa, VQARADFile), make([]byte, maxQuestionFile+1), 0o644))
	_, err = ReadVQARAD(vqa, nil)
	assert.ErrorContains(t, err, "reading questions: "+filepath.Join(vqa, VQARADFile)+" is 268435457 bytes, more than the 268435456 clipeval reads from such a file")
}

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// TestLoadFormats loads captioned images from a CSV manifest (rows of one image give several captions) and from
// webdataset shards (txt: a caption a line; json: {"captions": [...]}).
func TestLoadFormats(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{
		"m.csv": "path,text,id\na.png,one,1\nb.png,two,2\n./a.png,three,3\n", "a.png": "", "b.png": "",
	})
	s0 := testutil.WriteTar(t, filepath.Join(dir, "wds", "s-0.tar"),
		testutil.TarMember{Name: "x.jpg", Content: "X"}, testutil.TarMember{Name: "x.txt", Content: "red\nround\n"},
		testutil.TarMember{Name: "x.json", Content: `{"captions": ["j"]}`})
	s1 := testutil.WriteTar(t, filepath.Join(dir, "wds", "s-1.tar"),
		testutil.TarMember{Name: "y.png", Content: "Y"}, testutil.TarMember{Name: "y.txt", Content: "blue"},
		testutil.TarMember{Name: "y.json", Content: `{"captions": ["k", "l"]}`})
	// Images by reference: each image's data follows its 512-byte tar header.
	root := filepath.Join(dir, "wds")
	wds := []sdk.ImageInput{{Name: s0 + "#x.jpg", Path: s0, Offset: 512, Size: 1, Root: root}, {Name: s1 + "#y.png", Path: s1, Offset: 512, Size: 1, Root: root}}
	tests := []struct {
		name      string
		dataset   map[string]any
		images    []sdk.ImageInput
		texts     []string
		files     []string
		names     []string
		textImage []int
	}{
		{"csv", map[string]any{"format": "csv", "manifest": filepath.Join(dir, "m.csv"), "image_column": "path", "caption_column": "text"},
			[]sdk.ImageInput{{Path: filepath.Join(dir, "a.png"), Root: dir}, {Path: filepath.Join(dir, "b.png"), Root: dir}},
			[]string{"one", "three", "two"}, []string{filepath.Join(dir, "m.csv"), filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")},
			[]string{"a.png", "b.png"}, []int{0, 0, 1}},
		{"webdataset txt", map[string]any{"format": "webdataset", "root": filepath.Join(dir, "wds")}, wds,
			[]string{"red", "round", "blue"}, []string{s0, s1}, []string{"s-0.tar#x", "s-1.tar#y"}, []int{0, 0, 1}},
		{"webdataset json", map[string]any{"format": "webdataset", "root": filepath.Join(dir, "wds"), "shards": []string{"s-1.tar", "s-0.tar"},
			"caption_key": "json"}, []sdk.ImageInput{wds[1], wds[0]},
			[]string{"k", "l", "j"}, []string{s1, s0}, []string{"s-1.tar#y", "s-0.tar#x"}, []int{0, 0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := json.Marshal(tc.dataset)
			require.NoError(t, err)
			tk := &task{}
			d, err := tk.Load(context.Background(), sdk.LoadRequest{Dataset: ds})
			require.NoError(t, err)
			assert.Equal(t, tc.images, d.Images)
			assert.Equal(t, tc.texts, d.Texts)
			assert.Equal(t, tc.files, d.Files)
			l, err := tk.loaded.Get(d.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.names, l.names)
			assert.Equal(t, tc.textImage, l.textImage)
		})
	}
	_, err := (&task{}).Load(context.Background(), sdk.LoadRequest{
		Dataset: json.RawMessage(`{"format": "webdataset", "manifest": "` + filepath.Join(dir, "m.csv") + `"}`)})
	assert.ErrorContains(t, err, "retrieval dataset: format webdataset does not read manifest (it reads root, shards, caption_key, max_expansion)")
}

// TestLoadCompressedShard loads a .tar.gz shard: its image is extracted into the spool in the work folder, and
// the shard stays the file of record; without a work folder, or with a low max_expansion, Load fails.
func TestLoadCompressedShard(t *testing.T) {
	dir := t.TempDir()
	s := testutil.WriteTar(t, filepath.Join(dir, "s.tar"), testutil.TarMember{Name: "x.jpg", Content: "JPEG"},
		testutil.TarMember{Name: "x.txt", Content: "red"})
	raw, err := os.ReadFile(s)
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err = zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	gz := filepath.Join(dir, "s.tgz")
	require.NoError(t, os.WriteFile(gz, buf.Bytes(), 0o644))
	ds := func(extra string) json.RawMessage {
		return json.RawMessage(`{"format": "webdataset", "root": "` + dir + `", "shards": ["s.tgz"]` + extra + `}`)
	}
	work := t.TempDir()
	d, err := (&task{}).Load(context.Background(), sdk.LoadRequest{Dataset: ds(""), WorkDir: work})
	require.NoError(t, err)
	require.Len(t, d.Images, 1)
	assert.Equal(t, gz+"#x.jpg", d.Images[0].Name)
	assert.Equal(t, work, filepath.Dir(d.Images[0].Path))
	b, err := d.Images[0].Bytes()
	require.NoError(t, err)
	assert.Equal(t, "JPEG", string(b))
	assert.Equal(t, []string{gz}, d.Files)
	assert.Equal(t, []string{"red"}, d.Texts)

	_, err = (&task{}).Load(context.Background(), sdk.LoadRequest{Dataset: ds("")})
	assert.ErrorContains(t, err, "the load request has no work_dir")
	_, err = (&task{}).Load(context.Background(), sdk.LoadRequest{Dataset: ds(`, "max_expansion": 1`), WorkDir: work})
	assert.ErrorContains(t, err, "raise the dataset option max_expansion")
}

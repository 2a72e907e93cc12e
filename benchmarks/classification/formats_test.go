package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/datasets"
	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// TestLoadFormats loads the same two classes from a CSV manifest, an ImageFolder tree (with a DICOM file) and a
// webdataset shard (class indices into options.classes).
func TestLoadFormats(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{
		"m.csv": "file,diagnosis\nimg/a.png,tumor\nimg/b.png,normal\n", "img/a.png": "", "img/b.png": "",
		"folder/normal/1.png": "", "folder/tumor/2.JPG": "", "folder/tumor/notes.txt": "",
	})
	dcm := testutil.WriteDICOM(t, filepath.Join(dir, "folder", "tumor", "3.dcm"), testutil.ExplicitVRLittleEndian,
		testutil.Gray("MONOCHROME2", 1, 2, 8, 8, 0, []uint16{0, 9})...)
	converted, err := datasets.ReadImage(dir, "folder/tumor/3.dcm", datasets.NewSpool(t.TempDir()))
	require.NoError(t, err)
	require.Positive(t, converted.Size)
	shard := testutil.WriteTar(t, filepath.Join(dir, "wds", "s-0.tar"),
		testutil.TarMember{Name: "a.jpg", Content: "A"}, testutil.TarMember{Name: "a.cls", Content: "1"},
		testutil.TarMember{Name: "b.png", Content: "B"}, testutil.TarMember{Name: "b.cls", Content: "0"})
	p := func(n string) string { return filepath.Join(dir, filepath.FromSlash(n)) }
	tests := []struct {
		name    string
		dataset map[string]any
		images  []sdk.ImageInput
		files   []string
		items   []string
		truth   []int // class indices: normal 0, tumor 1
	}{
		{"csv", map[string]any{"format": "csv", "manifest": p("m.csv"), "image_column": "file", "label_column": "diagnosis"},
			[]sdk.ImageInput{{Path: p("img/a.png"), Root: dir}, {Path: p("img/b.png"), Root: dir}},
			[]string{p("m.csv"), p("img/a.png"), p("img/b.png")}, []string{"img/a.png", "img/b.png"}, []int{1, 0}},
		{"imagefolder", map[string]any{"format": "imagefolder", "root": p("folder")},
			[]sdk.ImageInput{{Path: p("folder/normal/1.png"), Root: p("folder")}, {Path: p("folder/tumor/2.JPG"), Root: p("folder")}, {Name: dcm, Offset: 0, Size: converted.Size}},
			[]string{p("folder/normal/1.png"), p("folder/tumor/2.JPG"), dcm},
			[]string{"normal/1.png", "tumor/2.JPG", "tumor/3.dcm"}, []int{0, 1, 1}},
		{"webdataset", map[string]any{"format": "webdataset", "root": p("wds")},
			[]sdk.ImageInput{{Name: shard + "#a.jpg", Path: shard, Offset: 512, Size: 1, Root: p("wds")}, {Name: shard + "#b.png", Path: shard, Offset: 5 * 512, Size: 1, Root: p("wds")}},
			[]string{shard}, []string{"s-0.tar#a", "s-0.tar#b"}, []int{1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := json.Marshal(tc.dataset)
			require.NoError(t, err)
			tk := &task{}
			work := t.TempDir()
			d, err := tk.Load(context.Background(), sdk.LoadRequest{Dataset: ds, WorkDir: work,
				Options: json.RawMessage(`{"templates": ["{}"], "classes": ["normal", "tumor"]}`)})
			require.NoError(t, err)
			for i, im := range d.Images { // spooled images lie in the work folder, under a name of the task's choosing
				if im.Name != "" && filepath.Dir(im.Path) == work {
					got, err := im.Bytes()
					require.NoError(t, err)
					want, err := converted.Bytes()
					require.NoError(t, err)
					assert.Equal(t, want, got, "the DICOM rendering")
					assert.Equal(t, work, im.Root, "read inside the work folder")
					d.Images[i].Path, d.Images[i].Root = "", ""
				}
			}
			assert.Equal(t, tc.images, d.Images)
			assert.Equal(t, tc.files, d.Files)
			assert.Equal(t, []string{"normal", "tumor"}, d.Texts)
			l, err := tk.loaded.Get(d.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.items, l.items)
			assert.Equal(t, tc.truth, l.truth)
		})
	}

	errs := []struct {
		name    string
		dataset map[string]any
		opts    string
		err     string
	}{
		{"class index without classes", map[string]any{"format": "webdataset", "root": p("wds")}, `{"templates": ["{}"]}`,
			"a.cls holds class index 1, but the classes option lists 0 classes"},
		{"label member missing", map[string]any{"format": "webdataset", "root": p("wds"), "label_field": "txt"}, `{"templates": ["{}"]}`,
			`sample "a" has no "txt" member`},
		{"no shards", map[string]any{"format": "webdataset", "root": p("wds"), "shards": []string{"t-*.tar"}}, `{"templates": ["{}"]}`,
			`classification dataset: shard pattern "t-*.tar" matches no file`},
		{"csv column", map[string]any{"format": "csv", "manifest": p("m.csv")}, `{"templates": ["{}"]}`,
			`m.csv:1: the header has no column "image"`},
		{"column with jsonl", map[string]any{"format": "jsonl", "manifest": p("m.csv"), "label_column": "x"}, `{"templates": ["{}"]}`,
			"format jsonl does not read label_column (it reads manifest)"},
		{"no root", map[string]any{"format": "imagefolder"}, `{"templates": ["{}"]}`, `dataset field "root" is required`},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := json.Marshal(tc.dataset)
			require.NoError(t, err)
			_, err = (&task{}).Load(context.Background(), sdk.LoadRequest{Dataset: ds, Options: json.RawMessage(tc.opts)})
			assert.ErrorContains(t, err, tc.err)
		})
	}
}

package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// TestSkipBadImagesAtLoad checks every reader that opens images at load under a spool's SkipBadImages: the items
// whose image is missing or an unreadable DICOM file are left out, each such image recorded once (however many
// items name it) with its error; without the policy the first bad image fails the read; a data set whose every
// image is bad is an error naming the first.
func TestSkipBadImagesAtLoad(t *testing.T) {
	badDICOM := string(make([]byte, 128)) + "DICM\x02\x00\x00\x00not a data element"
	tests := []struct {
		name  string
		files map[string]string
		// read returns the names of the items kept.
		read func(dir string, sp *Spool) ([]string, error)
		kept []string
		bad  []string // the skipped images, relative to dir
		// allBad is a data set of the same format whose every image is bad, the first of them firstBad.
		allBad   map[string]string
		firstBad string
	}{
		{"jsonl captions", map[string]string{"a.png": "", "c.dcm": badDICOM,
			"m.jsonl": `{"image": "a.png", "captions": ["one"]}` + "\n" + `{"image": "b.png", "captions": ["two"]}` + "\n" +
				`{"image": "c.dcm", "captions": ["three"]}` + "\n" + `{"image": "b.png", "captions": ["four"]}`},
			func(dir string, sp *Spool) ([]string, error) {
				rows, err := ReadCaptions(filepath.Join(dir, "m.jsonl"), sp)
				return captionedNames(rows), err
			}, []string{"a.png"}, []string{"b.png", "c.dcm"},
			map[string]string{"m.jsonl": `{"image": "b.png", "captions": ["two"]}`}, "b.png"},
		{"jsonl labels", map[string]string{"a.png": "", "c.dcm": badDICOM,
			"m.jsonl": `{"image": "b.png", "label": "x"}` + "\n" + `{"image": "a.png", "label": "y"}` + "\n" + `{"image": "c.dcm", "label": "x"}`},
			func(dir string, sp *Spool) ([]string, error) {
				rows, err := ReadLabels(filepath.Join(dir, "m.jsonl"), sp)
				return labeledNames(rows), err
			}, []string{"a.png"}, []string{"b.png", "c.dcm"},
			map[string]string{"m.jsonl": `{"image": "c.dcm", "label": "x"}`, "c.dcm": badDICOM}, "c.dcm"},
		{"csv captions", map[string]string{"a.png": "", "m.csv": "image,caption\nb.png,two\na.png,one\nb.png,again\n"},
			func(dir string, sp *Spool) ([]string, error) {
				rows, err := ReadCSVCaptions(filepath.Join(dir, "m.csv"), Columns{}, sp)
				return captionedNames(rows), err
			}, []string{"a.png"}, []string{"b.png"},
			map[string]string{"m.csv": "image,caption\nb.png,two\n"}, "b.png"},
		{"csv labels", map[string]string{"a.png": "", "c.dcm": badDICOM, "m.csv": "image,label\nc.dcm,x\na.png,y\n"},
			func(dir string, sp *Spool) ([]string, error) {
				rows, err := ReadCSVLabels(filepath.Join(dir, "m.csv"), Columns{}, sp)
				return labeledNames(rows), err
			}, []string{"a.png"}, []string{"c.dcm"},
			map[string]string{"m.csv": "image,label\nc.dcm,x\n", "c.dcm": badDICOM}, "c.dcm"},
		{"imagefolder", map[string]string{"x/a.png": "", "x/b.dcm": badDICOM, "y/c.dcm": badDICOM},
			func(dir string, sp *Spool) ([]string, error) {
				rows, err := ReadImageFolder(dir, sp)
				return labeledNames(rows), err
			}, []string{"x/a.png"}, []string{"x/b.dcm", "y/c.dcm"},
			map[string]string{"y/c.dcm": badDICOM}, "y/c.dcm"},
		{"vqa-rad", nil, func(dir string, sp *Spool) ([]string, error) {
			testutil.WriteVQARAD(t, dir, []testutil.VQARow{
				{QID: 1, Image: "a.jpg", Question: "q", Answer: "yes", AnswerType: "CLOSED", PhraseType: "para", Organ: "ABD"},
				{QID: 2, Image: "gone.jpg", Question: "r", Answer: "no", AnswerType: "CLOSED", PhraseType: "test_para", Organ: "ABD"},
				{QID: 3, Image: "gone.jpg", Question: "s", Answer: "no", AnswerType: "CLOSED", PhraseType: "para", Organ: "ABD"},
			})
			require.NoError(t, os.Remove(filepath.Join(dir, "images", "gone.jpg")))
			rows, err := ReadVQARAD(dir, sp)
			return rowQIDs(rows), err
		}, []string{"1"}, []string{"images/gone.jpg"}, nil, ""},
		{"slake", nil, func(dir string, sp *Spool) ([]string, error) {
			testutil.WriteSLAKE(t, dir, map[string][]testutil.SLAKERow{
				"train.json": {sr(0, "gone/source.jpg", "q", "Yes", "CLOSED", "en")},
				"test.json":  {sr(1, "a/source.jpg", "r", "No", "CLOSED", "en"), sr(2, "gone/source.jpg", "s", "No", "CLOSED", "en")},
			})
			require.NoError(t, os.Remove(filepath.Join(dir, "imgs", "gone", "source.jpg")))
			rows, _, err := ReadSLAKE(dir, sp)
			return rowQIDs(rows), err
		}, []string{"1"}, []string{"imgs/gone/source.jpg"}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			testutil.WriteFiles(t, dir, tc.files)
			sp := NewSpool(t.TempDir())
			sp.SkipBadImages(true)
			kept, err := tc.read(dir, sp)
			require.NoError(t, err)
			require.NoError(t, sp.Close())
			assert.Equal(t, tc.kept, kept)
			var bad []string
			for _, sk := range sp.Skipped() {
				bad = append(bad, strings.TrimPrefix(sk.Image, dir+string(filepath.Separator)))
				assert.Contains(t, sk.Error, filepath.Base(sk.Image), "the error names the image")
				assert.True(t, sp.IsSkipped(sk.Image))
			}
			assert.Equal(t, tc.bad, bad)

			// Without the policy the read fails on the first bad image, naming it.
			again := t.TempDir()
			testutil.WriteFiles(t, again, tc.files)
			_, err = tc.read(again, NewSpool(t.TempDir()))
			require.Error(t, err)
			assert.Contains(t, err.Error(), filepath.Base(tc.bad[0]))

			if tc.allBad != nil {
				none := t.TempDir()
				testutil.WriteFiles(t, none, tc.allBad)
				sp := NewSpool(t.TempDir())
				sp.SkipBadImages(true)
				_, err := tc.read(none, sp)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "every item's image is bad (bad_images: skip leaves none to score); the first, "+
					filepath.Join(none, tc.firstBad))
				require.NoError(t, sp.Close())
			}
		})
	}
	var nilSpool *Spool
	assert.Empty(t, nilSpool.Skipped())
	assert.Equal(t, []sdk.SkippedImage(nil), NewSpool("").Skipped())
}

func captionedNames(rows []Captioned) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Name)
	}
	return out
}

func labeledNames(rows []Labeled) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Name)
	}
	return out
}

func rowQIDs(rows []VQARADRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.QID)
	}
	return out
}

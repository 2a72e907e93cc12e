package datasets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
)

func TestDecode(t *testing.T) {
	type cfg struct {
		A int      `json:"a"`
		B []string `json:"b"`
	}
	tests := []struct {
		name string
		raw  string
		want cfg
		err  string
	}{
		{"empty keeps defaults", "", cfg{A: 7}, ""},
		{"null keeps defaults", "null", cfg{A: 7}, ""},
		{"values", `{"a": 1, "b": ["x"]}`, cfg{A: 1, B: []string{"x"}}, ""},
		{"unknown key", `{"a": 1, "c": 2}`, cfg{}, `opts: json: unknown field "c"`},
		{"wrong type", `{"a": "1"}`, cfg{}, "opts: json: cannot unmarshal string"},
		{"trailing", `{"a": 1} {}`, cfg{}, "opts: unexpected data after the JSON value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cfg{A: 7}
			err := Decode("opts", json.RawMessage(tc.raw), &got)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestResolveImage(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{"a.png": "", "sub/b.png": ""})
	tests := []struct {
		name, image, want, err string
	}{
		{"plain", "a.png", "a.png", ""},
		{"nested", "sub/b.png", "sub/b.png", ""},
		{"dot dot inside", "sub/../a.png", "a.png", ""},
		{"empty", "", "", "image path is empty"},
		{"absolute", filepath.Join(dir, "a.png"), "", "is absolute"},
		{"escapes", "../a.png", "", "leaves the manifest's folder"},
		{"escapes deeper", "sub/../../a.png", "", "leaves the manifest's folder"},
		{"missing", "c.png", "", `image "c.png": stat`},
		{"folder", "sub", "", "is not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveImage(dir, tc.image)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(dir, tc.want), got)
		})
	}
}

func TestReadManifests(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{
		"a.png": "", "b.png": "",
		"c.jsonl": "\uFEFF" + `{"image": "a.png", "captions": ["one", "two"]}` + "\r\n\n" + `{"image": "b.png", "captions": ["three"]}`,
		"l.jsonl": `{"image": "b.png", "label": "x"}` + "\n",
	})
	caps, err := ReadCaptions(filepath.Join(dir, "c.jsonl"), nil)
	require.NoError(t, err)
	assert.Equal(t, []Captioned{
		{Name: "a.png", Image: RootedImage(dir, filepath.Join(dir, "a.png")), Captions: []string{"one", "two"}},
		{Name: "b.png", Image: RootedImage(dir, filepath.Join(dir, "b.png")), Captions: []string{"three"}},
	}, caps)
	labels, err := ReadLabels(filepath.Join(dir, "l.jsonl"), nil)
	require.NoError(t, err)
	assert.Equal(t, []Labeled{{Name: "b.png", Image: RootedImage(dir, filepath.Join(dir, "b.png")), Label: "x"}}, labels)

	// A caption manifest is not a label manifest: the unknown key is named with file and line.
	_, err = ReadLabels(filepath.Join(dir, "c.jsonl"), nil)
	assert.ErrorContains(t, err, `c.jsonl:1: bad JSON line: json: unknown field "captions"`)
	testutil.WriteFiles(t, dir, map[string]string{"n.jsonl": `{"image": "a.png", "label": ""}`})
	_, err = ReadLabels(filepath.Join(dir, "n.jsonl"), nil)
	assert.ErrorContains(t, err, `n.jsonl:1: image "a.png" has no "label"`)
	testutil.WriteFiles(t, dir, map[string]string{"d.jsonl": `{"image": "a.png", "label": "x"}` + "\n" + `{"image": "a.png", "label": "y"}`})
	_, err = ReadLabels(filepath.Join(dir, "d.jsonl"), nil)
	assert.ErrorContains(t, err, `d.jsonl: image "a.png" has two labels, "x" (entry 1) and "y" (entry 2); an image has one label`)
}

func TestInputsAndStore(t *testing.T) {
	var in Inputs
	assert.Equal(t, 0, in.Image("/x/a.png"))
	assert.Equal(t, 1, in.Image("/x/b.png"))
	assert.Equal(t, 0, in.Image("/x/a.png"))
	assert.Equal(t, 0, in.Text("t"))
	assert.Equal(t, 1, in.Text("u"))
	assert.Equal(t, 0, in.Text("t"))
	d := in.Dataset(5, "desc", "/x/m.jsonl")
	assert.Equal(t, &sdk.Dataset{Images: []sdk.ImageInput{{Path: "/x/a.png"}, {Path: "/x/b.png"}}, Texts: []string{"t", "u"},
		Size: 5, Description: "desc", Files: []string{"/x/m.jsonl", "/x/a.png", "/x/b.png"}}, d)

	var s Store[int]
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() { v := i; ids[i] = s.Add("task", &v) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, id := range ids {
		v, err := s.Get(id)
		require.NoError(t, err)
		assert.Equal(t, i, *v)
		seen[id] = true
	}
	assert.Len(t, seen, 8)
	_, err := s.Get("task-9")
	assert.ErrorContains(t, err, `dataset "task-9" was not loaded`)
}

func TestReadVQARAD(t *testing.T) {
	dir := testutil.WriteVQARAD(t, t.TempDir(), []testutil.VQARow{
		{QID: "0", Image: "a.jpg", Question: "q", Answer: 2.5, AnswerType: "OPEN", PhraseType: "para", Organ: "ABD"},
		{QID: 1, Image: "a.jpg", Question: "r", Answer: "Yes", AnswerType: "CLOSED ", PhraseType: "test_freeform", Organ: "ABD"},
	})
	rows, err := ReadVQARAD(dir, nil)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, "0", rows[0].QID)
	assert.Equal(t, "2.5", rows[0].Answer)
	assert.False(t, rows[0].Closed)
	assert.Equal(t, SplitTrain, rows[0].Split)
	assert.Equal(t, filepath.Join(dir, "images", "a.jpg"), rows[0].Image)
	assert.Equal(t, "1", rows[1].QID)
	assert.True(t, rows[1].Closed)
	assert.Equal(t, SplitTest, rows[1].Split)
	organ, err := rows[1].Field("image_organ")
	require.NoError(t, err)
	assert.Equal(t, "ABD", organ)

	dup := testutil.WriteVQARAD(t, t.TempDir(), []testutil.VQARow{
		{QID: "7", Image: "a.jpg", Question: "q", Answer: "no", AnswerType: "CLOSED", PhraseType: "test_para", Organ: "ABD"},
		{QID: 7, Image: "a.jpg", Question: "r", Answer: "Yes", AnswerType: "CLOSED", PhraseType: "test_freeform", Organ: "ABD"},
	})
	_, err = ReadVQARAD(dup, nil)
	assert.ErrorContains(t, err, VQARADFile+": rows 0 and 1 have the same qid 7; every question needs its own qid (answers are matched by it)")

	require.NoError(t, os.Remove(filepath.Join(dir, "images", "a.jpg")))
	_, err = ReadVQARAD(dir, nil)
	assert.ErrorContains(t, err, `row 0 (qid 0): image "a.jpg"`)
	require.NoError(t, os.WriteFile(filepath.Join(dir, VQARADFile), []byte(`{"qid": 1}`), 0o644))
	_, err = ReadVQARAD(dir, nil)
	assert.ErrorContains(t, err, "not a JSON array of question objects")
}

// TestReadRealVQARAD reads the real release: 2,248 questions, a 451-question test split (272 closed, 179 open), a
// 1,797-question training split (1,027 closed), the two "CLOSED " rows counted closed, five numeric answers.
func TestReadRealVQARAD(t *testing.T) {
	rows, err := ReadVQARAD(sharedtest.Path(t, "data", "vqa-rad"), nil)
	require.NoError(t, err)
	assert.Len(t, rows, 2248)
	count := func(split string) (int, int) {
		part, err := VQARADSplit(rows, split)
		require.NoError(t, err)
		closed := 0
		for _, r := range part {
			if r.Closed {
				closed++
			}
		}
		return len(part), closed
	}
	n, closed := count(SplitTest)
	assert.Equal(t, []int{451, 272, 179}, []int{n, closed, n - closed})
	n, closed = count(SplitTrain)
	assert.Equal(t, []int{1797, 1027, 770}, []int{n, closed, n - closed})
	var numeric []string
	spaced := 0
	for _, r := range rows {
		if kind, _ := r.Field("answer_type"); kind == "CLOSED " {
			assert.True(t, r.Closed, "qid %s", r.QID)
			spaced++
		}
		raw := r.fields["answer"]
		if len(raw) > 0 && raw[0] != '"' {
			numeric = append(numeric, r.Answer)
		}
	}
	assert.Equal(t, []string{"4", "2", "2", "12", "12"}, numeric)
	assert.Equal(t, 2, spaced)
}

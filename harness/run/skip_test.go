package run

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/datasets"
	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/harness/store"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// spoiltImage is the demo image the skip tests spoil: an image of the retrieval, classification and pyalign
// manifests (data/images) and of the VQA questions (data/vqa/images).
const spoiltImage = "green.png"

// writeSkipConfig writes, in dir, a config of the demo at demo with four tasks (retrieval, classification, vqa,
// pyalign on the retrieval manifest), each with `bad_images: ` badImages when set, and returns its path.
func writeSkipConfig(t *testing.T, dir, demo, badImages string) string {
	t.Helper()
	opt := ""
	if badImages != "" {
		opt = "\n    bad_images: " + badImages
	}
	data := filepath.Join(demo, "data")
	cfg := fmt.Sprintf(`models:
  - name: demo
    path: %[1]s/model
    options: {logit_scale: 100}
    batch_size: 4
tasks:
  - name: retrieval
    task: retrieval
    dataset: {format: jsonl, manifest: %[2]s/retrieval.jsonl}%[3]s
  - name: classification
    task: classification
    dataset: {format: jsonl, manifest: %[2]s/classification.jsonl}
    options:
      classes: [red, green, blue, yellow, cyan, magenta]
      templates: ["a {} image."]%[3]s
  - name: vqa
    task: vqa
    dataset: {format: vqa-rad, root: %[2]s/vqa}
    options: {prompt: "{question} {answer}"}%[3]s
  - name: pyalign
    task: pyalign
    dataset: {manifest: %[2]s/retrieval.jsonl}%[3]s
`, demo, data, opt)
	p := filepath.Join(dir, "skip.yaml")
	require.NoError(t, os.WriteFile(p, []byte(cfg), 0o644))
	return p
}

// runConfig runs the config at path into the folder out (a new one when "") and returns the results and Run's
// error.
func runConfig(t *testing.T, r *Runner, path, out string, progress func(Event)) (*results.Results, error) {
	t.Helper()
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	if out == "" {
		out = t.TempDir()
	}
	r.Progress = progress
	return r.Run(context.Background(), plan.New(cfg, out, "test"))
}

// withoutBadImage removes from the demo's manifests the lines of spoiltImage: the data set a skipping run must
// score as. With questions, also the VQA questions on it (training questions included): the data set a run that
// skips the image at load scores as.
func withoutBadImage(t *testing.T, demo string, questions bool) {
	t.Helper()
	if questions {
		p := filepath.Join(demo, "data", "vqa", datasets.VQARADFile)
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		var rows, keep []map[string]any
		require.NoError(t, json.Unmarshal(raw, &rows))
		for _, r := range rows {
			if r["image_name"] != spoiltImage {
				keep = append(keep, r)
			}
		}
		require.Less(t, len(keep), len(rows))
		raw, err = json.Marshal(keep)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, raw, 0o644))
	}
	for _, m := range []string{"retrieval.jsonl", "classification.jsonl"} {
		p := filepath.Join(demo, "data", m)
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		var keep []string
		for _, line := range strings.SplitAfter(string(raw), "\n") {
			if !strings.Contains(line, `"images/`+spoiltImage+`"`) {
				keep = append(keep, line)
			}
		}
		require.Less(t, len(keep), len(strings.SplitAfter(string(raw), "\n")), "%s lists %s", m, spoiltImage)
		require.NoError(t, os.WriteFile(p, []byte(strings.Join(keep, "")), 0o644))
	}
}

// runByTask returns the runs of res by task name, each without error.
func runByTask(t *testing.T, res *results.Results) map[string]results.Run {
	t.Helper()
	out := map[string]results.Run{}
	for _, r := range res.Runs {
		require.Empty(t, r.Error, "%s", r.Task)
		out[r.Task] = r
	}
	return out
}

// TestBadImagesSkip spoils one image after the data sets are loaded (garbage bytes; a link out of the data set's
// folder) and checks that with `bad_images: skip` every task leaves out exactly its items: retrieval,
// classification and pyalign score as a run of manifests without them does (metrics, intervals, predictions, item
// values), and VQA as the unspoilt run does on its other questions. The skipped image is recorded with its error,
// through the backend (no store) and through the harness's own read (with a store); by default the run fails,
// naming the image.
func TestBadImagesSkip(t *testing.T) {
	clean := t.TempDir()
	_, err := demogen.Generate(clean)
	require.NoError(t, err)
	without := t.TempDir()
	_, err = demogen.Generate(without)
	require.NoError(t, err)
	withoutBadImage(t, without, false)
	r, _ := newRunner(t)
	full, err := runConfig(t, r, writeSkipConfig(t, t.TempDir(), clean, ""), "", nil)
	require.NoError(t, err)
	less, err := runConfig(t, r, writeSkipConfig(t, t.TempDir(), without, ""), "", nil)
	require.NoError(t, err)
	fullRuns, lessRuns := runByTask(t, full), runByTask(t, less)

	spoilers := []struct {
		name  string
		spoil func(t *testing.T, p string)
		want  string // in the skipped image's error
	}{
		{"garbage bytes", func(t *testing.T, p string) {
			require.NoError(t, os.WriteFile(p, []byte("this is not an image"), 0o644))
		}, "image"},
		{"a link out of the data set", func(t *testing.T, p string) {
			require.NoError(t, os.Remove(p))
			require.NoError(t, os.Symlink("/etc/passwd", p))
		}, "passwd"},
	}
	for _, sp := range spoilers {
		for _, cached := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/store=%v", sp.name, cached), func(t *testing.T) {
				demo := t.TempDir()
				_, err := demogen.Generate(demo)
				require.NoError(t, err)
				r, _ := newRunner(t)
				if cached {
					st, err := store.Open(t.TempDir())
					require.NoError(t, err)
					t.Cleanup(func() { st.Close() })
					r.Cache = st
				}
				spoilt := false
				spoil := func(ev Event) {
					if ev.Stage == "images" && !spoilt { // every data set is loaded, nothing encoded yet
						spoilt = true
						for _, p := range []string{filepath.Join(demo, "data", "images", spoiltImage), filepath.Join(demo, "data", "vqa", "images", spoiltImage)} {
							sp.spoil(t, p)
						}
					}
				}
				out := t.TempDir()
				res, err := runConfig(t, r, writeSkipConfig(t, t.TempDir(), demo, config.BadImagesSkip), out, spoil)
				require.NoError(t, err)
				runs := runByTask(t, res)
				for _, task := range []string{"retrieval", "classification", "pyalign"} {
					got, want := runs[task], lessRuns[task]
					assert.Equal(t, want.Metrics, got.Metrics, task)
					assert.Equal(t, want.Intervals, got.Intervals, task)
					assert.Equal(t, want.ItemValues, got.ItemValues, task)
					assert.Equal(t, want.Predictions, got.Predictions, task)
				}
				for task, run := range runs {
					require.Len(t, run.Skipped, 1, task)
					assert.Equal(t, filepath.Join(demo, "data", map[bool]string{true: "vqa/images", false: "images"}[task == "vqa"], spoiltImage), run.Skipped[0].Image, task)
					assert.Contains(t, run.Skipped[0].Error, sp.want, task)
					assert.NotContains(t, run.Skipped[0].Error, "72 6f 6f 74", "%s: the first bytes of a file outside the data set", task)
				}
				// VQA: the other questions, each answered as in the unspoilt run; the metrics are their means.
				var keep []sdk.Prediction
				for _, p := range fullRuns["vqa"].Predictions {
					if !strings.Contains(p.Item, " "+spoiltImage+": ") { // "qid N IMAGE: question"
						keep = append(keep, p)
					}
				}
				require.Less(t, len(keep), len(fullRuns["vqa"].Predictions))
				assert.Equal(t, keep, runs["vqa"].Predictions)
				correct := 0
				for _, p := range keep {
					if p.Correct {
						correct++
					}
				}
				assert.InDelta(t, float64(correct)/float64(len(keep)), float64(runs["vqa"].Metrics["overall_accuracy"]), 1e-12)

				saved, err := results.Read(filepath.Join(out, "results.json"))
				require.NoError(t, err)
				for _, run := range saved.Runs {
					assert.Len(t, run.Skipped, 1, "results.json records the skipped image of %s", run.Task)
				}
			})
		}
	}

	t.Run("fail by default", func(t *testing.T) {
		demo := t.TempDir()
		_, err := demogen.Generate(demo)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(demo, "data", "images", spoiltImage), []byte("this is not an image"), 0o644))
		res, err := runConfig(t, r, writeSkipConfig(t, t.TempDir(), demo, ""), "", nil)
		require.ErrorIs(t, err, ErrRunsFailed)
		assert.True(t, sdk.IsInvalidInput(err), "a bad image is bad input: %v", err)
		failed := 0
		for _, run := range res.Runs {
			if run.Error != "" {
				failed++
				assert.Contains(t, run.Error, spoiltImage)
			}
			assert.Empty(t, run.Skipped)
		}
		assert.Equal(t, 3, failed, "retrieval, classification and pyalign read the spoilt image; vqa has its own")
	})
}

// TestBadImagesSkipAtLoad spoils one image before the data sets are loaded (removed; a link out of the data set's
// folder; a DICOM file that cannot be read, which the Go tasks convert at load) and checks that with `bad_images:
// skip` every task leaves out exactly the items that need it and scores as a run of data sets without them does
// (VQA: without its questions, training questions included, when the image is left out at load), recording the
// image once with its error; by default the load fails, naming the image.
func TestBadImagesSkipAtLoad(t *testing.T) {
	without := t.TempDir()
	_, err := demogen.Generate(without)
	require.NoError(t, err)
	withoutBadImage(t, without, true)
	r, _ := newRunner(t)
	less, err := runConfig(t, r, writeSkipConfig(t, t.TempDir(), without, ""), "", nil)
	require.NoError(t, err)
	lessRuns := runByTask(t, less)
	clean := t.TempDir()
	_, err = demogen.Generate(clean)
	require.NoError(t, err)
	full, err := runConfig(t, r, writeSkipConfig(t, t.TempDir(), clean, ""), "", nil)
	require.NoError(t, err)
	fullVQA := runByTask(t, full)["vqa"]

	badDICOM := append(make([]byte, 128), []byte("DICM\x02\x00\x00\x00garbage that is no data element")...)
	spoilers := []struct {
		name  string
		spoil func(t *testing.T, p string)
		want  []string // the skipped image's error holds one of these
		// atEncode lists the tasks that meet the spoilt image only when it is encoded (they do not convert DICOM
		// at load): VQA then keeps its training questions, and its other questions score as in the unspoilt run.
		atEncode []string
	}{
		{"removed", func(t *testing.T, p string) { require.NoError(t, os.Remove(p)) },
			[]string{"no such file", "does not exist"}, nil},
		{"a link out of the data set", func(t *testing.T, p string) {
			require.NoError(t, os.Remove(p))
			require.NoError(t, os.Symlink("/etc/passwd", p))
		}, []string{"/etc/passwd"}, nil},
		{"an unreadable DICOM file", func(t *testing.T, p string) { require.NoError(t, os.WriteFile(p, badDICOM, 0o644)) },
			[]string{"DICOM", "image"}, []string{"vqa", "pyalign"}},
	}
	for _, sp := range spoilers {
		t.Run(sp.name, func(t *testing.T) {
			demo := t.TempDir()
			_, err := demogen.Generate(demo)
			require.NoError(t, err)
			for _, p := range []string{filepath.Join(demo, "data", "images", spoiltImage), filepath.Join(demo, "data", "vqa", "images", spoiltImage)} {
				sp.spoil(t, p)
			}
			res, err := runConfig(t, r, writeSkipConfig(t, t.TempDir(), demo, config.BadImagesSkip), "", nil)
			require.NoError(t, err)
			runs := runByTask(t, res)
			require.Len(t, runs, 4)
			for task, got := range runs {
				require.Len(t, got.Skipped, 1, task)
				assert.Equal(t, filepath.Join(demo, "data", map[bool]string{true: "vqa/images", false: "images"}[task == "vqa"], spoiltImage), got.Skipped[0].Image, task)
				assert.True(t, slices.ContainsFunc(sp.want, func(w string) bool { return strings.Contains(got.Skipped[0].Error, w) }),
					"%s: %q names none of %q", task, got.Skipped[0].Error, sp.want)
				if task == "vqa" && slices.Contains(sp.atEncode, task) {
					var keep []sdk.Prediction
					for _, p := range fullVQA.Predictions {
						if !strings.Contains(p.Item, " "+spoiltImage+": ") {
							keep = append(keep, p)
						}
					}
					assert.Equal(t, keep, got.Predictions)
					continue
				}
				want := lessRuns[task]
				assert.Equal(t, want.Metrics, got.Metrics, task)
				assert.Equal(t, want.Intervals, got.Intervals, task)
				assert.Equal(t, want.ItemValues, got.ItemValues, task)
				assert.Equal(t, want.Predictions, got.Predictions, task)
			}

			// The default fails at load for the tasks that meet the image there, naming it.
			_, err = runConfig(t, r, writeSkipConfig(t, t.TempDir(), demo, ""), "", nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), spoiltImage)
		})
	}
}

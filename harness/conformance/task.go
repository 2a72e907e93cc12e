package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// unknownKey is the config key no plugin accepts.
const unknownKey = "clipeval_conformance_unknown_key"

// taskCasesNeedingData are the task cases that run only with Options.Dataset, in the order they run.
func taskCasesNeedingData() []string {
	return []string{"load-unknown-option", "load", "score", "score-missing-file", "score-shape-mismatch",
		"score-wrong-rows", "load-stream", "score-stream", "large-message"}
}

// taskCases runs the cases of a task plugin.
func (c *checker) taskCases(ctx context.Context) {
	c.run(ctx, "load-malformed-json", func(ctx context.Context) outcome {
		return c.refusedTask(ctx, "a Load with malformed dataset JSON", func(ctx context.Context, t *pluginhost.Task) error {
			_, err := t.Load(ctx, sdk.LoadRequest{Dataset: []byte(`{"`), Options: []byte(`{}`), WorkDir: c.taskWork()})
			return err
		})
	})
	c.run(ctx, "load-empty-dataset", func(ctx context.Context) outcome {
		var required []string
		for _, f := range c.report.Info.DatasetFields {
			if f.Required {
				required = append(required, f.Name)
			}
		}
		if len(required) == 0 {
			return skip("the task declares no required dataset field, so {} may be a valid dataset")
		}
		return c.refusedTask(ctx, "a Load of the dataset {} (required: "+strings.Join(required, ", ")+")",
			func(ctx context.Context, t *pluginhost.Task) error {
				_, err := t.Load(ctx, sdk.LoadRequest{Dataset: []byte(`{}`), Options: []byte(`{}`), WorkDir: c.taskWork()})
				return err
			})
	})
	c.run(ctx, "load-unknown-key", func(ctx context.Context) outcome {
		dataset := map[string]any{}
		what := "a Load of a dataset holding only an unknown key"
		if c.ds != nil {
			dataset = c.resolved(c.ds.Dataset, c.report.Info.DatasetFields)
			what = "a Load of the given dataset plus an unknown key"
		}
		dataset[unknownKey] = true
		return c.refusedTask(ctx, what, func(ctx context.Context, t *pluginhost.Task) error {
			_, err := t.Load(ctx, sdk.LoadRequest{Dataset: mustJSON(dataset), Options: []byte(`{}`), WorkDir: c.taskWork()})
			return err
		})
	})
	c.run(ctx, "score-unknown-dataset", func(ctx context.Context) outcome {
		img, err := c.writeEmbeddings("unknown-images.npy", 2, 4)
		if err != nil {
			return fail("%v", err)
		}
		txt, err := c.writeEmbeddings("unknown-texts.npy", 2, 4)
		if err != nil {
			return fail("%v", err)
		}
		return c.refusedTask(ctx, "a Score of a dataset id no Load returned", func(ctx context.Context, t *pluginhost.Task) error {
			_, err := t.Score(ctx, sdk.ScoreFilesRequest{DatasetID: "clipeval-conformance-no-such-dataset",
				ImageEmbeddings: img, TextEmbeddings: txt, LogitScale: 100})
			return err
		})
	})
	if c.ds == nil {
		for _, name := range taskCasesNeedingData() {
			c.run(ctx, name, func(context.Context) outcome {
				return skip("needs a dataset: Options.Dataset (clipeval plugins --check PATH --dataset FILE)")
			})
		}
		return
	}
	c.dataTaskCases(ctx)
}

// dataTaskCases runs the task cases that need Options.Dataset.
func (c *checker) dataTaskCases(ctx context.Context) {
	info := c.report.Info
	load := func() sdk.LoadRequest {
		return sdk.LoadRequest{Dataset: mustJSON(c.resolved(c.ds.Dataset, info.DatasetFields)),
			Options: mustJSON(c.resolved(c.ds.Options, info.OptionFields)), WorkDir: c.taskWork()}
	}
	c.run(ctx, "load-unknown-option", func(ctx context.Context) outcome {
		req := load()
		opts := c.resolved(c.ds.Options, info.OptionFields)
		opts[unknownKey] = true
		req.Options = mustJSON(opts)
		return c.refusedTask(ctx, "a Load of the given dataset with an unknown option", func(ctx context.Context, t *pluginhost.Task) error {
			_, err := t.Load(ctx, req)
			return err
		})
	})
	var ds *sdk.Dataset
	var task *pluginhost.Task
	o := c.run(ctx, "load", func(ctx context.Context) outcome {
		t, err := c.host.Task(c.name)
		if err != nil {
			return fail("starting: %v", err)
		}
		d, err := t.Load(ctx, load())
		if err != nil {
			return fail("%v", err)
		}
		if probs := datasetProblems(d); len(probs) > 0 {
			return fail("%s", strings.Join(probs, "; "))
		}
		ds, task = d, t
		return pass("dataset %q: %d items, %d images, %d texts", d.ID, d.Size, len(d.Images), len(d.Texts))
	})
	if o.status != Pass {
		for _, name := range taskCasesNeedingData()[2:] {
			c.run(ctx, name, func(context.Context) outcome { return skip("the dataset did not load") })
		}
		return
	}
	img, txt, err := c.embeddingsFor(ds, "", c.opts.Dim)
	c.run(ctx, "score", func(ctx context.Context) outcome {
		if err != nil {
			return fail("%v", err)
		}
		sc, err := task.Score(ctx, sdk.ScoreFilesRequest{DatasetID: ds.ID, ImageEmbeddings: img, TextEmbeddings: txt, LogitScale: 100})
		if err != nil {
			return fail("%v", err)
		}
		if probs := scoresProblems(ds, sc); len(probs) > 0 {
			return fail("%s", strings.Join(probs, "; "))
		}
		return pass("%d metrics (headline %s), %d predictions", len(sc.Metrics), strings.Join(sc.Headline, ", "), len(sc.Predictions))
	})
	// bigger is the side with rows (images, unless the task encodes texts only) that the next cases break.
	bigger, other, side := img, txt, "image"
	if img.Rows == 0 {
		bigger, other, side = txt, img, "text"
	}
	with := func(f sdk.EmbeddingFile) sdk.ScoreFilesRequest {
		if side == "image" {
			return sdk.ScoreFilesRequest{DatasetID: ds.ID, ImageEmbeddings: f, TextEmbeddings: other, LogitScale: 100}
		}
		return sdk.ScoreFilesRequest{DatasetID: ds.ID, ImageEmbeddings: other, TextEmbeddings: f, LogitScale: 100}
	}
	score := func(req sdk.ScoreFilesRequest) func(ctx context.Context, t *pluginhost.Task) error {
		return func(ctx context.Context, t *pluginhost.Task) error {
			_, err := t.Score(ctx, req)
			return err
		}
	}
	c.run(ctx, "score-missing-file", func(ctx context.Context) outcome {
		missing := bigger
		missing.Path = filepath.Join(c.work, "no-such-embeddings.npy")
		return c.refusedTask(ctx, "a Score naming a missing "+side+" embedding file", score(with(missing)))
	})
	c.run(ctx, "score-shape-mismatch", func(ctx context.Context) outcome {
		wrong := bigger
		wrong.Cols++
		return c.refusedTask(ctx, fmt.Sprintf("a Score whose request says [%d, %d] of a [%d, %d] %s file",
			wrong.Rows, wrong.Cols, bigger.Rows, bigger.Cols, side), score(with(wrong)))
	})
	c.run(ctx, "score-wrong-rows", func(ctx context.Context) outcome {
		f, err := c.writeEmbeddings("wrong-rows.npy", bigger.Rows+1, bigger.Cols)
		if err != nil {
			return fail("%v", err)
		}
		return c.refusedTask(ctx, fmt.Sprintf("a Score with %d %s embeddings for a dataset of %d", f.Rows, side, bigger.Rows),
			score(with(f)))
	})
	c.streamCases(ctx, load(), img, txt)
	c.run(ctx, "large-message", func(ctx context.Context) outcome { return c.largeMessage(ctx, task, ds) })
}

// largeMessage scores embeddings whose file is larger than any gRPC message may be: proof that embeddings reach
// the task by reference.
func (c *checker) largeMessage(ctx context.Context, task *pluginhost.Task, ds *sdk.Dataset) outcome {
	if c.opts.LargeBytes < 0 {
		return skip("not asked for (Options.LargeBytes < 0)")
	}
	rows := int64(max(len(ds.Images), len(ds.Texts)))
	cols := c.opts.LargeBytes/(4*rows) + 1
	if cols > maxLargeCols {
		return skip("a %d-byte embedding file at width ≤ %d needs a dataset of more than %d image or text rows; this one has %d",
			c.opts.LargeBytes, maxLargeCols, c.opts.LargeBytes/(4*maxLargeCols), rows)
	}
	img, txt, err := c.embeddingsFor(ds, "large-", int(cols))
	if err != nil {
		return fail("%v", err)
	}
	defer os.Remove(img.Path)
	defer os.Remove(txt.Path)
	sc, err := task.Score(ctx, sdk.ScoreFilesRequest{DatasetID: ds.ID, ImageEmbeddings: img, TextEmbeddings: txt, LogitScale: 100})
	if err != nil {
		return fail("%v", err)
	}
	if probs := scoresProblems(ds, sc); len(probs) > 0 {
		return fail("%s", strings.Join(probs, "; "))
	}
	return pass("scored %d×%d embeddings (a %d-byte file, over %d)", rows, cols, 4*rows*cols, c.opts.LargeBytes)
}

// refusedTask runs a call that must fail with an error, then checks that the plugin survived it.
func (c *checker) refusedTask(ctx context.Context, what string, call func(context.Context, *pluginhost.Task) error) outcome {
	t, err := c.host.Task(c.name)
	if err != nil {
		return fail("starting: %v", err)
	}
	callErr := call(ctx, t)
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.StartTimeout)
	defer cancel()
	if err := c.alive(actx, t.Plugin, func(ctx context.Context) error {
		_, err := t.Describe(ctx, sdk.DescribeRequest{})
		return err
	}); err != nil {
		return fail("%s: %v (the call answered: %v)", what, err, callErr)
	}
	if callErr == nil {
		return fail("%s succeeded; want an error", what)
	}
	return pass("refused: %v", callErr)
}

// taskWork returns the work folder the suite hands a task's Load.
func (c *checker) taskWork() string {
	dir := filepath.Join(c.work, "task-work")
	_ = os.MkdirAll(dir, 0o755)
	return dir
}

// resolved returns a copy of values in which the relative paths of fields declared as "path" are made absolute
// against the dataset file's folder, as the harness does against the config's.
func (c *checker) resolved(values map[string]any, fields []sdk.Field) map[string]any {
	out := make(map[string]any, len(values))
	for k, v := range values {
		out[k] = v
	}
	for _, f := range fields {
		if s, ok := out[f.Name].(string); ok && f.Type == sdk.FieldPath && s != "" && !filepath.IsAbs(s) {
			out[f.Name] = filepath.Join(c.dsDir, s)
		}
	}
	return out
}

// mustJSON encodes a map decoded from JSON; it cannot fail.
func mustJSON(v map[string]any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("conformance: encoding JSON decoded before: %v", err))
	}
	return b
}

// embeddingsFor writes random unit-vector embeddings of a loaded dataset's images and texts at width cols.
func (c *checker) embeddingsFor(ds *sdk.Dataset, prefix string, cols int) (img, txt sdk.EmbeddingFile, err error) {
	if len(ds.Images) > 0 {
		if img, err = c.writeEmbeddings(prefix+"images.npy", len(ds.Images), cols); err != nil {
			return img, txt, err
		}
	}
	if len(ds.Texts) > 0 {
		if txt, err = c.writeEmbeddings(prefix+"texts.npy", len(ds.Texts), cols); err != nil {
			return img, txt, err
		}
	}
	return img, txt, nil
}

// writeEmbeddings writes rows random unit vectors of width cols to the work folder.
func (c *checker) writeEmbeddings(name string, rows, cols int) (sdk.EmbeddingFile, error) {
	data := make([]float32, rows*cols)
	for r := range rows {
		row := data[r*cols : (r+1)*cols]
		var norm float64
		for i := range row {
			v := c.rng.NormFloat64()
			row[i] = float32(v)
			norm += v * v
		}
		norm = math.Sqrt(norm)
		for i := range row {
			row[i] = float32(float64(row[i]) / norm)
		}
	}
	path := filepath.Join(c.work, name)
	if err := npy.WriteFloat32File(path, rows, cols, data); err != nil {
		return sdk.EmbeddingFile{}, fmt.Errorf("writing embeddings: %w", err)
	}
	return sdk.EmbeddingFile{Path: path, Rows: rows, Cols: cols}, nil
}

// datasetProblems lists what is wrong with a loaded dataset: no id, no items, images that cannot be read.
func datasetProblems(ds *sdk.Dataset) []string {
	var probs []string
	if ds.ID == "" {
		probs = append(probs, "the dataset has no id")
	}
	if ds.Size <= 0 {
		probs = append(probs, fmt.Sprintf("the dataset's size is %d; want the number of evaluation items", ds.Size))
	}
	if len(ds.Images)+len(ds.Texts) == 0 {
		probs = append(probs, "the dataset has nothing to encode (no images, no texts)")
	}
	const maxListed = 3
	bad := 0
	for i, im := range ds.Images {
		var p string
		switch {
		case len(im.Data) > 0:
		case im.Path == "":
			p = fmt.Sprintf("image %d has neither a path nor data", i)
		case !filepath.IsAbs(im.Path):
			p = fmt.Sprintf("image %d: path %q is not absolute", i, im.Path)
		case im.Offset < 0 || im.Size < 0:
			p = fmt.Sprintf("image %d: byte range %d+%d is invalid", i, im.Offset, im.Size)
		default:
			st, err := os.Stat(im.Path)
			if err != nil {
				p = fmt.Sprintf("image %d: %v", i, err)
			} else if im.Offset+im.Size > st.Size() {
				p = fmt.Sprintf("image %d: byte range %d+%d ends past the end of %s", i, im.Offset, im.Size, im.Path)
			}
		}
		if p != "" {
			if bad++; bad <= maxListed {
				probs = append(probs, p)
			}
		}
	}
	if bad > maxListed {
		probs = append(probs, fmt.Sprintf("and %d more bad images", bad-maxListed))
	}
	for _, f := range ds.Files {
		if !filepath.IsAbs(f) {
			probs = append(probs, fmt.Sprintf("dataset file %q is not an absolute path", f))
		}
	}
	return probs
}

// scoresProblems lists what is wrong with a Score answer beyond what the SDK client already rejects (a metric
// without direction or unit, a headline that is not a metric, counts that disagree with the stream): no metrics,
// fractions outside [0, 1], infinite values, more item values or predictions than the dataset has items, item
// values whose mean is not the metric, bad intervals and curves.
func scoresProblems(ds *sdk.Dataset, sc *sdk.Scores) []string {
	var probs []string
	if len(sc.Metrics) == 0 {
		probs = append(probs, "no metrics")
	}
	if err := sc.Check(); err != nil {
		probs = append(probs, err.Error())
	}
	// Item values cover some or all of the dataset's items, images or texts (a subgroup, a query subset, one
	// direction of retrieval); predictions may cover queries of several kinds (both directions of retrieval).
	counts := fmt.Sprintf("the dataset's %d items, %d images and %d texts", ds.Size, len(ds.Images), len(ds.Texts))
	most := max(ds.Size, len(ds.Images), len(ds.Texts))
	for _, m := range sc.Metrics {
		switch {
		case math.IsInf(m.Value, 0):
			probs = append(probs, fmt.Sprintf("metric %q is infinite (undefined metrics are NaN)", m.Name))
		case m.Unit == sdk.Fraction && !math.IsNaN(m.Value) && (m.Value < -1e-9 || m.Value > 1+1e-9):
			probs = append(probs, fmt.Sprintf("metric %q is a fraction of %g, outside [0, 1]", m.Name, m.Value))
		}
		if iv := m.Interval; iv != nil && !(iv.Low <= iv.High) {
			probs = append(probs, fmt.Sprintf("metric %q: interval [%g, %g] is not ordered", m.Name, iv.Low, iv.High))
		}
		if n := len(m.ItemValues); n > 0 {
			if n > most {
				probs = append(probs, fmt.Sprintf("metric %q has %d item values, more than any of %s", m.Name, n, counts))
			} else if mean, ok := finiteMean(m.ItemValues); ok && !math.IsNaN(m.Value) &&
				math.Abs(mean-m.Value) > 1e-9+1e-6*math.Abs(m.Value) {
				probs = append(probs, fmt.Sprintf("metric %q is %g but its item values average %g", m.Name, m.Value, mean))
			}
		}
	}
	if n := len(sc.Predictions); n > ds.Size+len(ds.Images)+len(ds.Texts) {
		probs = append(probs, fmt.Sprintf("%d predictions, more than %s together", n, counts))
	}
	for _, cv := range sc.Curves {
		if len(cv.X) != len(cv.Y) {
			probs = append(probs, fmt.Sprintf("curve %q has %d x and %d y values", cv.Name, len(cv.X), len(cv.Y)))
		}
	}
	return probs
}

// finiteMean returns the mean of v, and false when a value is not finite.
func finiteMean(v []float64) (float64, bool) {
	var sum float64
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, false
		}
		sum += x
	}
	return sum / float64(len(v)), true
}

package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// fixture is a run of two models on a retrieval task (with recall@k curves) and a classification task where
// model-a's acc5 is undefined and model-b failed. Metric values are exact fractions so percentages are
// hand-computable: 5/12 = 41.67 %, 7/24 = 29.17 %, 1/12 = 8.33 %, 3/24 = 12.50 %, 10/12 = 83.33 %, 2/3 = 66.67 %.
// model-a's classification confusion matrix (truth rows abdomen, chest, head of 2, 4 and 6 images) is
// [[2 0 0] [1 2 1] [0 2 4]]: acc1 = 8/12, mean per-class recall = (2/2 + 2/4 + 4/6)/3 = 13/18 = 72.22 %. Published
// values: model-a acc1 70 % and auroc 90 % (a metric the run lacks), model-b image recall@1 10 %; 95% intervals:
// model-a acc1 [5/12, 11/12] and image recall@1 [2/12, 8/12].
func fixture() *results.Results {
	nan := results.Value(math.NaN())
	return &results.Results{
		Schema:      results.SchemaVersion,
		Clipeval:    "v0.3.0",
		Runtime:     "onnxruntime 1.30.0",
		Config:      results.ConfigInfo{Path: "configs/tiny.yaml", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		Started:     time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		WallSeconds: 83.44,
		Models: []results.Model{
			{Name: "model-a", Backend: "onnx", Dir: "models/a", EmbedDim: 512, ImageSize: 224, ContextLength: 256,
				LogitScale: 100, Tokenizer: "wordpiece", Runtime: "onnxruntime 1.30.0",
				Files: map[string]string{
					"text.onnx":  "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
					"image.onnx": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				}},
			{Name: "model-b", Backend: "onnx", Dir: "models/b", EmbedDim: 768, ImageSize: 224, ContextLength: 77,
				LogitScale: 35.5, Tokenizer: "bpe", Runtime: "onnxruntime 1.30.0",
				Files: map[string]string{"model.onnx": "aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999"}},
		},
		Tasks: []results.Task{
			{Name: "retrieval", Plugin: "zeroshot_retrieval", DatasetSize: 12, Images: 12, Texts: 24, Description: "tiny captions",
				DatasetSHA256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", DatasetFiles: 13, DatasetBytes: 40960,
				Published: map[string]map[string]results.Value{"model-b": {"image_retrieval_recall@1": 0.1}}},
			{Name: "classification", Plugin: "zeroshot_classification", DatasetSize: 12, Images: 12, Texts: 4,
				Published: map[string]map[string]results.Value{"model-a": {"acc1": 0.7, "auroc": 0.9}}},
		},
		Runs: []results.Run{
			withInterval(retrievalRun("model-a", [4]results.Value{5.0 / 12, 7.0 / 24, 10.0 / 12, 1}), "image_retrieval_recall@1", 2.0/12, 8.0/12),
			{Model: "model-a", Task: "classification", Plugin: "zeroshot_classification", Mode: "zero-shot",
				Metrics: map[string]results.Value{"acc1": 2.0 / 3, "acc5": nan, "mean_per_class_recall": 13.0 / 18},
				Confusion: map[string]*sdk.Confusion{"acc1": {Classes: []string{"abdomen/pelvis", "chest", "head"},
					Counts: [][]int64{{2, 0, 0}, {1, 2, 1}, {0, 2, 4}}}},
				Headline:  []string{"acc1", "acc5", "mean_per_class_recall"},
				Intervals: map[string][2]results.Value{"acc1": {5.0 / 12, 11.0 / 12}}},
			retrievalRun("model-b", [4]results.Value{1.0 / 12, 3.0 / 24, 6.0 / 12, 20.0 / 24}),
			{Model: "model-b", Task: "classification", Plugin: "zeroshot_classification",
				Error: "encoding images: onnxruntime: input shape [1 3 224 224] | expected [1 3 256 256]"},
		},
	}
}

// withInterval sets run's 95% interval of metric to [lo, hi].
func withInterval(run results.Run, metric string, lo, hi results.Value) results.Run {
	run.Intervals = map[string][2]results.Value{metric: {lo, hi}}
	return run
}

// retrievalRun returns a retrieval run with image/text recall@1 and @5 = r[0..3] and recall@k curves through them
// (recall@10 = 1).
func retrievalRun(model string, r [4]results.Value) results.Run {
	curve := func(name string, at1, at5 results.Value) sdk.Curve {
		return sdk.Curve{Name: name, XLabel: "k", YLabel: "recall", X: []float64{1, 5, 10}, Y: []float64{float64(at1), float64(at5), 1}}
	}
	return results.Run{
		Model: model, Task: "retrieval", Plugin: "zeroshot_retrieval", Mode: "zero-shot",
		Metrics: map[string]results.Value{
			"image_retrieval_recall@1": r[0], "text_retrieval_recall@1": r[1],
			"image_retrieval_recall@5": r[2], "text_retrieval_recall@5": r[3],
		},
		Headline: []string{"image_retrieval_recall@1", "text_retrieval_recall@1", "image_retrieval_recall@5", "text_retrieval_recall@5"},
		Curves: []sdk.Curve{
			curve("image_retrieval_recall@k", r[0], r[2]),
			curve("text_retrieval_recall@k", r[1], r[3]),
		},
	}
}

// plotCheck is what one plot must show.
type plotCheck struct {
	title string
	// legend are the legend entries (model names), in order.
	legend []string
	// paths counts, per model, the SVG paths drawn in its colour: a curve draws its line, one marker per point and a
	// legend line and marker; a bar chart one rectangle per defined metric and a legend rectangle. Models with 0
	// must not appear in the PNG either.
	paths map[string]int
	// published and interval count the SVG paths of published marks and 95% interval error bars, legend icons
	// included.
	published, interval int
	// cells are a confusion matrix's counts as written in its cells, row by row (nil: not a confusion matrix).
	cells []string
	// pngColors must appear in the PNG.
	pngColors []color.RGBA
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name    string
		results *results.Results
		// files are the written files, relative to the report folder, in order.
		files []string
		// lines must each appear as a whole line of report.md; notLines must not.
		lines, notLines []string
		// contains must appear somewhere in report.md (multi-line blocks).
		contains []string
		plots    map[string]plotCheck
	}{
		{
			name:    "two models, curves, NaN, failure",
			results: fixture(),
			files: []string{
				"plots/overview.png", "plots/overview.svg",
				"plots/retrieval--image_retrieval_recall-k.png", "plots/retrieval--image_retrieval_recall-k.svg",
				"plots/retrieval--text_retrieval_recall-k.png", "plots/retrieval--text_retrieval_recall-k.svg",
				"plots/retrieval--headline.png", "plots/retrieval--headline.svg",
				"plots/classification--headline.png", "plots/classification--headline.svg",
				"plots/classification--confusion-model-a.png", "plots/classification--confusion-model-a.svg",
				"report.md", "report.html",
			},
			lines: []string{
				"# clipeval report",
				"**1 of 4 runs failed** (see [Failed runs](#failed-runs)).",
				"| clipeval | v0.3.0 |",
				"| runtime | onnxruntime 1.30.0 |",
				"| config | `configs/tiny.yaml` |",
				"| config sha256 | `9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08` |",
				"| started | 2026-03-04T05:06:07Z |",
				"| wall time | 1m23.4s |",
				"| model-a | onnx | `models/a` | 512 | 224 | 256 | 100 | wordpiece | onnxruntime 1.30.0 |",
				"| model-b | onnx | `models/b` | 768 | 224 | 77 | 35.5 | bpe | onnxruntime 1.30.0 |",
				"| model-a | `image.onnx` | `0123456789ab` |",
				"| model-a | `text.onnx` | `fedcba987654` |",
				"| model-b | `model.onnx` | `aaaabbbbcccc` |",
				"### Datasets",
				"| retrieval | `zeroshot_retrieval` | 12 | 12 | 24 | 13 | 40960 | `5891b5b522d5` |",
				"| classification | `zeroshot_classification` | 12 | 12 | 4 | 0 | 0 |  |",
				"## Summary",
				"![overview: first headline metric of each task](plots/overview.png)  ",
				"[SVG](plots/overview.svg)",
				"### retrieval",
				"Plugin `zeroshot_retrieval`; 12 items (12 images, 24 texts). tiny captions",
				"Mode: zero-shot.",
				"| model | image_retrieval_recall@1 | text_retrieval_recall@1 | image_retrieval_recall@5 | text_retrieval_recall@5 |",
				"|---|---:|---:|---:|---:|",
				"| model-a | 41.67 | 29.17 | 83.33 | 100.00 |",
				"| model-b | 8.33 | 12.50 | 50.00 | 83.33 |",
				"### classification",
				"| model | acc1 | acc5 | mean_per_class_recall |",
				"| model-a | 66.67 | n/a | 72.22 |",
				"| model-b | failed | failed | failed |",
				"![retrieval: image_retrieval_recall@k](plots/retrieval--image_retrieval_recall-k.png)  ",
				"[SVG](plots/retrieval--image_retrieval_recall-k.svg)",
				"![retrieval: text_retrieval_recall@k](plots/retrieval--text_retrieval_recall-k.png)  ",
				"![retrieval: headline metrics](plots/retrieval--headline.png)  ",
				"![classification: headline metrics](plots/classification--headline.png)  ",
				"![classification: confusion matrix, model-a](plots/classification--confusion-model-a.png)  ",
				"## Failed runs",
			},
			contains: []string{
				"- **model-b** on **classification**:\n\n```text\n" +
					"encoding images: onnxruntime: input shape [1 3 224 224] | expected [1 3 256 256]\n```\n",
				// File hashes are listed sorted by file name.
				"| model-a | `image.onnx` | `0123456789ab` |\n| model-a | `text.onnx` | `fedcba987654` |\n",
				// Headline metrics, then other published metrics; Δ against published values only.
				"| task | model | metric | measured | 95% CI | published | Δ |\n|---|---|---|---:|---|---:|---:|\n" +
					"| retrieval | model-a | image_retrieval_recall@1 | 41.67 | [16.67, 66.67] |  |  |\n" +
					"| retrieval | model-a | text_retrieval_recall@1 | 29.17 |  |  |  |\n" +
					"| retrieval | model-a | image_retrieval_recall@5 | 83.33 |  |  |  |\n" +
					"| retrieval | model-a | text_retrieval_recall@5 | 100.00 |  |  |  |\n" +
					"| retrieval | model-b | image_retrieval_recall@1 | 8.33 |  | 10.00 | -1.67 |\n" +
					"| retrieval | model-b | text_retrieval_recall@1 | 12.50 |  |  |  |\n" +
					"| retrieval | model-b | image_retrieval_recall@5 | 50.00 |  |  |  |\n" +
					"| retrieval | model-b | text_retrieval_recall@5 | 83.33 |  |  |  |\n" +
					"| classification | model-a | acc1 | 66.67 | [41.67, 91.67] | 70.00 | -3.33 |\n" +
					"| classification | model-a | acc5 | n/a |  |  |  |\n" +
					"| classification | model-a | mean_per_class_recall | 72.22 |  |  |  |\n" +
					"| classification | model-a | auroc | missing |  | 90.00 | n/a |\n" +
					"| classification | model-b | — | failed |  |  |  |\n\n",
			},
			notLines: []string{"**No runs were recorded: this run evaluated nothing.**"},
			plots: map[string]plotCheck{
				// One group per task: model-a has both, model-b only retrieval (its classification failed); published
				// marks for model-b retrieval and model-a acc1, intervals for model-a's two; each plus a legend icon.
				"overview": {title: "overview: first headline metric of each task", legend: []string{"model-a", "model-b"},
					paths: map[string]int{"model-a": 2 + 1, "model-b": 1 + 1}, published: 2 + 1, interval: 2 + 1,
					pngColors: []color.RGBA{publishedColor}},
				"retrieval--image_retrieval_recall-k": {title: "retrieval: image_retrieval_recall@k", legend: []string{"model-a", "model-b"},
					paths: map[string]int{"model-a": 1 + 3 + 2, "model-b": 1 + 3 + 2}},
				"retrieval--text_retrieval_recall-k": {title: "retrieval: text_retrieval_recall@k", legend: []string{"model-a", "model-b"},
					paths: map[string]int{"model-a": 1 + 3 + 2, "model-b": 1 + 3 + 2}},
				"retrieval--headline": {title: "retrieval: headline metrics", legend: []string{"model-a", "model-b"},
					paths: map[string]int{"model-a": 4 + 1, "model-b": 4 + 1}, published: 1 + 1, interval: 1 + 1,
					pngColors: []color.RGBA{publishedColor}},
				// acc5 is NaN and model-b failed; auroc is published but not a headline metric, so it gets no mark.
				"classification--headline": {title: "classification: headline metrics", legend: []string{"model-a"},
					paths: map[string]int{"model-a": 2 + 1, "model-b": 0}, published: 1 + 1, interval: 1 + 1},
				"classification--confusion-model-a": {title: "classification: confusion matrix, model-a",
					paths: map[string]int{"model-a": 0, "model-b": 0}, cells: []string{"2", "0", "0", "1", "2", "1", "0", "2", "4"},
					pngColors: []color.RGBA{shade(1), shade(0.5)}}, // abdomen's row is all correct, chest's half
			},
		},
		{
			name:     "no runs",
			results:  &results.Results{Schema: results.SchemaVersion, Clipeval: "v0.3.0"},
			files:    []string{"report.md", "report.html"},
			lines:    []string{"# clipeval report", "**No runs were recorded: this run evaluated nothing.**", "| runtime | unknown |", "| started | unknown |", "| wall time | 0s |"},
			notLines: []string{"## Results", "## Failed runs"},
		},
		{
			name: "task without runs, names needing slugs and escapes",
			results: &results.Results{
				WallSeconds: math.NaN(),
				Tasks:       []results.Task{{Name: "empty task"}},
				Runs: []results.Run{{
					Model: "m|1", Task: "Ret/Val set", Metrics: map[string]results.Value{"r@1": 0.5},
					Headline: []string{"r@1", "r@2"},
					Curves:   []sdk.Curve{{Name: "recall@k", X: []float64{1, 2, math.NaN()}, Y: []float64{0.5, 0.75, 1}}},
				}},
			},
			files: []string{
				"plots/ret-val-set--recall-k.png", "plots/ret-val-set--recall-k.svg",
				"plots/ret-val-set--headline.png", "plots/ret-val-set--headline.svg",
				"report.md", "report.html",
			},
			lines: []string{"| wall time | unknown |", "### empty task", "No runs.", "### Ret/Val set", `| m\|1 | 50.00 | missing |`},
			plots: map[string]plotCheck{
				// The NaN point is left out of the curve, the missing r@2 out of the bars.
				"ret-val-set--recall-k": {title: "Ret/Val set: recall@k", legend: []string{"m|1"}, paths: map[string]int{"m|1": 1 + 2 + 2}},
				"ret-val-set--headline": {title: "Ret/Val set: headline metrics", legend: []string{"m|1"}, paths: map[string]int{"m|1": 1 + 1}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files, err := Write(dir, tc.results, nil)
			require.NoError(t, err)
			var rel []string
			for _, f := range files {
				r, err := filepath.Rel(dir, f)
				require.NoError(t, err)
				rel = append(rel, filepath.ToSlash(r))
			}
			assert.Equal(t, tc.files, rel)

			md, err := os.ReadFile(filepath.Join(dir, ReportFile))
			require.NoError(t, err)
			lines := strings.Split(string(md), "\n")
			for _, l := range tc.lines {
				assert.Contains(t, lines, l)
			}
			for _, l := range tc.notLines {
				assert.NotContains(t, lines, l)
			}
			for _, s := range tc.contains {
				assert.Contains(t, string(md), s)
			}

			colors := modelColors(tc.results)
			for base, want := range tc.plots {
				t.Run(base, func(t *testing.T) {
					checkPNG(t, filepath.Join(dir, PlotsDir, base+".png"), want, colors)
					checkSVG(t, filepath.Join(dir, PlotsDir, base+".svg"), want, tc.results, colors)
				})
			}
		})
	}
}

// checkPNG checks the PNG's size (6 in × 4 in at 150 dpi) and that exactly the expected models' colours are drawn.
func checkPNG(t *testing.T, path string, want plotCheck, colors map[string]int) {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, 900, img.Bounds().Dx())
	assert.Equal(t, 600, img.Bounds().Dy())
	seen := map[color.RGBA]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			seen[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)] = true
		}
	}
	for m, n := range want.paths {
		assert.Equal(t, n > 0, seen[seriesColor(colors[m])], "colour of %s", m)
	}
	for _, c := range want.pngColors {
		assert.True(t, seen[c], "colour %v", c)
	}
}

// checkSVG parses the SVG and checks its size, that its text is real text in a sans-serif font stack, that the
// title appears once, that the legend has one entry per expected series (text elements naming a model), and the
// number of paths drawn in each model's colour.
func checkSVG(t *testing.T, path string, want plotCheck, r *results.Results, colors map[string]int) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := xml.NewDecoder(bytes.NewReader(data))
	var texts, styles []string
	var root xml.StartElement
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		switch tok := tok.(type) {
		case xml.StartElement:
			if root.Name.Local == "" {
				root = tok.Copy()
			}
			switch tok.Name.Local {
			case "text":
				inText = true
				texts = append(texts, "")
			case "path":
				for _, a := range tok.Attr {
					if a.Name.Local == "style" {
						styles = append(styles, a.Value)
					}
				}
			}
		case xml.EndElement:
			inText = inText && tok.Name.Local != "text"
		case xml.CharData:
			if inText {
				texts[len(texts)-1] += string(tok)
			}
		}
	}
	require.Equal(t, "svg", root.Name.Local)
	attr := map[string]string{}
	for _, a := range root.Attr {
		attr[a.Name.Local] = a.Value
	}
	assert.Equal(t, "432pt", attr["width"])
	assert.Equal(t, "288pt", attr["height"])
	assert.Equal(t, 1, count(texts, want.title), "title in %q", texts)
	models := map[string]bool{}
	for _, run := range r.Runs {
		models[run.Model] = true
	}
	var legend []string
	for _, s := range texts {
		if models[s] {
			legend = append(legend, s)
		}
	}
	assert.Equal(t, want.legend, legend)
	drawn := func(c color.RGBA) int {
		hex := fmt.Sprintf("#%02X%02X%02X", c.R, c.G, c.B)
		n := 0
		for _, s := range styles {
			if strings.Contains(s, "fill:"+hex) || strings.Contains(s, "stroke:"+hex) {
				n++
			}
		}
		return n
	}
	for m, n := range want.paths {
		assert.Equal(t, n, drawn(seriesColor(colors[m])), "paths in the colour of %s", m)
	}
	assert.Equal(t, want.published, drawn(publishedColor), "published marks")
	assert.Equal(t, want.interval, drawn(intervalColor), "interval error bars")
	if want.cells != nil {
		var numbers []string
		for _, s := range texts {
			if _, err := strconv.Atoi(s); err == nil {
				numbers = append(numbers, s)
			}
		}
		assert.Equal(t, want.cells, numbers, "cell counts, row by row")
	}
	assert.Contains(t, string(data), svgFontFallback)
	assert.NotContains(t, string(data), svgFontFamily)
	assert.NotContains(t, string(data), "@font-face", "no embedded font faces (0.5 MB each)")
	assert.NotContains(t, string(data), "base64,")
}

// count returns how many elements of list equal s.
func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// TestWriteDeterministic writes the same results twice and expects byte-identical files.
func TestWriteDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	filesA, err := Write(a, fixture(), nil)
	require.NoError(t, err)
	filesB, err := Write(b, fixture(), nil)
	require.NoError(t, err)
	require.Len(t, filesB, len(filesA))
	for i := range filesA {
		da, err := os.ReadFile(filesA[i])
		require.NoError(t, err)
		db, err := os.ReadFile(filesB[i])
		require.NoError(t, err)
		assert.True(t, bytes.Equal(da, db), "%s differs between runs", filesA[i])
	}
}

func TestWriteErrors(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, []byte("x"), 0o644))
	bad := fixture()
	bad.Runs[0].Curves[0].Y = bad.Runs[0].Curves[0].Y[:2]
	tests := []struct {
		name    string
		dir     string
		results *results.Results
		wantErr string
	}{
		{"nil results", t.TempDir(), nil, "no results given"},
		{"folder is a file", notDir, fixture(), "creating its folder"},
		{"curve lengths differ", t.TempDir(), bad,
			"task retrieval, model model-a: curve image_retrieval_recall@k has 3 x values but 2 y values"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Write(tc.dir, tc.results, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{"image_retrieval_recall@k", "image_retrieval_recall-k"},
		{"Ret/Val  set", "ret-val-set"},
		{"../../etc", "etc"},
		{"@@@", "x"},
		{"ünï", "n"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, slug(tc.in), tc.in)
	}
	used := map[string]bool{}
	assert.Equal(t, []string{"a", "a-2", "a-3"}, []string{unique("a", used), unique("a", used), unique("a", used)})
}

// BenchmarkWrite renders the fixture's report (4 plots as PNG and SVG, and report.md).
func TestWriteOnlyTheAskedPlotFormats(t *testing.T) {
	tests := []struct {
		formats   []string
		ext, link string
	}{
		{[]string{"svg"}, ".svg", "](plots/overview.svg)"},
		{[]string{"png"}, ".png", "](plots/overview.png)"},
	}
	for _, tc := range tests {
		t.Run(tc.ext, func(t *testing.T) {
			dir := t.TempDir()
			files, err := Write(dir, fixture(), tc.formats)
			require.NoError(t, err)
			for _, f := range files {
				if strings.HasPrefix(f, filepath.Join(dir, PlotsDir)) {
					assert.Equal(t, tc.ext, filepath.Ext(f), f)
				}
			}
			md, err := os.ReadFile(filepath.Join(dir, ReportFile))
			require.NoError(t, err)
			assert.Contains(t, string(md), tc.link)
			assert.NotContains(t, string(md), "[SVG]")
		})
	}
	_, err := Write(t.TempDir(), fixture(), []string{"pdf"})
	assert.ErrorContains(t, err, `plot format "pdf": want png or svg`)
}

func BenchmarkWrite(b *testing.B) {
	dir := b.TempDir()
	r := fixture()
	for b.Loop() {
		if _, err := Write(dir, r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConfusionsKeepTheTaskOrder(t *testing.T) {
	run := results.Run{Confusion: map[string]*sdk.Confusion{
		"b_acc": {Classes: []string{"z/slash", "a"}, Counts: [][]int64{{3, 1}, {0, 2}}},
		"a_acc": {Classes: []string{"x"}, Counts: [][]int64{{5}}},
		"empty": {},
	}}
	names, cms := confusions(run)
	assert.Equal(t, []string{"a_acc", "b_acc"}, names)
	require.Len(t, cms, 2)
	assert.Equal(t, []string{"z/slash", "a"}, cms[1].classes, "classes in the task's order; a slash is just a character")
	assert.Equal(t, [][]float64{{3, 1}, {0, 2}}, cms[1].counts)
	assert.Equal(t, [][]float64{{5}}, cms[0].counts)
}

// TestInlineSVGIsTheFilesDocument checks that report.html inlines each plot's .svg file from its <svg> element
// on, byte for byte but for the accessible label, for every plot the fixture draws, and that no plot embeds fonts.
func TestInlineSVGIsTheFilesDocument(t *testing.T) {
	dir := t.TempDir()
	files, err := Write(dir, fixture(), []string{"svg"})
	require.NoError(t, err)
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	require.NoError(t, err)
	drawn := 0
	for _, f := range files {
		if filepath.Ext(f) != ".svg" {
			continue
		}
		doc, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Less(t, len(doc), 100_000, "%s: a plot without embedded fonts is tens of kilobytes", f)
		body := string(doc[bytes.Index(doc, []byte("<svg"))+len("<svg"):])
		assert.Contains(t, string(page), body, "%s inlined as written", f)
		drawn++
	}
	assert.GreaterOrEqual(t, drawn, 5, "the fixture draws every kind of plot")
}

// TestRendererPrepare checks that plots a Renderer rasterised ahead (Prepare, on a copy of the results holding
// only what was finished) are not rasterised again by its Write, and that its files equal a plain Write's byte for
// byte, whether the prepared task was finished (its plots reused) or not yet (its plots drawn again).
func TestRendererPrepare(t *testing.T) {
	full := fixture()
	plain := t.TempDir()
	want, err := Write(plain, full, nil)
	require.NoError(t, err)
	only := func(task string, keep int) *results.Results {
		cp := *full
		cp.Runs = nil
		for _, run := range full.Runs {
			if run.Task == task && keep > 0 {
				cp.Runs = append(cp.Runs, run)
				keep--
			}
		}
		return &cp
	}
	plots := func(task string) int { // the task's plots in the plain report
		n := 0
		for _, f := range want {
			if strings.HasPrefix(filepath.Base(f), slug(task)+"--") && filepath.Ext(f) == ".png" {
				n++
			}
		}
		return n
	}
	total := 0
	for _, f := range want {
		if filepath.Ext(f) == ".png" {
			total++
		}
	}
	cases := []struct {
		name     string
		prepare  *results.Results
		task     string
		reused   int
		formats  []string
		prepared int
	}{
		{"finished task", only("classification", 2), "classification", plots("classification"), nil, plots("classification")},
		// model-b's retrieval run is missing: every retrieval plot shows it, so none can be reused.
		{"one run of two", only("retrieval", 1), "retrieval", 0, nil, plots("retrieval")},
		{"svg only: nothing to prepare", only("retrieval", 2), "retrieval", 0, []string{"svg"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NotEmpty(t, tc.prepare.Runs, "the fixture has runs of the task")
			rd := new(Renderer)
			rd.Prepare(tc.prepare, tc.task, tc.formats)
			rd.drawing.Wait()
			assert.Equal(t, tc.prepared, rd.rasterised, "rasterised by Prepare")
			dir := t.TempDir()
			got, err := rd.Write(dir, full, tc.formats)
			require.NoError(t, err)
			if tc.formats != nil {
				return
			}
			assert.Equal(t, tc.prepared+total-tc.reused, rd.rasterised, "Write rasterises only what it did not find")
			sameFiles(t, want, got)
		})
	}
}

// sameFiles checks that the files got are those of want, in order, named alike and byte for byte equal.
func sameFiles(t *testing.T, want, got []string) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, f := range got {
		a, err := os.ReadFile(want[i])
		require.NoError(t, err)
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Equal(t, filepath.Base(want[i]), filepath.Base(f))
		assert.True(t, bytes.Equal(a, b), "%s differs from the plain report's", filepath.Base(f))
	}
}

// TestOutOfRangeValuesDrawnFast: metric values far outside the [0, 1] axis (acc1 = 1e308 once spun the PNG
// rasterizer for ever, filling a bar 1e308 units high) are drawn as bars to the axis' edge labelled with the value,
// in bounded time; so are huge curve points.
func TestOutOfRangeValuesDrawnFast(t *testing.T) {
	r := fixture()
	r.Runs[1].Metrics["acc1"] = 1e308
	r.Runs[1].Metrics["mean_per_class_recall"] = -3
	r.Runs[0].Curves[0].X = []float64{1, 5, 1e308}
	r.Runs[0].Curves[0].Y = []float64{1e308, -1e308, 0.5}
	dir := t.TempDir()
	done := make(chan error, 1)
	go func() { _, err := Write(dir, r, PlotFormats()); done <- err }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Write did not finish within 20 s")
	}
	svg, err := os.ReadFile(filepath.Join(dir, PlotsDir, "classification--headline.svg"))
	require.NoError(t, err)
	assert.Contains(t, string(svg), ">1e+308<")
	assert.Contains(t, string(svg), ">-3<")
}

// TestCellEscapesMarkup: names are embedded in report.md as text: no raw HTML, emphasis, links or broken tables.
func TestCellEscapesMarkup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"model-a", "model-a"},
		{"image_retrieval_recall@1", "image_retrieval_recall@1"},
		{"abdomen/pelvis", "abdomen/pelvis"},
		{`<img src=x onerror=alert(1)>`, `\<img src=x onerror=alert(1)\>`},
		{"*bold* _it_ a|b", `\*bold\* \_it\_ a\|b`},
		{"[link](http://x) ![i](y)", `\[link\](http://x) !\[i\](y)`},
		{"`code` ~~del~~ &amp; back\\slash", "\\`code\\` \\~\\~del\\~\\~ \\&amp; back\\\\slash"},
		{"two\nlines", "two lines"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, cell(tc.in), tc.in)
	}
}

// TestReportEscapesNames: a model, task and failure named with HTML and Markdown show as text in report.md.
func TestReportEscapesNames(t *testing.T) {
	r := fixture()
	evil := `<script>alert("m")</script>`
	for i := range r.Models {
		if r.Models[i].Name == "model-a" {
			r.Models[i].Name = evil
		}
	}
	for i := range r.Runs {
		if r.Runs[i].Model == "model-a" {
			r.Runs[i].Model = evil
		}
		if r.Runs[i].Task == "classification" {
			r.Runs[i].Task = "*cls*"
		}
	}
	r.Tasks[1].Name = "*cls*"
	r.Tasks[0].Description = "<b>tiny</b> captions"
	dir := t.TempDir()
	_, err := Write(dir, r, []string{"svg"})
	require.NoError(t, err)
	md, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	assert.NotContains(t, string(md), "<script>")
	assert.NotContains(t, string(md), "<b>")
	assert.Contains(t, string(md), `| \<script\>alert("m")\</script\> |`)
	assert.Contains(t, string(md), "### \\*cls\\*\n")
	assert.Contains(t, string(md), `\<b\>tiny\</b\> captions`)
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	require.NoError(t, err)
	assert.NotContains(t, string(page), "<script>alert")
}

// TestWriteReplacesPlantedLinks: symbolic links already in the output folder (at report.md and at a plot) are
// replaced by the files, never followed; a plots/ folder that is a link is refused.
func TestWriteReplacesPlantedLinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, PlotsDir), 0o755))
	for _, name := range []string{ReportFile, HTMLFile, filepath.Join(PlotsDir, "retrieval--headline.svg")} {
		require.NoError(t, os.Symlink(victim, filepath.Join(dir, name)))
	}
	_, err := Write(dir, fixture(), []string{"svg"})
	require.NoError(t, err)
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "precious", string(b), "the link's target is untouched")
	for _, name := range []string{ReportFile, HTMLFile, filepath.Join(PlotsDir, "retrieval--headline.svg")} {
		st, err := os.Lstat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.True(t, st.Mode().IsRegular(), "%s is a file now", name)
	}

	linked := t.TempDir()
	require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(linked, PlotsDir)))
	_, err = Write(linked, fixture(), []string{"svg"})
	assert.ErrorContains(t, err, filepath.Join(linked, PlotsDir)+" is a symbolic link or not a folder; outputs are written into real folders only: remove it")
}

// TestInterruptedRunSaysSo checks that report.md and report.html of an interrupted run say so, with what stopped it
// and how to resume, and that a run that ended says nothing of the kind.
// writeReports writes r's reports (SVG plots) into a new folder and returns report.md and report.html.
func writeReports(t *testing.T, r *results.Results) (md, page []byte) {
	t.Helper()
	dir := t.TempDir()
	_, err := Write(dir, r, []string{"svg"})
	require.NoError(t, err)
	md, err = os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	page, err = os.ReadFile(filepath.Join(dir, HTMLFile))
	require.NoError(t, err)
	return md, page
}

func TestInterruptedRunSaysSo(t *testing.T) {
	cases := []struct {
		name, interrupted string
		want              string
	}{
		{"ended", "", ""},
		{"interrupted", "SIGINT while running model \"model-b\" on task \"retrieval\" (3 of 4 model × task runs finished)",
			"This run was interrupted (SIGINT while running model &#34;model-b&#34; on task &#34;retrieval&#34; (3 of 4 model × task runs finished)): only the 4 model × task runs that finished before are shown; run the config again into the same folder to resume."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := fixture()
			r.Interrupted = tc.interrupted
			md, page := writeReports(t, r)
			if tc.want == "" {
				assert.False(t, strings.Contains(string(md), "interrupted"), "report.md")
				assert.False(t, strings.Contains(string(page), "interrupted"), "report.html")
				return
			}
			assert.Contains(t, string(md), "**This run was interrupted (SIGINT while running model")
			assert.Contains(t, string(md), "run the config again into the same folder to resume.**")
			assert.True(t, strings.Contains(string(page), tc.want), "report.html's alert")
		})
	}
}

// TestSkippedImagesAreListed checks that both reports say that runs left out bad images, list each with its error
// (names escaped, the list cut at shownSkipped) and say nothing of it when none was skipped.
func TestSkippedImagesAreListed(t *testing.T) {
	many := make([]results.SkippedImage, shownSkipped+2)
	for i := range many {
		many[i] = results.SkippedImage{Image: fmt.Sprintf("data/img%03d.png", i), Error: fmt.Sprintf("image data/img%03d.png: png: invalid format", i)}
	}
	cases := []struct {
		name           string
		skipped        []results.SkippedImage
		md, html, none []string
	}{
		{"none", nil, nil, nil, []string{"Skipped images", "bad image"}},
		{"one", []results.SkippedImage{{Image: "data/<b>x|y.png", Error: "image data/<b>x|y.png: unexpected EOF"}},
			[]string{
				"**1 bad image(s) were skipped in 1 run(s) (bad_images: skip): the items that need them are left out of those runs' metrics.** (see [Skipped images](#skipped-images)).",
				"## Skipped images\n\n**model-a** on **classification**: 1 bad image(s) skipped.\n\n| image | why |\n|---|---|\n| `data/<b>x\\|y.png` | image data/\\<b\\>x\\|y.png: unexpected EOF |\n",
			},
			[]string{`<a href="#skipped-images">Skipped images</a>`, "<h3>model-a on classification: 1 bad image(s) skipped</h3>",
				"<td><code>data/&lt;b&gt;x|y.png</code></td><td>image data/&lt;b&gt;x|y.png: unexpected EOF</td>", "<td>ok, 1 bad image(s) skipped</td>"},
			[]string{"more (results.json lists every one)"}},
		{"more than shown", many,
			[]string{"102 bad image(s) skipped", "| `data/img099.png` |", "and 2 more (results.json lists every one)."},
			[]string{"<p>and 2 more (results.json lists every one).</p>"},
			[]string{"data/img100.png"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := fixture()
			r.Runs[1].Skipped = tc.skipped
			md, page := writeReports(t, r)
			for _, w := range tc.md {
				assert.Contains(t, string(md), w)
			}
			for _, w := range tc.html {
				assert.Contains(t, string(page), w)
			}
			for _, w := range tc.none {
				assert.NotContains(t, string(md), w)
				assert.NotContains(t, string(page), w)
			}
		})
	}
}

// TestRendererWriteTakesOverPreparedPlots checks that a Write right after Prepare calls of several tasks, while
// their plots are still queued or being drawn by Prepare's one worker, writes the same files as a plain Write:
// what the worker had not begun is drawn by Write, nothing twice.
func TestRendererWriteTakesOverPreparedPlots(t *testing.T) {
	full := fixture()
	want, err := Write(t.TempDir(), full, nil)
	require.NoError(t, err)
	rd := new(Renderer)
	for _, task := range []string{"retrieval", "classification"} {
		rd.Prepare(full, task, nil)
	}
	got, err := rd.Write(t.TempDir(), full, nil)
	require.NoError(t, err)
	sameFiles(t, want, got)
	pngs := 0
	for _, f := range got {
		if filepath.Ext(f) == ".png" {
			pngs++
		}
	}
	assert.Equal(t, pngs, rd.rasterised, "each PNG rasterised once")
	assert.Empty(t, rd.pending)
	assert.False(t, rd.working)
}

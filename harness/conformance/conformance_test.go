package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/inferserver"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/internal/plugintest"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// built is where TestMain put the plugins: the project's in plugins/, the suite's fakes in fakes/.
type built struct {
	dir      string
	buildErr error
}

var bins built

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "clipeval-conformance-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		// Plugins that fail to build (mid-rewrite) fail their own subtest, not the whole package.
		bins = built{dir: dir, buildErr: plugintest.BuildPlugins(dir, false)}
		if err := plugintest.BuildTestPlugins(filepath.Join(dir, "fakes"), "harness/conformance/testdata/goodtask",
			"harness/conformance/testdata/badtask", "harness/conformance/testdata/goodmodel"); err != nil {
			fmt.Fprintf(os.Stderr, "building the fake plugins: %v\n", err)
			return 1
		}
		return m.Run()
	}())
}

// item is one line of a pyalign manifest.
type item struct {
	Image    string   `json:"image"`
	Captions []string `json:"captions"`
}

// writeManifest writes a manifest of items (and an empty file per image) in a new folder and returns the path of
// a conformance dataset file naming it by a relative path.
func writeManifest(t testing.TB, items []item, options map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	var b bytes.Buffer
	for _, it := range items {
		p := filepath.Join(dir, "data", it.Image)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		line, err := json.Marshal(it)
		require.NoError(t, err)
		b.Write(append(line, '\n'))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "manifest.jsonl"), b.Bytes(), 0o644))
	if options == nil {
		options = map[string]any{}
	}
	spec, err := json.Marshal(map[string]any{"dataset": map[string]any{"manifest": "data/manifest.jsonl"}, "options": options})
	require.NoError(t, err)
	path := filepath.Join(dir, "conformance.json")
	require.NoError(t, os.WriteFile(path, spec, 0o644))
	return path
}

func smallItems() []item {
	return []item{
		{"cat.jpg", []string{"a cat", "a small cat"}},
		{"sub/dog.jpg", []string{"a dog"}},
		{"car.png", []string{"a red car", "a car on a road"}},
	}
}

// statuses returns every case's status by name.
func statuses(r *Report) map[string]Status {
	out := map[string]Status{}
	for _, c := range r.Cases {
		out[c.Name] = c.Status
	}
	return out
}

// table returns the report as WriteTable writes it, for failure messages.
func table(r *Report) string {
	var b strings.Builder
	_ = r.WriteTable(&b)
	return b.String()
}

// allPass is every case of a task (or model) passing, except the ones named in but.
func allPass(model bool, but map[string]Status) map[string]Status {
	names := []string{"handshake", "service", "describe", "describe-fields"}
	if model {
		names = append(names, "check-model-missing", "info-missing", "encode-texts-bogus", "encode-images-bogus")
		names = append(names, modelCasesNeedingData()...)
	} else {
		names = append(names, "load-malformed-json", "load-empty-dataset", "load-unknown-key", "score-unknown-dataset")
		names = append(names, taskCasesNeedingData()...)
	}
	out := map[string]Status{}
	for _, n := range names {
		out[n] = Pass
	}
	for n, s := range but {
		out[n] = s
	}
	return out
}

// TestEveryInstalledPlugin runs the suite on every plugin the project builds, Go and Python, as CI does.
// TestEveryInstalledPlugin runs the suite on every plugin `make build` installs, each with data to load, score or
// encode (the embedded demo's datasets and model for the Go plugins), so that the data cases run for all of them.
func TestEveryInstalledPlugin(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	dataset := func(ds, opts map[string]any) string {
		p := filepath.Join(t.TempDir(), "dataset.json")
		b, err := json.Marshal(map[string]any{"dataset": ds, "options": opts})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	data := filepath.Join(demo, "data")
	opts := map[string]Options{
		"onnx":      {Model: filepath.Join(demo, demogen.ModelDir), ModelOptions: map[string]string{"logit_scale": "100"}},
		"retrieval": {Dataset: dataset(map[string]any{"format": "jsonl", "manifest": filepath.Join(data, "retrieval.jsonl")}, nil)},
		"classification": {Dataset: dataset(map[string]any{"format": "jsonl", "manifest": filepath.Join(data, "classification.jsonl")},
			map[string]any{"classes": []string{"red", "green", "blue", "yellow", "cyan", "magenta"}, "templates": []string{"a {} image."}})},
		"vqa":     {Dataset: dataset(map[string]any{"format": "vqa-rad", "root": filepath.Join(data, "vqa")}, map[string]any{"prompt": "{question} {answer}"})},
		"pyalign": {Dataset: writeManifest(t, smallItems(), nil)},
		"kserve":  {Model: filepath.Join(demo, demogen.ModelDir), ModelOptions: map[string]string{"url": serveDemo(t, demo), "model_name": "demo"}},
	}
	var names []string
	for _, p := range append(append([]string{}, plugintest.Plugins...), plugintest.ScriptPlugins...) {
		names = append(names, filepath.Base(p))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(bins.dir, "plugins", name)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("plugin %s was not built: %v", name, bins.buildErr)
			}
			o, ok := opts[name]
			require.True(t, ok, "give plugin %s data to check with", name)
			t.Setenv(sharedtest.ORTEnvVar, sharedtest.ORTLib(t))
			r, err := Check(context.Background(), path, o)
			require.NoError(t, err)
			for _, c := range r.Cases {
				assert.NotEqual(t, Fail, c.Status, "case %s: %s", c.Name, c.Message)
				if c.Name != "large-message" {
					assert.NotEqual(t, Skip, c.Status, "case %s: %s", c.Name, c.Message)
				}
			}
			t.Log("\n" + table(r))
		})
	}
}

// serveDemo serves the demo's model with the onnx plugin over the Open Inference Protocol, as clipeval serve does,
// until the test ends, and returns the address: the server the kserve backend is checked against.
func serveDemo(t *testing.T, demo string) string {
	t.Setenv(sharedtest.ORTEnvVar, sharedtest.ORTLib(t))
	host := pluginhost.New(filepath.Join(bins.dir, "plugins"), nil)
	t.Cleanup(host.Close)
	m, err := host.Model("onnx")
	require.NoError(t, err)
	ref := sdk.ModelRef{Dir: filepath.Join(demo, demogen.ModelDir), Options: map[string]string{"logit_scale": "100"}}
	served, err := inferserver.ModelOf(context.Background(), m, ref, "demo")
	require.NoError(t, err)
	srv, err := inferserver.New(served, inferserver.Config{ServerName: "clipeval", ServerVersion: "test",
		MaxMessageBytes: sdk.MaxMessageBytes, TowerMessageBytes: sdk.MaxMessageBytes})
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := srv.GRPCServer()
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

func TestPlugins(t *testing.T) {
	modelDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(modelDir, "fake-model.json"), []byte(`{"embed_dim": 12}`), 0o644))
	nDataset := filepath.Join(t.TempDir(), "n.json")
	require.NoError(t, os.WriteFile(nDataset, []byte(`{"dataset": {"n": 5}, "options": {"label": "a"}}`), 0o644))
	noData := map[string]Status{}
	for _, n := range taskCasesNeedingData() {
		noData[n] = Skip
	}
	tests := []struct {
		name, plugin string
		opts         Options
		want         map[string]Status
		messages     map[string]string
	}{
		{"python task", "plugins/pyalign", Options{Dataset: writeManifest(t, smallItems(), map[string]any{"limit": 3})},
			allPass(false, map[string]Status{"large-message": Skip}), map[string]string{
				"describe":        "pyalign v0.1.0, protocol 2",
				"describe-fields": "1 option fields, 1 dataset fields",
				"load":            `dataset "pyalign-1": 3 items, 3 images, 5 texts`,
				"score":           "5 metrics (headline image_to_text_top1, similarity_gap), 3 predictions",
				"load-stream":     "(fits one chunk, so chunking was not exercised)",
				"large-message":   "a 268435456-byte embedding file at width ≤ 1024 needs a dataset of more than 65536 image or text rows; this one has 5",
			}},
		{"python task without data", "plugins/pyalign", Options{}, allPass(false, noData), map[string]string{
			"load-unknown-key": "refused: plugin \"pyalign\": Load: dataset: unknown key 'clipeval_conformance_unknown_key' (this task accepts: manifest)",
		}},
		{"go task", "fakes/goodtask", Options{Dataset: nDataset}, allPass(false, map[string]Status{"large-message": Skip}), map[string]string{
			"load":  `dataset "goodtask-1": 5 items, 5 images, 5 texts`,
			"score": "2 metrics (headline top1), 0 predictions",
		}},
		{"go model", "fakes/goodmodel", Options{Model: modelDir}, allPass(true, nil), map[string]string{
			"encode-images": "2 images (PNG and JPEG) encoded to [2, 12]",
			"encode-texts":  "3 texts encoded to [3, 12]",
		}},
		{"go model without data", "fakes/goodmodel", Options{}, allPass(true, map[string]Status{"check-model": Skip, "info": Skip,
			"encode-texts": Skip, "encode-images": Skip, "encode-images-unreadable": Skip}), nil},
		{"broken go task", "fakes/badtask", Options{Dataset: nDataset}, allPass(false, map[string]Status{
			"describe-fields": Fail, "load-empty-dataset": Fail, "load-unknown-key": Fail, "load-unknown-option": Fail,
			"score": Fail, "score-stream": Fail, "large-message": Skip,
		}), map[string]string{
			"describe-fields":    `dataset_fields[0] "n": choices on a int field (only string fields have choices); dataset_fields[0] "n": min 5 > max 1`,
			"load-unknown-key":   "a Load of the given dataset plus an unknown key succeeded; want an error",
			"load-empty-dataset": "a Load of the dataset {} (required: n): the plugin process exited (crashed) instead of returning an error",
			"score":              `the task's scores break the contract: metric "top1": direction ""`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r, err := Check(context.Background(), filepath.Join(bins.dir, tc.plugin), tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.want, statuses(r), table(r))
			for name, msg := range tc.messages {
				if c := r.Case(name); assert.NotNil(t, c, name) {
					assert.Contains(t, c.Message, msg, name)
				}
			}
			assert.Less(t, time.Since(start), 30*time.Second, "the suite must stay fast without the large case")
		})
	}
}

// TestChunkedStreamsAndLargeMessage loads a manifest whose Load and Score answers exceed one 4 MiB chunk (long
// captions, which predictions repeat), and scores it with embedding files over a lowered large-message bound.
func TestChunkedStreamsAndLargeMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 4.8 MB manifest")
	}
	caption := strings.Repeat("a long caption that repeats itself ", 60)[:2000]
	items := make([]item, 1200)
	for i := range items {
		items[i] = item{fmt.Sprintf("img/%06d.jpg", i), []string{caption + "1", caption + "2"}}
	}
	dataset := writeManifest(t, items, nil)
	r, err := Check(context.Background(), filepath.Join(bins.dir, "plugins", "pyalign"), Options{Dataset: dataset, LargeBytes: 8 << 20})
	require.NoError(t, err)
	assert.Equal(t, allPass(false, nil), statuses(r), table(r))
	for _, name := range []string{"load-stream", "score-stream"} {
		assert.Contains(t, r.Case(name).Message, "(chunked)", name)
	}
	assert.Equal(t, "scored 2400×874 embeddings (a 8390400-byte file, over 8388608)", r.Case("large-message").Message)
}

// TestPyalignMetrics checks the Python plugin's numbers against the definitions computed here, independently.
func TestPyalignMetrics(t *testing.T) {
	dataset := writeManifest(t, smallItems(), nil)
	var spec struct {
		Dataset map[string]string `json:"dataset"`
	}
	b, err := os.ReadFile(dataset)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &spec))
	manifest := filepath.Join(filepath.Dir(dataset), spec.Dataset["manifest"])

	h := pluginhost.New(filepath.Join(bins.dir, "plugins"), nil)
	defer h.Close()
	task, err := h.Task("pyalign")
	require.NoError(t, err)
	ctx := context.Background()
	ds, err := task.Load(ctx, sdk.LoadRequest{Dataset: []byte(fmt.Sprintf(`{"manifest": %q}`, manifest))})
	require.NoError(t, err)
	root := filepath.Dir(manifest)
	assert.Equal(t, []sdk.ImageInput{{Path: filepath.Join(root, "cat.jpg"), Root: root}, {Path: filepath.Join(root, "sub/dog.jpg"), Root: root},
		{Path: filepath.Join(root, "car.png"), Root: root}}, ds.Images, "opened beneath the manifest's folder")
	assert.Equal(t, []string{"a cat", "a small cat", "a dog", "a red car", "a car on a road"}, ds.Texts)
	assert.Equal(t, 3, ds.Size)
	assert.Equal(t, []string{manifest}, ds.Files)

	// Raw (not normalised) embeddings; caption j belongs to image owner[j].
	images := [][]float64{{2, 0, 0}, {0, 3, 0}, {1, 1, 1}}
	texts := [][]float64{{1, 0.1, 0}, {0, 0, 1}, {0, 1, 0.2}, {1, 0, 0}, {0.5, 0.5, 0.6}}
	owner := []int{0, 0, 1, 2, 2}
	dir := t.TempDir()
	write := func(name string, rows [][]float64) sdk.EmbeddingFile {
		var data []float32
		for _, r := range rows {
			for _, v := range r {
				data = append(data, float32(v))
			}
		}
		p := filepath.Join(dir, name)
		require.NoError(t, npy.WriteFloat32File(p, len(rows), 3, data))
		return sdk.EmbeddingFile{Path: p, Rows: len(rows), Cols: 3}
	}
	sc, err := task.Score(ctx, sdk.ScoreFilesRequest{DatasetID: ds.ID, ImageEmbeddings: write("i.npy", images), TextEmbeddings: write("t.npy", texts)})
	require.NoError(t, err)

	cos := func(a, b []float64) float64 {
		var ab, aa, bb float64
		for k := range a {
			ab, aa, bb = ab+a[k]*b[k], aa+a[k]*a[k], bb+b[k]*b[k]
		}
		return ab / math.Sqrt(aa*bb)
	}
	var matched, mismatched float64
	var nMismatched int
	for i := range images {
		for j := range texts {
			if owner[j] == i {
				matched += cos(images[i], texts[j])
			} else {
				mismatched += cos(images[i], texts[j])
				nMismatched++
			}
		}
	}
	matched /= float64(len(texts))
	mismatched /= float64(nMismatched)
	var hits []float64
	var preds []sdk.Prediction
	names := []string{"cat.jpg", "sub/dog.jpg", "car.png"}
	first := []int{0, 2, 3}
	for i := range images {
		best := 0
		for j := range texts {
			if cos(images[i], texts[j]) > cos(images[i], texts[best]) {
				best = j
			}
		}
		hit := owner[best] == i
		hits = append(hits, map[bool]float64{true: 1, false: 0}[hit])
		preds = append(preds, sdk.Prediction{Item: names[i], Truth: ds.Texts[first[i]], Predicted: ds.Texts[best], Correct: hit})
	}
	// Image 0's nearest caption is image 2's "a red car" ([1, 0, 0]): a miss.
	assert.Equal(t, []float64{0, 1, 1}, hits)

	tests := []struct {
		metric    string
		want      float64
		direction sdk.Direction
		unit      sdk.Unit
	}{
		{"image_to_text_top1", 2.0 / 3, sdk.HigherIsBetter, sdk.Fraction},
		{"matched_similarity", matched, sdk.HigherIsBetter, sdk.Value},
		{"mismatched_similarity", mismatched, sdk.Informational, sdk.Value},
		{"similarity_gap", matched - mismatched, sdk.HigherIsBetter, sdk.Value},
		{"pairs", 5, sdk.Informational, sdk.Count},
	}
	for _, tc := range tests {
		t.Run(tc.metric, func(t *testing.T) {
			m := sc.Metric(tc.metric)
			require.NotNil(t, m)
			assert.InDelta(t, tc.want, m.Value, 1e-6)
			assert.Equal(t, tc.direction, m.Direction)
			assert.Equal(t, tc.unit, m.Unit)
		})
	}
	assert.Equal(t, hits, sc.Metric("image_to_text_top1").ItemValues)
	assert.Equal(t, preds, sc.Predictions)
	assert.Equal(t, []string{"image_to_text_top1", "similarity_gap"}, sc.Headline)
	assert.Equal(t, "zero-shot", sc.Mode)
}

// TestPyalignLoadErrors checks what the Python plugin says about bad datasets and options.
func TestPyalignLoadErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.jpg"), nil, 0o644))
	manifest := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	good := manifest("good.jsonl", `{"image": "a.jpg", "captions": ["x"]}`+"\n")
	h := pluginhost.New(filepath.Join(bins.dir, "plugins"), nil)
	defer h.Close()
	task, err := h.Task("pyalign")
	require.NoError(t, err)
	tests := []struct {
		name, dataset, options, want string
	}{
		{"escaping path", fmt.Sprintf(`{"manifest": %q}`, manifest("up.jsonl", `{"image": "../a.jpg", "captions": ["x"]}`)), `{}`,
			`image path '../a.jpg' leaves the manifest's folder`},
		{"absolute path", fmt.Sprintf(`{"manifest": %q}`, manifest("abs.jsonl", `{"image": "/etc/passwd", "captions": ["x"]}`)), `{}`,
			`image path '/etc/passwd' is absolute; paths are relative to the manifest's folder`},
		{"missing image", fmt.Sprintf(`{"manifest": %q}`, manifest("miss.jsonl", `{"image": "b.jpg", "captions": ["x"]}`)), `{}`,
			"miss.jsonl:1: image " + filepath.Join(dir, "b.jpg") + " does not exist"},
		{"no captions", fmt.Sprintf(`{"manifest": %q}`, manifest("nocap.jsonl", `{"image": "a.jpg", "captions": []}`)), `{}`,
			`nocap.jsonl:1: "captions" must be a non-empty list of strings`},
		{"empty manifest", fmt.Sprintf(`{"manifest": %q}`, manifest("empty.jsonl", "\n")), `{}`, "empty.jsonl lists no images"},
		{"limit zero", fmt.Sprintf(`{"manifest": %q}`, good), `{"limit": 0}`, "options.limit: want at least 1, have 0"},
		{"limit not int", fmt.Sprintf(`{"manifest": %q}`, good), `{"limit": 1.5}`, "options.limit: want an integer, have 1.5"},
		{"unknown option", fmt.Sprintf(`{"manifest": %q}`, good), `{"k": 1}`, "options: unknown key 'k' (this task accepts: limit)"},
		{"manifest not a string", `{"manifest": 3}`, `{}`, "dataset.manifest: want a path, have 3"},
		{"not an object", `[1]`, `{}`, "dataset: want a JSON object, have list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := task.Load(context.Background(), sdk.LoadRequest{Dataset: []byte(tc.dataset), Options: []byte(tc.options)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), `plugin "pyalign": Load: `)
			assert.True(t, sdk.IsInvalidInput(err), "pyalign answers InvalidArgument for bad input")
		})
	}
}

// TestPythonModulesCurrent checks that the committed Python modules are what `make proto` generates.
func TestPythonModulesCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("protoc is needed (Debian protobuf-compiler)")
		}
		t.Skip("protoc not installed")
	}
	root := sharedtest.RepoRoot()
	out := t.TempDir()
	for _, args := range [][]string{
		{"-I", "plugins/proto/clipeval/v2", "--python_out=" + out, "plugins/proto/clipeval/v2/clipeval.proto"},
		{"-I", "benchmarks/pyalign", "--python_out=" + out, "benchmarks/pyalign/health.proto"},
	} {
		cmd := exec.Command("protoc", args...)
		cmd.Dir = root
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, string(b))
	}
	for _, name := range []string{"clipeval_pb2.py", "health_pb2.py"} {
		want, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		have, err := os.ReadFile(filepath.Join(root, "benchmarks/pyalign/app", name))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(have), "%s is stale: run `make proto`", name)
	}
}

func TestCheckErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(notExec, []byte("x"), 0o644))
	badSpec := filepath.Join(dir, "spec.json")
	require.NoError(t, os.WriteFile(badSpec, []byte(`{"dataset": {}, "extra": 1}`), 0o644))
	unlisted := filepath.Join(dir, "unlisted")
	require.NoError(t, os.WriteFile(unlisted, []byte("#!/bin/sh\ntouch "+unlisted+".ran\n"), 0o755))
	unverified := &pluginhost.VerifyError{Name: "unlisted", Path: unlisted, List: filepath.Join(dir, pluginsums.File), NoList: true}
	tests := []struct {
		name, path string
		opts       Options
		want       string
	}{
		{"missing", filepath.Join(dir, "nosuch"), Options{}, "checking plugin: stat " + filepath.Join(dir, "nosuch") + ": no such file or directory"},
		{"not executable", notExec, Options{}, "checking plugin: " + notExec + " is not an executable file"},
		{"bad dataset file", filepath.Join(bins.dir, "fakes", "goodtask"), Options{Dataset: badSpec},
			"conformance dataset " + badSpec + `: want {"dataset": {...}, "options": {...}}: json: unknown field "extra"`},
		{"not verified", unlisted, Options{}, "checking plugin: " + unverified.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(context.Background(), tc.path, tc.opts)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
	_, err := os.Stat(unlisted + ".ran")
	assert.ErrorIs(t, err, os.ErrNotExist, "a plugin missing from the checksum list was run")
	r, err := Check(context.Background(), unlisted, Options{AllowUnverified: true, StartTimeout: 2 * time.Second})
	require.NoError(t, err, "AllowUnverified checks it")
	assert.Equal(t, map[string]Status{"handshake": Fail}, statuses(r))
}

func TestNotAPlugin(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "liar")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\necho hello\nsleep 30\n"), 0o755))
	require.NoError(t, pluginsums.Write(dir, "liar"))
	r, err := Check(context.Background(), p, Options{StartTimeout: 2 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, map[string]Status{"handshake": Fail}, statuses(r))
	assert.True(t, r.Failed())
	assert.Empty(t, r.Kind)
}

func TestWriteTable(t *testing.T) {
	r := &Report{Path: "/p/pyalign", Kind: sdk.KindTask, Info: &sdk.PluginInfo{Name: "pyalign", Version: "v1"}, Cases: []Case{
		{Name: "handshake", Status: Pass, Message: "protocol 2", Elapsed: 1500 * time.Millisecond},
		{Name: "load-empty-dataset", Status: Fail, Message: "exited; its last output:\npanic: x\n  at y", Elapsed: 20 * time.Millisecond},
		{Name: "large-message", Status: Skip, Message: "too small"},
	}}
	var b strings.Builder
	require.NoError(t, r.WriteTable(&b))
	assert.Equal(t, `plugin pyalign v1 (task): /p/pyalign
CASE                RESULT  TIME   MESSAGE
handshake           PASS    1.50s  protocol 2
load-empty-dataset  FAIL    0.02s  exited; its last output: ⏎ panic: x ⏎ at y
large-message       SKIP    0.00s  too small
1 passed, 1 failed, 1 skipped: DOES NOT CONFORM
`, b.String())
	assert.True(t, r.Failed())
	r.Cases = r.Cases[:1]
	assert.False(t, r.Failed())
}

func TestFieldProblems(t *testing.T) {
	tests := []struct {
		name   string
		fields []sdk.Field
		want   []string
	}{
		{"good", []sdk.Field{{Name: "a", Type: sdk.FieldString, Choices: []string{"x"}}, {Name: "b", Type: sdk.FieldFloat, Min: sdk.Bound(0), Max: sdk.Bound(1)}}, nil},
		{"unknown type", []sdk.Field{{Name: "a", Type: "number"}},
			[]string{`f[0] "a": unknown type "number" (want one of [string int float bool string_list string_map path])`}},
		{"duplicate and unnamed", []sdk.Field{{Name: "a", Type: sdk.FieldBool}, {Name: "a", Type: sdk.FieldBool}, {Type: sdk.FieldBool}},
			[]string{`f[1] "a": declared twice`, `f[2] "": no name`}},
		{"choices on a path", []sdk.Field{{Name: "p", Type: sdk.FieldPath, Choices: []string{"x"}}},
			[]string{`f[0] "p": choices on a path field (only string fields have choices)`}},
		{"bounds on a string", []sdk.Field{{Name: "s", Type: sdk.FieldString, Max: sdk.Bound(3)}},
			[]string{`f[0] "s": min/max on a string field (only int and float fields have bounds)`}},
		{"min above max", []sdk.Field{{Name: "n", Type: sdk.FieldInt, Min: sdk.Bound(2), Max: sdk.Bound(1)}},
			[]string{`f[0] "n": min 2 > max 1`}},
		{"NaN bound", []sdk.Field{{Name: "n", Type: sdk.FieldInt, Min: sdk.Bound(math.NaN())}}, []string{`f[0] "n": a bound is NaN`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, fieldProblems("f", tc.fields))
		})
	}
}

func TestInfoProblems(t *testing.T) {
	assert.Equal(t, []string{"name is empty", "version is empty (results.json records it)", "protocol_version is 1, want 2"},
		infoProblems(&sdk.PluginInfo{ProtocolVersion: 1}))
	assert.Empty(t, infoProblems(&sdk.PluginInfo{Name: "x", Version: "v", ProtocolVersion: 2}))
}

func TestScoresProblems(t *testing.T) {
	ds := &sdk.Dataset{Size: 2, Images: make([]sdk.ImageInput, 2), Texts: make([]string, 3)}
	metric := func(m sdk.Metric) sdk.Metric {
		if m.Direction == "" {
			m.Direction = sdk.HigherIsBetter
		}
		if m.Unit == "" {
			m.Unit = sdk.Value
		}
		return m
	}
	tests := []struct {
		name   string
		scores sdk.Scores
		want   []string
	}{
		{"good", sdk.Scores{Metrics: []sdk.Metric{metric(sdk.Metric{Name: "a", Value: 0.5, Unit: sdk.Fraction, ItemValues: []float64{0, 1}}),
			metric(sdk.Metric{Name: "b", Value: 2, ItemValues: []float64{1, 2, 3}})}, Predictions: make([]sdk.Prediction, 3)}, nil},
		{"none", sdk.Scores{}, []string{"no metrics"}},
		{"fraction out of range", sdk.Scores{Metrics: []sdk.Metric{metric(sdk.Metric{Name: "a", Value: 1.5, Unit: sdk.Fraction})}},
			[]string{`metric "a" is a fraction of 1.5, outside [0, 1]`}},
		{"infinite", sdk.Scores{Metrics: []sdk.Metric{metric(sdk.Metric{Name: "a", Value: math.Inf(1)})}},
			[]string{`metric "a" is infinite (undefined metrics are NaN)`}},
		{"item values count", sdk.Scores{Metrics: []sdk.Metric{metric(sdk.Metric{Name: "a", ItemValues: []float64{1, 2, 3, 4}})}},
			[]string{`metric "a" has 4 item values, more than any of the dataset's 2 items, 2 images and 3 texts`}},
		{"item values mean", sdk.Scores{Metrics: []sdk.Metric{metric(sdk.Metric{Name: "a", Value: 0.4, ItemValues: []float64{0, 1}})}},
			[]string{`metric "a" is 0.4 but its item values average 0.5`}},
		{"predictions", sdk.Scores{Metrics: []sdk.Metric{metric(sdk.Metric{Name: "a"})}, Predictions: make([]sdk.Prediction, 8)},
			[]string{"8 predictions, more than the dataset's 2 items, 2 images and 3 texts together"}},
		{"interval and curve", sdk.Scores{Metrics: []sdk.Metric{metric(sdk.Metric{Name: "a", Interval: &sdk.Interval{Low: 2, High: 1}})},
			Curves: []sdk.Curve{{Name: "c", X: []float64{1}}}},
			[]string{`metric "a": interval [2, 1] is not ordered`, `curve "c" has 1 x and 0 y values`}},
		{"headline", sdk.Scores{Metrics: []sdk.Metric{metric(sdk.Metric{Name: "a"})}, Headline: []string{"z"}},
			[]string{`headline metric "z" is not among the metrics`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, scoresProblems(ds, &tc.scores))
		})
	}
}

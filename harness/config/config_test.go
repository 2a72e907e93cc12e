package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// setup writes a config into a folder that also holds a model folder "m" and a file "data.jsonl".
func setup(t *testing.T, body string) string {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "m"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data.jsonl"), []byte("{}\n"), 0o644))
	p := filepath.Join(dir, "exp.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

const good = `models:
  - name: a
    path: m
    options: {logit_scale: 50}
    batch_size: 8
  - name: b
    backend: other
    path: ${MODELS:-.}/m
tasks:
  - name: t
    task: retrieval
    dataset: {format: jsonl, manifest: data.jsonl}
    options: {max_k: 5}
    published:
      a: {image_retrieval_recall@1: 69.6}
output:
  dir: out
  plots: [svg]
compare:
  tolerance: 1
  metrics: {acc1: 0.25}
`

func TestLoadGood(t *testing.T) {
	p := setup(t, good)
	c, err := Load(p, env(nil))
	require.NoError(t, err)
	dir := filepath.Dir(p)
	require.Len(t, c.Models, 2)
	assert.Equal(t, Pos{p, 3, 11}, c.Models[0].KeyPos("path"))
	assert.Equal(t, Pos{p, 4, 28}, c.Models[0].KeyPos("options.logit_scale"))
	assert.Equal(t, Pos{p, 2, 5}, c.Models[0].KeyPos("options.other"), "a key not written is at the model")
	c.Models[0].optionsNode, c.Models[0].keys = nil, nil
	assert.Equal(t, Model{Name: "a", Backend: "onnx", Path: filepath.Join(dir, "m"), Options: map[string]string{"logit_scale": "50"}, BatchSize: 8, Pos: Pos{p, 2, 5}}, c.Models[0])
	assert.Equal(t, "other", c.Models[1].Backend)
	assert.Equal(t, DefaultBatchSize, c.Models[1].BatchSize)
	assert.Equal(t, filepath.Join(dir, "m"), c.Models[1].Path)
	require.Len(t, c.Tasks, 1)
	assert.Equal(t, "retrieval", c.Tasks[0].Plugin)
	assert.Equal(t, BadImagesFail, c.Tasks[0].BadImages, "a bad image fails the run unless the task says otherwise")
	assert.Equal(t, Output{Dir: filepath.Join(dir, "out"), Plots: []string{"svg"}}, c.Output)
	assert.Equal(t, map[string]map[string]float64{"a": {"image_retrieval_recall@1": 0.696}}, c.Tasks[0].Published)
	assert.Equal(t, Tolerance{Default: 1, Units: map[string]float64{}, Metrics: map[string]float64{"acc1": 0.25}}, c.Tolerance, "as written: points for fractions")
	assert.Len(t, c.SHA256, 64)

	info := &sdk.PluginInfo{
		DatasetFields: []sdk.Field{{Name: "format", Type: sdk.FieldString, Choices: []string{"jsonl"}}, {Name: "manifest", Type: sdk.FieldPath, Required: true}},
		OptionFields:  []sdk.Field{{Name: "max_k", Type: sdk.FieldInt}, {Name: "classes", Type: sdk.FieldStringList}},
	}
	ds, opts, err := c.CheckTask(c.Tasks[0], info)
	require.NoError(t, err)
	var gotDS map[string]any
	require.NoError(t, json.Unmarshal(ds, &gotDS))
	assert.Equal(t, map[string]any{"format": "jsonl", "manifest": filepath.Join(dir, "data.jsonl")}, gotDS)
	assert.JSONEq(t, `{"max_k": 5}`, string(opts))
}

func TestBadImages(t *testing.T) {
	for _, v := range []string{BadImagesFail, BadImagesSkip} {
		c, err := Load(setup(t, strings.Replace(good, "    options: {max_k: 5}\n", "    options: {max_k: 5}\n    bad_images: "+v+"\n", 1)), env(nil))
		require.NoError(t, err)
		assert.Equal(t, v, c.Tasks[0].BadImages)
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"unknown top key", "modles: []\n", []string{
			"exp.yaml:1:1: unknown key \"modles\" in the config (known: models, tasks, output, compare, cache, plugins)",
			"exp.yaml:1:1: missing models: (a list of model folders to evaluate)",
			"exp.yaml:1:1: missing tasks: (a list of benchmark tasks)"}},
		{"wrong types", "models: {name: a}\ntasks:\n  - name: t\n    task: retrieval\n    dataset: {}\n", []string{
			"exp.yaml:1:9: models must be a non-empty list, is a mapping"}},
		{"missing path and bad batch", "models:\n  - name: a\n    path: nope\n    batch_size: many\n  - name: a\n    path: m\ntasks:\n  - name: t\n    task: x\n    dataset: {}\n", []string{
			"exp.yaml:3:11: " + "{dir}/nope does not exist",
			"exp.yaml:4:17: batch_size must be an integer, is str \"many\"",
			"exp.yaml:5:11: model name \"a\" is used twice"}},
		{"unset variable", "models:\n  - name: a\n    path: ${NOPE}\ntasks:\n  - name: t\n    task: x\n    dataset: {}\n", []string{
			"exp.yaml:3:11: variable NOPE is not set (set it in the environment, or write ${NOPE:-default})"}},
		{"task without dataset", "models:\n  - name: a\n    path: m\ntasks:\n  - name: t\n    task: x\n    extra: 1\n", []string{
			"exp.yaml:5:5: task \"t\" has no dataset:",
			"exp.yaml:7:5: unknown key \"extra\" in a task (known: name, task, dataset, options, published, bad_images)"}},
		{"bad bad_images", "models:\n  - name: a\n    path: m\ntasks:\n  - name: t\n    task: x\n    dataset: {}\n    bad_images: ignore\n  - name: u\n    task: x\n    dataset: {}\n    bad_images: [skip]\n", []string{
			"exp.yaml:8:17: task \"t\": bad_images \"ignore\": want fail (a bad image stops the run, the default) or skip (its items are left out, and listed in the results and the report)",
			"exp.yaml:12:17: bad_images must be a non-empty string, is a list"}},
		{"bad plots", "models:\n  - name: a\n    path: m\ntasks:\n  - name: t\n    task: x\n    dataset: {}\noutput:\n  plots: [pdf]\n", []string{
			"exp.yaml:9:11: plot format \"pdf\": want png or svg"}},
		{"bad published and compare", "models:\n  - name: a\n    path: m\ntasks:\n  - name: t\n    task: x\n    dataset: {}\n    published: {a: {acc1: high}}\ncompare: {tolerance: -1, metrics: [acc1]}\n", []string{
			"exp.yaml:8:27: published a: acc1 must be a non-negative number (percentage points), is str \"high\"",
			"exp.yaml:9:22: compare tolerance must be a non-negative number (percentage points), is int \"-1\"",
			"exp.yaml:9:35: compare metrics must be a mapping of names to numbers, is a list"}},
		{"invalid yaml", "models: [\n", []string{"exp.yaml:1:9: invalid YAML: did not find expected node content"}},
		{"empty", "", []string{"exp.yaml:1:1: config is empty: want a mapping with models:, tasks: and output:"}},
		// found by FuzzLoad: the empty document's node sits on line 2 of this one-line file
		{"empty document", "---", []string{"exp.yaml:1:1: config is empty: want a mapping with models:, tasks: and output:"}},
		{"comment only", "# nothing yet\n", []string{"exp.yaml:1:1: config is empty: want a mapping with models:, tasks: and output:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertLoadProblems(t, tc.body, tc.want)
		})
	}
}

// assertLoadProblems loads body as dir/exp.yaml and checks that Load reports exactly want, in order (each written
// relative to dir, "{dir}" standing for it).
func assertLoadProblems(t *testing.T, body string, want []string) {
	t.Helper()
	p := setup(t, body)
	_, err := Load(p, env(nil))
	var ps Problems
	require.ErrorAs(t, err, &ps)
	var got []string
	for _, pr := range ps {
		got = append(got, pr.Error())
	}
	full := make([]string, len(want))
	for i, w := range want {
		w = strings.ReplaceAll(w, "{dir}", filepath.Dir(p))
		full[i] = filepath.Dir(p) + "/" + w
	}
	assert.Equal(t, full, got)
}

func TestYAMLSyntaxErrorPositions(t *testing.T) {
	const indent = " (check the indentation of this line and the one before)"
	tests := []struct {
		name, body string
		want       string
	}{
		{"sequence item key indented too little", "models:\n  - name: a\n   path: m\n",
			"exp.yaml:3:4: invalid YAML: did not find expected '-' indicator" + indent},
		{"key back at the sequence's indentation", "models:\n  - name: a\n    path: m\n  bad: 1\n",
			"exp.yaml:4:3: invalid YAML: did not find expected '-' indicator" + indent},
		{"mapping key indented too little", "tasks:\n  - name: t\n    dataset:\n      format: jsonl\n     manifest: x\n",
			"exp.yaml:5:6: invalid YAML: did not find expected key" + indent},
		{"key indented too much", "output:\n  dir: out\n   plots: [svg]\n",
			"exp.yaml:3:9: invalid YAML: mapping values are not allowed in this context (quote a value that holds \": \", or fix the indentation)"},
		{"sequence item after a mapping", "models: 1\n- b\n",
			"exp.yaml:2:1: invalid YAML: did not find expected key" + indent},
		{"dash without a space", "a:\n  - 1\n  -2\n - 3\n",
			"exp.yaml:3:3: invalid YAML: could not find expected ':'" + indent},
		{"unclosed double quote", "models:\n  - name: \"a\n    path: m\n",
			"exp.yaml:2:11: invalid YAML: found unexpected end of stream (the quoted string that starts here is not closed)"},
		{"unclosed single quote after a closed one", "a: 'it''s'\nb: 'x\nc: 1\n",
			"exp.yaml:2:4: invalid YAML: found unexpected end of stream (the quoted string that starts here is not closed)"},
		{"text after a quoted value", "a: 'x' 'y'\n",
			"exp.yaml:1:8: invalid YAML: did not find expected key"},
		{"unclosed flow sequence", "models: [a, b\ntasks: 1\n",
			"exp.yaml:1:9: invalid YAML: did not find expected ',' or ']' (the [ here is not closed)"},
		{"unclosed flow sequence after a closed one", "a: [1, 2]\nb: [3\nc: 1\n",
			"exp.yaml:2:4: invalid YAML: did not find expected ',' or ']' (the [ here is not closed)"},
		{"flow sequence left open over lines", "a: [\n  1,\n  2,\n\nb: 3\n",
			"exp.yaml:1:4: invalid YAML: did not find expected ',' or ']' (the [ here is not closed)"},
		{"brackets in comments and quotes do not count", "# [x\na: [1, \"]\", 2\nb: 1\n",
			"exp.yaml:2:4: invalid YAML: did not find expected ',' or ']' (the [ here is not closed)"},
		{"unclosed flow mapping", "models:\n  - {name: a, path: m\ntasks: 1\n",
			"exp.yaml:2:5: invalid YAML: did not find expected ',' or '}' (the { here is not closed)"},
		{"sequence closed by }", "m:\n  - options: {a: 1, b: [2, 3}\n",
			"exp.yaml:2:24: invalid YAML: did not find expected ',' or ']' (the [ here is not closed)"},
		{"stray ]", "a: [1, 2]]\n",
			"exp.yaml:1:10: invalid YAML: did not find expected key"},
		{"tab indentation", "models:\n\t- name: a\n",
			"exp.yaml:2:1: invalid YAML: found character that cannot start any token (a tab: YAML indents with spaces only)"},
		{"reserved character on the first line", "a: @x\n",
			"exp.yaml:1:4: invalid YAML: found character that cannot start any token (@ and ` cannot start a plain value: quote it)"},
		{"colon in a plain value", "models:\n  - name: a: b\n",
			"exp.yaml:2:12: invalid YAML: mapping values are not allowed in this context (quote a value that holds \": \", or fix the indentation)"},
		{"unknown escape", "a: \"bad \\q\"\n",
			"exp.yaml:1:9: invalid YAML: found unknown escape character"},
		{"unknown anchor", "a: &x 1\nb: [*x, *y]\n",
			"exp.yaml:2:9: invalid YAML: unknown anchor 'y' referenced"},
		{"columns count characters", "name: \"émoji ✓\" x\n",
			"exp.yaml:1:17: invalid YAML: did not find expected key"},
		{"CRLF line ends", "a: 1\r\nb: [\r\n",
			"exp.yaml:2:4: invalid YAML: did not find expected node content"},
		{"duplicate directive", "%YAML 1.1\n%YAML 1.1\n---\na: 1\n",
			"exp.yaml:2:1: invalid YAML: found duplicate %YAML directive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertLoadProblems(t, tc.body, []string{tc.want})
		})
	}
}

func TestDuplicateKeys(t *testing.T) {
	body := "models:\n  - name: a\n    path: m\n    name: b\n    options: {x: 1, x: 2}\ntasks:\n  - name: t\n    task: x\n    dataset: {format: a, format: b}\nmodels: []\n"
	assertLoadProblems(t, body, []string{
		"exp.yaml:4:5: key \"name\" appears twice in this mapping (first at line 2, column 5); keep one",
		"exp.yaml:5:21: key \"x\" appears twice in this mapping (first at line 5, column 15); keep one",
		"exp.yaml:9:26: key \"format\" appears twice in this mapping (first at line 9, column 15); keep one",
		"exp.yaml:10:1: key \"models\" appears twice in this mapping (first at line 1, column 1); keep one",
	})
}

func TestLoadReturnsWhatItCouldParse(t *testing.T) {
	body := "models:\n  - name: a\n    path: nowhere\ntasks:\n  - name: t\n    task: x\n    dataset: {manifest: data.jsonl, colour: red}\n  - name: u\n    dataset: {}\n"
	p := setup(t, body)
	c, err := Load(p, env(nil))
	var ps Problems
	require.ErrorAs(t, err, &ps)
	require.NotNil(t, c)
	dir := filepath.Dir(p)
	c.Models[0].keys = nil
	assert.Equal(t, []Model{{Name: "a", Backend: "onnx", Path: filepath.Join(dir, "nowhere"), Options: map[string]string{}, BatchSize: DefaultBatchSize, Pos: Pos{p, 2, 5}}}, c.Models)
	require.Len(t, c.Tasks, 1, "task u names no plugin")
	assert.Equal(t, "t", c.Tasks[0].Name)

	_, _, err = c.CheckTask(c.Tasks[0], &sdk.PluginInfo{DatasetFields: []sdk.Field{{Name: "manifest", Type: sdk.FieldPath}}})
	var taskProblems Problems
	require.ErrorAs(t, err, &taskProblems)
	assert.Equal(t, p+`:3:11: `+dir+`/nowhere does not exist
`+p+`:7:37: unknown key "colour" in task "t" dataset (known: manifest)
`+p+`:8:5: task "u" has no task:`, append(ps, taskProblems...).Sorted().Error())
}

func TestProblemsSorted(t *testing.T) {
	ps := Problems{{Pos{"b.yaml", 1, 1}, "b"}, {Pos{"a.yaml", 3, 2}, "first at 3:2"}, {Pos{"a.yaml", 3, 1}, "c"}, {Pos{"a.yaml", 10, 1}, "d"}, {Pos{"a.yaml", 3, 2}, "second at 3:2"}}
	assert.Equal(t, Problems{{Pos{"a.yaml", 3, 1}, "c"}, {Pos{"a.yaml", 3, 2}, "first at 3:2"}, {Pos{"a.yaml", 3, 2}, "second at 3:2"}, {Pos{"a.yaml", 10, 1}, "d"}, {Pos{"b.yaml", 1, 1}, "b"}}, ps.Sorted())
	assert.Equal(t, Pos{"b.yaml", 1, 1}, ps[0].Pos, "Sorted leaves its receiver alone")
}

func TestRangeChecks(t *testing.T) {
	bound := sdk.Bound
	fields := []sdk.Field{
		{Name: "k", Type: sdk.FieldInt, Min: bound(1)},
		{Name: "seeds", Type: sdk.FieldInt, Min: bound(1), Max: bound(100)},
		{Name: "ratio", Type: sdk.FieldFloat, Min: bound(0), Max: bound(1)},
		{Name: "scale", Type: sdk.FieldFloat, Max: bound(1e3)},
		{Name: "name", Type: sdk.FieldString, Min: bound(1)},
	}
	tests := []struct {
		options  string
		want     string // problems, or "" and wantJSON
		wantJSON string
	}{
		{"{k: 1, seeds: 100, ratio: 0, scale: -5, name: x}", "", `{"k": 1, "seeds": 100, "ratio": 0, "scale": -5, "name": "x"}`},
		{"{seeds: 1, ratio: 1.0, scale: 1000}", "", `{"seeds": 1, "ratio": 1, "scale": 1000}`},
		{"{k: 0}", ":7:18: k must be at least 1, is 0", ""},
		{"{k: -3, seeds: 101}", ":7:18: k must be at least 1, is -3\n{p}:7:29: seeds must be between 1 and 100, is 101", ""},
		{"{seeds: 0}", ":7:22: seeds must be between 1 and 100, is 0", ""},
		{"{ratio: 1.5}", ":7:22: ratio must be between 0 and 1, is 1.5", ""},
		{"{ratio: -0.01}", ":7:22: ratio must be between 0 and 1, is -0.01", ""},
		{"{scale: 1e4}", ":7:22: scale must be at most 1000, is 1e4", ""},
		{"{k: 0x10, seeds: 0x65}", ":7:31: seeds must be between 1 and 100, is 0x65", ""},
	}
	for _, tc := range tests {
		t.Run(tc.options, func(t *testing.T) {
			p := setup(t, "models:\n  - name: a\n    path: m\ntasks:\n  - name: t\n    task: x\n    options: "+tc.options+"\n    dataset: {}\n")
			c, err := Load(p, env(nil))
			require.NoError(t, err)
			_, opts, err := c.CheckTask(c.Tasks[0], &sdk.PluginInfo{OptionFields: fields})
			if tc.want == "" {
				require.NoError(t, err)
				assert.JSONEq(t, tc.wantJSON, string(opts))
				return
			}
			assert.EqualError(t, err, p+strings.ReplaceAll(tc.want, "{p}", p))
		})
	}
}

func TestCheckTaskProblems(t *testing.T) {
	body := `models:
  - name: a
    path: m
tasks:
  - name: t
    task: x
    dataset:
      format: csv
      manifest: missing.jsonl
      colour: red
    options:
      k: "five"
      ratio: yes
      classes: {a: b}
      templates: [a, [b]]
      scale: 1.5e0
`
	p := setup(t, body)
	c, err := Load(p, env(nil))
	require.NoError(t, err)
	info := &sdk.PluginInfo{
		DatasetFields: []sdk.Field{{Name: "format", Type: sdk.FieldString, Choices: []string{"jsonl", "vqa-rad"}}, {Name: "manifest", Type: sdk.FieldPath}, {Name: "root", Type: sdk.FieldPath, Required: true, Help: "dataset folder"}},
		OptionFields:  []sdk.Field{{Name: "k", Type: sdk.FieldInt}, {Name: "ratio", Type: sdk.FieldFloat}, {Name: "classes", Type: sdk.FieldStringList}, {Name: "templates", Type: sdk.FieldStringList}, {Name: "scale", Type: sdk.FieldFloat}},
	}
	_, _, err = c.CheckTask(c.Tasks[0], info)
	var ps Problems
	require.ErrorAs(t, err, &ps)
	dir := filepath.Dir(p)
	assert.Equal(t, p+`:8:7: task "t" dataset: missing root (dataset folder)
`+p+`:8:15: format "csv": want one of jsonl, vqa-rad
`+p+`:9:17: `+dir+`/missing.jsonl does not exist
`+p+`:10:7: unknown key "colour" in task "t" dataset (known: format, manifest, root)
`+p+`:12:10: k must be an integer, is str "five"
`+p+`:13:14: ratio must be a number, is str "yes"
`+p+`:14:16: classes must be a list of strings, is a mapping
`+p+`:15:22: templates: each entry must be a string, is a list`, ps.Error())
}

func TestCacheSection(t *testing.T) {
	tests := []struct {
		name, cache string
		want        Cache
		problem     string
	}{
		{"default", "", Cache{}, ""},
		{"relative dir", "cache: {dir: store}\n", Cache{Dir: "store"}, ""},
		{"disabled", "cache: {enabled: false}\n", Cache{Disabled: true}, ""},
		{"bad enabled", "cache: {enabled: maybe}\n", Cache{}, `:8:18: cache enabled must be true or false, is str "maybe"`},
		{"unknown key", "cache: {path: x}\n", Cache{}, `:8:9: unknown key "path" in cache (known: dir, enabled)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := setup(t, "models:\n  - name: a\n    path: m\ntasks:\n  - name: t\n    task: x\n    dataset: {}\n"+tc.cache)
			c, err := Load(p, env(nil))
			if tc.problem != "" {
				assert.EqualError(t, err, p+tc.problem)
				return
			}
			require.NoError(t, err)
			want := tc.want
			if want.Dir != "" {
				want.Dir = filepath.Join(filepath.Dir(p), want.Dir)
			}
			assert.Equal(t, want, c.Cache)
		})
	}
}

func TestPluginsSection(t *testing.T) {
	tests := []struct {
		name, plugins string
		want          Plugins
		problem       string
	}{
		{"default", "", Plugins{}, ""},
		{"names", "plugins: {env: [HF_TOKEN, _X1]}\n", Plugins{Env: []string{"HF_TOKEN", "_X1"}}, ""},
		{"expanded", "plugins: {env: [\"${WHICH:-TOKEN}\"]}\n", Plugins{Env: []string{"TOKEN"}}, ""},
		{"empty list", "plugins: {env: []}\n", Plugins{}, ""},
		{"not a list", "plugins: {env: HF_TOKEN}\n", Plugins{},
			`:8:16: plugins env must be a list of environment variable names (e.g. [HF_TOKEN]), is str "HF_TOKEN"`},
		{"a value", "plugins: {env: [\"A=1\"]}\n", Plugins{},
			`:8:17: plugins env: "A=1" is not an environment variable name (letters, digits and _, not starting with a digit; no =VALUE: the value comes from the environment)`},
		{"digit first", "plugins: {env: [\"1A\"]}\n", Plugins{}, `:8:17: plugins env: "1A" is not an environment variable name`},
		{"empty name", "plugins: {env: [\"\"]}\n", Plugins{}, `:8:17: a plugins env entry must be a non-empty string, is str ""`},
		{"handshake variable", "plugins: {env: [PLUGIN_MIN_PORT]}\n", Plugins{},
			":8:17: plugins env: PLUGIN_MIN_PORT is set by the plugin host for the go-plugin handshake; it cannot be passed"},
		{"twice", "plugins: {env: [A, A]}\n", Plugins{}, ":8:20: plugins env: A is named twice"},
		{"unknown key", "plugins: {vars: [A]}\n", Plugins{}, `:8:11: unknown key "vars" in plugins (known: env)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := setup(t, "models:\n  - name: a\n    path: m\ntasks:\n  - name: t\n    task: x\n    dataset: {}\n"+tc.plugins)
			c, err := Load(p, env(nil))
			if tc.problem != "" {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), p+tc.problem), err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.Plugins)
		})
	}
}

// TestLoadRefusesAHugeFile: a config over MaxBytes (a wrong path: a data file, a disk image) is refused before it
// is read, saying what to check.
func TestLoadRefusesAHugeFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(p, make([]byte, MaxBytes+1), 0o644))
	_, err := Load(p, func(string) (string, bool) { return "", false })
	assert.EqualError(t, err, "reading config: "+p+" is 16777217 bytes, more than the 16777216 clipeval reads from such a file: file too large (a config is a YAML file of a few kilobytes: check the path)")
}

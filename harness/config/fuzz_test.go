package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// fuzzSchema is a task plugin's declared fields, one of each type, for typing fuzzed `dataset:` and `options:`.
func fuzzSchema() *sdk.PluginInfo {
	return &sdk.PluginInfo{
		DatasetFields: []sdk.Field{
			{Name: "format", Type: sdk.FieldString, Choices: []string{"jsonl", "csv"}},
			{Name: "manifest", Type: sdk.FieldPath, Required: true},
			{Name: "classes", Type: sdk.FieldStringList},
			{Name: "columns", Type: sdk.FieldStringMap},
		},
		OptionFields: []sdk.Field{
			{Name: "max_k", Type: sdk.FieldInt, Min: sdk.Bound(1), Max: sdk.Bound(100)},
			{Name: "scale", Type: sdk.FieldFloat, Min: sdk.Bound(0)},
			{Name: "strict", Type: sdk.FieldBool},
		},
	}
}

// FuzzLoad loads fuzzed config files beside a model folder "m" and a manifest "data.jsonl". Whatever the bytes,
// Load returns either a config whose every field holds what the parser promises, or Problems placed inside the
// file, sorted; loading the same file again gives the same result, and typing its tasks and models against a
// schema gives JSON objects of the declared fields or Problems, never a panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("models: [{name: a, path: m}]\ntasks: [{name: t, task: x, dataset: {manifest: data.jsonl, classes: [a, b]}, options: {max_k: 5, scale: 1.5, strict: true}}]\n"))
	f.Add([]byte("models:\n  - name: a\n    path: m\n    batch_size: -1\n  - name: a\n    path: nope\ntasks: []\n"))
	f.Add([]byte("models: &x [{name: a, path: m}]\ntasks: *x\ncache: {dir: c, enabled: false}\ncompare: {units: {rank: 1, bad: 2}}\n"))
	f.Add([]byte("models:\n\t- name: a\n"))
	f.Add([]byte("a: [1, 2\nb: \"open\n"))
	f.Add([]byte("models: [{name: ${NAME:-a}, path: ${UNSET}}]\n"))
	f.Add([]byte("%YAML 1.1\n---\nmodels: {}\n...\n---\ntasks: 1\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(dir, "m"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "data.jsonl"), []byte("{}\n"), 0o644))
		path := filepath.Join(dir, "exp.yaml")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		getenv := env(map[string]string{"NAME": "n", "MODELS": "."})

		c, err := Load(path, getenv)
		again, err2 := Load(path, getenv)
		assert.Equal(t, c, again, "loading the same file twice")
		assert.Equal(t, err, err2, "loading the same file twice")
		if err != nil {
			var ps Problems
			require.True(t, errors.As(err, &ps), "a config's problems come as Problems, got %T: %v", err, err)
			require.NotEmpty(t, ps)
			assert.Equal(t, ps.Sorted(), ps, "problems are sorted by position")
			lines := yamlLines(data)
			for _, p := range ps {
				assert.Equal(t, path, p.Pos.File, "problem %q", p.Msg)
				assert.True(t, p.Pos.Line >= 1 && p.Pos.Line <= lines && p.Pos.Col >= 1, "problem %q at %d:%d is outside the file's %d lines", p.Msg, p.Pos.Line, p.Pos.Col, lines)
				assert.NotEmpty(t, p.Msg)
			}
			if c == nil {
				return
			}
		} else {
			require.NotNil(t, c)
			checkLoaded(t, c, dir)
		}
		info := fuzzSchema()
		for _, task := range c.Tasks {
			dataset, options, err := c.CheckTask(task, info)
			if err != nil {
				var ps Problems
				require.True(t, errors.As(err, &ps), "CheckTask's problems come as Problems, got %T", err)
				continue
			}
			if task.Dataset == nil {
				assert.Nil(t, dataset, "a task without dataset: (which Load reports) has only its options typed")
			} else {
				checkTyped(t, dataset, info.DatasetFields)
			}
			checkTyped(t, options, info.OptionFields)
		}
		for _, m := range c.Models {
			if err := c.CheckModel(m, &sdk.PluginInfo{OptionFields: info.OptionFields}); err != nil {
				var ps Problems
				require.True(t, errors.As(err, &ps), "CheckModel's problems come as Problems, got %T", err)
			}
		}
	})
}

// yamlLines counts the lines of data as the YAML library numbers them: CR LF, CR, LF, NEL, LS and PS each end
// one.
func yamlLines(data []byte) int {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	return 1 + strings.Count(s, "\n") + strings.Count(s, "\r") + strings.Count(s, "\u0085") + strings.Count(s, "\u2028") + strings.Count(s, "\u2029")
}

// checkLoaded asserts what Load promises of a config it returns without problems.
func checkLoaded(t *testing.T, c *Config, dir string) {
	require.NotEmpty(t, c.Models, "a valid config has models")
	require.NotEmpty(t, c.Tasks, "a valid config has tasks")
	names := map[string]bool{}
	for _, m := range c.Models {
		assert.NotEmpty(t, m.Name)
		assert.False(t, names[m.Name], "model name %q twice", m.Name)
		names[m.Name] = true
		assert.NotEmpty(t, m.Backend)
		assert.Positive(t, m.BatchSize)
		assert.True(t, filepath.IsAbs(m.Path), "model path %q is absolute", m.Path)
		st, err := os.Stat(m.Path)
		if assert.NoError(t, err) {
			assert.True(t, st.IsDir(), "model path %q is a folder", m.Path)
		}
	}
	names = map[string]bool{}
	for _, task := range c.Tasks {
		assert.NotEmpty(t, task.Name)
		assert.False(t, names[task.Name], "task name %q twice", task.Name)
		names[task.Name] = true
		assert.NotEmpty(t, task.Plugin)
		assert.NotNil(t, task.Dataset)
	}
	assert.True(t, filepath.IsAbs(c.Output.Dir), "output dir %q is absolute", c.Output.Dir)
	for _, p := range c.Output.Plots {
		assert.Contains(t, []string{"png", "svg"}, p)
	}
	assert.True(t, c.Tolerance.Default >= 0, "tolerance %v", c.Tolerance.Default)
	for u, v := range c.Tolerance.Units {
		assert.Contains(t, []string{"rank", "count", "value"}, u)
		assert.True(t, v >= 0, "unit tolerance %v", v)
	}
	assert.True(t, c.Cache.Dir == "" || filepath.IsAbs(c.Cache.Dir), "cache dir %q", c.Cache.Dir)
	assert.Equal(t, dir, c.Dir)
}

// checkTyped asserts that CheckTask's JSON is an object holding only declared fields, each of its type.
func checkTyped(t *testing.T, raw json.RawMessage, fields []sdk.Field) {
	var obj map[string]any
	require.NoError(t, json.Unmarshal(raw, &obj), "typed JSON %s", raw)
	for k, v := range obj {
		i := slices.IndexFunc(fields, func(f sdk.Field) bool { return f.Name == k })
		require.GreaterOrEqual(t, i, 0, "undeclared field %q", k)
		f := fields[i]
		switch f.Type {
		case sdk.FieldString, sdk.FieldPath:
			s, ok := v.(string)
			assert.True(t, ok && s != "", "%s: %v", k, v)
			if len(f.Choices) > 0 {
				assert.Contains(t, f.Choices, s)
			}
			if f.Type == sdk.FieldPath {
				assert.True(t, filepath.IsAbs(s), "path %q", s)
			}
		case sdk.FieldInt, sdk.FieldFloat:
			x, ok := v.(float64)
			assert.True(t, ok, "%s: %v", k, v)
			if f.Min != nil {
				assert.GreaterOrEqual(t, x, *f.Min)
			}
			if f.Max != nil {
				assert.LessOrEqual(t, x, *f.Max)
			}
		case sdk.FieldBool:
			_, ok := v.(bool)
			assert.True(t, ok, "%s: %v", k, v)
		case sdk.FieldStringList:
			_, ok := v.([]any)
			assert.True(t, ok, "%s: %v", k, v)
		case sdk.FieldStringMap:
			_, ok := v.(map[string]any)
			assert.True(t, ok, "%s: %v", k, v)
		}
	}
	for _, f := range fields {
		if f.Required {
			assert.Contains(t, obj, f.Name, "required field")
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/harness/run"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/internal/plugintest"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// binDir holds the plugins (binDir/plugins) and the CLI TestMain builds.
var binDir string

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m, &binDir)) }

// cli runs clipeval in-process with the test's plugins and returns exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("CLIPEVAL_PLUGIN_DIR", filepath.Join(binDir, "plugins"))
	t.Setenv(sharedtest.ORTEnvVar, sharedtest.ORTLib(t))
	if os.Getenv("CLIPEVAL_CACHE_DIR") == "" { // the test's own embedding store, unless the test chose one
		t.Setenv("CLIPEVAL_CACHE_DIR", t.TempDir())
	}
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Commands:"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"run without config", []string{"run"}, "run takes one CONFIG file, got 0 arguments"},
		{"missing config", []string{"validate", "nope.yaml"}, "reading config: open nope.yaml: no such file or directory"},
		{"bad flag", []string{"run", "x.yaml", "--colour"}, "flag provided but not defined: -colour"},
		{"no attempts", []string{"run", "x.yaml", "--attempts", "0"}, "clipeval: --attempts 0: want at least 1\n"},
		{"no call time", []string{"run", "x.yaml", "--call-timeout", "0s"}, "clipeval: --call-timeout 0s: want a positive duration (e.g. 10m)\n"},
		{"negative per-item time", []string{"run", "x.yaml", "--call-timeout-per-item", "-1s"}, "clipeval: --call-timeout-per-item -1s: want a duration of 0 or more (e.g. 2s)\n"},
		{"no heartbeat", []string{"run", "x.yaml", "--heartbeat", "0s"}, "clipeval: --heartbeat 0s: want a positive duration (e.g. 10s)\n"},
		{"no stop time", []string{"run", "x.yaml", "--stop-timeout", "0s"}, "clipeval: --stop-timeout 0s: want a positive duration (e.g. 5s)\n"},
		{"embed without model", []string{"embed", "--texts", "x.json", "--out", "y.npy"}, "--model DIR is required"},
		{"embed both inputs", []string{"embed", "--model", ".", "--texts", "x.json", "--images", "a.png", "--out", "y.npy"}, "give either --images FILE... or --texts FILE.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, tc.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

// TestConfigProblemsInOnePass checks that validate and run report the config's own problems and those of the task
// schemas together, sorted by position.
// TestUnusableStoreExits2: an embedding store folder that cannot be opened is bad input, named, with what to do.
func TestUnusableStoreExits2(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	t.Setenv("CLIPEVAL_DEMO", demo)
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, []byte("x"), 0o644))
	code, _, errOut := cli(t, "run", filepath.Join(sharedtest.RepoRoot(), "configs", "demo.yaml"), "--out", t.TempDir(), "--cache-dir", notDir, "--quiet")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "opening the embedding store in "+notDir+" (choose another with --cache-dir, or run with --no-cache)")
}

func TestConfigProblemsInOnePass(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "m"), 0o755))
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`models:
  - name: a
    path: m
    colour: red
tasks:
  - name: t
    task: classification
    dataset:
      format: jsonl
      manifest: nowhere.jsonl
    options:
      templates: "a photo of {}"
      temperature: 2
  - name: u
    task: nosuch
    dataset: {}
  - name: v
    dataset: {}
`), 0o644))
	all := []string{
		bad + `:4:5: unknown key "colour" in a model (known: name, backend, path, options, batch_size)`,
		bad + ":10:17: " + filepath.Join(dir, "nowhere.jsonl") + " does not exist",
		bad + ":12:18: templates must be a list of strings, is str \"a photo of {}\"",
		bad + `:13:7: unknown key "temperature" in task "t" options (known: templates, classes, positive_class, mode, train_manifest, val_manifest, train_fractions, l2_grid, seeds, bootstrap, seed)`,
		bad + `:14:5: task "u": plugin "nosuch" not found in ` + filepath.Join(binDir, "plugins") + " (no such file or directory): build the plugins with `make build`, or set CLIPEVAL_PLUGIN_DIR; `clipeval plugins` lists those found",
		bad + `:17:5: task "v" has no task:`,
		"clipeval: 6 problem(s) in the config",
	}
	notYAML := filepath.Join(dir, "notyaml.yaml")
	require.NoError(t, os.WriteFile(notYAML, []byte("models:\n  - name: a\n   path: m\n"), 0o644))
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"validate", []string{"validate", bad}, all},
		{"run", []string{"run", bad, "--out", filepath.Join(dir, "out")}, all},
		{"validate: not YAML", []string{"validate", notYAML}, []string{
			notYAML + ":3:4: invalid YAML: did not find expected '-' indicator (check the indentation of this line and the one before)",
			"clipeval: 1 problem(s) in the config",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, tc.args...)
			assert.Equal(t, 2, code)
			assert.Equal(t, "", out)
			assert.Equal(t, tc.want, strings.Split(strings.TrimSpace(errOut), "\n"))
		})
	}
}

func TestValidateShippedConfigs(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	t.Setenv("CLIPEVAL_DEMO", demo)
	t.Setenv(sharedtest.EnvVar, sharedtest.Dir(t))
	for _, name := range []string{"demo.yaml", "vqa-rad-tiny.yaml"} {
		code, out, errOut := cli(t, "validate", filepath.Join(sharedtest.RepoRoot(), "configs", name))
		assert.Equal(t, 0, code, errOut)
		assert.Contains(t, out, ": ok (")
	}
}

func TestPluginsLists(t *testing.T) {
	code, out, errOut := cli(t, "plugins")
	require.Equal(t, 0, code, errOut)
	for _, line := range []string{"classification   task   protocol 2  dev", "onnx             model  protocol 2  dev", "kserve           model  protocol 2  dev", "pyalign          task   protocol 2  v0.1.0",
		"retrieval        task   protocol 2  dev", "vqa              task   protocol 2  dev"} {
		assert.Contains(t, out, line)
	}
}

func TestPluginsCheck(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	dataset := filepath.Join(t.TempDir(), "retrieval.json")
	require.NoError(t, os.WriteFile(dataset, []byte(`{"dataset": {"format": "jsonl", "manifest": "`+filepath.Join(demo, "data", "retrieval.jsonl")+`"}}`), 0o644))
	plugins := filepath.Join(binDir, "plugins")
	notPlugin := filepath.Join(t.TempDir(), "hello")
	require.NoError(t, os.WriteFile(notPlugin, []byte("#!/bin/sh\necho hello\n"), 0o755))
	require.NoError(t, pluginsums.Write(filepath.Dir(notPlugin), "hello"))
	unlisted := filepath.Join(t.TempDir(), "unlisted")
	require.NoError(t, os.WriteFile(unlisted, []byte("#!/bin/sh\ntouch "+unlisted+".ran\n"), 0o755))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"task with data", []string{"plugins", "--check", "--dataset", dataset, filepath.Join(plugins, "retrieval")}, 0, `\nscore +PASS `},
		{"backend with a model", []string{"plugins", "--check", "--model", filepath.Join(demo, demogen.ModelDir), filepath.Join(plugins, "onnx")}, 0, `\nencode-images +PASS `},
		{"python plugin", []string{"plugins", "--check", filepath.Join(plugins, "pyalign")}, 0, `plugin pyalign v0\.1\.0 \(task\)`},
		{"not a plugin", []string{"plugins", "--check", notPlugin}, 1, `\nhandshake +FAIL `},
		{"nothing to check", []string{"plugins", "--check"}, 2, ""},
		{"only the checksum list", []string{"plugins", "--check", filepath.Join(plugins, pluginsums.File)}, 2, ""},
		{"not verified", []string{"plugins", "--check", unlisted}, 2, ""},
		{"arguments without --check", []string{"plugins", "x"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, tc.args...)
			assert.Equal(t, tc.code, code, errOut)
			assert.Regexp(t, tc.want, out)
		})
	}
	_, err = os.Stat(unlisted + ".ran")
	assert.ErrorIs(t, err, os.ErrNotExist, "plugins --check ran a plugin missing from the checksum list")
}

// TestPluginsListsOnlyVerified checks that `clipeval plugins` starts only the files the folder's checksum list
// names with their checksum and lists the others as not run, that --write-sums records a plugin so that it is
// run, and that CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS=1 starts unlisted files.
func TestPluginsListsOnlyVerified(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, plugintest.BuildTestPlugins(dir, "harness/conformance/testdata/goodtask"))
	stray := filepath.Join(dir, "stray")
	require.NoError(t, os.WriteFile(stray, []byte("#!/bin/sh\ntouch "+stray+".ran\nexit 3\n"), 0o755))
	ran := func() bool { _, err := os.Stat(stray + ".ran"); return err == nil }
	header := "plugins in " + dir + " (this clipeval speaks protocol 2; checksums in SHA256SUMS):\n"
	good := "  goodtask         task   protocol 2  v0.0.1     a task that keeps the contract\n"

	code, out, errOut := cli(t, "plugins", "--plugin-dir", dir)
	assert.Equal(t, 1, code)
	assert.Equal(t, header+good+"  stray            not verified, not run (not in SHA256SUMS)\n", out)
	assert.Equal(t, "clipeval: 1 file(s) are not in "+filepath.Join(dir, "SHA256SUMS")+" and were not run: build the plugins with `make build`, "+
		"record a plugin you trust with `clipeval plugins --write-sums PATH`, or set CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS=1 to start unverified plugins (development only)\n", errOut)
	assert.False(t, ran(), "the unlisted file was run")

	t.Setenv("CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS", "1")
	code, out, _ = cli(t, "plugins", "--plugin-dir", dir)
	assert.Equal(t, 1, code)
	assert.True(t, strings.HasPrefix(out, header+good+`  stray            ERROR starting plugin "stray" (`+stray+"): "), out)
	assert.True(t, ran(), "CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS=1 starts an unlisted file")

	t.Setenv("CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS", "maybe")
	code, _, errOut = cli(t, "plugins", "--plugin-dir", dir)
	assert.Equal(t, 2, code)
	assert.Equal(t, `clipeval: CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS="maybe": want 1 (start plugins missing from the checksum list, for development) or 0`+"\n", errOut)

	t.Setenv("CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS", "")
	bare := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bare, "lone"), []byte("#!/bin/sh\nexit 3\n"), 0o755))
	code, out, _ = cli(t, "plugins", "--plugin-dir", bare)
	assert.Equal(t, 1, code)
	assert.Equal(t, "plugins in "+bare+" (this clipeval speaks protocol 2; checksums in SHA256SUMS):\n"+
		"  lone             not verified, not run (the folder has no SHA256SUMS)\n", out)

	code, out, errOut = cli(t, "plugins", "--write-sums", stray)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, filepath.Join(dir, "SHA256SUMS")+": recorded 1 plugin(s)\n", out)
	sums, err := pluginsums.Read(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"goodtask", "stray"}, slices.Sorted(maps.Keys(sums)))
	code, _, _ = cli(t, "plugins", "--write-sums", filepath.Join(dir, "SHA256SUMS"))
	assert.Equal(t, 2, code)
}

// TestConfigNamesPluginEnv checks that the variables a config's `plugins: env:` names reach the plugins, and that
// other variables of the harness's environment do not.
func TestConfigNamesPluginEnv(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, plugintest.BuildTestPlugins(filepath.Join(dir, "plugins"), "harness/pluginhost/testdata/envtask"))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "m"), 0o755))
	cfg := filepath.Join(dir, "exp.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("models:\n  - {name: a, path: m}\ntasks:\n  - {name: t, task: envtask, dataset: {}}\nplugins:\n  env: [MY_TOKEN]\n"), 0o644))
	t.Setenv("MY_TOKEN", "named")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
	host, err := newHost(filepath.Join(dir, "plugins"), nil)
	require.NoError(t, err)
	defer host.Close()
	_, err = loadConfig(context.Background(), &run.Runner{Host: host}, []string{cfg}, "run")
	require.NoError(t, err)
	task, err := host.Task("envtask")
	require.NoError(t, err)
	info, err := task.Describe(context.Background(), sdk.DescribeRequest{})
	require.NoError(t, err)
	env := strings.Split(info.Description, "\n")
	assert.Contains(t, env, "MY_TOKEN=named")
	assert.NotContains(t, info.Description, "AWS_SECRET_ACCESS_KEY")
}

func TestRunWritesResultsReportAndPlots(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	t.Setenv("CLIPEVAL_DEMO", demo)
	config := filepath.Join(sharedtest.RepoRoot(), "configs", "demo.yaml")
	out := t.TempDir()
	code, stdout, errOut := cli(t, "run", config, "--out", out)
	require.Equal(t, 0, code, errOut)
	// stderr is no terminal: plain progress lines, each stage's last with its final count.
	assert.True(t, strings.HasPrefix(errOut, "clipeval "+version+": 1 model(s) × 3 task(s) from "+config+" → "+out+"\n"+
		"task colour-retrieval: loading dataset\ntask colour-classification: loading dataset\ntask colour-vqa: loading dataset\n"), errOut)
	for _, task := range []string{"colour-retrieval", "colour-classification", "colour-vqa"} {
		for _, kind := range []string{"images", "texts"} {
			counts := regexp.MustCompile(`(?m)^demo-colour · `+task+`: `+kind+` (\d+)/(\d+)( \(.*\))?$`).FindAllStringSubmatch(errOut, -1)
			if assert.NotEmpty(t, counts, "%s %s in %s", task, kind, errOut) {
				last := counts[len(counts)-1]
				assert.Equal(t, last[2], last[1], "the last line of %s %s has the final count", task, kind)
			}
		}
		assert.Contains(t, errOut, "\ndemo-colour · "+task+": scoring\ndemo-colour · "+task+": done\n")
	}
	for _, f := range []string{"results.json", "report.md", "plots/colour-retrieval--image_retrieval_recall-k.png", "plots/colour-retrieval--image_retrieval_recall-k.svg", "plots/colour-classification--headline.png"} {
		assert.FileExists(t, filepath.Join(out, f))
		assert.Contains(t, stdout, filepath.Join(out, f))
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(report), "| demo-colour | 76.92 | 86.11 |")

	t.Run("--quiet", func(t *testing.T) {
		quietOut := t.TempDir()
		code, quietStdout, errOut := cli(t, "run", config, "--out", quietOut, "--quiet")
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "", errOut)
		assert.Equal(t, strings.ReplaceAll(stdout, out, quietOut), quietStdout, "the same file list")
	})
}

// referenceEmbeds returns reference.npz and reference.json's image paths resolved under shared.
func referenceImages(t *testing.T) (map[string]*npy.Array, []string) {
	ref, err := npy.ReadNPZ(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.npz"))
	require.NoError(t, err)
	raw, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.json"))
	require.NoError(t, err)
	var js struct {
		Images []string `json:"images"`
		Texts  []string `json:"texts"`
	}
	require.NoError(t, json.Unmarshal(raw, &js))
	shared := sharedtest.Dir(t)
	paths := make([]string, len(js.Images))
	for i, p := range js.Images {
		if rest, ok := strings.CutPrefix(p, "vqa-rad/"); ok {
			paths[i] = filepath.Join(shared, "data", "vqa-rad", rest)
		} else {
			paths[i] = filepath.Join(shared, "fixtures", "tiny-a", "reference", p)
		}
	}
	return ref, paths
}

func assertRowsClose(t *testing.T, want []float32, got *npy.Array, rows []int) {
	t.Helper()
	d := got.Shape[1]
	require.Equal(t, []int{len(rows), d}, got.Shape)
	for i, r := range rows {
		w := want[r*d : (r+1)*d]
		scale := 0.0
		for _, v := range w {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for c := 0; c < d; c++ {
			require.LessOrEqualf(t, math.Abs(float64(w[c]-got.Float32[i*d+c])), 1e-5*scale, "row %d col %d", r, c)
		}
	}
}

func TestEmbedFixtureImagesAndTexts(t *testing.T) {
	ref, paths := referenceImages(t)
	for _, model := range []string{"biomedclip", "clip"} {
		t.Run(model, func(t *testing.T) {
			dir := sharedtest.Path(t, "fixtures", "tiny-a", model)
			opts := []string{"--option", "logit_scale=50"}
			if model == "clip" {
				opts = append(opts, "--option", "bpe="+sharedtest.Path(t, "vocab", "bpe_simple_vocab_16e6.txt.gz"))
			}
			out := filepath.Join(t.TempDir(), "img.npy")
			args := append([]string{"embed", "--model", dir, "--out", out, "--batch-size", "5", "--images"}, paths...)
			code, _, errOut := cli(t, append(args, opts...)...)
			require.Equal(t, 0, code, errOut)
			n := strconv.Itoa(len(paths))
			assert.True(t, strings.HasPrefix(errOut, model+": images 0/"+n+"\n"), errOut)
			assert.Regexp(t, `\n`+model+`: images `+n+`/`+n+` \(.*/s, in .*\)\n$`, errOut)
			got, err := npy.ReadFile(out)
			require.NoError(t, err)
			all := make([]int, len(paths))
			for i := range all {
				all[i] = i
			}
			assertRowsClose(t, ref[model+"_image_embeds"].Float32, got, all)

			raw, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.json"))
			require.NoError(t, err)
			var js struct {
				Texts []string `json:"texts"`
			}
			require.NoError(t, json.Unmarshal(raw, &js))
			textsFile := filepath.Join(t.TempDir(), "texts.json")
			b, _ := json.Marshal(js.Texts)
			require.NoError(t, os.WriteFile(textsFile, b, 0o644))
			out = filepath.Join(t.TempDir(), "txt.npy")
			code, _, errOut = cli(t, append([]string{"embed", "--model", dir, "--texts", textsFile, "--out", out, "--quiet"}, opts...)...)
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, "", errOut, "--quiet")
			got, err = npy.ReadFile(out)
			require.NoError(t, err)
			rows := make([]int, len(js.Texts))
			for i := range rows {
				rows[i] = i
			}
			assertRowsClose(t, ref[model+"_text_embeds"].Float32, got, rows)
		})
	}
}

func TestRunWithAnUnreadableDatasetExits2(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "m"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data.jsonl"), []byte("{\"image\": \"a.png\", \"captions\": [\"x\"]}\nnot json\n"), 0o644))
	cfg := filepath.Join(dir, "exp.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("models:\n  - name: a\n    path: m\ntasks:\n  - name: t\n    task: retrieval\n    dataset: {format: jsonl, manifest: data.jsonl}\n"), 0o644))
	code, _, errOut := cli(t, "run", cfg, "--out", filepath.Join(dir, "out"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, cfg+`:5:5: task "t": loading the dataset: plugin "retrieval": Load: `+filepath.Join(dir, "data.jsonl")+`:1: image "a.png"`)
	assert.Contains(t, errOut, cfg+`:3:11: model "a": model folder `+filepath.Join(dir, "m")+`: open `, "the empty model folder, in the same pass")
	assert.NoFileExists(t, filepath.Join(dir, "out", "results.json"), "no model ran")
}

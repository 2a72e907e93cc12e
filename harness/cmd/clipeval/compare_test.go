package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/internal/junittest"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// invoke runs clipeval in-process without plugins (for commands that only read results files).
func invoke(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeResults writes results of model × task runs with the given metrics (names and values alternate, all of
// them headline metrics) to dir/name and returns the path.
func writeResults(t *testing.T, dir, name string, runs ...results.Run) string {
	p := filepath.Join(dir, name)
	require.NoError(t, results.Write(p, &results.Results{Schema: results.SchemaVersion, Runs: runs,
		Tolerance: results.Tolerance{Default: 0.5}}))
	return p
}

// okRun returns a successful run with headline metrics acc1 and mpcr.
func okRun(model, task string, acc1, mpcr float64) results.Run {
	fraction := results.Kind{Direction: sdk.HigherIsBetter, Unit: sdk.Fraction}
	return results.Run{Model: model, Task: task, Headline: []string{"acc1", "mpcr"},
		Metrics: map[string]results.Value{"acc1": results.Value(acc1), "mpcr": results.Value(mpcr)},
		Kinds:   map[string]results.Kind{"acc1": fraction, "mpcr": fraction}}
}

// junitCounts validates a JUnit file against the common schema and returns its tests and failures counts and its
// test case names as classname/name.
func junitCounts(t *testing.T, path string) (tests, failures int, cases []string) {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, junittest.Validate(b))
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(b, &doc))
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			cases = append(cases, c.Classname+"/"+c.Name)
		}
	}
	return doc.Tests, doc.Failures, cases
}

func TestCompareCommand(t *testing.T) {
	dir := t.TempDir()
	base := writeResults(t, dir, "base.json", okRun("m", "organ", 0.5, 0.6), okRun("m", "modality", 0.8, 0.7))
	same := writeResults(t, dir, "same.json", okRun("m", "organ", 0.5, 0.6), okRun("m", "modality", 0.8, 0.7))
	worse := writeResults(t, dir, "worse.json", okRun("m", "organ", 0.49, 0.6), okRun("m", "modality", 0.81, 0.7))
	noTask := writeResults(t, dir, "notask.json", okRun("m", "organ", 0.5, 0.6))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "v2.json"), []byte(`{"schema": 1, "runs": []}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.json"), []byte(`not json`), 0o644))

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   string
		tests    int
		failures int
	}{
		{"identical", []string{base, same}, 0, []string{"| m | organ | acc1 | 50.00 | 50.00 | +0.00 |  |  | 0.50 | PASS |",
			"compare: 4 passed, 0 failed, 0 skipped of 4 comparisons"}, "", 4, 0},
		{"regression", []string{base, worse}, 1, []string{"| m | organ | acc1 | 50.00 | 49.00 | -1.00 |  |  | 0.50 | **FAIL** |",
			"| m | modality | acc1 | 80.00 | 81.00 | +1.00 |  |  | 0.50 | PASS |", "compare: 3 passed, 1 failed, 0 skipped of 4 comparisons"},
			"clipeval: 1 of 4 comparisons with " + base + " failed: regression gate failed", 4, 1},
		{"wider tolerance", []string{base, worse, "--tolerance", "1.5"}, 0, []string{"| m | organ | acc1 | 50.00 | 49.00 | -1.00 |  |  | 1.50 | PASS |"}, "", 4, 0},
		{"chosen metric", []string{"--metric", "mpcr", base, worse}, 0, []string{"compare: 2 passed, 0 failed, 0 skipped of 2 comparisons"}, "", 2, 0},
		{"task missing", []string{base, noTask}, 1, []string{`task "modality" is in the baseline but not in the current results (tasks: organ)`},
			"2 of 4 comparisons", 4, 2},
		{"one file", []string{base}, 2, nil, "usage: clipeval compare BASELINE.json CURRENT.json", 0, 0},
		{"missing file", []string{base, filepath.Join(dir, "nope.json")}, 2, nil, "nope.json: no such file or directory", 0, 0},
		{"other schema", []string{filepath.Join(dir, "v2.json"), base}, 2, nil, "schema version 1, this clipeval reads 2", 0, 0},
		{"not JSON", []string{base, filepath.Join(dir, "junk.json")}, 2, nil, "junk.json: invalid character", 0, 0},
		{"negative tolerance", []string{base, same, "--tolerance", "-1"}, 2, nil, "want a non-negative number (percentage points for fractions)", 0, 0},
		{"unknown metric", []string{base, same, "--metric", "acc9"}, 2, nil, `no baseline run reports metric "acc9"`, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			junitPath, mdPath := filepath.Join(out, "junit.xml"), filepath.Join(out, "compare.md")
			code, stdout, stderr := invoke(append([]string{"compare", "--junit", junitPath, "--markdown", mdPath}, tc.args...)...)
			assert.Equal(t, tc.code, code, stdout+stderr)
			for _, s := range tc.stdout {
				assert.Contains(t, stdout, s)
			}
			assert.Contains(t, stderr, tc.stderr)
			if tc.code == 2 {
				assert.NoFileExists(t, junitPath)
				return
			}
			tests, failures, _ := junitCounts(t, junitPath)
			assert.Equal(t, []int{tc.tests, tc.failures}, []int{tests, failures})
			md, err := os.ReadFile(mdPath)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(stdout, string(md)), "stdout starts with the Markdown file")
		})
	}
}

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	a := writeResults(t, dir, "a.json", okRun("model-a", "organ", 0.5, 0.625))
	b := writeResults(t, dir, "b.json", okRun("model-b", "organ", 0.75, 0.5))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "v2.json"), []byte(`{"schema": 1}`), 0o644))

	out := filepath.Join(dir, "report")
	code, stdout, stderr := invoke("report", a, b, "--out", out)
	require.Equal(t, 0, code, stderr)
	for _, f := range []string{"report.md", "report.html", "plots/organ--headline.png", "plots/organ--headline.svg"} {
		assert.FileExists(t, filepath.Join(out, f))
		assert.Contains(t, stdout, filepath.Join(out, f))
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| model-a | 50.00 | 62.50 |\n| model-b | 75.00 | 50.00 |\n", "one table of both files' runs")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"report", a}, "usage: clipeval report RESULTS.json... --out DIR"},
		{"no results", []string{"report", "--out", out}, "usage: clipeval report RESULTS.json... --out DIR"},
		{"same run twice", []string{"report", a, a, "--out", out}, `model "model-a" on task "organ" is in both ` + a + " and " + a},
		{"other schema", []string{"report", a, filepath.Join(dir, "v2.json"), "--out", out}, "schema version 1, this clipeval reads 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := invoke(tc.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
}

// TestRunBaseline runs the embedded demo against baselines: one it meets (exit 0) and one whose acc1 it falls
// short of (exit 1), both writing junit.xml and compare.md into the output folder; a missing baseline stops the
// run before it starts (exit 2).
func TestRunBaseline(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	t.Setenv("CLIPEVAL_DEMO", demo)
	config := filepath.Join(sharedtest.RepoRoot(), "configs", "demo.yaml")
	dir := t.TempDir()
	baseline := func(name string, acc1 float64) string {
		return writeResults(t, dir, name, results.Run{Model: "demo-colour", Task: "colour-classification",
			Headline: []string{"acc1"}, Metrics: map[string]results.Value{"acc1": results.Value(acc1)},
			Kinds: map[string]results.Kind{"acc1": {Direction: sdk.HigherIsBetter, Unit: sdk.Fraction}}})
	}
	tests := []struct {
		name, baseline string
		code           int
		failures       int
		stderr         string
	}{
		{"met", baseline("low.json", 0.5), 0, 0, "compare with " + filepath.Join(dir, "low.json") + ": 1 passed, 0 failed"},
		{"regression", baseline("high.json", 0.9), 1, 1, "1 of 1 comparisons with " + filepath.Join(dir, "high.json") + " failed: regression gate failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			code, stdout, stderr := cli(t, "run", config, "--out", out, "--baseline", tc.baseline)
			assert.Equal(t, tc.code, code, stderr)
			assert.Contains(t, stderr, tc.stderr)
			for _, f := range []string{"results.json", "report.md", "junit.xml", "compare.md"} {
				assert.Contains(t, stdout, filepath.Join(out, f))
			}
			tests, failures, cases := junitCounts(t, filepath.Join(out, "junit.xml"))
			assert.Equal(t, []int{1, tc.failures}, []int{tests, failures})
			assert.Equal(t, []string{"demo-colour.colour-classification/acc1"}, cases)
			md, err := os.ReadFile(filepath.Join(out, "compare.md"))
			require.NoError(t, err)
			assert.Contains(t, string(md), "| demo-colour | colour-classification | acc1 |")
		})
	}

	out := t.TempDir()
	code, _, stderr := cli(t, "run", config, "--out", out, "--baseline", filepath.Join(dir, "nope.json"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "run --baseline: reading results: open "+filepath.Join(dir, "nope.json"))
	assert.NoFileExists(t, filepath.Join(out, "results.json"), "nothing ran")
}

// TestCIExample checks the documented CI job: it is valid YAML, every clipeval command it runs exists (with the
// flags the job relies on), it publishes to the job summary, and its suite config validates (against the shared
// fixture model and VQA-RAD copy).
func TestCIExample(t *testing.T) {
	root := sharedtest.RepoRoot()
	raw, err := os.ReadFile(filepath.Join(root, "configs", "ci", "github-actions.yml"))
	require.NoError(t, err)
	var workflow struct {
		Jobs map[string]struct {
			Steps []struct {
				Name, Run, Uses string
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &workflow))
	require.Contains(t, workflow.Jobs, "evaluate")
	var script strings.Builder
	for _, s := range workflow.Jobs["evaluate"].Steps {
		script.WriteString(s.Run + "\n")
	}
	calls := regexp.MustCompile(`bin/clipeval ([a-z-]+)`).FindAllStringSubmatch(script.String(), -1)
	var commands []string
	for _, c := range calls {
		_, known := lookup(c[1])
		assert.True(t, known, "the job runs clipeval %s", c[1])
		commands = append(commands, c[1])
	}
	assert.Equal(t, []string{"verify-export", "verify-export", "run", "compare"}, commands)
	for _, s := range []string{"plugins/onnx/export/export_open_clip.py", "--junit runs/ci/verify-python.xml", "--junit runs/ci/compare.xml",
		"--markdown runs/ci/compare.md", `>> "$GITHUB_STEP_SUMMARY"`, "configs/ci/suite.yaml"} {
		assert.Contains(t, script.String(), s)
	}

	t.Setenv("CLIPEVAL_MODEL", sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip"))
	t.Setenv("CLIPEVAL_VQA_RAD", sharedtest.Path(t, "data", "vqa-rad"))
	code, out, errOut := cli(t, "validate", filepath.Join(root, "configs", "ci", "suite.yaml"))
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, ": ok (1 models, 2 tasks)")
}

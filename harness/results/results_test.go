package results

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
)

func TestNaNMetricsSurviveResultsJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "results.json")
	in := &Results{Schema: SchemaVersion, Runs: []Run{{Model: "m", Task: "t", Metrics: map[string]Value{"acc5": Value(math.NaN()), "acc1": 0.5}}}}
	require.NoError(t, Write(p, in))
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "results are readable by others, as the report files")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"acc5": null`)
	out, err := Read(p)
	require.NoError(t, err)
	assert.True(t, math.IsNaN(float64(out.Runs[0].Metrics["acc5"])))
	assert.Equal(t, Value(0.5), out.Runs[0].Metrics["acc1"])
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"not json", "{", "unexpected end of JSON input"},
		{"other schema", `{"schema": 7}`, "schema version 7, this clipeval reads 2"},
		{"fraction too large", `{"schema": 2, "runs": [{"model": "m", "task": "t", "metrics": {"acc1": 1e308},
			"metric_kinds": {"acc1": {"direction": "higher", "unit": "fraction"}}}]}`,
			`model "m", task "t": metric acc1 is a fraction but has the value 1e+308, outside [0, 1] (the file was not written by clipeval run, or was edited; re-run the config)`},
		{"fraction interval negative", `{"schema": 2, "runs": [{"model": "m", "task": "t", "metrics": {"acc1": 0.5},
			"metric_kinds": {"acc1": {"direction": "higher", "unit": "fraction"}}, "intervals": {"acc1": [-0.5, 0.7]}}]}`,
			`model "m", task "t": metric acc1 is a fraction but its 95% interval [-0.5, 0.7] leaves [0, 1]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".json")
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o644))
			_, err := Read(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), p)
		})
	}
	_, err := Read(filepath.Join(dir, "missing.json"))
	assert.ErrorContains(t, err, "no such file")
}

func TestRunFromScoresKeepsWhatMetricsDeclare(t *testing.T) {
	sc := &sdk.Scores{Mode: "zero-shot", Headline: []string{"acc1"},
		Metrics: []sdk.Metric{
			{Name: "acc1", Value: 0.75, Direction: sdk.HigherIsBetter, Unit: sdk.Fraction, Help: "top-1",
				Interval: &sdk.Interval{Low: 0.5, High: 1}, ItemValues: []float64{1, 1, 1, 0},
				Confusion: &sdk.Confusion{Classes: []string{"b/c", "a"}, Counts: [][]int64{{2, 0}, {1, 1}}}},
			{Name: "median_rank", Value: 2, Direction: sdk.LowerIsBetter, Unit: sdk.Rank},
		},
		Predictions: []sdk.Prediction{{Item: "x", Truth: "a", Predicted: "a", Correct: true}},
		Curves:      []sdk.Curve{{Name: "c", XLabel: "k", YLabel: "r", X: []float64{1}, Y: []float64{0.5}}}}
	r := Run{Model: "m", Task: "t"}
	r.FromScores(sc)
	p := filepath.Join(t.TempDir(), "results.json")
	require.NoError(t, Write(p, &Results{Schema: SchemaVersion, Runs: []Run{r},
		Models: []Model{{Name: "m", PluginVersion: "v1.2.3"}}, Tasks: []Task{{Name: "t", PluginVersion: "v0.1.0"}}}))
	out, err := Read(p)
	require.NoError(t, err)
	got := out.Runs[0]
	assert.Equal(t, map[string]Value{"acc1": 0.75, "median_rank": 2}, got.Metrics)
	assert.Equal(t, map[string]Kind{"acc1": {Direction: sdk.HigherIsBetter, Unit: sdk.Fraction, Help: "top-1"},
		"median_rank": {Direction: sdk.LowerIsBetter, Unit: sdk.Rank}}, got.Kinds)
	assert.Equal(t, map[string][2]Value{"acc1": {0.5, 1}}, got.Intervals)
	assert.Equal(t, map[string][]float64{"acc1": {1, 1, 1, 0}}, got.ItemValues)
	assert.Equal(t, map[string]*sdk.Confusion{"acc1": {Classes: []string{"b/c", "a"}, Counts: [][]int64{{2, 0}, {1, 1}}}}, got.Confusion)
	assert.Equal(t, sc.Predictions, got.Predictions)
	assert.Equal(t, sc.Curves, got.Curves)
	assert.Equal(t, "v1.2.3", out.Models[0].PluginVersion)
	assert.Equal(t, "v0.1.0", out.Tasks[0].PluginVersion)
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"direction": "lower"`)
	assert.Contains(t, string(raw), `"plugin_version": "v1.2.3"`)
}

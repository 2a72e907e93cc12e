package results

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// FuzzRead reads fuzzed results.json files: an error, or results of this schema that Write stores and Read reads
// back into a file Write writes byte for byte the same (NaN and infinite metrics as null).
func FuzzRead(f *testing.F) {
	r := Run{Model: "m", Task: "t", Plugin: "classification", Key: "k1", WallSeconds: 1.5, Mode: "zero-shot"}
	r.FromScores(&sdk.Scores{Mode: "zero-shot", Headline: []string{"acc1"},
		Metrics: []sdk.Metric{
			{Name: "acc1", Value: 0.75, Direction: sdk.HigherIsBetter, Unit: sdk.Fraction, Help: "top-1",
				Interval: &sdk.Interval{Low: 0.5, High: 1}, ItemValues: []float64{1, 1, 1, 0},
				Confusion: &sdk.Confusion{Classes: []string{"b/c", "a"}, Counts: [][]int64{{2, 0}, {1, 1}}}},
			{Name: "acc5", Value: math.NaN(), Direction: sdk.HigherIsBetter, Unit: sdk.Fraction},
			{Name: "median_rank", Value: 2, Direction: sdk.LowerIsBetter, Unit: sdk.Rank},
		},
		Predictions: []sdk.Prediction{{Item: "x", Truth: "a", Predicted: "a", Correct: true}},
		Curves:      []sdk.Curve{{Name: "c", XLabel: "k", YLabel: "r", X: []float64{1}, Y: []float64{0.5}}}})
	full := &Results{Schema: SchemaVersion, Clipeval: "v0.1", Runtime: "onnxruntime 1.30.0",
		Config:  ConfigInfo{Path: "configs/demo.yaml", SHA256: "ab"},
		Started: time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC), WallSeconds: 3,
		Models: []Model{{Name: "m", Backend: "onnx", EmbedDim: 32, Files: map[string]string{"image.onnx": "cd"}}},
		Tasks: []Task{{Name: "t", Plugin: "classification", DatasetSize: 4,
			Published: map[string]map[string]Value{"m": {"acc1": 0.7}}}},
		Runs:      []Run{r, {Model: "m", Task: "u", Error: "task plugin crashed"}},
		Tolerance: Tolerance{Default: 0.5, Units: map[sdk.Unit]float64{sdk.Rank: 1}, Metrics: map[string]float64{"acc1": 0.25}}}
	b, err := json.MarshalIndent(full, "", "  ")
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"schema": 2}`))
	f.Add([]byte(`{"schema": 2, "started": "2026-12-01T16:00:00+23:59", "runs": [{"metrics": {"acc1": 1e308, "x": null}}]}`))
	f.Add([]byte(`{"schema": 2, "runs": [{"intervals": {"acc1": [null, 2]}, "item_values": {"acc1": [1e-320]}}]}`))
	f.Add([]byte(`{"schema": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "results.json")
		require.NoError(t, os.WriteFile(p, data, 0o644))
		r, err := Read(p)
		if err != nil {
			require.Nil(t, r)
			assert.Contains(t, err.Error(), p, "the error names the file")
			return
		}
		require.Equal(t, SchemaVersion, r.Schema)
		back := filepath.Join(dir, "back.json")
		require.NoError(t, Write(back, r), "results Read returns are written back")
		again, err := Read(back)
		require.NoError(t, err, "results written back read back")
		twice := filepath.Join(dir, "twice.json")
		require.NoError(t, Write(twice, again))
		first, err := os.ReadFile(back)
		require.NoError(t, err)
		second, err := os.ReadFile(twice)
		require.NoError(t, err)
		assert.Equal(t, string(first), string(second), "Write(Read(Write(r))) == Write(r)")
	})
}

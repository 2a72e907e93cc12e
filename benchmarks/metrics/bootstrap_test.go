package metrics

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// ci is the interval [lo, hi].
func ci(lo, hi float64) stats.Interval { return stats.Interval{Low: lo, High: hi} }

func TestBootstrapConfig(t *testing.T) {
	tests := []struct {
		name string
		json string
		want stats.Options
		err  string
	}{
		{"defaults", `{}`, stats.Options{Resamples: 1000}, ""},
		{"off", `{"bootstrap": 0}`, stats.Options{}, ""},
		{"set", `{"bootstrap": 50, "seed": 7}`, stats.Options{Resamples: 50, Seed: 7}, ""},
		{"negative resamples", `{"bootstrap": -1}`, stats.Options{}, "bootstrap is -1"},
		{"negative seed", `{"seed": -2}`, stats.Options{}, "seed is -2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Embedded in a task's options, the fields are promoted.
			var opt struct {
				Other int `json:"other"`
				BootstrapConfig
			}
			require.NoError(t, json.Unmarshal([]byte(tc.json), &opt))
			got, err := opt.Stats()
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	var names []string
	for _, f := range BootstrapFields() {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"bootstrap", "seed"}, names)
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		json string
		want Numbers
		err  string
	}{
		{`["1", "10", "100"]`, Numbers{1, 10, 100}, ""},
		{`[1e-6, "0.5", 2]`, Numbers{1e-6, 0.5, 2}, ""},
		{`[]`, Numbers{}, ""},
		{`["x"]`, nil, `entry 0 ("x") is not a finite number`},
		{`[1, "NaN"]`, nil, `entry 1 ("NaN") is not a finite number`},
		{`[null]`, nil, "entry 0 (null)"},
		{`"1"`, nil, "want a list of numbers"},
	}
	for _, tc := range tests {
		t.Run(tc.json, func(t *testing.T) {
			var n Numbers
			err := json.Unmarshal([]byte(tc.json), &n)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, n)
		})
	}
	kept := Numbers{3}
	require.NoError(t, json.Unmarshal([]byte(`null`), &kept))
	assert.Equal(t, Numbers{3}, kept, "null keeps the default")
}

func TestWeightedAUROC(t *testing.T) {
	scores, pos := []float64{3, 1, 3, 2}, []bool{true, false, false, true}
	a, err := newAUROC(scores, pos)
	require.NoError(t, err)
	tests := []struct {
		counts []int
		want   float64
	}{
		{nil, 0.625}, // as BinaryAUROC
		{[]int{1, 1, 1, 1}, 0.625},
		// Positives item 0 (3) twice and item 3 (2) once; negative item 1 (1) once: all 3 pairs won.
		{[]int{2, 1, 0, 1}, 1},
		// Negatives item 1 (1) once and item 2 (3) twice; positives items 0 (3) and 3 (2) once each:
		// item 0 beats item 1 and ties item 2 twice (1 + 2·½), item 3 beats item 1 only (1): 3/(2·3).
		{[]int{1, 1, 2, 1}, 0.5},
		{[]int{1, 0, 0, 1}, nan}, // no negatives drawn
	}
	for _, tc := range tests {
		assertFloat(t, tc.want, a.value(tc.counts), "auroc")
	}
}

// binaryRuns are two runs of Classify on two items: item 0 of class 1 (the positive class), item 1 of class 0.
func binaryRuns(t *testing.T) []*Classification {
	t.Helper()
	// Run A: margins 2 and 1, both predicted class 1: item 0 right, item 1 wrong; AUROC 1.
	a, err := Classify([][]float64{{0, 2}, {0, 1}}, []int{1, 0}, 1)
	require.NoError(t, err)
	// Run B: margins 2 and −1: both right; AUROC 1.
	b, err := Classify([][]float64{{0, 2}, {1, 0}}, []int{1, 0}, 1)
	require.NoError(t, err)
	return []*Classification{a, b}
}

func TestClassificationItemValues(t *testing.T) {
	runs := binaryRuns(t)
	assert.Equal(t, map[string][]float64{"acc1": {1, 0}}, ClassificationItemValues(runs[:1]))
	assert.Equal(t, map[string][]float64{"acc1": {1, 0.5}}, ClassificationItemValues(runs), "averaged over runs")
	// Five classes: truth ranks 0 and 5 → acc1 {1, 0}, acc5 {1, 0}.
	c, err := Classify([][]float64{{5, 4, 3, 2, 1, 0}, {5, 4, 3, 2, 1, 0}}, []int{0, 5}, 0)
	require.NoError(t, err)
	assert.Equal(t, map[string][]float64{"acc1": {1, 0}, "acc5": {1, 0}}, ClassificationItemValues([]*Classification{c}))
}

func TestClassificationIntervals(t *testing.T) {
	opt := stats.Options{Resamples: 1000}
	runs := binaryRuns(t)
	// Run A alone: a resample holds item 0 twice (acc1 1), both items (½) or item 1 twice (0), a quarter, half
	// and quarter of the time, so acc1 and the balanced accuracy (1, ½, 0 likewise) span [0, 1]. The AUROC is 1
	// whenever both classes are drawn and undefined (left out) otherwise.
	iv, err := ClassificationIntervals(runs[:1], opt)
	require.NoError(t, err)
	assert.Equal(t, map[string]stats.Interval{"acc1": ci(0, 1), "mean_per_class_recall": ci(0, 1), "auroc": ci(1, 1)}, iv)
	// Both runs, averaged: per-item hits {1, ½}, so acc1 is 1, ¾ or ½ and the balanced accuracy likewise.
	iv, err = ClassificationIntervals(runs, opt)
	require.NoError(t, err)
	assert.Equal(t, map[string]stats.Interval{"acc1": ci(0.5, 1), "mean_per_class_recall": ci(0.5, 1), "auroc": ci(1, 1)}, iv)
	// Five classes, every item right: acc5 too, all exact.
	c, err := Classify([][]float64{{5, 4, 3, 2, 1}, {0, 1, 2, 3, 4}, {0, 9, 0, 0, 0}}, []int{0, 4, 1}, 0)
	require.NoError(t, err)
	iv, err = ClassificationIntervals([]*Classification{c}, opt)
	require.NoError(t, err)
	assert.Equal(t, map[string]stats.Interval{"acc1": ci(1, 1), "mean_per_class_recall": ci(1, 1), "acc5": ci(1, 1)}, iv)

	iv, err = ClassificationIntervals(runs, stats.Options{})
	require.NoError(t, err)
	assert.Nil(t, iv, "0 resamples: no intervals")
	_, err = ClassificationIntervals(nil, opt)
	assert.ErrorContains(t, err, "no runs")
}

func TestAddIntervalsAndItemValues(t *testing.T) {
	iv := map[string]stats.Interval{"a": ci(2, 2), "b": ci(0, 1)}
	var s sdk.Scores
	s.Add(New("p/a", 2, sdk.HigherIsBetter, sdk.Value, "a"))
	s.Add(New("p/b", 0.5, sdk.HigherIsBetter, sdk.Value, "b"))
	require.NoError(t, AttachIntervals(&s, "p/", iv))
	assert.Equal(t, &sdk.Interval{Low: 2, High: 2}, s.Metric("p/a").Interval)
	assert.Equal(t, &sdk.Interval{Low: 0, High: 1}, s.Metric("p/b").Interval)
	require.NoError(t, AttachIntervals(&s, "", nil))
	assert.ErrorContains(t, AttachIntervals(&s, "q/", iv), `no metric "q/a" to attach the interval to`)

	// AddMeanIntervals bootstraps the item values of the metrics named, as MeanIntervals does.
	var m sdk.Scores
	m.Add(NewMean("a", []float64{2, 2}, sdk.HigherIsBetter, sdk.Value, "a"))
	m.Add(NewMean("b", []float64{0, 1}, sdk.HigherIsBetter, sdk.Fraction, "b"))
	m.Add(New("c", 3, sdk.Informational, sdk.Count, "c"))
	require.NoError(t, AddMeanIntervals(&m, []string{"a", "b"}, stats.Options{Resamples: 1000}))
	assert.Equal(t, &sdk.Interval{Low: 2, High: 2}, m.Metric("a").Interval)
	assert.Equal(t, &sdk.Interval{Low: 0, High: 1}, m.Metric("b").Interval)
	assert.ErrorContains(t, AddMeanIntervals(&m, []string{"c"}, stats.Options{Resamples: 10}), `metric "c" has no item values`)
	require.NoError(t, AddMeanIntervals(&m, []string{"a"}, stats.Options{}))
}

func TestNew(t *testing.T) {
	tests := []struct {
		name  string
		items []float64
		want  sdk.Metric
	}{
		{"mean", []float64{1, 0, 1, 1}, sdk.Metric{Name: "mean", Value: 0.75, Direction: sdk.HigherIsBetter, Unit: sdk.Fraction,
			ItemValues: []float64{1, 0, 1, 1}, Help: "h"}},
		{"one", []float64{0.5}, sdk.Metric{Name: "one", Value: 0.5, Direction: sdk.HigherIsBetter, Unit: sdk.Fraction,
			ItemValues: []float64{0.5}, Help: "h"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, NewMean(tc.name, tc.items, sdk.HigherIsBetter, sdk.Fraction, "h"))
		})
	}
	none := NewMean("none", nil, sdk.HigherIsBetter, sdk.Fraction, "h")
	assert.True(t, math.IsNaN(none.Value))
	assert.Nil(t, none.ItemValues, "no items, no item values")
	assert.Equal(t, sdk.Metric{Name: "m", Value: 3, Direction: sdk.LowerIsBetter, Unit: sdk.Rank, Help: "median"},
		New("m", 3, sdk.LowerIsBetter, sdk.Rank, "median"))
}

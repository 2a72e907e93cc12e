package stats

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opt is the task default: 1,000 resamples, seed 0.
var opt = Options{Resamples: DefaultResamples}

func TestPercentile(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	tests := []struct {
		name   string
		sorted []float64
		q      float64
		want   float64
	}{
		{"minimum", x, 0, 1},
		{"maximum", x, 1, 4},
		{"median between ranks", x, 0.5, 2.5},
		{"2.5th: h = 3·0.025 = 0.075", x, 0.025, 1.075},
		{"97.5th: h = 2.925", x, 0.975, 3.925},
		{"one value", []float64{7}, 0.975, 7},
		{"exact rank", []float64{0, 10, 20}, 0.5, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.want, Percentile(tc.sorted, tc.q), 1e-15)
		})
	}
	assert.True(t, math.IsNaN(Percentile(nil, 0.5)), "no values")
	assert.True(t, math.IsNaN(Percentile(x, -0.1)), "q below 0")
	assert.True(t, math.IsNaN(Percentile(x, math.NaN())), "q NaN")
}

func TestWeightedMean(t *testing.T) {
	assert.Equal(t, 2.0, WeightedMean([]float64{1, 2, 4}, []int{2, 0, 1}))   // (1+1+4)/3
	assert.Equal(t, 7.0/3, WeightedMean([]float64{1, 2, 4}, []int{1, 1, 1})) // plain mean
	assert.True(t, math.IsNaN(WeightedMean([]float64{1, 2}, []int{0, 0})), "no items drawn")
}

func TestDraw(t *testing.T) {
	a, b, c := make([]int, 50), make([]int, 50), make([]int, 50)
	Draw(a, 3, 7)
	Draw(b, 3, 7)
	Draw(c, 3, 8)
	assert.Equal(t, a, b, "same seed and resample, same draw")
	assert.NotEqual(t, a, c, "another resample draws differently")
	total := 0
	for _, v := range a {
		total += v
	}
	assert.Equal(t, 50, total, "n draws")
	one := []int{5}
	Draw(one, 1, 0)
	assert.Equal(t, []int{1}, one, "one item is always drawn once; earlier counts are cleared")
}

func TestBootstrap(t *testing.T) {
	constant := func([]int) []float64 { return []float64{0.25, math.NaN()} }
	iv, err := Bootstrap(10, opt, constant)
	require.NoError(t, err)
	assert.Equal(t, Interval{Low: 0.25, High: 0.25}, iv[0], "a constant statistic has a zero-width interval")
	assert.True(t, math.IsNaN(iv[1].Low) && math.IsNaN(iv[1].High), "NaN in every resample gives a NaN interval")

	iv, err = Bootstrap(10, Options{}, constant)
	require.NoError(t, err)
	assert.Nil(t, iv, "0 resamples disable intervals")

	// Item 0 of two: its share of the draws is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4; NaN when the
	// resample lacks item 1 (a quarter of them), leaving 0 and 1/2 in proportion 1:2. Both ends are then attained
	// by far more than 25 of the resamples, so the interval is [0, 1/2].
	iv, err = Bootstrap(2, opt, func(c []int) []float64 {
		if c[1] == 0 {
			return []float64{math.NaN()}
		}
		return []float64{float64(c[0]) / 2}
	})
	require.NoError(t, err)
	assert.Equal(t, []Interval{{Low: 0, High: 0.5}}, iv)
}

func TestBootstrapErrors(t *testing.T) {
	one := func([]int) []float64 { return []float64{1} }
	tests := []struct {
		name string
		n    int
		opt  Options
		stat func([]int) []float64
		want string
	}{
		{"negative resamples", 3, Options{Resamples: -1}, one, "-1 resamples"},
		{"no items", 0, opt, one, "no items"},
		{"ragged statistic", 3, Options{Resamples: 5}, func(c []int) []float64 { return make([]float64, 1+c[0]%2+c[1]) },
			"values on resample"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Bootstrap(tc.n, tc.opt, tc.stat)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestBootstrapDeterministic(t *testing.T) {
	x := make([]float64, 100)
	for i := range x {
		x[i] = float64(i % 7)
	}
	mean := func(c []int) []float64 { return []float64{WeightedMean(x, c)} }
	one, err := bootstrap(len(x), opt, 1, mean)
	require.NoError(t, err)
	three, err := bootstrap(len(x), opt, 3, mean)
	require.NoError(t, err)
	assert.Equal(t, one, three, "the number of workers does not change the result")
	other, err := bootstrap(len(x), Options{Resamples: DefaultResamples, Seed: 1}, 3, mean)
	require.NoError(t, err)
	assert.NotEqual(t, one, other, "another seed resamples differently")
}

func TestMeanIntervals(t *testing.T) {
	// {Low: 0, High: 1}: the resampled mean is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4, so of 1,000 resamples the 25th
	// and 26th smallest are 0 and the 25th and 26th largest are 1: the interval is [0, 1].
	// The constant series is exact; the identical series shares the resamples and so the interval.
	iv, err := MeanIntervals(map[string][]float64{"a": {0, 1}, "b": {5, 5}, "c": {0, 1}}, opt)
	require.NoError(t, err)
	assert.Equal(t, map[string]Interval{"a": {Low: 0, High: 1}, "b": {Low: 5, High: 5}, "c": {Low: 0, High: 1}}, iv)

	// 50 ones and 50 zeros: the resampled mean is about normal with sd 0.05, so the interval is about
	// 0.5 ± 1.96·0.05 = [0.402, 0.598]; the bootstrap's grid is 0.01.
	half := make([]float64, 100)
	for i := range 50 {
		half[i] = 1
	}
	iv, err = MeanIntervals(map[string][]float64{"half": half}, opt)
	require.NoError(t, err)
	assert.InDelta(t, 0.402, iv["half"].Low, 0.02)
	assert.InDelta(t, 0.598, iv["half"].High, 0.02)

	tests := []struct {
		name   string
		series map[string][]float64
		opt    Options
		want   string
	}{
		{"lengths differ", map[string][]float64{"a": {1, 2}, "b": {1}}, opt, `series "b" has 1 item values, expected 2 (one per item, same items)`},
		{"lengths differ, first key sets n", map[string][]float64{"a": {2, 2, 2}, "b": {0}}, Options{Resamples: 10},
			`series "b" has 1 item values, expected 3 (one per item, same items)`},
		{"infinite", map[string][]float64{"a": {1, math.Inf(1)}}, opt, `series "a" item 1 is +Inf; item values must be finite`},
		{"empty series", map[string][]float64{"a": {}}, opt, `series "a" has no item values`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iv, err := MeanIntervals(tc.series, tc.opt)
			assert.EqualError(t, err, "bootstrap: "+tc.want)
			assert.Nil(t, iv)
		})
	}
	iv, err = MeanIntervals(nil, opt)
	require.NoError(t, err)
	assert.Nil(t, iv, "no series")
	iv, err = MeanIntervals(map[string][]float64{"a": {2, 2}, "b": {0, 1}}, Options{})
	require.NoError(t, err)
	assert.Nil(t, iv, "0 resamples disable intervals")
	iv, err = MeanIntervals(map[string][]float64{"a": {2, 2}, "b": {0, 1}}, opt)
	require.NoError(t, err)
	assert.Equal(t, map[string]Interval{"a": {Low: 2, High: 2}, "b": {Low: 0, High: 1}}, iv)
}

func TestPairedBootstrap(t *testing.T) {
	nine := []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 0}
	tests := []struct {
		name string
		a, b []float64
		want Paired
	}{
		// Every resampled difference is 1: no Δ* ≤ 0, so P = 2·1/1001.
		{"a always better", []float64{1, 1, 1}, []float64{0, 0, 0}, Paired{Diff: 1, Interval: Interval{Low: 1, High: 1}, P: 2.0 / 1001, Items: 3}},
		// Every Δ* is 0: both counts are 1001, P = min(1, 2) = 1.
		{"identical", []float64{1, 0, 1}, []float64{1, 0, 1}, Paired{Diff: 0, Interval: Interval{Low: 0, High: 0}, P: 1, Items: 3}},
		// d = {1, −1}: Δ* is −1, 0, 1 with probabilities 1/4, 1/2, 1/4; both counts are about 750, so P = 1 and
		// the interval spans [−1, 1].
		{"opposite", []float64{1, 0}, []float64{0, 1}, Paired{Diff: 0, Interval: Interval{Low: -1, High: 1}, P: 1, Items: 2}},
		// d = nine 1s and a 0: Δ* = 1 − k/10 with k ~ Binomial(10, 0.1) draws of the 0. Δ* ≤ 0 needs k = 10
		// (probability 1e-10), so P = 2/1001. P(k = 0) = 0.35 puts the 97.5th percentile at 1; P(k ≥ 4) = 0.013
		// and P(k ≥ 3) = 0.070 put the 25th and 26th smallest of 1,000 at k = 3: Δ* = 0.7.
		{"nine of ten", nine, make([]float64, 10), Paired{Diff: 0.9, Interval: Interval{Low: 0.7, High: 1}, P: 2.0 / 1001, Items: 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PairedBootstrap(tc.a, tc.b, opt)
			require.NoError(t, err)
			tc.want.Resamples = DefaultResamples
			assert.InDelta(t, tc.want.Diff, got.Diff, 1e-15)
			got.Diff = tc.want.Diff
			assert.InDelta(t, tc.want.Interval.Low, got.Interval.Low, 1e-15)
			assert.InDelta(t, tc.want.Interval.High, got.Interval.High, 1e-15)
			got.Interval = tc.want.Interval
			assert.Equal(t, tc.want, got)
		})
	}
	one, err := pairedBootstrap(nine, make([]float64, 10), Options{Resamples: 200, Seed: 4}, 1)
	require.NoError(t, err)
	four, err := pairedBootstrap(nine, make([]float64, 10), Options{Resamples: 200, Seed: 4}, 4)
	require.NoError(t, err)
	assert.Equal(t, one, four, "the number of workers does not change the result")
}

func TestPairedBootstrapErrors(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		opt  Options
		want string
	}{
		{"lengths differ", []float64{1, 0}, []float64{1}, opt, "model b has 1 item values, expected 2"},
		{"no items", nil, nil, opt, "model a has no item values"},
		{"NaN", []float64{1, math.NaN()}, []float64{1, 0}, opt, "model a item 1 is NaN"},
		{"no resamples", []float64{1}, []float64{0}, Options{}, "0 resamples"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PairedBootstrap(tc.a, tc.b, tc.opt)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// BenchmarkMeanIntervals bootstraps 6 per-item series of 10,000 items (e.g. hit@1/5/10, true recall and MRR of
// one retrieval direction) with 1,000 resamples.
func BenchmarkMeanIntervals(b *testing.B) {
	series := make(map[string][]float64, 6)
	for j := range 6 {
		s := make([]float64, 10000)
		for i := range s {
			s[i] = float64((i * (j + 3)) % 2)
		}
		series[strconv.Itoa(j)] = s
	}
	for b.Loop() {
		if _, err := MeanIntervals(series, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10000*DefaultResamples)*float64(b.N)/b.Elapsed().Seconds(), "draws/s")
}

package stats

import (
	"fmt"
	"runtime"
)

// Paired is the outcome of a paired bootstrap comparison of two models on the same items.
type Paired struct {
	// Diff is the observed mean over items of a[i] − b[i], i.e. mean(a) − mean(b).
	Diff float64
	// Interval is the 95% percentile bootstrap interval of the difference.
	Interval Interval
	// P is the two-sided bootstrap p-value of "no difference" (see PairedBootstrap).
	P float64
	// Resamples is the number of resamples B the p-value and interval come from.
	Resamples int
	// Items is the number of paired items.
	Items int
}

// PairedBootstrap compares two models scored on the same items: a[i] and b[i] are item i's values under each
// model (e.g. 1/0 correctness, a query's reciprocal rank). Each resample draws the items with replacement, the same
// draw for both models (Draw), and computes Δ* = mean of a[i] − b[i] over the drawn items.
//
// Interval is the 95% percentile interval of Δ* (as Bootstrap). P is the percentile-method two-sided p-value
// (the smallest α for which the (1−α) percentile interval excludes 0), with the usual +1 correction so that it is
// never 0 (Davison & Hinkley, "Bootstrap Methods and their Application", 1997, eq. 4.11):
//
//	P = min(1, 2 · min(1 + #{Δ* ≤ 0}, 1 + #{Δ* ≥ 0}) / (B + 1))
//
// The smallest p-value B resamples can show is 2/(B+1); identical models get P = 1. opt.Resamples must be at least
// 1; a and b must have equal lengths, at least 1, and finite values.
func PairedBootstrap(a, b []float64, opt Options) (Paired, error) {
	return pairedBootstrap(a, b, opt, runtime.GOMAXPROCS(0))
}

// pairedBootstrap is PairedBootstrap with a given number of worker goroutines (the result does not depend on it).
func pairedBootstrap(a, b []float64, opt Options, workers int) (Paired, error) {
	if err := checkItems("model a", a, len(a)); err != nil {
		return Paired{}, err
	}
	if err := checkItems("model b", b, len(a)); err != nil {
		return Paired{}, err
	}
	if opt.Resamples < 1 {
		return Paired{}, fmt.Errorf("paired bootstrap: %d resamples; at least 1 is needed (e.g. %d)", opt.Resamples, DefaultResamples)
	}
	d := make([]float64, len(a))
	ones := make([]int, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
		ones[i] = 1
	}
	deltas, err := resample(len(d), opt, workers, func(counts []int) []float64 { return []float64{WeightedMean(d, counts)} })
	if err != nil {
		return Paired{}, err
	}
	below, above := 1, 1
	for _, v := range deltas {
		if v[0] <= 0 {
			below++
		}
		if v[0] >= 0 {
			above++
		}
	}
	p := min(1, 2*float64(min(below, above))/float64(opt.Resamples+1))
	return Paired{Diff: WeightedMean(d, ones), Interval: percentileIntervals(deltas)[0], P: p, Resamples: opt.Resamples, Items: len(a)}, nil
}

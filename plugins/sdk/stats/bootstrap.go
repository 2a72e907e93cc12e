// Package stats computes seeded, reproducible bootstrap statistics for benchmark metrics: percentile confidence
// intervals of any metric recomputed on resampled items, and the paired bootstrap comparison of two models scored
// on the same items. It is the one implementation both sides use: task plugins bootstrap their metrics' intervals
// with it, and the harness (`clipeval compare`) runs the paired bootstrap on the per-item values stored in
// results.json. It works on plain float64 slices and depends on no other clipeval package.
//
// Resampling: each resample draws n items with replacement from the n items (the ordinary, non-stratified
// bootstrap of Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 6) and is handed to the metric as
// the number of times each item was drawn. Resample b draws from its own generator, math/rand/v2's PCG seeded with
// (seed, b), so results depend only on the seed and the number of resamples, never on the number of CPUs.
package stats

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// DefaultResamples is the number of bootstrap resamples tasks use unless configured otherwise.
const DefaultResamples = 1000

// Level is the coverage of the confidence intervals: 95%, from the 2.5th to the 97.5th percentile.
const Level = 0.95

// Options configure a bootstrap.
type Options struct {
	// Resamples is the number of bootstrap resamples B; 0 disables intervals.
	Resamples int
	// Seed seeds the resampling; equal seeds give equal results.
	Seed uint64
}

// Interval is a confidence interval (sdk.Interval: one type for the intervals tasks report and compute).
type Interval = sdk.Interval

// Bootstrap returns, for each of the values stat computes, the 95% percentile bootstrap confidence interval:
// the 2.5th and 97.5th percentiles (Percentile) of the value over opt.Resamples resamples of the n items. stat
// receives the number of times each item was drawn (n counts summing to n) and must return the same number of
// values every call; it is called from several goroutines at once and must not modify shared state. Resamples
// where a value is NaN (undefined, e.g. an AUROC of a resample without positives) are left out of that value's
// percentiles; a value NaN in every resample gets a NaN interval. With opt.Resamples 0 it returns nil.
func Bootstrap(n int, opt Options, stat func(counts []int) []float64) ([]Interval, error) {
	return bootstrap(n, opt, runtime.GOMAXPROCS(0), stat)
}

// bootstrap is Bootstrap with a given number of worker goroutines (the result does not depend on it).
func bootstrap(n int, opt Options, workers int, stat func(counts []int) []float64) ([]Interval, error) {
	values, err := resample(n, opt, workers, stat)
	if err != nil || values == nil {
		return nil, err
	}
	return percentileIntervals(values), nil
}

// percentileIntervals returns, for each column j of values (one row per resample), the interval from the 2.5th to
// the 97.5th percentile of its non-NaN entries.
func percentileIntervals(values [][]float64) []Interval {
	out := make([]Interval, len(values[0]))
	column := make([]float64, 0, len(values))
	for j := range out {
		column = column[:0]
		for _, v := range values {
			if !math.IsNaN(v[j]) {
				column = append(column, v[j])
			}
		}
		slices.Sort(column)
		out[j] = Interval{Low: Percentile(column, (1-Level)/2), High: Percentile(column, (1+Level)/2)}
	}
	return out
}

// resample returns stat's values on each of opt.Resamples resamples, in resample order (nil when Resamples is 0).
func resample(n int, opt Options, workers int, stat func(counts []int) []float64) ([][]float64, error) {
	if opt.Resamples < 0 {
		return nil, fmt.Errorf("bootstrap: %d resamples; use 0 to disable intervals or a positive count (e.g. %d)",
			opt.Resamples, DefaultResamples)
	}
	if opt.Resamples == 0 {
		return nil, nil
	}
	if n < 1 {
		return nil, fmt.Errorf("bootstrap: no items to resample")
	}
	values := make([][]float64, opt.Resamples)
	workers = max(1, min(workers, opt.Resamples))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			counts := make([]int, n)
			for b := w; b < opt.Resamples; b += workers {
				Draw(counts, opt.Seed, b)
				values[b] = stat(counts)
			}
		})
	}
	wg.Wait()
	m := len(values[0])
	for b, v := range values {
		if len(v) != m {
			return nil, fmt.Errorf("bootstrap: the statistic gave %d values on resample %d and %d on resample 0", len(v), b, m)
		}
	}
	return values, nil
}

// Draw fills counts with resample b of len(counts) items under seed: len(counts) draws with replacement, each item
// drawn with equal probability, counts[i] the number of times item i was drawn. The draws come from PCG(seed, b)
// through math/rand/v2's IntN.
func Draw(counts []int, seed uint64, b int) {
	clear(counts)
	n := len(counts)
	r := rand.New(rand.NewPCG(seed, uint64(b)))
	for range n {
		counts[r.IntN(n)]++
	}
}

// Percentile returns the q-quantile (0 ≤ q ≤ 1) of ascending sorted values by linear interpolation between the
// two nearest ranks: at position h = (len−1)·q, x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]) (numpy.percentile's default
// "linear" method, Hyndman & Fan type 7). NaN for no values or q outside [0, 1].
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	h := float64(len(sorted)-1) * q
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// WeightedMean returns Σ counts[i]·values[i] / Σ counts[i]: the mean of a resample of item values (NaN when the
// counts sum to 0). values and counts must have equal lengths.
func WeightedMean(values []float64, counts []int) float64 {
	var s float64
	total := 0
	for i, c := range counts {
		if c != 0 {
			s += float64(c) * values[i]
			total += c
		}
	}
	if total == 0 {
		return math.NaN()
	}
	return s / float64(total)
}

// MeanIntervals returns the 95% bootstrap intervals (see Bootstrap) of the means of several per-item series over
// the same items (e.g. the hit@1, hit@5 and reciprocal rank of each query), keyed like series, all computed on the
// same resamples; the series are handed to the resampling in ascending key order, so the result does not depend
// on map order. Every series must have the same length, at least 1, and hold finite values. nil when series is
// empty or opt.Resamples is 0.
func MeanIntervals(series map[string][]float64, opt Options) (map[string]Interval, error) {
	if len(series) == 0 {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(series))
	n := len(series[names[0]])
	list := make([][]float64, len(names))
	for j, name := range names {
		list[j] = series[name]
		if err := checkItems(fmt.Sprintf("series %q", name), list[j], n); err != nil {
			return nil, err
		}
	}
	iv, err := Bootstrap(n, opt, func(counts []int) []float64 {
		out := make([]float64, len(list))
		for j, s := range list {
			out[j] = WeightedMean(s, counts)
		}
		return out
	})
	if err != nil || iv == nil {
		return nil, err
	}
	out := make(map[string]Interval, len(names))
	for j, name := range names {
		out[name] = iv[j]
	}
	return out, nil
}

// checkItems reports an error when values do not hold n finite numbers, naming what.
func checkItems(what string, values []float64, n int) error {
	if len(values) != n {
		return fmt.Errorf("bootstrap: %s has %d item values, expected %d (one per item, same items)", what, len(values), n)
	}
	if n == 0 {
		return fmt.Errorf("bootstrap: %s has no item values", what)
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bootstrap: %s item %d is %v; item values must be finite", what, i, v)
		}
	}
	return nil
}

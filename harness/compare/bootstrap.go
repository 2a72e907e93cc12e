package compare

import (
	"math"

	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// Bootstrap settings of `clipeval compare`: Resamples resamples with a fixed seed, so that the same two results
// files always give the same interval and p-value.
const (
	Resamples   = stats.DefaultResamples
	DefaultSeed = 20240521
)

// Bootstrap is the paired bootstrap (stats.PairedBootstrap, b resamples under seed) of the differences
// current_i − baseline_i of two equally long per-item value lists (the same items in the same order, e.g.
// per-image recall@1 of two runs on one dataset): the 95% percentile interval of the resampled mean difference and
// the two-sided p-value of "no difference", P = min(1, 2·min(1 + #{Δ* ≤ 0}, 1 + #{Δ* ≥ 0}) / (b + 1)), whose
// definition and source stats.PairedBootstrap documents.
//
// Pairing removes the between-item variance both runs share, so the interval is much tighter than one built from
// two independent intervals. When the bootstrap cannot run (no items, lists of different lengths, b not positive,
// a value that is not finite) the interval and p-value are NaN.
func Bootstrap(baseline, current []float64, b int, seed uint64) stats.Paired {
	p, err := stats.PairedBootstrap(current, baseline, stats.Options{Resamples: b, Seed: seed})
	if err != nil {
		nan := math.NaN()
		return stats.Paired{Items: len(baseline), Diff: nan, Interval: stats.Interval{Low: nan, High: nan}, P: nan, Resamples: b}
	}
	return p
}

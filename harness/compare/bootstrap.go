package compare

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Bootstrap settings of `clipeval compare`: Resamples resamples with a fixed seed, so that the same two results
// files always give the same interval and p-value.
const (
	Resamples   = 1000
	DefaultSeed = 20240521
)

// Interval is a paired bootstrap of the difference of two item means.
type Interval struct {
	// Items is the number of paired items.
	Items int
	// Low and High bound the 95% percentile interval of the mean difference (current − baseline).
	Low, High float64
	// P is the two-sided bootstrap p-value of "no difference".
	P float64
}

// Bootstrap resamples the paired differences d_i = current_i − baseline_i of two equally long per-item value lists
// (the same items in the same order, e.g. per-image recall@1 of two runs on one dataset) b times with replacement,
// with a PCG generator seeded by seed, and returns:
//   - the percentile interval [Δ*_(⌊0.025·b⌋), Δ*_(⌈0.975·b⌉−1)] of the sorted resampled mean differences Δ*
//     (0-based; for b = 1000 the 26th and 975th smallest), and
//   - p = 2·min(share of Δ* ≤ 0, share of Δ* ≥ 0), capped at 1: the two-sided percentile-bootstrap p-value of "no
//     difference" (Efron & Tibshirani, An Introduction to the Bootstrap, ch. 15–16).
//
// Pairing removes the between-item variance both runs share, so the interval is much tighter than one built from
// two independent intervals. The items must number at least one and b must be positive; otherwise the interval is
// NaN.
func Bootstrap(baseline, current []float64, b int, seed uint64) Interval {
	n := len(baseline)
	if n == 0 || n != len(current) || b <= 0 {
		return Interval{Items: n, Low: math.NaN(), High: math.NaN(), P: math.NaN()}
	}
	d := make([]float64, n)
	for i := range d {
		d[i] = current[i] - baseline[i]
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	means := make([]float64, b)
	below, above := 0, 0
	for r := range means {
		sum := 0.0
		for range n {
			sum += d[rng.IntN(n)]
		}
		m := sum / float64(n)
		means[r] = m
		if m <= 0 {
			below++
		}
		if m >= 0 {
			above++
		}
	}
	slices.Sort(means)
	lo := int(math.Floor(0.025 * float64(b)))
	hi := int(math.Ceil(0.975*float64(b))) - 1
	p := math.Min(1, 2*float64(min(below, above))/float64(b))
	return Interval{Items: n, Low: means[lo], High: means[hi], P: p}
}

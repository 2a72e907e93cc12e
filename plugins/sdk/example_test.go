package sdk_test

import (
	"fmt"
	"math"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// Every metric says which way it improves, what it counts and what it is; a mean over items keeps its per-item
// values (for paired comparisons) and may carry a bootstrap interval. Check finds what breaks the contract before
// the scores leave the plugin (the SDK also runs it when sending).
func ExampleScores_Check() {
	var s sdk.Scores
	s.Mode = "zero-shot"
	// acc1: the share of images whose true class has the highest logit (CLIP_benchmark zeroshot_classification).
	s.Add(sdk.Metric{Name: "acc1", Value: 0.75, Direction: sdk.HigherIsBetter, Unit: sdk.Fraction,
		ItemValues: []float64{1, 1, 0, 1}, Interval: &sdk.Interval{Low: 0.5, High: 1},
		Confusion: &sdk.Confusion{Classes: []string{"normal", "pneumonia"}, Counts: [][]int64{{2, 0}, {1, 1}}},
		Help:      "top-1 accuracy"})
	// median_rank: the median 1-based rank of the true class.
	s.Add(sdk.Metric{Name: "median_rank", Value: 1, Direction: sdk.LowerIsBetter, Unit: sdk.Rank, Help: "median rank of the true class"})
	s.Headline = []string{"acc1"}
	fmt.Println(s.Check())

	// A metric without a unit, and a headline naming no metric, are refused.
	s.Add(sdk.Metric{Name: "items", Value: 4, Direction: sdk.Informational})
	fmt.Println(s.Check())
	s.Metric("items").Unit = sdk.Count
	s.Headline = append(s.Headline, "acc5")
	fmt.Println(s.Check())
	fmt.Println(s.Value("acc1"), s.Value("acc5"))
	// Output:
	// <nil>
	// metric "items": unit "": declare "fraction", "rank", "count" or "value"
	// headline metric "acc5" is not among the metrics
	// 0.75 NaN
}

// Format writes a value in its unit: fractions in percent, counts as integers, ranks and values with two
// decimals; FormatSigned writes differences (for fractions, percentage points).
func ExampleUnit_Format() {
	fmt.Println(sdk.Fraction.Format(0.8125), sdk.Count.Format(1234), sdk.Rank.Format(3), sdk.Value.Format(-0.125), sdk.Fraction.Format(math.NaN()))
	fmt.Println(sdk.Fraction.FormatSigned(0.0125), sdk.Fraction.FormatSigned(-0.004), sdk.Fraction.FormatSigned(-0.00001), sdk.Rank.FormatSigned(-2))
	// Output:
	// 81.25 1234 3.00 -0.12 n/a
	// +1.25 -0.40 +0.00 -2.00
}

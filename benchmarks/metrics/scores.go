package metrics

import (
	"fmt"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// New returns the metric name with value v, declaring which way it improves, what it counts and, in one line,
// what it is: the one way the tasks build a metric (NewMean is New for a mean over items).
func New(name string, v float64, dir sdk.Direction, unit sdk.Unit, help string) sdk.Metric {
	return sdk.Metric{Name: name, Value: v, Direction: dir, Unit: unit, Help: help}
}

// NewMean returns the metric whose value is the mean (Mean, numpy's summation order) of its per-item values items,
// kept as its ItemValues for paired comparisons; NaN without items (and then no item values).
func NewMean(name string, items []float64, dir sdk.Direction, unit sdk.Unit, help string) sdk.Metric {
	m := New(name, Mean(items), dir, unit, help)
	if len(items) > 0 {
		m.ItemValues = items
	}
	return m
}

// AttachIntervals sets the Interval of the metric of s called prefix+name for each entry of intervals (nil: none).
// An interval without its metric is an error: the task computed an interval of a metric it does not report.
func AttachIntervals(s *sdk.Scores, prefix string, intervals map[string]stats.Interval) error {
	for _, name := range sortedKeys(intervals) {
		m := s.Metric(prefix + name)
		if m == nil {
			return fmt.Errorf("attaching intervals: no metric %q to attach the interval to", prefix+name)
		}
		iv := intervals[name]
		m.Interval = &sdk.Interval{Low: iv.Low, High: iv.High}
	}
	return nil
}

// AddMeanIntervals sets on each metric of s named in names the 95% bootstrap interval of the mean of its
// ItemValues (MeanIntervals: the metrics' items resampled together, so they must be over the same items). Nothing
// changes when opt.Resamples is 0. A name without a metric or without item values is an error.
func AddMeanIntervals(s *sdk.Scores, names []string, opt stats.Options) error {
	series := make(map[string][]float64, len(names))
	for _, n := range names {
		m := s.Metric(n)
		if m == nil || m.ItemValues == nil {
			return fmt.Errorf("mean intervals: metric %q has no item values to resample", n)
		}
		series[n] = m.ItemValues
	}
	iv, err := stats.MeanIntervals(series, opt)
	if err != nil {
		return err
	}
	return AttachIntervals(s, "", iv)
}

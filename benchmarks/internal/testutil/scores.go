package testutil

import (
	"fmt"
	"strings"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// Values returns every metric's value by name (nil for no metrics), for comparing a task's scores with a table.
func Values(s *sdk.Scores) map[string]float64 {
	var out map[string]float64
	for _, m := range s.Metrics {
		if out == nil {
			out = map[string]float64{}
		}
		out[m.Name] = m.Value
	}
	return out
}

// Intervals returns the interval of every metric that has one, by name (nil for none).
func Intervals(s *sdk.Scores) map[string]sdk.Interval {
	var out map[string]sdk.Interval
	for _, m := range s.Metrics {
		if m.Interval != nil {
			if out == nil {
				out = map[string]sdk.Interval{}
			}
			out[m.Name] = *m.Interval
		}
	}
	return out
}

// ItemValues returns the item values of every metric that has them, by name (nil for none).
func ItemValues(s *sdk.Scores) map[string][]float64 {
	var out map[string][]float64
	for _, m := range s.Metrics {
		if m.ItemValues != nil {
			if out == nil {
				out = map[string][]float64{}
			}
			out[m.Name] = m.ItemValues
		}
	}
	return out
}

// Same reports whether two scores hold the same metrics (values, NaN equal to NaN, intervals, item values,
// confusion matrices, kinds and help), headline, predictions, curves and mode, and returns both as text for the
// failure message.
func Same(want, got *sdk.Scores) (bool, string, string) {
	w, g := scoresText(want), scoresText(got)
	return w == g, w, g
}

// scoresText writes every field of s, pointers followed, NaN as "NaN".
func scoresText(s *sdk.Scores) string {
	var b strings.Builder
	for _, m := range s.Metrics {
		fmt.Fprintf(&b, "%s=%v %s %s %q items=%v", m.Name, m.Value, m.Direction, m.Unit, m.Help, m.ItemValues)
		if m.Interval != nil {
			fmt.Fprintf(&b, " interval=%v", *m.Interval)
		}
		if m.Confusion != nil {
			fmt.Fprintf(&b, " confusion=%v", *m.Confusion)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "headline=%v\npredictions=%v\ncurves=%v\nmode=%s\n", s.Headline, s.Predictions, s.Curves, s.Mode)
	return b.String()
}

package testutil

import "github.com/clipeval/clipeval/plugins/sdk"

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

package sdk

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Direction says which way a metric improves; the regression gate and the reports read it instead of guessing
// from a metric's name.
type Direction string

// Directions a metric can declare.
const (
	HigherIsBetter Direction = "higher"
	LowerIsBetter  Direction = "lower"
	// Informational metrics are reported and never gated (e.g. a count of items).
	Informational Direction = "none"
)

// Unit is what a metric's value counts; tolerances are applied in it.
type Unit string

// Units a metric can declare.
const (
	// Fraction is a share in [0, 1], shown in percent; its tolerances are in percentage points.
	Fraction Unit = "fraction"
	// Rank is a 1-based rank; its tolerances are in ranks.
	Rank Unit = "rank"
	// Count is a number of things.
	Count Unit = "count"
	// Value is a plain real number (a loss, a score).
	Value Unit = "value"
)

// Format writes v as its unit is shown: a fraction as a percentage with 2 decimals ("81.25"; also for an undeclared
// unit), a count as an integer, a rank or a plain value with 2 decimals; "n/a" for NaN or an infinity.
func (u Unit) Format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	switch u {
	case Count:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case Rank, Value:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(100*v, 'f', 2, 64)
}

// FormatSigned writes a difference d as Format does, with a sign ("+1.25", "-0.40"; one that rounds to zero is
// "+0.00"): for fractions, percentage points.
func (u Unit) FormatSigned(d float64) string {
	s := u.Format(d)
	if s == "n/a" {
		return s
	}
	if strings.TrimLeft(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// Interval is a confidence interval of a metric.
type Interval struct {
	Low, High float64
}

// Confusion counts items by true class (rows) and predicted class (columns), classes in the task's order.
type Confusion struct {
	Classes []string `json:"classes"`
	// Counts[i][j] is the number of items of class i predicted as class j.
	Counts [][]int64 `json:"counts"`
}

// Metric is one number a task reports, with what it means.
type Metric struct {
	Name string
	// Value is NaN where the metric is undefined.
	Value     float64
	Direction Direction
	Unit      Unit
	// Interval, when set, is a 95% bootstrap confidence interval (seeded, so reproducible).
	Interval *Interval
	// ItemValues, when the metric is a mean over items, are the per-item values in item order, so that two models
	// on the same items can be compared with a paired bootstrap.
	ItemValues []float64
	// Confusion is the metric's structured value where it has one (accuracy's confusion matrix).
	Confusion *Confusion
	// Help says in one line what the metric is.
	Help string
}

// Prediction is one item's outcome, kept in results.json for later comparison.
type Prediction struct {
	Item      string `json:"item"`
	Truth     string `json:"truth"`
	Predicted string `json:"predicted"`
	Correct   bool   `json:"correct"`
	// Group is an optional item subgroup (e.g. "closed" or "open" for VQA).
	Group string `json:"group,omitempty"`
}

// Curve is a named series of points (e.g. recall@k for k = 1..K) for plots.
type Curve struct {
	Name   string    `json:"name"`
	XLabel string    `json:"x_label"`
	YLabel string    `json:"y_label"`
	X      []float64 `json:"x"`
	Y      []float64 `json:"y"`
}

// Scores is what Score returns: the metrics in the order a report lists them, the headline metric names in the
// order a report shows them first, per-item predictions and curves.
type Scores struct {
	Metrics     []Metric
	Headline    []string
	Predictions []Prediction
	Curves      []Curve
	// Mode says how the numbers were made (e.g. "zero-shot", "linear-probe", "linear-head").
	Mode string
}

// Metric returns the metric called name, or nil.
func (s *Scores) Metric(name string) *Metric {
	for i := range s.Metrics {
		if s.Metrics[i].Name == name {
			return &s.Metrics[i]
		}
	}
	return nil
}

// Value returns the value of the metric called name, NaN when there is none.
func (s *Scores) Value(name string) float64 {
	if m := s.Metric(name); m != nil {
		return m.Value
	}
	return math.NaN()
}

// Add appends m, replacing a metric of the same name, and returns the stored metric.
func (s *Scores) Add(m Metric) *Metric {
	if old := s.Metric(m.Name); old != nil {
		*old = m
		return old
	}
	s.Metrics = append(s.Metrics, m)
	return &s.Metrics[len(s.Metrics)-1]
}

// Check reports the first way s breaks the contract: a metric without a name, a direction or a unit, a name used
// twice, a confusion matrix whose counts do not match its classes, or a headline name that is not a metric.
func (s *Scores) Check() error {
	seen := map[string]bool{}
	for _, m := range s.Metrics {
		if m.Name == "" {
			return fmt.Errorf("a metric has no name")
		}
		if seen[m.Name] {
			return fmt.Errorf("metric %q is reported twice", m.Name)
		}
		seen[m.Name] = true
		if !slices.Contains([]Direction{HigherIsBetter, LowerIsBetter, Informational}, m.Direction) {
			return fmt.Errorf("metric %q: direction %q: declare %q, %q or %q", m.Name, m.Direction, HigherIsBetter, LowerIsBetter, Informational)
		}
		if !slices.Contains([]Unit{Fraction, Rank, Count, Value}, m.Unit) {
			return fmt.Errorf("metric %q: unit %q: declare %q, %q, %q or %q", m.Name, m.Unit, Fraction, Rank, Count, Value)
		}
		if c := m.Confusion; c != nil {
			if len(c.Counts) != len(c.Classes) {
				return fmt.Errorf("metric %q: confusion matrix has %d rows for %d classes", m.Name, len(c.Counts), len(c.Classes))
			}
			for i, row := range c.Counts {
				if len(row) != len(c.Classes) {
					return fmt.Errorf("metric %q: confusion matrix row %d has %d counts for %d classes", m.Name, i, len(row), len(c.Classes))
				}
			}
		}
	}
	for _, h := range s.Headline {
		if !seen[h] {
			return fmt.Errorf("headline metric %q is not among the metrics", h)
		}
	}
	return nil
}

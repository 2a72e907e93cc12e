package sdk

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// good returns a well-declared metric called name.
func good(name string) Metric {
	return Metric{Name: name, Value: 0.5, Direction: HigherIsBetter, Unit: Fraction, Help: name}
}

func TestScoresCheck(t *testing.T) {
	withConfusion := func(c *Confusion) Metric {
		m := good("acc1")
		m.Confusion = c
		m.Interval = &Interval{Low: 0.25, High: 0.75}
		m.ItemValues = []float64{1, 0}
		return m
	}
	tests := []struct {
		name string
		in   Scores
		want string // "" for no error
	}{
		{"empty", Scores{}, ""},
		{"every direction and unit", Scores{Metrics: []Metric{
			{Name: "a", Direction: HigherIsBetter, Unit: Fraction}, {Name: "b", Direction: LowerIsBetter, Unit: Rank},
			{Name: "c", Direction: Informational, Unit: Count}, {Name: "d", Direction: HigherIsBetter, Unit: Value}},
			Headline: []string{"b", "a"}}, ""},
		{"interval, item values and confusion", Scores{Metrics: []Metric{withConfusion(&Confusion{Classes: []string{"x", "y"},
			Counts: [][]int64{{1, 0}, {0, 1}}})}}, ""},
		{"no name", Scores{Metrics: []Metric{good("")}}, "a metric has no name"},
		{"twice", Scores{Metrics: []Metric{good("acc1"), good("acc5"), good("acc1")}}, `metric "acc1" is reported twice`},
		{"no direction", Scores{Metrics: []Metric{{Name: "acc1", Unit: Fraction}}},
			`metric "acc1": direction "": declare "higher", "lower" or "none"`},
		{"unknown direction", Scores{Metrics: []Metric{{Name: "acc1", Direction: "up", Unit: Fraction}}},
			`metric "acc1": direction "up": declare "higher", "lower" or "none"`},
		{"no unit", Scores{Metrics: []Metric{{Name: "acc1", Direction: HigherIsBetter}}},
			`metric "acc1": unit "": declare "fraction", "rank", "count" or "value"`},
		{"unknown unit", Scores{Metrics: []Metric{{Name: "acc1", Direction: HigherIsBetter, Unit: "percent"}}},
			`metric "acc1": unit "percent": declare "fraction", "rank", "count" or "value"`},
		{"confusion rows", Scores{Metrics: []Metric{withConfusion(&Confusion{Classes: []string{"x", "y"}, Counts: [][]int64{{1, 0}}})}},
			`metric "acc1": confusion matrix has 1 rows for 2 classes`},
		{"confusion row length", Scores{Metrics: []Metric{withConfusion(&Confusion{Classes: []string{"x", "y"},
			Counts: [][]int64{{1, 0}, {0, 1, 2}}})}},
			`metric "acc1": confusion matrix row 1 has 3 counts for 2 classes`},
		{"headline not a metric", Scores{Metrics: []Metric{good("acc1")}, Headline: []string{"acc1", "acc5"}},
			`headline metric "acc5" is not among the metrics`},
		{"first problem wins", Scores{Metrics: []Metric{{Name: "a"}, good("")}}, `metric "a": direction "": declare "higher", "lower" or "none"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Check()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestScoresMetricValueAdd(t *testing.T) {
	var s Scores
	assert.Nil(t, s.Metric("acc1"))
	assert.True(t, math.IsNaN(s.Value("acc1")), "a missing metric's value is NaN")

	a := s.Add(good("acc1"))
	assert.Equal(t, "acc1", a.Name)
	b := s.Add(Metric{Name: "acc5", Value: 0.9, Direction: HigherIsBetter, Unit: Fraction})
	assert.Equal(t, 0.9, b.Value)
	assert.Equal(t, 0.5, s.Value("acc1"))

	r := s.Add(Metric{Name: "acc1", Value: 0.25, Direction: LowerIsBetter, Unit: Value})
	assert.Equal(t, []string{"acc1", "acc5"}, []string{s.Metrics[0].Name, s.Metrics[1].Name}, "replacing keeps the order")
	assert.Len(t, s.Metrics, 2)
	assert.Equal(t, Metric{Name: "acc1", Value: 0.25, Direction: LowerIsBetter, Unit: Value}, *s.Metric("acc1"))
	assert.Same(t, &s.Metrics[0], r, "Add returns the stored metric")
	s.Metric("acc5").Value = 0.95
	assert.Equal(t, 0.95, s.Value("acc5"), "Metric returns the stored metric, not a copy")
}

func TestUnitFormat(t *testing.T) {
	tests := []struct {
		unit   Unit
		v      float64
		want   string
		signed string
	}{
		{Fraction, 0.8125, "81.25", "+81.25"},
		{Fraction, 1, "100.00", "+100.00"},
		{Fraction, 0.0125, "1.25", "+1.25"},
		{Fraction, -0.004, "-0.40", "-0.40"},
		{Fraction, -0.00004, "-0.00", "+0.00"},
		{Fraction, 0, "0.00", "+0.00"},
		{Fraction, math.Copysign(0, -1), "-0.00", "+0.00"},
		{Fraction, math.NaN(), "n/a", "n/a"},
		{Fraction, math.Inf(1), "n/a", "n/a"},
		{"", 0.5, "50.00", "+50.00"},
		{Count, 1234, "1234", "+1234"},
		{Count, -3, "-3", "-3"},
		{Count, -0.4, "-0", "+0"},
		{Count, 2.5, "2", "+2"},
		{Count, math.Inf(-1), "n/a", "n/a"},
		{Rank, 3, "3.00", "+3.00"},
		{Rank, -1.5, "-1.50", "-1.50"},
		{Rank, -0.001, "-0.00", "+0.00"},
		{Value, -0.125, "-0.12", "-0.12"},
		{Value, 100, "100.00", "+100.00"},
		{Value, -100, "-100.00", "-100.00"},
		{Value, math.NaN(), "n/a", "n/a"},
	}
	for _, tc := range tests {
		t.Run(string(tc.unit)+" "+tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.unit.Format(tc.v))
			assert.Equal(t, tc.signed, tc.unit.FormatSigned(tc.v))
		})
	}
}

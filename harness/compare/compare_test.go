package compare

import (
	"encoding/xml"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/internal/junittest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// run returns a successful run of model on task with the given metrics, all of them headline metrics in the order
// given (names and values alternate), each declared a higher-is-better fraction.
func run(model, task string, kv ...any) results.Run {
	r := results.Run{Model: model, Task: task, Metrics: map[string]results.Value{}, Kinds: map[string]results.Kind{}}
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		r.Metrics[name] = results.Value(kv[i+1].(float64))
		r.Kinds[name] = results.Kind{Direction: sdk.HigherIsBetter, Unit: sdk.Fraction}
		r.Headline = append(r.Headline, name)
	}
	return r
}

// declare sets the kind of metrics of r.
func declare(r results.Run, d sdk.Direction, u sdk.Unit, metrics ...string) results.Run {
	for _, m := range metrics {
		r.Kinds[m] = results.Kind{Direction: d, Unit: u}
	}
	return r
}

// res wraps runs in results with a default tolerance of half a point.
func res(runs ...results.Run) *results.Results {
	return &results.Results{Schema: results.SchemaVersion, Runs: runs, Tolerance: results.Tolerance{Default: 0.5}}
}

// brief is what a test checks of a case.
type brief struct {
	Metric  string
	Status  Status
	Delta   float64
	Tol     float64
	Message string
}

func briefs(r *Report) []brief {
	var out []brief
	for _, c := range r.Cases {
		d := c.Delta
		if !math.IsNaN(d) {
			d = math.Round(d*1e9) / 1e9 // compare deltas to 1e-9, beyond float rounding
		}
		out = append(out, brief{c.Model + "/" + c.Task + "/" + c.Metric, c.Status, d, c.Tolerance, c.Message})
	}
	return out
}

func TestCompare(t *testing.T) {
	nan := math.NaN()
	two := func(model string) []results.Run {
		return []results.Run{run(model, "t1", "acc1", 0.5, "acc5", 0.9), run(model, "t2", "recall@1", 0.25)}
	}
	onePoint, small := 1.0, 0.01
	ranks := func(r results.Run) results.Run {
		return declare(r, sdk.LowerIsBetter, sdk.Rank, "image_retrieval_median_rank", "text_retrieval_median_rank")
	}
	tests := []struct {
		name              string
		baseline, current *results.Results
		opts              Options
		want              []brief
	}{
		{
			name:     "a declared lower-is-better rank, in rank units",
			baseline: res(ranks(run("m", "t", "image_retrieval_median_rank", 3.0, "text_retrieval_median_rank", 5.0))),
			current:  res(ranks(run("m", "t", "image_retrieval_median_rank", 2.0, "text_retrieval_median_rank", 7.0))),
			opts:     Options{Tolerance: &small},
			want: []brief{
				{"m/t/image_retrieval_median_rank", Pass, -1, 0.01, ""},
				{"m/t/text_retrieval_median_rank", Fail, 2, 0.01, "regression: text_retrieval_median_rank rose by 2, more than the tolerance of 0.01 (lower is better)"},
			},
		},
		{
			name: "direction and unit come from the declaration, never the name; units take their own default",
			baseline: res(declare(declare(declare(run("m", "t", "median_rank", 3.0, "errors", 4.0, "n", 10.0), sdk.HigherIsBetter, sdk.Rank, "median_rank"),
				sdk.Informational, sdk.Count, "n"), sdk.LowerIsBetter, sdk.Value, "errors")),
			current: func() *results.Results {
				r := res(declare(declare(declare(run("m", "t", "median_rank", 2.0, "errors", 3.95, "n", 7.0), sdk.HigherIsBetter, sdk.Rank, "median_rank"),
					sdk.Informational, sdk.Count, "n"), sdk.LowerIsBetter, sdk.Value, "errors"))
				r.Tolerance.Units = map[sdk.Unit]float64{sdk.Rank: 0.5}
				return r
			}(),
			want: []brief{
				{"m/t/median_rank", Fail, -1, 0.5, "regression: median_rank fell by 1, more than the tolerance of 0.5"},
				{"m/t/errors", Pass, -0.05, 0, ""},
				{"m/t/n", Pass, -3, 0, "informational: reported, not gated"},
			},
		},
		{
			name:     "a metric without a declared direction fails",
			baseline: res(results.Run{Model: "m", Task: "t", Metrics: map[string]results.Value{"acc1": 0.5}, Headline: []string{"acc1"}}),
			current:  res(results.Run{Model: "m", Task: "t", Metrics: map[string]results.Value{"acc1": 0.5}}),
			want: []brief{
				{"m/t/acc1", Fail, 0, 0, "acc1 declares no direction (results written before protocol v2?): re-run it with this clipeval"},
			},
		},
		{
			name:     "identical passes",
			baseline: res(two("m")...), current: res(two("m")...),
			want: []brief{
				{"m/t1/acc1", Pass, 0, 0.005, ""}, {"m/t1/acc5", Pass, 0, 0.005, ""}, {"m/t2/recall@1", Pass, 0, 0.005, ""},
			},
		},
		{
			name:     "improvement and a drop of exactly the tolerance pass, a larger drop fails",
			baseline: res(run("m", "t1", "acc1", 0.5, "acc5", 0.9, "mpcr", 0.7)),
			current:  res(run("m", "t1", "acc1", 0.6, "acc5", 0.895, "mpcr", 0.69)),
			want: []brief{
				{"m/t1/acc1", Pass, 0.1, 0.005, ""},
				{"m/t1/acc5", Pass, -0.005, 0.005, ""},
				{"m/t1/mpcr", Fail, -0.01, 0.005, "regression: mpcr fell by 1.00 points, more than the tolerance of 0.50 points"},
			},
		},
		{
			name:     "per-metric tolerance of the current results",
			baseline: res(run("m", "t1", "acc1", 0.5, "acc5", 0.9)),
			current: func() *results.Results {
				r := res(run("m", "t1", "acc1", 0.49, "acc5", 0.89))
				r.Tolerance.Metrics = map[string]float64{"acc1": 2}
				return r
			}(),
			want: []brief{
				{"m/t1/acc1", Pass, -0.01, 0.02, ""},
				{"m/t1/acc5", Fail, -0.01, 0.005, "regression: acc5 fell by 1.00 points, more than the tolerance of 0.50 points"},
			},
		},
		{
			name:     "command-line tolerance overrides the results'",
			baseline: res(run("m", "t1", "acc1", 0.5)),
			current: func() *results.Results {
				r := res(run("m", "t1", "acc1", 0.485))
				r.Tolerance.Metrics = map[string]float64{"acc1": 2}
				return r
			}(),
			opts: Options{Tolerance: &onePoint},
			want: []brief{{"m/t1/acc1", Fail, -0.015, 0.01, "regression: acc1 fell by 1.50 points, more than the tolerance of 1.00 points"}},
		},
		{
			name:     "metric missing in current",
			baseline: res(run("m", "t1", "acc1", 0.5, "acc5", 0.9)),
			current:  res(run("m", "t1", "acc1", 0.5)),
			want: []brief{
				{"m/t1/acc1", Pass, 0, 0.005, ""},
				{"m/t1/acc5", Fail, nan, 0.005, "metric missing from the current run"},
			},
		},
		{
			name:     "task missing in current",
			baseline: res(two("m")...), current: res(run("m", "t1", "acc1", 0.5, "acc5", 0.9)),
			want: []brief{
				{"m/t1/acc1", Pass, 0, 0.005, ""}, {"m/t1/acc5", Pass, 0, 0.005, ""},
				{"m/t2/recall@1", Fail, nan, 0.005, `task "t2" is in the baseline but not in the current results (tasks: t1)`},
			},
		},
		{
			name:     "model missing in current",
			baseline: res(append(two("a"), two("b")...)...), current: res(two("a")...),
			want: []brief{
				{"a/t1/acc1", Pass, 0, 0.005, ""}, {"a/t1/acc5", Pass, 0, 0.005, ""}, {"a/t2/recall@1", Pass, 0, 0.005, ""},
				{"b/t1/acc1", Fail, nan, 0.005, `model "b" is in the baseline but not in the current results (models: a)`},
				{"b/t1/acc5", Fail, nan, 0.005, `model "b" is in the baseline but not in the current results (models: a)`},
				{"b/t2/recall@1", Fail, nan, 0.005, `model "b" is in the baseline but not in the current results (models: a)`},
			},
		},
		{
			name:     "different model and task names",
			baseline: res(run("biomedclip", "organ", "acc1", 0.5)), current: res(run("clip", "modality", "acc1", 0.5)),
			want: []brief{{"biomedclip/organ/acc1", Fail, nan, 0.005,
				`neither model "biomedclip" nor task "organ" is in the current results (models: clip; tasks: modality)`}},
		},
		{
			name:     "model and task present, their run absent",
			baseline: res(run("a", "t1", "acc1", 0.5), run("b", "t2", "acc1", 0.5)),
			current:  res(run("a", "t2", "acc1", 0.5), run("b", "t1", "acc1", 0.5)),
			want: []brief{
				{"a/t1/acc1", Fail, nan, 0.005, `the current results have model "a" and task "t1" but no run of the model on the task`},
				{"b/t2/acc1", Fail, nan, 0.005, `the current results have model "b" and task "t2" but no run of the model on the task`},
			},
		},
		{
			name:     "failed runs",
			baseline: res(results.Run{Model: "m", Task: "t1", Error: "model folder gone\nmore detail"}, run("m", "t2", "acc1", 0.5)),
			current:  res(run("m", "t1", "acc1", 0.5), results.Run{Model: "m", Task: "t2", Error: "encoding images: boom"}),
			want: []brief{
				{"m/t1/(run)", Skip, nan, 0, "the baseline run failed, so there is nothing to compare: model folder gone"},
				{"m/t2/acc1", Fail, nan, 0.005, "the current run failed: encoding images: boom"},
			},
		},
		{
			name:     "undefined values",
			baseline: res(run("m", "t", "a", nan, "b", nan, "c", 0.5)),
			current:  res(run("m", "t", "a", nan, "b", 0.5, "c", nan)),
			want: []brief{
				{"m/t/a", Pass, nan, 0.005, "undefined in both"},
				{"m/t/b", Pass, nan, 0.005, "undefined in the baseline: nothing to regress from"},
				{"m/t/c", Fail, nan, 0.005, "undefined (NaN) in the current run, defined in the baseline"},
			},
		},
		{
			name: "metric selection, in the order given, over non-headline metrics too",
			baseline: func() *results.Results {
				r := res(two("m")...)
				r.Runs[0].Metrics["recall/head"] = 0.8
				r.Runs[0].Kinds["recall/head"] = results.Kind{Direction: sdk.HigherIsBetter, Unit: sdk.Fraction}
				return r
			}(),
			current: func() *results.Results {
				r := res(two("m")...)
				r.Runs[0].Metrics["recall/head"] = 0.7
				r.Runs[0].Kinds["recall/head"] = results.Kind{Direction: sdk.HigherIsBetter, Unit: sdk.Fraction}
				return r
			}(),
			opts: Options{Metrics: []string{"recall/head", "acc1"}},
			want: []brief{
				{"m/t1/recall/head", Fail, -0.1, 0.005, "regression: recall/head fell by 10.00 points, more than the tolerance of 0.50 points"},
				{"m/t1/acc1", Pass, 0, 0.005, ""},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compare(tc.baseline, tc.current, tc.opts)
			require.NoError(t, err)
			got := briefs(r)
			require.Len(t, got, len(tc.want))
			for i := range tc.want {
				// NaN != NaN, so NaN deltas are compared as "both NaN".
				if math.IsNaN(tc.want[i].Delta) {
					assert.True(t, math.IsNaN(got[i].Delta), "case %d delta %v", i, got[i].Delta)
					got[i].Delta, tc.want[i].Delta = 0, 0
				}
				assert.Equal(t, tc.want[i], got[i], "case %d", i)
			}
			fails := 0
			for _, w := range tc.want {
				if w.Status == Fail {
					fails++
				}
			}
			assert.Equal(t, fails > 0, r.Failed())
		})
	}
}

func TestCompareBadInput(t *testing.T) {
	ok := res(run("m", "t", "acc1", 0.5))
	neg, inf := -0.1, math.Inf(1)
	tests := []struct {
		name              string
		baseline, current *results.Results
		opts              Options
		wantErr           string
	}{
		{"nil", nil, ok, Options{}, "both baseline and current results are needed"},
		{"empty baseline", res(), ok, Options{}, "the baseline has no runs"},
		{"negative tolerance", ok, ok, Options{Tolerance: &neg}, "tolerance -0.1 must be a non-negative number"},
		{"infinite tolerance", ok, ok, Options{Tolerance: &inf}, "tolerance +Inf must be a non-negative number"},
		{"unknown metric", ok, ok, Options{Metrics: []string{"acc1", "acc9"}},
			`no baseline run reports metric "acc9"; check the name (metrics of the first baseline run: acc1)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compare(tc.baseline, tc.current, tc.opts)
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestComparePairedBootstrap(t *testing.T) {
	base := run("m", "t", "acc1", 0.5, "acc5", 0.75)
	base.ItemValues = map[string][]float64{"acc1": {1, 0, 1, 0}, "acc5": {1, 1, 1, 0}}
	cur := run("m", "t", "acc1", 0.75, "acc5", 0.75)
	// acc1: every item improves or stays; acc5's item values cover other items, so they are not paired.
	cur.ItemValues = map[string][]float64{"acc1": {1, 1, 1, 0}, "acc5": {1, 1, 0}}
	r, err := Compare(res(base), res(cur), Options{})
	require.NoError(t, err)
	require.Len(t, r.Cases, 2)
	require.NotNil(t, r.Cases[0].Paired)
	assert.Equal(t, 4, r.Cases[0].Paired.Items)
	// The paired differences are {0, 1, 0, 0}: a resampled mean is 0 with probability (3/4)^4 = 0.32 (so the
	// 2.5% percentile is 0), at least 0.75 with probability 0.051 and 1 with probability 0.004 (so the 97.5%
	// percentile is 0.75), and never below 0 (so p = 2·P(Δ* ≤ 0) ≈ 0.63).
	assert.Equal(t, 0.0, r.Cases[0].Paired.Interval.Low)
	assert.Equal(t, 0.75, r.Cases[0].Paired.Interval.High)
	assert.InDelta(t, 0.63, r.Cases[0].Paired.P, 0.1)
	assert.Nil(t, r.Cases[1].Paired)
}

func TestBootstrap(t *testing.T) {
	t.Run("constant differences", func(t *testing.T) {
		// Every resampled mean of a constant difference is that constant. None of the 1000 is ≤ 0, so with the +1
		// correction p = 2·(1 + 0)/(1000 + 1), the smallest p-value 1000 resamples can show.
		iv := Bootstrap([]float64{0, 0.5, 1}, []float64{0.25, 0.75, 1.25}, Resamples, DefaultSeed)
		assert.Equal(t, stats.Paired{Items: 3, Diff: 0.25, Resamples: Resamples, Interval: stats.Interval{Low: 0.25, High: 0.25}, P: 2.0 / 1001}, iv)
		iv = Bootstrap([]float64{0.5, 1}, []float64{0.5, 1}, Resamples, DefaultSeed)
		assert.Equal(t, stats.Paired{Items: 2, Resamples: Resamples, Interval: stats.Interval{Low: 0, High: 0}, P: 1}, iv, "no difference: every Δ* is 0, p capped at 1")
		iv = Bootstrap([]float64{1, 1}, []float64{0, 0}, Resamples, DefaultSeed)
		assert.Equal(t, stats.Paired{Items: 2, Diff: -1, Resamples: Resamples, Interval: stats.Interval{Low: -1, High: -1}, P: 2.0 / 1001}, iv, "none of the Δ* is ≥ 0")
	})
	t.Run("two items", func(t *testing.T) {
		// Differences {0, 1}: a resampled mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4, so the 2.5% and
		// 97.5% percentiles are 0 and 1 and p = 2·P(Δ* ≤ 0) ≈ 0.5 (its binomial sd over 1000 resamples is 0.027).
		iv := Bootstrap([]float64{0, 0}, []float64{0, 1}, Resamples, DefaultSeed)
		assert.Equal(t, 0.0, iv.Interval.Low)
		assert.Equal(t, 1.0, iv.Interval.High)
		assert.InDelta(t, 0.5, iv.P, 0.1)
		assert.Equal(t, iv, Bootstrap([]float64{0, 0}, []float64{0, 1}, Resamples, DefaultSeed), "same seed, same answer")
	})
	t.Run("degenerate input", func(t *testing.T) {
		for _, iv := range []stats.Paired{
			Bootstrap(nil, nil, Resamples, 1),
			Bootstrap([]float64{1}, []float64{1, 2}, Resamples, 1),
			Bootstrap([]float64{1}, []float64{1}, 0, 1),
			Bootstrap([]float64{1, 0}, []float64{1, math.NaN()}, Resamples, 1),
		} {
			assert.True(t, math.IsNaN(iv.Interval.Low) && math.IsNaN(iv.Interval.High) && math.IsNaN(iv.P), "%+v", iv)
		}
	})
}

// outputFixture is a report with one case of each kind: pass with a paired interval, fail, skip.
func outputFixture() *Report {
	return &Report{Cases: []Case{
		{Model: "m", Task: "t", Metric: "acc1", Baseline: 0.5, Current: 0.75, Delta: 0.25, Tolerance: 0.005, Status: Pass,
			Paired: &stats.Paired{Items: 4, Interval: stats.Interval{Low: 0, High: 0.5}, P: 0.25}},
		{Model: "m", Task: "t", Metric: "acc|5", Baseline: 0.9, Current: 0.8, Delta: -0.1, Tolerance: 0.005, Status: Fail,
			Message: "regression: acc|5 fell by 10.00 points, more than the tolerance of 0.50 points"},
		{Model: "m", Task: "u", Metric: RunMetric, Baseline: math.NaN(), Current: math.NaN(), Delta: math.NaN(), Status: Skip,
			Message: "the baseline run failed, so there is nothing to compare: boom"},
	}}
}

func TestMarkdown(t *testing.T) {
	assert.Equal(t, "## clipeval compare\n\nBaseline `base.json`, current `runs/cur/results.json`.\n\n"+
		"**1 of 3 comparisons failed.**\n\n"+
		"Fractions are shown as percentages, with Δ = current − baseline and the tolerance in percentage points; ranks, "+
		"counts and plain values as they are. A metric fails when it worsens in its declared direction by more than "+
		"its tolerance (improvements pass; informational metrics are not gated). Where both runs saved per-item values, the 95% interval and p-value of Δ "+
		"come from a paired bootstrap (1000 resamples, fixed seed).\n\n"+
		"| model | task | metric | baseline | current | Δ | 95% CI of Δ | p | tolerance | result |\n"+
		"|---|---|---|---:|---:|---:|---|---:|---:|---|\n"+
		"| m | t | acc1 | 50.00 | 75.00 | +25.00 | [+0.00, +50.00] | 0.250 | 0.50 | PASS |\n"+
		`| m | t | acc\|5 | 90.00 | 80.00 | -10.00 |  |  | 0.50 | **FAIL** |`+"\n"+
		"| m | u | (run) | n/a | n/a | n/a |  |  |  | SKIP |\n"+
		"\n### Failed and skipped\n\n"+
		"- FAIL **m** · **t** · `acc\\|5`: regression: acc\\|5 fell by 10.00 points, more than the tolerance of 0.50 points\n"+
		"- SKIP **m** · **u** · `(run)`: the baseline run failed, so there is nothing to compare: boom\n",
		outputFixture().Markdown("base.json", "runs/cur/results.json"))

	pass := &Report{Cases: outputFixture().Cases[:1]}
	assert.Contains(t, pass.Markdown("a", "b"), "All 1 comparisons passed (0 skipped).\n\n")
	assert.NotContains(t, pass.Markdown("a", "b"), "### Failed and skipped")
}

func TestJUnit(t *testing.T) {
	b, err := outputFixture().JUnit().Marshal()
	require.NoError(t, err)
	require.NoError(t, junittest.Validate(b))
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
				Out string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(b, &doc))
	assert.Equal(t, []int{3, 1, 1}, []int{doc.Tests, doc.Failures, doc.Skipped})
	require.Len(t, doc.Suites, 2)
	assert.Equal(t, "m.t", doc.Suites[0].Name)
	assert.Equal(t, "m.u", doc.Suites[1].Name)
	c := doc.Suites[0].Cases
	require.Len(t, c, 2)
	assert.Equal(t, []string{"acc1", "m.t", "acc|5", "m.t"}, []string{c[0].Name, c[0].Classname, c[1].Name, c[1].Classname})
	assert.Nil(t, c[0].Failure)
	assert.Equal(t, "baseline 50.00, current 75.00, delta +25.00 points, tolerance 0.50 points, paired bootstrap over 4 items: 95% CI [+0.00, +50.00], p 0.250", c[0].Out)
	require.NotNil(t, c[1].Failure)
	assert.Equal(t, "regression: acc|5 fell by 10.00 points, more than the tolerance of 0.50 points", c[1].Failure.Message)
	assert.Equal(t, "baseline 90.00, current 80.00, delta -10.00 points, tolerance 0.50 points", c[1].Failure.Text)
	require.Len(t, doc.Suites[1].Cases, 1)
	require.NotNil(t, doc.Suites[1].Cases[0].Skipped)
	assert.Equal(t, "the baseline run failed, so there is nothing to compare: boom", doc.Suites[1].Cases[0].Skipped.Message)
}

// BenchmarkBootstrap times one paired bootstrap over 10,000 items (a large test set).
func BenchmarkBootstrap(b *testing.B) {
	base, cur := make([]float64, 10000), make([]float64, 10000)
	for i := range base {
		base[i], cur[i] = float64(i%2), float64(i%3%2)
	}
	for b.Loop() {
		Bootstrap(base, cur, Resamples, DefaultSeed)
	}
}

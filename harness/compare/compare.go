// Package compare is the regression gate of `clipeval compare` and `clipeval run --baseline`: it compares the
// metrics of a current results.json with a baseline's, per model × task × metric, and passes or fails each against
// an absolute tolerance. Each metric's direction and unit are what its task declared (results.Run.Kinds): a
// higher-is-better metric fails when current < baseline − tolerance, a lower-is-better one when current >
// baseline + tolerance, an informational one is never gated; tolerances are in the metric's own unit (percentage
// points for fractions, ranks for ranks, ...). Nothing here reads meaning into a metric's name. Where both runs saved per-item values of a
// metric (results.Run.ItemValues) for the same number of items, the delta also gets a paired bootstrap interval
// and p-value (see Bootstrap).
package compare

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/clipeval/clipeval/harness/junit"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// Status is the outcome of one comparison (junit.Status).
type Status = junit.Status

// Outcomes: Pass (no regression beyond the tolerance), Fail (a regression, or the metric, run, task or model is
// missing from the current results), Skip (nothing to compare: the baseline run failed).
const (
	Pass = junit.Pass
	Fail = junit.Fail
	Skip = junit.Skip
)

// RunMetric is the metric name of a case about a whole run (a failed baseline run has no metrics to list).
const RunMetric = "(run)"

// boundarySlack absorbs floating-point rounding at the boundary, so that a drop of exactly the tolerance (e.g.
// 0.500 → 0.495 with tolerance 0.005) passes.
const boundarySlack = 1e-12

// Options tune a comparison.
type Options struct {
	// Tolerance, when not nil, is the absolute tolerance of every metric in its display unit (percentage points
	// for fractions, the metric's unit otherwise), overriding the current results' tolerances
	// (results.Results.Tolerance: per metric, else the default of its unit).
	Tolerance *float64
	// Metrics restricts the comparison to these metrics, in this order, for every baseline run that has them; empty
	// compares each baseline run's headline metrics.
	Metrics []string
	// Seed seeds the paired bootstrap; 0 means DefaultSeed.
	Seed uint64
}

// Case is the comparison of one metric of one model on one task.
type Case struct {
	Model, Task, Metric string
	// Baseline and Current are the metric values, NaN when absent or undefined; Delta is Current − Baseline.
	Baseline, Current, Delta float64
	// Tolerance is the tolerance applied, in the metric's unit (fractions as fractions: 0.005 is half a point).
	Tolerance float64
	// Kind is the metric's declared direction and unit (the current run's, else the baseline's).
	Kind results.Kind
	// Paired is the paired bootstrap of Delta; nil unless both runs saved per-item values for the same items.
	Paired *stats.Paired
	Status Status
	// Message says why a case failed or was skipped, or notes something about a passing one.
	Message string
}

// Report is the outcome of a comparison: its cases in baseline order (runs, then metrics).
type Report struct {
	Cases []Case
}

// Count returns how many cases have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Cases {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Failed reports whether any case failed.
func (r *Report) Failed() bool { return r.Count(Fail) > 0 }

// Summary is a one-line account, e.g. "12 passed, 1 failed, 0 skipped of 13 comparisons".
func (r *Report) Summary() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped of %d comparisons", r.Count(Pass), r.Count(Fail), r.Count(Skip), len(r.Cases))
}

// Compare compares current with baseline. Baseline runs of model × task pairs the current results lack fail with a
// message naming what is missing; runs only in current are not compared (they have no baseline). It returns an
// error for bad input: nil results, a baseline without runs, a negative or non-finite tolerance, or a metric in
// opts.Metrics that no baseline run reports.
func Compare(baseline, current *results.Results, opts Options) (*Report, error) {
	if baseline == nil || current == nil {
		return nil, fmt.Errorf("compare: both baseline and current results are needed")
	}
	if len(baseline.Runs) == 0 {
		return nil, fmt.Errorf("compare: the baseline has no runs, so there is nothing to compare against; use a results.json of a run that evaluated something")
	}
	if t := opts.Tolerance; t != nil && (*t < 0 || math.IsNaN(*t) || math.IsInf(*t, 0)) {
		return nil, fmt.Errorf("compare: tolerance %v must be a non-negative number", *t)
	}
	for _, m := range opts.Metrics {
		if !slices.ContainsFunc(baseline.Runs, func(r results.Run) bool { _, ok := r.Metrics[m]; return ok }) {
			return nil, fmt.Errorf("compare: no baseline run reports metric %q; check the name (metrics of the first baseline run: %s)",
				m, strings.Join(metricNames(baseline.Runs), ", "))
		}
	}
	seed := opts.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	cur := index(current)
	report := &Report{}
	for _, b := range baseline.Runs {
		if b.Error != "" {
			report.Cases = append(report.Cases, Case{Model: b.Model, Task: b.Task, Metric: RunMetric, Status: Skip,
				Baseline: math.NaN(), Current: math.NaN(), Delta: math.NaN(),
				Message: "the baseline run failed, so there is nothing to compare: " + firstLine(b.Error)})
			continue
		}
		metrics := b.Headline
		if len(opts.Metrics) > 0 {
			metrics = nil
			for _, m := range opts.Metrics {
				if _, ok := b.Metrics[m]; ok {
					metrics = append(metrics, m)
				}
			}
		}
		c, found := cur.runs[[2]string{b.Model, b.Task}]
		for _, m := range metrics {
			kind, ok := c.Kinds[m]
			if !ok {
				kind = b.Kinds[m]
			}
			k := Case{Model: b.Model, Task: b.Task, Metric: m, Kind: kind, Tolerance: tolerance(current.Tolerance, opts.Tolerance, m, kind.Unit),
				Baseline: value(b.Metrics, m), Current: math.NaN(), Delta: math.NaN()}
			switch {
			case !found:
				k.Status, k.Message = Fail, cur.missing(b.Model, b.Task)
			case c.Error != "":
				k.Status, k.Message = Fail, "the current run failed: "+firstLine(c.Error)
			default:
				k = judge(k, b, c, seed)
			}
			report.Cases = append(report.Cases, k)
		}
	}
	return report, nil
}

// judge compares metric k.Metric of the successful runs b (baseline) and c (current).
func judge(k Case, b, c results.Run, seed uint64) Case {
	v, ok := c.Metrics[k.Metric]
	if !ok {
		k.Status, k.Message = Fail, "metric missing from the current run"
		return k
	}
	k.Current = float64(v)
	k.Delta = k.Current - k.Baseline
	switch bNaN, cNaN := math.IsNaN(k.Baseline), math.IsNaN(k.Current); {
	case bNaN && cNaN:
		k.Status, k.Message = Pass, "undefined in both"
		return k
	case bNaN:
		k.Status, k.Message = Pass, "undefined in the baseline: nothing to regress from"
		return k
	case cNaN:
		k.Status, k.Message = Fail, "undefined (NaN) in the current run, defined in the baseline"
		return k
	}
	if bi, ci := b.ItemValues[k.Metric], c.ItemValues[k.Metric]; len(bi) > 0 && len(bi) == len(ci) {
		iv := Bootstrap(bi, ci, Resamples, seed)
		k.Paired = &iv
	}
	switch k.Kind.Direction {
	case sdk.Informational:
		k.Status, k.Message = Pass, "informational: reported, not gated"
		return k
	case sdk.LowerIsBetter:
		if k.Delta > k.Tolerance+boundarySlack {
			k.Status = Fail
			k.Message = fmt.Sprintf("regression: %s rose by %s, more than the tolerance of %s (lower is better)",
				k.Metric, amount(k.Kind.Unit, k.Delta), amount(k.Kind.Unit, k.Tolerance))
			return k
		}
	case sdk.HigherIsBetter:
		if k.Delta < -k.Tolerance-boundarySlack {
			k.Status = Fail
			k.Message = fmt.Sprintf("regression: %s fell by %s, more than the tolerance of %s",
				k.Metric, amount(k.Kind.Unit, -k.Delta), amount(k.Kind.Unit, k.Tolerance))
			return k
		}
	default:
		k.Status = Fail
		k.Message = fmt.Sprintf("%s declares no direction (results written before protocol v2?): re-run it with this clipeval", k.Metric)
		return k
	}
	k.Status = Pass
	return k
}

// tolerance returns metric m's tolerance in its own unit: opt when set, else the metric's own tolerance, else
// the default of its unit (t.Default for fractions, t.Units for the others, 0 when unset). Tolerances are written
// in display units, so a fraction's percentage points are divided by 100.
func tolerance(t results.Tolerance, opt *float64, m string, unit sdk.Unit) float64 {
	v, ok := t.Metrics[m]
	switch {
	case opt != nil:
		v = *opt
	case ok:
	case unit == sdk.Fraction:
		v = t.Default
	default:
		v = t.Units[unit]
	}
	if unit == sdk.Fraction {
		return v / 100
	}
	return v
}

// amount formats a change or tolerance in unit: fractions in percentage points ("1.25 points"), others as numbers.
func amount(unit sdk.Unit, v float64) string {
	if unit == sdk.Fraction {
		return fmt.Sprintf("%.2f points", 100*v)
	}
	return fmt.Sprintf("%.4g", v)
}

// currentIndex finds current runs by model × task and knows which models and tasks the current results hold.
type currentIndex struct {
	runs                map[[2]string]results.Run
	models, tasks       map[string]bool
	modelList, taskList []string
}

// index builds the currentIndex of r (models and tasks from r.Models, r.Tasks and the runs).
func index(r *results.Results) *currentIndex {
	ix := &currentIndex{runs: map[[2]string]results.Run{}, models: map[string]bool{}, tasks: map[string]bool{}}
	addModel := func(m string) {
		if !ix.models[m] {
			ix.models[m] = true
			ix.modelList = append(ix.modelList, m)
		}
	}
	addTask := func(t string) {
		if !ix.tasks[t] {
			ix.tasks[t] = true
			ix.taskList = append(ix.taskList, t)
		}
	}
	for _, m := range r.Models {
		addModel(m.Name)
	}
	for _, t := range r.Tasks {
		addTask(t.Name)
	}
	for _, run := range r.Runs {
		ix.runs[[2]string{run.Model, run.Task}] = run
		addModel(run.Model)
		addTask(run.Task)
	}
	return ix
}

// missing explains why model × task is not in the current results.
func (ix *currentIndex) missing(model, task string) string {
	switch {
	case !ix.tasks[task] && !ix.models[model]:
		return fmt.Sprintf("neither model %q nor task %q is in the current results (models: %s; tasks: %s)",
			model, task, list(ix.modelList), list(ix.taskList))
	case !ix.tasks[task]:
		return fmt.Sprintf("task %q is in the baseline but not in the current results (tasks: %s)", task, list(ix.taskList))
	case !ix.models[model]:
		return fmt.Sprintf("model %q is in the baseline but not in the current results (models: %s)", model, list(ix.modelList))
	}
	return fmt.Sprintf("the current results have model %q and task %q but no run of the model on the task", model, task)
}

// list joins names for a message ("none" when empty).
func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// value returns metric m of metrics, NaN when absent.
func value(metrics map[string]results.Value, m string) float64 {
	if v, ok := metrics[m]; ok {
		return float64(v)
	}
	return math.NaN()
}

// metricNames returns the sorted metric names of the first run that has metrics.
func metricNames(runs []results.Run) []string {
	for _, r := range runs {
		if len(r.Metrics) > 0 {
			names := make([]string, 0, len(r.Metrics))
			for m := range r.Metrics {
				names = append(names, m)
			}
			slices.Sort(names)
			return names
		}
	}
	return []string{"none"}
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Package compare is the regression gate of `clipeval compare` and `clipeval run --baseline`: it compares the
// metrics of a current results.json with a baseline's, per model × task × metric, and passes or fails each against
// an absolute tolerance. Every metric is taken as higher-is-better and in metric units (fractions, as results.json
// stores them): a metric fails when current < baseline − tolerance. Where both runs saved per-item values of a
// metric (results.Run.ItemValues) for the same number of items, the delta also gets a paired bootstrap interval
// and p-value (see Bootstrap).
package compare

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/clipeval/clipeval/harness/results"
)

// Status is the outcome of one comparison.
type Status string

// Outcomes: Pass (no regression beyond the tolerance), Fail (a regression, or the metric, run, task or model is
// missing from the current results), Skip (nothing to compare: the baseline run failed).
const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// RunMetric is the metric name of a case about a whole run (a failed baseline run has no metrics to list).
const RunMetric = "(run)"

// boundarySlack absorbs floating-point rounding at the boundary, so that a drop of exactly the tolerance (e.g.
// 0.500 → 0.495 with tolerance 0.005) passes.
const boundarySlack = 1e-12

// Options tune a comparison.
type Options struct {
	// Tolerance, when not nil, is the absolute tolerance (metric units) of every metric, overriding the current
	// results' tolerances (results.Results.Tolerance: per metric, else its default; results written without a
	// compare: section have default 0, which tolerates no drop at all).
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
	// Tolerance is the tolerance applied (metric units).
	Tolerance float64
	// Paired is the paired bootstrap of Delta; nil unless both runs saved per-item values for the same items.
	Paired *Interval
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
			tol := current.Tolerance.Default
			if t, ok := current.Tolerance.Metrics[m]; ok {
				tol = t
			}
			if opts.Tolerance != nil {
				tol = *opts.Tolerance
			}
			k := Case{Model: b.Model, Task: b.Task, Metric: m, Tolerance: tol, Baseline: value(b.Metrics, m),
				Current: math.NaN(), Delta: math.NaN()}
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
	if lowerIsBetter(k.Metric) {
		if k.Delta > k.Tolerance+boundarySlack {
			k.Status = Fail
			k.Message = fmt.Sprintf("regression: %s rose by %.4g, more than the tolerance of %.4g (lower is better)",
				k.Metric, k.Delta, k.Tolerance)
			return k
		}
	} else if k.Delta < -k.Tolerance-boundarySlack {
		k.Status = Fail
		k.Message = fmt.Sprintf("regression: %s fell by %.2f points, more than the tolerance of %.2f",
			k.Metric, -100*k.Delta, 100*k.Tolerance)
		return k
	}
	k.Status = Pass
	return k
}

// lowerIsBetter reports whether a smaller value of the metric is the better one: ranks (median_rank), counted in
// rank units, not fractions, so their tolerance is in ranks too. Every other clipeval metric is a share or an
// AUROC, where higher is better.
func lowerIsBetter(metric string) bool {
	return strings.Contains(metric, "median_rank")
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

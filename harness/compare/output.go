package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/clipeval/clipeval/harness/junit"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// JUnit returns the report as JUnit XML: one <testsuite> per model × task (named "<model>.<task>", the cases'
// classname too) with one <testcase> per metric; a failing case carries a <failure> with its reason, a skipped one
// a <skipped>, a passing one its numbers in <system-out>.
func (r *Report) JUnit() *junit.Suites {
	s := junit.New("clipeval compare")
	for _, k := range r.Cases {
		class := k.Model + "." + k.Task
		c := junit.Case{Name: k.Metric, Classname: class}
		switch k.Status {
		case Fail:
			c.Failure = &junit.Failure{Message: k.Message, Type: "regression", Text: k.detail()}
		case Skip:
			c.Skipped = &junit.Skipped{Message: k.Message}
		default:
			c.SystemOut = k.detail()
		}
		s.Add(class, c)
	}
	return s
}

// detail is the case's numbers as one line, in the metric's unit (fractions in percent and percentage points).
func (k Case) detail() string {
	u := k.Kind.Unit
	points := ""
	if u == sdk.Fraction || u == "" {
		points = " points"
	}
	s := fmt.Sprintf("baseline %s, current %s, delta %s%s, tolerance %s%s", u.Format(k.Baseline), u.Format(k.Current),
		u.FormatSigned(k.Delta), points, u.Format(k.Tolerance), points)
	if k.Paired != nil {
		s += fmt.Sprintf(", paired bootstrap over %d items: 95%% CI %s, p %s", k.Paired.Items, interval(u, k.Paired), pValue(k.Paired.P))
	}
	if k.Status == Pass && k.Message != "" {
		s += " (" + k.Message + ")"
	}
	return s
}

// Markdown renders the report as a Markdown section for a job summary: a verdict line, a table of every case and
// the reasons of the failed and skipped ones. baseline and current name the compared files.
func (r *Report) Markdown(baseline, current string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## clipeval compare\n\nBaseline %s, current %s.\n\n", code(baseline), code(current))
	if n := r.Count(Fail); n > 0 {
		w("**%d of %d comparisons failed.**\n\n", n, len(r.Cases))
	} else {
		w("All %d comparisons passed (%d skipped).\n\n", len(r.Cases)-r.Count(Skip), r.Count(Skip))
	}
	w("Fractions are shown as percentages, with Δ = current − baseline and the tolerance in percentage points; ranks, "+
		"counts and plain values as they are. A metric fails when it worsens in its declared direction by more than "+
		"its tolerance (improvements pass; informational metrics are not gated). Where both runs saved per-item values, the 95%% interval and p-value of Δ "+
		"come from a paired bootstrap (%d resamples, fixed seed).\n\n", Resamples)
	w("| model | task | metric | baseline | current | Δ | 95%% CI of Δ | p | tolerance | result |\n")
	w("|---|---|---|---:|---:|---:|---|---:|---:|---|\n")
	for _, k := range r.Cases {
		ci, p := "", ""
		u := k.Kind.Unit
		if k.Paired != nil {
			ci, p = interval(u, k.Paired), pValue(k.Paired.P)
		}
		tol, verdict := u.Format(k.Tolerance), string(k.Status)
		switch k.Status {
		case Fail:
			verdict = "**FAIL**"
		case Skip:
			tol = ""
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(k.Model), cell(k.Task), cell(k.Metric),
			u.Format(k.Baseline), u.Format(k.Current), u.FormatSigned(k.Delta), ci, p, tol, verdict)
	}
	first := true
	for _, k := range r.Cases {
		if k.Status == Pass {
			continue
		}
		if first {
			w("\n### Failed and skipped\n\n")
			first = false
		}
		w("- %s **%s** · **%s** · %s: %s\n", k.Status, cell(k.Model), cell(k.Task), code(k.Metric), cell(k.Message))
	}
	return b.String()
}

// interval formats a bootstrap interval of a difference in unit, signed (fractions in percentage points).
func interval(u sdk.Unit, p *stats.Paired) string {
	iv := p.Interval
	return "[" + u.FormatSigned(iv.Low) + ", " + u.FormatSigned(iv.High) + "]"
}

// pValue formats a p-value with 3 decimals.
func pValue(p float64) string {
	if math.IsNaN(p) {
		return "n/a"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// cell makes s safe inside a Markdown table cell: no line breaks, pipes escaped.
func cell(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
}

// code formats s as a Markdown code span (s without backticks is the usual case; backticks become ').
func code(s string) string {
	return "`" + strings.ReplaceAll(cell(s), "`", "'") + "`"
}

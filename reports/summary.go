package reports

import (
	"maps"
	"slices"
	"strings"

	"github.com/clipeval/clipeval/harness/results"
)

// summaryRow is one line of the summary table that report.md and report.html share: a metric of one model on one
// task, as displayed strings.
type summaryRow struct {
	task, model, metric string
	// measured is the value in percent, or "failed", "missing", "n/a" (see metricCell).
	measured string
	// interval is the 95% bootstrap interval in percent, "" when the run reports none.
	interval string
	// published is the published value in percent, "" when the config gives none.
	published string
	// delta is measured − published in percentage points, signed; "" without a published value, "n/a" when the
	// measured value is not a number.
	delta string
}

// summaryRows lists, task by task and run by run, each run's headline metrics, then any other metric with a
// published value for its model (sorted); a failed run gets one row.
func summaryRows(views []*taskView) []summaryRow {
	var rows []summaryRow
	for _, tv := range views {
		for _, run := range tv.runs {
			if run.Error != "" {
				rows = append(rows, summaryRow{task: tv.name, model: run.Model, metric: "—", measured: "failed"})
				continue
			}
			var published map[string]results.Value
			if tv.info != nil {
				published = tv.info.Published[run.Model]
			}
			metrics := appendNew(slices.Clone(tv.headline), slices.Sorted(maps.Keys(published))...)
			for _, m := range metrics {
				row := summaryRow{task: tv.name, model: run.Model, metric: m, measured: metricCell(run, m)}
				unit := run.Kinds[m].Unit
				if iv, ok := run.Intervals[m]; ok && finite(float64(iv[0])) && finite(float64(iv[1])) {
					row.interval = "[" + unit.Format(float64(iv[0])) + ", " + unit.Format(float64(iv[1])) + "]"
				}
				if p, ok := published[m]; ok && finite(float64(p)) {
					row.published = unit.Format(float64(p))
					row.delta = "n/a"
					if v, ok := run.Metrics[m]; ok && finite(float64(v)) {
						row.delta = unit.FormatSigned(float64(v) - float64(p))
					}
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// modes describes the runs' modes of a task: "zero-shot" when every run that says has the same, else
// "model-a: zero-shot, model-b: linear-probe"; "" when no run says.
func modes(tv *taskView) string {
	var distinct, each []string
	for _, run := range tv.runs {
		if run.Mode != "" {
			distinct = appendNew(distinct, run.Mode)
			each = append(each, run.Model+": "+run.Mode)
		}
	}
	if len(distinct) == 1 {
		return distinct[0]
	}
	return strings.Join(each, ", ")
}

// Package reports renders a run's results (results.json) into a report folder: report.md, a Markdown summary fit
// for a GitHub job summary, and plots (PNG and SVG) of retrieval curves and headline metrics under plots/.
package reports

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clipeval/clipeval/harness/results"
)

// ReportFile and PlotsDir are the names of the Markdown report and the plot folder inside a report folder.
const (
	ReportFile = "report.md"
	PlotsDir   = "plots"
)

// Write renders report.md and plots (PNG and SVG) for r into dir (creating dir/plots), returning the files written:
// the plots in the order they appear in the report (PNG then SVG of each), then report.md.
func Write(dir string, r *results.Results) ([]string, error) {
	if r == nil {
		return nil, fmt.Errorf("writing report in %s: no results given", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, PlotsDir), 0o755); err != nil {
		return nil, fmt.Errorf("writing report: creating its folder: %w", err)
	}
	views := taskViews(r)
	colors := modelColors(r)
	used := map[string]bool{}
	var files []string
	for _, tv := range views {
		add := func(c *chart, title, name string) error {
			if c == nil {
				return nil
			}
			base := unique(slug(tv.name)+"--"+slug(name), used)
			written, err := c.save(filepath.Join(dir, PlotsDir), base)
			files = append(files, written...)
			if err != nil {
				return fmt.Errorf("writing report in %s: %w", dir, err)
			}
			tv.plots = append(tv.plots, plotLink{title: title, png: PlotsDir + "/" + base + ".png", svg: PlotsDir + "/" + base + ".svg"})
			return nil
		}
		for _, name := range tv.curves {
			c, err := curveChart(tv, name, colors)
			if err != nil {
				return files, fmt.Errorf("writing report in %s: %w", dir, err)
			}
			if err := add(c, tv.name+": "+name, name); err != nil {
				return files, err
			}
		}
		if err := add(barChart(tv, colors), tv.name+": headline metrics", "headline"); err != nil {
			return files, err
		}
	}
	path := filepath.Join(dir, ReportFile)
	if err := os.WriteFile(path, []byte(markdown(r, views)), 0o644); err != nil {
		return files, fmt.Errorf("writing report: %w (check that the report folder is writable)", err)
	}
	return append(files, path), nil
}

// taskView gathers what the report shows of one task.
type taskView struct {
	name string
	info *results.Task // nil when the task is only named by runs
	runs []results.Run // in results order (models outer)
	// headline is the union of the runs' headline metrics, in first-seen order.
	headline []string
	// curves is the union of the runs' curve names, in first-seen order.
	curves []string
	plots  []plotLink
}

// plotLink is a plot written for the report, with paths relative to the report folder.
type plotLink struct{ title, png, svg string }

// ok returns the runs that did not fail.
func (tv *taskView) ok() []results.Run {
	var runs []results.Run
	for _, run := range tv.runs {
		if run.Error == "" {
			runs = append(runs, run)
		}
	}
	return runs
}

// taskViews groups r's runs by task: the tasks of r.Tasks in order, then tasks named only by runs.
func taskViews(r *results.Results) []*taskView {
	var views []*taskView
	byName := map[string]*taskView{}
	get := func(name string) *taskView {
		if tv, ok := byName[name]; ok {
			return tv
		}
		tv := &taskView{name: name}
		byName[name] = tv
		views = append(views, tv)
		return tv
	}
	for i := range r.Tasks {
		get(r.Tasks[i].Name).info = &r.Tasks[i]
	}
	for _, run := range r.Runs {
		tv := get(run.Task)
		tv.runs = append(tv.runs, run)
		tv.headline = appendNew(tv.headline, run.Headline...)
		for _, c := range run.Curves {
			tv.curves = appendNew(tv.curves, c.Name)
		}
	}
	return views
}

// appendNew appends to list the values it does not hold yet.
func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// modelColors numbers the models (r.Models in order, then models named only by runs) so that each keeps one colour
// across all plots.
func modelColors(r *results.Results) map[string]int {
	idx := map[string]int{}
	add := func(name string) {
		if _, ok := idx[name]; !ok {
			idx[name] = len(idx)
		}
	}
	for _, m := range r.Models {
		add(m.Name)
	}
	for _, run := range r.Runs {
		add(run.Model)
	}
	return idx
}

// slug turns s into lower-case letters, digits and '_', other characters becoming single '-'.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	if out := strings.TrimRight(b.String(), "-"); out != "" {
		return out
	}
	return "x"
}

// unique returns name, or name with a number appended when used already holds it, and records it in used.
func unique(name string, used map[string]bool) string {
	out := name
	for n := 2; used[out]; n++ {
		out = name + "-" + strconv.Itoa(n)
	}
	used[out] = true
	return out
}

// markdown renders the report.
func markdown(r *results.Results, views []*taskView) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# clipeval report\n\n")
	var failed []results.Run
	for _, run := range r.Runs {
		if run.Error != "" {
			failed = append(failed, run)
		}
	}
	switch {
	case len(r.Runs) == 0:
		w("**No runs were recorded: this run evaluated nothing.**\n\n")
	case len(failed) > 0:
		w("**%d of %d runs failed** (see [Failed runs](#failed-runs)).\n\n", len(failed), len(r.Runs))
	}

	w("## Provenance\n\n| | |\n|---|---|\n")
	w("| clipeval | %s |\n", cell(orUnknown(r.Clipeval)))
	w("| runtime | %s |\n", cell(orUnknown(r.Runtime)))
	w("| config | %s |\n", code(orUnknown(r.Config.Path)))
	w("| config sha256 | %s |\n", code(orUnknown(r.Config.SHA256)))
	started := "unknown"
	if !r.Started.IsZero() {
		started = r.Started.UTC().Format(time.RFC3339)
	}
	w("| started | %s |\n", started)
	wall := "unknown"
	if finite(r.WallSeconds) && r.WallSeconds >= 0 {
		wall = time.Duration(r.WallSeconds * float64(time.Second)).Round(100 * time.Millisecond).String()
	}
	w("| wall time | %s |\n\n", wall)

	if len(r.Models) > 0 {
		w("### Models\n\n")
		w("| model | backend | folder | embed dim | image size | context length | logit scale | tokenizer | runtime |\n")
		w("|---|---|---|---:|---:|---:|---:|---|---|\n")
		for _, m := range r.Models {
			w("| %s | %s | %s | %d | %d | %d | %s | %s | %s |\n", cell(m.Name), cell(m.Backend), code(m.Dir),
				m.EmbedDim, m.ImageSize, m.ContextLength, strconv.FormatFloat(m.LogitScale, 'g', -1, 64),
				cell(m.Tokenizer), cell(m.Runtime))
		}
		w("\nModel files (sha256, first 12 hex digits):\n\n| model | file | sha256 |\n|---|---|---|\n")
		for _, m := range r.Models {
			for _, f := range slices.Sorted(maps.Keys(m.Files)) {
				w("| %s | %s | %s |\n", cell(m.Name), code(f), code(short(m.Files[f])))
			}
		}
		w("\n")
	}

	if len(views) > 0 {
		w("## Results\n\nValues are percentages; n/a marks an undefined metric (e.g. acc5 with fewer than 5 classes).\n\n")
	}
	for _, tv := range views {
		w("### %s\n\n", cell(tv.name))
		if t := tv.info; t != nil {
			w("Plugin %s; %d items (%d images, %d texts).", code(t.Plugin), t.DatasetSize, t.Images, t.Texts)
			if t.Description != "" {
				w(" %s", strings.Join(strings.Fields(t.Description), " "))
			}
			w("\n\n")
		}
		if len(tv.runs) == 0 {
			w("No runs.\n\n")
			continue
		}
		w("| model |")
		for _, m := range tv.headline {
			w(" %s |", cell(m))
		}
		w("\n|---|%s\n", strings.Repeat("---:|", len(tv.headline)))
		for _, run := range tv.runs {
			w("| %s |", cell(run.Model))
			for _, m := range tv.headline {
				w(" %s |", metricCell(run, m))
			}
			w("\n")
		}
		w("\n")
		for _, p := range tv.plots {
			alt := strings.NewReplacer("[", `\[`, "]", `\]`).Replace(cell(p.title))
			w("![%s](%s)  \n[SVG](%s)\n\n", alt, p.png, p.svg)
		}
	}

	if len(failed) > 0 {
		w("## Failed runs\n\n")
		for _, run := range failed {
			fence := strings.Repeat("`", max(3, longestRun(run.Error, '`')+1))
			w("- **%s** on **%s**:\n\n%stext\n%s\n%s\n\n", cell(run.Model), cell(run.Task), fence, run.Error, fence)
		}
	}
	return b.String()
}

// metricCell formats metric m of run as a percentage with 2 decimals (metrics are fractions in [0, 1]); "failed"
// for a failed run, "n/a" for an undefined (NaN) value, "missing" when the run did not report m.
func metricCell(run results.Run, m string) string {
	if run.Error != "" {
		return "failed"
	}
	v, ok := run.Metrics[m]
	switch {
	case !ok:
		return "missing"
	case !finite(float64(v)):
		return "n/a"
	}
	return strconv.FormatFloat(100*float64(v), 'f', 2, 64)
}

// cell makes s safe inside a Markdown table cell: no line breaks, pipes escaped.
func cell(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
}

// code formats s as a Markdown code span that is safe inside a table cell.
func code(s string) string {
	s = cell(s)
	if s == "" {
		return ""
	}
	n := longestRun(s, '`')
	if n == 0 {
		return "`" + s + "`"
	}
	ticks := strings.Repeat("`", n+1)
	return ticks + " " + s + " " + ticks // CommonMark strips the spaces, which keep a leading ` apart
}

// longestRun returns the length of the longest run of c in s.
func longestRun(s string, c rune) int {
	longest, n := 0, 0
	for _, r := range s {
		if r == c {
			n++
			longest = max(longest, n)
		} else {
			n = 0
		}
	}
	return longest
}

// short returns the first 12 characters of a hex digest.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// orUnknown returns s, or "unknown" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Package reports renders a run's results (results.json) into a report folder: report.md, a Markdown summary fit
// for a GitHub job summary, and plots (PNG and SVG) of retrieval curves and headline metrics under plots/.
package reports

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/plugins/sdk/atomicfile"
)

// ReportFile, HTMLFile and PlotsDir are the names of the Markdown report, the HTML report and the plot folder
// inside a report folder.
const (
	ReportFile = "report.md"
	HTMLFile   = "report.html"
	PlotsDir   = "plots"
)

// Write renders report.md, report.html and the plots for r into dir (creating dir/plots), returning the files
// written: the plots in the order they appear in the report (PNG then SVG of each, as formats asks: "png", "svg";
// none given means both), then report.md and report.html (which inlines every plot's SVG whatever the formats).
// The plots are: an overview of the first headline metric of each task when there are two or more tasks; per task
// its curves (e.g. recall@k), its headline metrics as grouped bars (with 95% intervals and published values where
// known) and a confusion matrix per model and metric that carries one.
func Write(dir string, r *results.Results, formats []string) ([]string, error) {
	return new(Renderer).Write(dir, r, formats)
}

// Renderer writes reports as Write does, keeping the PNG of every plot it rasterises, keyed by the SHA-256 of the
// plot's SVG document (drawn from the same calls, and a twentieth of the work): Prepare rasterises a finished
// task's plots in the background while a run goes on, and Write then only draws their SVG. Rasterising is most of
// a report's time. A Renderer is safe for concurrent use; the zero value is ready.
type Renderer struct {
	mu         sync.Mutex
	pngs       map[[sha256.Size]byte][]byte
	rasterised int       // PNGs drawn (not found in pngs)
	frames     sync.Pool // *image.RGBA frames to draw PNGs in
	// pending are the plots Prepare queued that its worker has not begun; working says that the worker runs (one
	// at most, so that the run keeps a core: two drawing at once on two cores left the run's own goroutines
	// waiting up to a scheduler slice at every step); drawing counts it.
	pending []prepared
	working bool
	drawing sync.WaitGroup
}

// prepared is a plot Prepare queued, with the formats to render it in.
type prepared struct {
	c       *chart
	formats []string
}

// Prepare starts rasterising, in the background, the PNG plots of task that Write would draw for r (its curves,
// headline bars and confusion matrices), when formats asks for PNG. r must not change afterwards: pass a copy.
// Preparing a task whose runs are not all in r only costs time (Write finds other SVG and rasterises again).
func (rd *Renderer) Prepare(r *results.Results, task string, formats []string) {
	if r == nil {
		return
	}
	if len(formats) == 0 {
		formats = PlotFormats()
	}
	if !slices.Contains(formats, "png") {
		return
	}
	_, _, jobs, err := plan(r, formats)
	if err != nil {
		return // Write reports it
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	for _, j := range jobs {
		if j.task == task {
			rd.pending = append(rd.pending, prepared{j.c, formats})
		}
	}
	if !rd.working && len(rd.pending) > 0 {
		rd.working = true
		rd.drawing.Go(rd.drawPending)
	}
}

// drawPending rasterises the queued plots one at a time until none is left (Write empties the queue).
func (rd *Renderer) drawPending() {
	for {
		rd.mu.Lock()
		if len(rd.pending) == 0 {
			rd.working = false
			rd.mu.Unlock()
			return
		}
		p := rd.pending[0]
		rd.pending = rd.pending[1:]
		rd.mu.Unlock()
		_, _, _ = p.c.render(p.formats, rd)
	}
}

// Write is Write, with the PNGs Prepare rasterised (it waits for those still being drawn).
func (rd *Renderer) Write(dir string, r *results.Results, formats []string) ([]string, error) {
	if r == nil {
		return nil, fmt.Errorf("writing report in %s: no results given", dir)
	}
	if len(formats) == 0 {
		formats = PlotFormats()
	}
	for _, f := range formats {
		if !slices.Contains(PlotFormats(), f) {
			return nil, fmt.Errorf("writing report in %s: plot format %q: want png or svg", dir, f)
		}
	}
	if err := atomicfile.RealDir(filepath.Join(dir, PlotsDir), 0o755); err != nil {
		return nil, fmt.Errorf("writing report: creating its folder: %w", err)
	}
	views, overview, jobs, err := plan(r, formats)
	if err != nil {
		return nil, fmt.Errorf("writing report in %s: %w", dir, err)
	}
	rd.mu.Lock()
	rd.pending = nil // what Prepare's worker has not begun is drawn below, on every core
	rd.mu.Unlock()
	rd.drawing.Wait()
	next := make(chan *plotJob)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for j := range next {
				var svg []byte
				j.files, svg, j.err = j.c.save(filepath.Join(dir, PlotsDir), j.base, formats, rd)
				(*j.links)[j.at].svgData = svg
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	var files []string
	for _, j := range jobs {
		files = append(files, j.files...)
		if j.err != nil {
			return files, fmt.Errorf("writing report in %s: %w", dir, j.err)
		}
	}
	page, err := html(r, views, overview)
	if err != nil {
		return files, fmt.Errorf("writing report in %s: %w", dir, err)
	}
	for _, f := range []struct{ name, content string }{{ReportFile, markdown(r, views, overview)}, {HTMLFile, page}} {
		path := filepath.Join(dir, f.name)
		if err := atomicfile.Write(path, []byte(f.content), 0o644); err != nil {
			return files, fmt.Errorf("writing report: %w (check that the report folder is writable)", err)
		}
		files = append(files, path)
	}
	return files, nil
}

// plotJob is one plot of a report: its chart, the task it shows ("" for the overview), its file name without
// extension, and its link (entry at of *links); files and err are what saving it gave.
type plotJob struct {
	c          *chart
	task, base string
	links      *[]plotLink
	at         int
	files      []string
	err        error
}

// plan lays out the report of r: its task views, the overview's plot links and every plot to draw, in the order
// they appear in the report (each view's links filled in as its plots are queued).
func plan(r *results.Results, formats []string) (views []*taskView, overview []plotLink, jobs []*plotJob, err error) {
	views = taskViews(r)
	models := modelOrder(r)
	colors := modelColors(r)
	used := map[string]bool{}
	// add queues c (when not nil) to be saved as plots/<base>.png|svg and appends its link to *links.
	add := func(links *[]plotLink, c *chart, task, title, base string) {
		if c == nil {
			return
		}
		base = unique(base, used)
		link := plotLink{title: title}
		if slices.Contains(formats, "png") {
			link.png = PlotsDir + "/" + base + ".png"
		}
		if slices.Contains(formats, "svg") {
			link.svg = PlotsDir + "/" + base + ".svg"
		}
		jobs = append(jobs, &plotJob{c: c, task: task, base: base, links: links, at: len(*links)})
		*links = append(*links, link)
	}
	add(&overview, overviewChart(views, models, colors), "", "overview: first headline metric of each task", "overview")
	for _, tv := range views {
		prefix := slug(tv.name) + "--"
		for _, name := range tv.curves {
			c, err := curveChart(tv, name, colors)
			if err != nil {
				return nil, nil, nil, err
			}
			add(&tv.plots, c, tv.name, tv.name+": "+name, prefix+slug(name))
		}
		add(&tv.plots, barChart(tv, colors), tv.name, tv.name+": headline metrics", prefix+"headline")
		for _, run := range tv.ok() {
			names, cms := confusions(run)
			for i, cm := range cms {
				title, base := tv.name+": confusion matrix, "+run.Model, prefix+"confusion-"+slug(run.Model)
				if len(cms) > 1 {
					title, base = title+" ("+names[i]+")", base+"-"+slug(names[i])
				}
				add(&tv.plots, confusionChart(title, cm), tv.name, title, base)
			}
		}
	}
	return views, overview, jobs, nil
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

// plotLink is a plot written for the report, with paths relative to the report folder and the SVG document (which
// report.html inlines).
type plotLink struct {
	title, png, svg string
	svgData         []byte
}

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

// modelOrder lists the models: r.Models in order, then models named only by runs.
func modelOrder(r *results.Results) []string {
	var names []string
	for _, m := range r.Models {
		names = appendNew(names, m.Name)
	}
	for _, run := range r.Runs {
		names = appendNew(names, run.Model)
	}
	return names
}

// modelColors numbers the models in modelOrder so that each keeps one colour across all plots.
func modelColors(r *results.Results) map[string]int {
	idx := map[string]int{}
	for i, m := range modelOrder(r) {
		idx[m] = i
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

// interruptedNote says, for results of a run that was stopped before its end, what it shows and how to go on
// ("" for a run that ended).
func interruptedNote(r *results.Results) string {
	if r.Interrupted == "" {
		return ""
	}
	return fmt.Sprintf("This run was interrupted (%s): only the %d model × task runs that finished before are shown; run the config again into the same folder to resume.",
		r.Interrupted, len(r.Runs))
}

// skippedRuns returns the runs that left out bad images (`bad_images: skip`), and how many images they skipped in
// all.
func skippedRuns(r *results.Results) ([]results.Run, int) {
	var out []results.Run
	n := 0
	for _, run := range r.Runs {
		if len(run.Skipped) > 0 {
			out = append(out, run)
			n += len(run.Skipped)
		}
	}
	return out, n
}

// skippedNote says that runs left out bad images ("" when none did).
func skippedNote(r *results.Results) string {
	runs, n := skippedRuns(r)
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d bad image(s) were skipped in %d run(s) (bad_images: skip): the items that need them are left out of those runs' metrics.", n, len(runs))
}

// skippedStatus is a run's status when it left out bad images ("" when it did not).
func skippedStatus(run results.Run) string {
	if len(run.Skipped) == 0 {
		return ""
	}
	return fmt.Sprintf("%d bad image(s) skipped", len(run.Skipped))
}

// shownSkipped is how many skipped images the report lists per run; results.json lists them all.
const shownSkipped = 100

// markdown renders the report.
func markdown(r *results.Results, views []*taskView, overview []plotLink) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# clipeval report\n\n")
	var failed []results.Run
	for _, run := range r.Runs {
		if run.Error != "" {
			failed = append(failed, run)
		}
	}
	if note := interruptedNote(r); note != "" {
		w("**%s**\n\n", cell(note))
	}
	switch {
	case len(r.Runs) == 0:
		w("**No runs were recorded: this run evaluated nothing.**\n\n")
	case len(failed) > 0:
		w("**%d of %d runs failed** (see [Failed runs](#failed-runs)).\n\n", len(failed), len(r.Runs))
	}
	if note := skippedNote(r); note != "" {
		w("**%s** (see [Skipped images](#skipped-images)).\n\n", cell(note))
	}

	w("## Provenance\n\n| | |\n|---|---|\n")
	for _, p := range provenance(r) {
		v := cell(p.value)
		if p.code {
			v = code(p.value)
		}
		w("| %s | %s |\n", p.name, v)
	}
	w("\n")

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
	if len(r.Tasks) > 0 {
		w("### Datasets\n\n| task | plugin | items | images | texts | files | bytes | sha256 |\n|---|---|---:|---:|---:|---:|---:|---|\n")
		for _, t := range r.Tasks {
			w("| %s | %s | %d | %d | %d | %d | %d | %s |\n", cell(t.Name), code(t.Plugin), t.DatasetSize, t.Images, t.Texts,
				t.DatasetFiles, t.DatasetBytes, code(short(t.DatasetSHA256)))
		}
		w("\n")
	}

	if rows := summaryRows(views); len(rows) > 0 {
		w("## Summary\n\n%s\n\n", summaryNote)
		w("| task | model | metric | measured | 95%% CI | published | Δ |\n|---|---|---|---:|---|---:|---:|\n")
		for _, row := range rows {
			w("| %s | %s | %s | %s | %s | %s | %s |\n", cell(row.task), cell(row.model), cell(row.metric), row.measured,
				row.interval, row.published, row.delta)
		}
		w("\n")
		plotLinks(w, overview)
	}

	if len(views) > 0 {
		w("## Results\n\nFractions are shown as percentages, ranks and counts as they are; n/a marks an undefined metric (e.g. acc5 with fewer than 5 classes).\n\n")
	}
	for _, tv := range views {
		w("### %s\n\n", cell(tv.name))
		if t := tv.info; t != nil {
			w("Plugin %s; %d items (%d images, %d texts).", code(t.Plugin), t.DatasetSize, t.Images, t.Texts)
			if t.Description != "" {
				w(" %s", cell(t.Description))
			}
			w("\n\n")
		}
		if m := modes(tv); m != "" {
			w("Mode: %s.\n\n", cell(m))
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
		plotLinks(w, tv.plots)
	}

	if runs, _ := skippedRuns(r); len(runs) > 0 {
		w("## Skipped images\n\n")
		for _, run := range runs {
			w("**%s** on **%s**: %s.\n\n| image | why |\n|---|---|\n", cell(run.Model), cell(run.Task), skippedStatus(run))
			for _, sk := range run.Skipped[:min(len(run.Skipped), shownSkipped)] {
				w("| %s | %s |\n", code(sk.Image), cell(sk.Error))
			}
			if len(run.Skipped) > shownSkipped {
				w("\nand %d more (results.json lists every one).\n", len(run.Skipped)-shownSkipped)
			}
			w("\n")
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

// provenanceRow is one line of the provenance table; code marks values shown as code (paths, digests).
type provenanceRow struct {
	name, value string
	code        bool
}

// provenance lists what identifies the run: versions, config, start and wall time ("unknown" where not recorded).
func provenance(r *results.Results) []provenanceRow {
	started := "unknown"
	if !r.Started.IsZero() {
		started = r.Started.UTC().Format(time.RFC3339)
	}
	return []provenanceRow{
		{"clipeval", orUnknown(r.Clipeval), false},
		{"runtime", orUnknown(r.Runtime), false},
		{"config", orUnknown(r.Config.Path), true},
		{"config sha256", orUnknown(r.Config.SHA256), true},
		{"started", started, false},
		{"wall time", duration(r.WallSeconds), false},
	}
}

// duration formats seconds to a tenth of a second ("1m23.4s"); "unknown" when negative or not a number.
func duration(seconds float64) string {
	if !finite(seconds) || seconds < 0 {
		return "unknown"
	}
	return time.Duration(seconds * float64(time.Second)).Round(100 * time.Millisecond).String()
}

// summaryNote explains the summary table.
const summaryNote = "Headline metrics, and other metrics with a published value, in percent: the 95% bootstrap interval " +
	"where the task reports one, the published value where the config gives one, and Δ = measured − published in " +
	"percentage points."

// PlotFormats are the plot formats Write can write, the default of output.plots.
func PlotFormats() []string { return []string{"png", "svg"} }

// plotLinks writes each plot as a Markdown image of its PNG with a link to its SVG (the one written, when only one
// format is).
func plotLinks(w func(string, ...any), plots []plotLink) {
	for _, p := range plots {
		alt := cell(p.title)
		switch {
		case p.png != "" && p.svg != "":
			w("![%s](%s)  \n[SVG](%s)\n\n", alt, p.png, p.svg)
		case p.png != "":
			w("![%s](%s)\n\n", alt, p.png)
		default:
			w("![%s](%s)\n\n", alt, p.svg)
		}
	}
}

// metricCell formats metric m of run in its declared unit (fractions as percentages with 2 decimals); "failed"
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
	return run.Kinds[m].Unit.Format(float64(v))
}

// cell makes s (a model, task, class or metric name, a plugin's message) show as itself in Markdown, also inside a
// table cell: on one line, with pipes and every character that could start markup (emphasis, code, links and
// images, raw HTML tags and entities, strikethrough, a backslash escape) backslash-escaped. An underscore is
// escaped only at a word's edge, where it could open or close emphasis (image_retrieval_recall@1 stays as is).
func cell(s string) string {
	rs := []rune(strings.Join(strings.Fields(s), " "))
	var b strings.Builder
	wordy := func(i int) bool { return i >= 0 && i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i])) }
	for i, r := range rs {
		if strings.ContainsRune("\\`*[]<>&~|", r) || r == '_' && !(wordy(i-1) && wordy(i+1)) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// code formats s as a Markdown code span that is safe inside a table cell: one line, pipes escaped (GitHub tables
// split cells before reading code spans); nothing else in a code span is markup.
func code(s string) string {
	s = strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
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

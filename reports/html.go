package reports

import (
	"bytes"
	"fmt"
	htmlpkg "html"
	"html/template"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/clipeval/clipeval/harness/results"
)

// htmlPage is what report.html shows; html/template escapes every string in it.
type htmlPage struct {
	Alert      string
	Provenance []provenanceCell
	Models     []results.Model
	Files      [][3]string // model, file, sha256
	Datasets   []results.Task
	Note       string
	Summary    []summaryCells
	Overview   []htmlPlot
	Tasks      []htmlTask
	Failed     []results.Run
	// Skipped are the runs that left out bad images, each with at most shownSkipped of them.
	Skipped []htmlSkipped
}

// htmlSkipped is a run that left out bad images: which, and how many more results.json lists.
type htmlSkipped struct {
	Model, Task, Status string
	Images              []results.SkippedImage
	More                int
}

// provenanceCell is a provenanceRow with exported fields for the template.
type provenanceCell struct {
	Name, Value string
	Code        bool
}

// summaryCells is a summaryRow with exported fields for the template.
type summaryCells struct {
	Task, Model, Metric, Measured, Interval, Published, Delta string
	Failed                                                    bool
}

// htmlPlot is a plot inlined as SVG.
type htmlPlot struct {
	Title string
	SVG   template.HTML
}

// htmlTask is one task's section.
type htmlTask struct {
	Name, ID, About string
	Runs            []htmlRun
	Plots           []htmlPlot
}

// htmlRun is a row of a task's run table.
type htmlRun struct {
	Model, Mode, Wall, Status, Error string
}

// html renders report.html: one self-contained page (styles inline, plots as inline SVG, no scripts, no fonts or
// other resources to fetch) with the provenance, the summary table, every plot and each task's runs.
func html(r *results.Results, views []*taskView, overview []plotLink) (string, error) {
	page := htmlPage{Models: r.Models, Datasets: r.Tasks, Note: summaryNote, Overview: inline(overview)}
	for _, p := range provenance(r) {
		page.Provenance = append(page.Provenance, provenanceCell{p.name, p.value, p.code})
	}
	for _, m := range r.Models {
		for _, f := range slices.Sorted(maps.Keys(m.Files)) {
			page.Files = append(page.Files, [3]string{m.Name, f, m.Files[f]})
		}
	}
	for _, row := range summaryRows(views) {
		page.Summary = append(page.Summary, summaryCells{row.task, row.model, row.metric, row.measured, row.interval,
			row.published, row.delta, row.measured == "failed"})
	}
	ids := map[string]bool{}
	for _, tv := range views {
		t := htmlTask{Name: tv.name, ID: unique("task-"+slug(tv.name), ids), Plots: inline(tv.plots)}
		if info := tv.info; info != nil {
			t.About = fmt.Sprintf("Plugin %s; %d items (%d images, %d texts). %s", info.Plugin, info.DatasetSize, info.Images,
				info.Texts, strings.Join(strings.Fields(info.Description), " "))
		}
		for _, run := range tv.runs {
			hr := htmlRun{Model: run.Model, Mode: run.Mode, Wall: duration(run.WallSeconds), Status: "ok", Error: run.Error}
			if run.Error != "" {
				hr.Status = "failed"
			} else if st := skippedStatus(run); st != "" {
				hr.Status = "ok, " + st
			}
			t.Runs = append(t.Runs, hr)
			if run.Error != "" {
				page.Failed = append(page.Failed, run)
			}
		}
		page.Tasks = append(page.Tasks, t)
	}
	switch {
	case len(r.Runs) == 0:
		page.Alert = "No runs were recorded: this run evaluated nothing."
	case len(page.Failed) > 0:
		page.Alert = fmt.Sprintf("%d of %d runs failed (see Failed runs).", len(page.Failed), len(r.Runs))
	}
	if note := skippedNote(r); note != "" {
		page.Alert = strings.TrimSpace(page.Alert + " " + note + " (see Skipped images)")
	}
	if note := interruptedNote(r); note != "" {
		page.Alert = strings.TrimSpace(note + " " + page.Alert)
	}
	runs, _ := skippedRuns(r)
	for _, run := range runs {
		shown := run.Skipped[:min(len(run.Skipped), shownSkipped)]
		page.Skipped = append(page.Skipped, htmlSkipped{Model: run.Model, Task: run.Task, Status: skippedStatus(run),
			Images: shown, More: len(run.Skipped) - len(shown)})
	}
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, page); err != nil {
		return "", fmt.Errorf("rendering report.html: %w", err)
	}
	return b.String(), nil
}

// inline turns plots into inline SVG: the document from its <svg> element on (dropping the XML declaration and
// comment), labelled with its title for screen readers. The SVG is clipeval's own output, whose text gonum/plot
// escapes, so it is safe to insert as HTML.
func inline(plots []plotLink) []htmlPlot {
	var out []htmlPlot
	for _, p := range plots {
		svg := p.svgData
		if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
			svg = svg[i:]
		}
		label := `<svg role="img" aria-label="` + htmlpkg.EscapeString(p.title) + `"`
		out = append(out, htmlPlot{Title: p.title, SVG: template.HTML(strings.Replace(string(svg), "<svg", label, 1))})
	}
	return out
}

// htmlTemplate is report.html's layout.
var htmlTemplate = template.Must(template.New(HTMLFile).Funcs(template.FuncMap{
	"g":     func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) },
	"short": short,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clipeval report</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{margin-top:0}
h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
thead th,tbody th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,"Liberation Mono",Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
.alert{background:#fff1e5;border:1px solid #d55e00;padding:8px 12px;border-radius:4px;font-weight:bold}
.failed{color:#b00020;font-weight:bold}
.plots{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;flex:0 1 576px;max-width:100%}
figure svg{width:100%;height:auto;display:block;border:1px solid #eaeef2}
figcaption{font-size:13px;color:#57606a}
pre{background:#f6f8fa;padding:8px;white-space:pre-wrap;overflow-wrap:anywhere}
</style>
</head>
<body>
<main>
<h1>clipeval report</h1>
{{with .Alert}}<p class="alert" role="alert">{{.}}</p>
{{end}}<nav><a href="#provenance">Provenance</a> · <a href="#summary">Summary</a>{{range .Tasks}} · <a href="#{{.ID}}">{{.Name}}</a>{{end}}{{if .Skipped}} · <a href="#skipped-images">Skipped images</a>{{end}}{{if .Failed}} · <a href="#failed-runs">Failed runs</a>{{end}}</nav>

<section id="provenance">
<h2>Provenance</h2>
<table><tbody>
{{range .Provenance}}<tr><th scope="row">{{.Name}}</th><td>{{if .Code}}<code>{{.Value}}</code>{{else}}{{.Value}}{{end}}</td></tr>
{{end}}</tbody></table>
{{if .Models}}<h3>Models</h3>
<table><thead><tr><th>model</th><th>backend</th><th>folder</th><th>embed dim</th><th>image size</th><th>context length</th><th>logit scale</th><th>tokenizer</th><th>runtime</th></tr></thead><tbody>
{{range .Models}}<tr><td>{{.Name}}</td><td>{{.Backend}}</td><td><code>{{.Dir}}</code></td><td class="num">{{.EmbedDim}}</td><td class="num">{{.ImageSize}}</td><td class="num">{{.ContextLength}}</td><td class="num">{{g .LogitScale}}</td><td>{{.Tokenizer}}</td><td>{{.Runtime}}</td></tr>
{{end}}</tbody></table>
<table><thead><tr><th>model</th><th>file</th><th>sha256</th></tr></thead><tbody>
{{range .Files}}<tr><td>{{index . 0}}</td><td><code>{{index . 1}}</code></td><td><code>{{index . 2}}</code></td></tr>
{{end}}</tbody></table>
{{end}}{{if .Datasets}}<h3>Datasets</h3>
<table><thead><tr><th>task</th><th>plugin</th><th>items</th><th>images</th><th>texts</th><th>files</th><th>bytes</th><th>sha256</th></tr></thead><tbody>
{{range .Datasets}}<tr><td>{{.Name}}</td><td><code>{{.Plugin}}</code></td><td class="num">{{.DatasetSize}}</td><td class="num">{{.Images}}</td><td class="num">{{.Texts}}</td><td class="num">{{.DatasetFiles}}</td><td class="num">{{.DatasetBytes}}</td><td><code>{{.DatasetSHA256}}</code></td></tr>
{{end}}</tbody></table>
{{end}}</section>

<section id="summary">
<h2>Summary</h2>
{{if .Summary}}<p>{{.Note}}</p>
<table><thead><tr><th>task</th><th>model</th><th>metric</th><th>measured</th><th>95% CI</th><th>published</th><th>Δ</th></tr></thead><tbody>
{{range .Summary}}<tr><td>{{.Task}}</td><td>{{.Model}}</td><td>{{.Metric}}</td><td class="num{{if .Failed}} failed{{end}}">{{.Measured}}</td><td class="num">{{.Interval}}</td><td class="num">{{.Published}}</td><td class="num">{{.Delta}}</td></tr>
{{end}}</tbody></table>
{{else}}<p>No metrics.</p>
{{end}}{{if .Overview}}<div class="plots">
{{range .Overview}}<figure>{{.SVG}}<figcaption>{{.Title}}</figcaption></figure>
{{end}}</div>
{{end}}</section>
{{range .Tasks}}
<section id="{{.ID}}">
<h2>{{.Name}}</h2>
{{with .About}}<p>{{.}}</p>
{{end}}{{if .Runs}}<table><thead><tr><th>model</th><th>mode</th><th>wall time</th><th>status</th></tr></thead><tbody>
{{range .Runs}}<tr><td>{{.Model}}</td><td>{{or .Mode "—"}}</td><td class="num">{{.Wall}}</td><td{{if .Error}} class="failed"{{end}}>{{.Status}}</td></tr>
{{end}}</tbody></table>
{{else}}<p>No runs.</p>
{{end}}{{if .Plots}}<div class="plots">
{{range .Plots}}<figure>{{.SVG}}<figcaption>{{.Title}}</figcaption></figure>
{{end}}</div>
{{end}}</section>
{{end}}{{if .Skipped}}
<section id="skipped-images">
<h2>Skipped images</h2>
{{range .Skipped}}<h3>{{.Model}} on {{.Task}}: {{.Status}}</h3>
<table><thead><tr><th>image</th><th>why</th></tr></thead><tbody>
{{range .Images}}<tr><td><code>{{.Image}}</code></td><td>{{.Error}}</td></tr>
{{end}}</tbody></table>
{{if .More}}<p>and {{.More}} more (results.json lists every one).</p>
{{end}}{{end}}</section>
{{end}}{{if .Failed}}
<section id="failed-runs">
<h2>Failed runs</h2>
{{range .Failed}}<h3>{{.Model}} on {{.Task}}</h3>
<pre>{{.Error}}</pre>
{{end}}</section>
{{end}}</main>
</body>
</html>
`))

// Package plan turns a checked experiment config into what a run will do, decided in one place before anything
// starts: the models × tasks matrix (models outer, in config order), the output folder, the plot formats and the
// provenance every results.json of the run carries.
package plan

import (
	"time"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// Plan is one run's work.
type Plan struct {
	// Config is the experiment config the plan was made from.
	Config *config.Config
	// OutDir is where results.json, the reports and plots/ go.
	OutDir string
	// Plots are the plot formats to write ("png", "svg"), from the config's output.plots.
	Plots []string
	// Pairs are the model × task runs in order: every task of the first model, then of the next.
	Pairs []Pair
	// Clipeval is the harness version recorded in results.json.
	Clipeval string
}

// Pair is one model × task run, by index into the config's Models and Tasks.
type Pair struct {
	Model, Task int
}

// New plans a run of cfg: outDir overrides the config's output.dir when set.
func New(cfg *config.Config, outDir, version string) *Plan {
	p := &Plan{Config: cfg, OutDir: cfg.Output.Dir, Plots: cfg.Output.Plots, Clipeval: version}
	if outDir != "" {
		p.OutDir = outDir
	}
	for m := range cfg.Models {
		for t := range cfg.Tasks {
			p.Pairs = append(p.Pairs, Pair{Model: m, Task: t})
		}
	}
	return p
}

// Results returns the results.json header of the run started at start: schema, versions, config identity and
// the regression tolerances; models, tasks and runs are added as the run goes.
func (p *Plan) Results(start time.Time) *results.Results {
	c := p.Config
	tol := results.Tolerance{Default: c.Tolerance.Default, Metrics: c.Tolerance.Metrics}
	for u, v := range c.Tolerance.Units {
		if tol.Units == nil {
			tol.Units = map[sdk.Unit]float64{}
		}
		tol.Units[sdk.Unit(u)] = v
	}
	return &results.Results{Schema: results.SchemaVersion, Clipeval: p.Clipeval, Started: start.UTC(),
		Config: results.ConfigInfo{Path: c.Path, SHA256: c.SHA256}, Tolerance: tol}
}

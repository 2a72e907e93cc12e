package reports

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/clipeval/clipeval/harness/results"
)

// Merge combines several results (e.g. one run per model, or runs on different tasks) into one, for a single
// report; names label them in errors (their file paths). Models, tasks and runs are concatenated in input order,
// models and tasks named in several inputs listed once; published values are united (the first input's value wins
// for a model × metric given twice). Provenance strings that differ are joined with ", " (e.g. two config paths),
// the start time is the earliest, the wall time the sum and the tolerance the first input's. It refuses inputs
// that cannot be told apart in one report: different schema versions, a model × task run in two inputs, a model
// name whose files differ between inputs, or a task name whose dataset differs.
func Merge(rs []*results.Results, names []string) (*results.Results, error) {
	if len(rs) == 0 || len(rs) != len(names) {
		return nil, fmt.Errorf("merging results: %d results with %d names; give one name per results", len(rs), len(names))
	}
	for i, r := range rs {
		if r == nil {
			return nil, fmt.Errorf("merging results: %s holds no results", names[i])
		}
		if r.Schema != rs[0].Schema {
			return nil, fmt.Errorf("merging results: %s has schema version %d but %s has %d; re-run one of them with the same clipeval",
				names[i], r.Schema, names[0], rs[0].Schema)
		}
	}
	out := &results.Results{Schema: rs[0].Schema, Tolerance: rs[0].Tolerance}
	type origin struct {
		index int
		name  string
	}
	models, tasks, runs := map[string]origin{}, map[string]origin{}, map[[2]string]string{}
	join := func(dst *string, v string) {
		if v != "" && !slices.Contains(strings.Split(*dst, ", "), v) {
			*dst = strings.TrimPrefix(*dst+", "+v, ", ")
		}
	}
	for i, r := range rs {
		join(&out.Clipeval, r.Clipeval)
		join(&out.Runtime, r.Runtime)
		join(&out.Config.Path, r.Config.Path)
		join(&out.Config.SHA256, r.Config.SHA256)
		if !r.Started.IsZero() && (out.Started.IsZero() || r.Started.Before(out.Started)) {
			out.Started = r.Started
		}
		out.WallSeconds += r.WallSeconds
		for _, m := range r.Models {
			if o, ok := models[m.Name]; ok {
				if !maps.Equal(out.Models[o.index].Files, m.Files) {
					return nil, fmt.Errorf("merging results: model %q has different files in %s and %s; give the models distinct names",
						m.Name, o.name, names[i])
				}
				continue
			}
			models[m.Name] = origin{len(out.Models), names[i]}
			out.Models = append(out.Models, m)
		}
		for _, t := range r.Tasks {
			o, ok := tasks[t.Name]
			if !ok {
				t.Published = clonePublished(t.Published)
				tasks[t.Name] = origin{len(out.Tasks), names[i]}
				out.Tasks = append(out.Tasks, t)
				continue
			}
			prev := &out.Tasks[o.index]
			if prev.DatasetSHA256 != t.DatasetSHA256 {
				return nil, fmt.Errorf("merging results: task %q ran on different datasets in %s (sha256 %s) and %s (sha256 %s); its numbers cannot share a table",
					t.Name, o.name, orUnknown(short(prev.DatasetSHA256)), names[i], orUnknown(short(t.DatasetSHA256)))
			}
			for model, metrics := range t.Published {
				if prev.Published == nil {
					prev.Published = map[string]map[string]results.Value{}
				}
				if prev.Published[model] == nil {
					prev.Published[model] = map[string]results.Value{}
				}
				for m, v := range metrics {
					if _, ok := prev.Published[model][m]; !ok {
						prev.Published[model][m] = v
					}
				}
			}
		}
		for _, run := range r.Runs {
			key := [2]string{run.Model, run.Task}
			if first, ok := runs[key]; ok {
				return nil, fmt.Errorf("merging results: model %q on task %q is in both %s and %s; a report shows each model × task once (give the models distinct names in their configs)",
					run.Model, run.Task, first, names[i])
			}
			runs[key] = names[i]
			out.Runs = append(out.Runs, run)
		}
	}
	return out, nil
}

// clonePublished copies published values so that merging into them leaves the input untouched.
func clonePublished(p map[string]map[string]results.Value) map[string]map[string]results.Value {
	if p == nil {
		return nil
	}
	out := make(map[string]map[string]results.Value, len(p))
	for model, metrics := range p {
		out[model] = maps.Clone(metrics)
	}
	return out
}

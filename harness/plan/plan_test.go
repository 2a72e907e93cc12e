package plan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/plugins/sdk"
)

func TestNew(t *testing.T) {
	cfg := &config.Config{Path: "exp.yaml", SHA256: "abc", Models: []config.Model{{Name: "a"}, {Name: "b"}},
		Tasks:  []config.Task{{Name: "x"}, {Name: "y"}, {Name: "z"}},
		Output: config.Output{Dir: "/runs/exp", Plots: []string{"svg"}},
		Tolerance: config.Tolerance{Default: 0.5, Units: map[string]float64{"rank": 1},
			Metrics: map[string]float64{"acc1": 1}}}
	tests := []struct {
		name, out, wantDir string
	}{
		{"the config's output folder", "", "/runs/exp"},
		{"--out overrides it", "/tmp/out", "/tmp/out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(cfg, tc.out, "v9")
			assert.Equal(t, tc.wantDir, p.OutDir)
			assert.Equal(t, []string{"svg"}, p.Plots)
			assert.Equal(t, []Pair{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}}, p.Pairs, "models outer, config order")
		})
	}
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	r := New(cfg, "", "v9").Results(start)
	assert.Equal(t, &results.Results{Schema: results.SchemaVersion, Clipeval: "v9", Started: start.UTC(),
		Config: results.ConfigInfo{Path: "exp.yaml", SHA256: "abc"},
		Tolerance: results.Tolerance{Default: 0.5, Units: map[sdk.Unit]float64{sdk.Rank: 1},
			Metrics: map[string]float64{"acc1": 1}}}, r)
}

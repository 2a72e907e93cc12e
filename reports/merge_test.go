package reports

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/results"
)

// splitFixture splits fixture() by model into two results, as two runs of one config with a model each would
// write them: each has both tasks, with the published values of its own model only.
func splitFixture() (a, b *results.Results) {
	a, b = fixture(), fixture()
	a.Models, b.Models = a.Models[:1], b.Models[1:]
	a.Runs, b.Runs = a.Runs[:2], b.Runs[2:]
	a.Tasks[0].Published = nil
	b.Tasks[1].Published = nil
	b.WallSeconds = 0
	return a, b
}

func TestMerge(t *testing.T) {
	a, b := splitFixture()
	merged, err := Merge([]*results.Results{a, b}, []string{"a.json", "b.json"})
	require.NoError(t, err)
	assert.JSONEq(t, asJSON(t, fixture()), asJSON(t, merged), "splitting by model and merging again gives the whole")
	assert.Nil(t, a.Tasks[0].Published, "inputs are left as they were")

	a, b = splitFixture()
	b.Config.Path, b.Clipeval = "configs/other.yaml", a.Clipeval
	b.Started, b.WallSeconds = a.Started.Add(-time.Hour), 16.5
	merged, err = Merge([]*results.Results{a, b}, []string{"a.json", "b.json"})
	require.NoError(t, err)
	assert.Equal(t, "configs/tiny.yaml, configs/other.yaml", merged.Config.Path)
	assert.Equal(t, "v0.3.0", merged.Clipeval)
	assert.Equal(t, b.Started, merged.Started)
	assert.Equal(t, 83.44+16.5, merged.WallSeconds)

	one, err := Merge([]*results.Results{fixture()}, []string{"x.json"})
	require.NoError(t, err)
	assert.JSONEq(t, asJSON(t, fixture()), asJSON(t, one))
}

// asJSON encodes r as results.json does (NaN as null, which assert.Equal could not compare).
func asJSON(t *testing.T, r *results.Results) string {
	b, err := json.Marshal(r)
	require.NoError(t, err)
	return string(b)
}

func TestMergeErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(a, b *results.Results)
		names   []string
		wantErr string
	}{
		{"same run twice", func(a, b *results.Results) { b.Runs[0].Model = "model-a" }, nil,
			`model "model-a" on task "retrieval" is in both a.json and b.json`},
		{"model files differ", func(a, b *results.Results) {
			b.Models[0].Name = "model-a"
			b.Runs[0].Model, b.Runs[1].Model = "model-c", "model-c"
		}, nil, `model "model-a" has different files in a.json and b.json`},
		{"dataset differs", func(a, b *results.Results) { b.Tasks[0].DatasetSHA256 = "00ff" }, nil,
			`task "retrieval" ran on different datasets in a.json (sha256 5891b5b522d5) and b.json (sha256 00ff)`},
		{"schema differs", func(a, b *results.Results) { b.Schema = 1 }, nil,
			"b.json has schema version 1 but a.json has 2"},
		{"names do not match", func(a, b *results.Results) {}, []string{"a.json"}, "2 results with 1 names"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := splitFixture()
			tc.edit(a, b)
			names := tc.names
			if names == nil {
				names = []string{"a.json", "b.json"}
			}
			_, err := Merge([]*results.Results{a, b}, names)
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
	_, err := Merge([]*results.Results{nil}, []string{"x.json"})
	assert.ErrorContains(t, err, "x.json holds no results")
}

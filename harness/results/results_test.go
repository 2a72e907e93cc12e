package results

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNaNMetricsSurviveResultsJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "results.json")
	in := &Results{Schema: SchemaVersion, Runs: []Run{{Model: "m", Task: "t", Metrics: map[string]Value{"acc5": Value(math.NaN()), "acc1": 0.5}}}}
	require.NoError(t, Write(p, in))
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "results are readable by others, as the report files")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"acc5": null`)
	out, err := Read(p)
	require.NoError(t, err)
	assert.True(t, math.IsNaN(float64(out.Runs[0].Metrics["acc5"])))
	assert.Equal(t, Value(0.5), out.Runs[0].Metrics["acc1"])
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"not json", "{", "unexpected end of JSON input"},
		{"other schema", `{"schema": 7}`, "schema version 7, this clipeval reads 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".json")
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o644))
			_, err := Read(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), p)
		})
	}
	_, err := Read(filepath.Join(dir, "missing.json"))
	assert.ErrorContains(t, err, "no such file")
}

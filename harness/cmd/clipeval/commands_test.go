package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/results"
)

func TestFinishedTask(t *testing.T) {
	res := &results.Results{Models: []results.Model{{Name: "a"}, {Name: "b"}}, Tasks: []results.Task{{Name: "x"}, {Name: "y"}},
		Runs: []results.Run{{Model: "a", Task: "x"}, {Model: "a", Task: "y"}, {Model: "b", Task: "x"}}}
	cases := []struct {
		task   string
		models int
		want   []results.Run
	}{
		{"x", 2, []results.Run{{Model: "a", Task: "x"}, {Model: "b", Task: "x"}}},
		{"y", 2, nil},
		{"y", 1, []results.Run{{Model: "a", Task: "y"}}},
		{"z", 1, nil},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s of %d", tc.task, tc.models), func(t *testing.T) {
			snap := finishedTask(res, tc.task, tc.models)
			if tc.want == nil {
				assert.Nil(t, snap)
				return
			}
			require.NotNil(t, snap)
			assert.Equal(t, tc.want, snap.Runs)
			assert.Equal(t, res.Models, snap.Models)
			assert.Equal(t, res.Tasks, snap.Tasks)
			snap.Models[0].Name = "changed"
			assert.Equal(t, "a", res.Models[0].Name, "a copy")
		})
	}
	assert.Len(t, res.Runs, 3, "res unchanged")
}

package main

import (
	"fmt"
	"strings"
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

func TestPrintSkipped(t *testing.T) {
	skip := func(names ...string) []results.SkippedImage {
		var out []results.SkippedImage
		for _, n := range names {
			out = append(out, results.SkippedImage{Image: n, Error: "image " + n + ": png: invalid format"})
		}
		return out
	}
	cases := []struct {
		name string
		runs []results.Run
		want string
	}{
		{"none", []results.Run{{Model: "m", Task: "t"}}, ""},
		{"one", []results.Run{{Model: "m", Task: "t"}, {Model: "m", Task: "u", Skipped: []results.SkippedImage{{Image: "/d/x.png", Error: "unexpected EOF"}}}},
			"clipeval: model \"m\" on task \"u\" skipped 1 bad image(s), left out of its metrics (all are listed in results.json and the report):\n" +
				"  /d/x.png: unexpected EOF\n"},
		{"more than shown", []results.Run{{Model: "m", Task: "t", Skipped: skip("a", "b", "c", "d", "e")}},
			"clipeval: model \"m\" on task \"t\" skipped 5 bad image(s), left out of its metrics (all are listed in results.json and the report):\n" +
				"  image a: png: invalid format\n  image b: png: invalid format\n  image c: png: invalid format\n  and 2 more\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			printSkipped(&b, &results.Results{Runs: tc.runs})
			assert.Equal(t, tc.want, b.String())
		})
	}
}

// Command badtask is a task plugin that breaks the contract in known ways, for the conformance suite's own tests:
// its Describe declares choices on an int field and min > max, its Load accepts unknown keys and crashes on a
// dataset without "n", and its Score reports a metric without a direction.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/clipeval/clipeval/plugins/sdk"
)

type task struct{}

func (task) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "badtask", Version: "v0.0.1",
		DatasetFields: []sdk.Field{{Name: "n", Type: sdk.FieldInt, Required: true, Choices: []string{"1", "2"}, Min: sdk.Bound(5), Max: sdk.Bound(1)}}}, nil
}

func (task) Load(_ context.Context, req sdk.LoadRequest) (*sdk.Dataset, error) {
	var ds map[string]any
	if err := json.Unmarshal(req.Dataset, &ds); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	n := int(ds["n"].(float64)) // panics (and so crashes the plugin) when n is missing
	out := &sdk.Dataset{ID: "bad", Size: n}
	for i := range n {
		out.Images = append(out.Images, sdk.ImageInput{Name: fmt.Sprint(i), Data: []byte{1}})
		out.Texts = append(out.Texts, fmt.Sprint(i))
	}
	return out, nil
}

func (task) Score(context.Context, sdk.ScoreRequest) (*sdk.Scores, error) {
	return &sdk.Scores{Metrics: []sdk.Metric{{Name: "top1", Value: 0.5, Unit: sdk.Fraction}}}, nil
}

func main() { sdk.ServeTask("badtask", task{}) }

// Command envtask is a task plugin for the plugin host's own tests: its Describe returns the environment the
// plugin was started with, one NAME=VALUE per line, as its description, so that a test can see which variables
// reach a plugin. Load and Score refuse.
package main

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/clipeval/clipeval/plugins/sdk"
)

type task struct{}

func (task) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "envtask", Version: "v0.0.1", Description: strings.Join(os.Environ(), "\n")}, nil
}

func (task) Load(context.Context, sdk.LoadRequest) (*sdk.Dataset, error) {
	return nil, errors.New("envtask only answers Describe")
}

func (task) Score(context.Context, sdk.ScoreRequest) (*sdk.Scores, error) {
	return nil, errors.New("envtask only answers Describe")
}

func main() { sdk.ServeTask("envtask", task{}) }

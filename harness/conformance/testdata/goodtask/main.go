// Command goodtask is a small task plugin that keeps the contract, for the conformance suite's own tests: its
// dataset is {"n": N} (N images given inline and N texts), and it reports the image→text top-1 accuracy.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/clipeval/clipeval/plugins/sdk"
)

type task struct {
	mu   sync.Mutex
	sets map[string]int
}

type dataset struct {
	N *int `json:"n"`
}

type options struct {
	Label string `json:"label"`
}

func strict(raw []byte, what string, v any) error {
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (t *task) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "goodtask", Version: "v0.0.1", Description: "a task that keeps the contract",
		DatasetFields: []sdk.Field{{Name: "n", Type: sdk.FieldInt, Required: true, Help: "number of items", Min: sdk.Bound(1), Max: sdk.Bound(1e6)}},
		OptionFields:  []sdk.Field{{Name: "label", Type: sdk.FieldString, Choices: []string{"a", "b"}, Help: "unused"}}}, nil
}

func (t *task) Load(_ context.Context, req sdk.LoadRequest) (*sdk.Dataset, error) {
	var ds dataset
	if err := strict(req.Dataset, "dataset", &ds); err != nil {
		return nil, err
	}
	var opts options
	if err := strict(req.Options, "options", &opts); err != nil {
		return nil, err
	}
	if ds.N == nil || *ds.N < 1 {
		return nil, fmt.Errorf("dataset: n is required (at least 1)")
	}
	n := *ds.N
	out := &sdk.Dataset{Size: n, Description: fmt.Sprintf("%d synthetic items", n)}
	for i := range n {
		out.Images = append(out.Images, sdk.ImageInput{Name: fmt.Sprintf("item-%d", i), Data: []byte{byte(i), 1, 2, 3}})
		out.Texts = append(out.Texts, fmt.Sprintf("text %d", i))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out.ID = fmt.Sprintf("goodtask-%d", len(t.sets)+1)
	t.sets[out.ID] = n
	return out, nil
}

func (t *task) Score(_ context.Context, req sdk.ScoreRequest) (*sdk.Scores, error) {
	t.mu.Lock()
	n, ok := t.sets[req.DatasetID]
	t.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown dataset %q", req.DatasetID)
	}
	im, tx := req.ImageEmbeddings, req.TextEmbeddings
	if im.Rows != n || tx.Rows != n || im.Cols != tx.Cols {
		return nil, fmt.Errorf("want [%d, d] image and text embeddings, have [%d, %d] and [%d, %d]", n, im.Rows, im.Cols, tx.Rows, tx.Cols)
	}
	hits := make([]float64, n)
	var correct float64
	for i := range n {
		best, bestJ := -2.0, 0
		for j := range n {
			var dot float64
			for k := range im.Cols {
				dot += float64(im.Row(i)[k]) * float64(tx.Row(j)[k])
			}
			if dot > best {
				best, bestJ = dot, j
			}
		}
		if bestJ == i {
			hits[i] = 1
			correct++
		}
	}
	return &sdk.Scores{Mode: "zero-shot", Headline: []string{"top1"}, Metrics: []sdk.Metric{
		{Name: "top1", Value: correct / float64(n), Direction: sdk.HigherIsBetter, Unit: sdk.Fraction, ItemValues: hits},
		{Name: "items", Value: float64(n), Direction: sdk.Informational, Unit: sdk.Count},
	}}, nil
}

func main() { sdk.ServeTask("goodtask", &task{sets: map[string]int{}}) }

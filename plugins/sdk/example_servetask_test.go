package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/sdktest"
)

// pairTask is a minimal task: its dataset is image–caption pairs named in the config, and it reports the share of
// captions whose own image is the most similar one.
type pairTask struct {
	// pairs is the number of pairs of the last dataset loaded.
	pairs int
}

// pairDataset is the task's `dataset:` mapping.
type pairDataset struct {
	Images   []string `json:"images"`
	Captions []string `json:"captions"`
}

// Describe names the task and declares its config keys.
func (t *pairTask) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "pairs", Version: "v0.1.0", Description: "caption → image top-1 hit rate",
		DatasetFields: []sdk.Field{
			{Name: "images", Type: sdk.FieldStringList, Required: true, Help: "absolute image paths"},
			{Name: "captions", Type: sdk.FieldStringList, Required: true, Help: "one caption per image"},
		}}, nil
}

// Load lists the images (by path: the backend reads them) and the captions to encode.
func (t *pairTask) Load(_ context.Context, req sdk.LoadRequest) (*sdk.Dataset, error) {
	var dc pairDataset
	if err := json.Unmarshal(req.Dataset, &dc); err != nil {
		return nil, fmt.Errorf("pairs dataset: %w", err)
	}
	if len(dc.Images) != len(dc.Captions) {
		return nil, fmt.Errorf("pairs dataset: %d images but %d captions", len(dc.Images), len(dc.Captions))
	}
	ds := &sdk.Dataset{ID: "pairs-1", Size: len(dc.Images), Texts: dc.Captions, Description: fmt.Sprintf("%d pairs", len(dc.Images))}
	for _, p := range dc.Images {
		ds.Images = append(ds.Images, sdk.FileImage(p))
	}
	t.pairs = len(dc.Images)
	return ds, nil
}

// Score reports hit@1: per caption, 1 when its own image has the largest dot product with it (the lower index on
// a tie), else 0; the metric is their mean. The embeddings are only read, never kept.
func (t *pairTask) Score(_ context.Context, req sdk.ScoreRequest) (*sdk.Scores, error) {
	if req.ImageEmbeddings.Rows != t.pairs || req.TextEmbeddings.Rows != t.pairs {
		return nil, fmt.Errorf("pairs %s: want %d image and text embeddings", req.DatasetID, t.pairs)
	}
	hits := make([]float64, t.pairs)
	var sum float64
	for q := range t.pairs {
		best, bestScore := 0, float32(0)
		for i := range t.pairs {
			var s float32
			for j, v := range req.TextEmbeddings.Row(q) {
				s += v * req.ImageEmbeddings.Row(i)[j]
			}
			if i == 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
		if best == q {
			hits[q] = 1
		}
		sum += hits[q]
	}
	s := &sdk.Scores{Mode: "zero-shot", Headline: []string{"hit@1"}}
	// hit@1: the share of captions whose own image ranks first by dot product (ties: lower index); defined here.
	s.Add(sdk.Metric{Name: "hit@1", Value: sum / float64(t.pairs), Direction: sdk.HigherIsBetter, Unit: sdk.Fraction,
		ItemValues: hits, Help: "share of captions whose own image ranks first"})
	return s, nil
}

// A task plugin's main package is one line, func main() { sdk.ServeTask("pairs", &pairTask{}) }; ServeTask only
// runs under the harness (it exits otherwise). Here the same task is served in process with sdktest, through the
// same gRPC adapters, and called as the harness calls it.
func ExampleServeTask() {
	ctx := context.Background()
	srv, err := sdktest.StartTask(&pairTask{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	ds, err := srv.Load(ctx, pairDataset{Images: []string{"/data/a.png", "/data/b.png"}, Captions: []string{"a", "b"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ds.ID, ds.Description, ds.Images[1].Path)

	images := sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, 1}}
	texts := sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{0.9, 0.1, 0.8, 0.2}}
	sc, err := srv.Score(ctx, ds.ID, images, texts, 100)
	if err != nil {
		log.Fatal(err)
	}
	m := sc.Metric("hit@1")
	fmt.Println(m.Name, m.Unit.Format(m.Value), m.ItemValues)
	// Output:
	// pairs-1 2 pairs /data/b.png
	// hit@1 50.00 [1 0]
}

package main

import (
	"context"
	"fmt"

	"github.com/clipeval/clipeval/benchmarks/datasets"
	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// name is the task's name in configs and reports.
const name = "retrieval"

// task is the zero-shot image–text retrieval task. Its zero value is ready; Load may be called many times.
type task struct {
	loaded datasets.Store[loaded]
}

// datasetConfig is the task's `dataset:` mapping.
type datasetConfig struct {
	Format        string   `json:"format"`
	Manifest      string   `json:"manifest"`
	ImageColumn   string   `json:"image_column"`
	CaptionColumn string   `json:"caption_column"`
	Root          string   `json:"root"`
	Shards        []string `json:"shards"`
	CaptionKey    string   `json:"caption_key"`
	MaxExpansion  float64  `json:"max_expansion"`
}

// options is the task's `options:` mapping.
type options struct {
	MaxK    int `json:"max_k"`
	Queries int `json:"queries"`
	metrics.BootstrapConfig
}

// loaded is what Load keeps for Score. Logical images are manifest lines, logical texts their captions in order;
// both map to rows of the deduplicated embedding matrices.
type loaded struct {
	names     []string // manifest image name of each logical image
	captions  []string // each logical text
	imageRow  []int    // logical image → embedding row
	textRow   []int    // logical text → embedding row
	textImage []int    // logical text → logical image
	images    int      // distinct images (embedding rows)
	texts     int      // distinct texts (embedding rows)
	maxK      int
	queries   int           // queries per direction (0: all)
	stats     stats.Options // bootstrap resamples and seed
}

// without returns l less the pairs whose image row is not kept (a bad image the harness skipped): those images
// and their captions leave both the queries and the galleries, as if they had not been in the manifest.
func (l *loaded) without(kept []bool) *loaded {
	out := *l
	out.names, out.imageRow, out.captions, out.textRow, out.textImage = nil, nil, nil, nil, nil
	to := make([]int, len(l.imageRow)) // logical image → its index in out, −1 when left out
	for i, r := range l.imageRow {
		to[i] = -1
		if kept[r] {
			to[i] = len(out.imageRow)
			out.names, out.imageRow = append(out.names, l.names[i]), append(out.imageRow, r)
		}
	}
	for t, img := range l.textImage {
		if to[img] >= 0 {
			out.captions, out.textRow = append(out.captions, l.captions[t]), append(out.textRow, l.textRow[t])
			out.textImage = append(out.textImage, to[img])
		}
	}
	return &out
}

// Describe names the task and declares its config keys.
func (t *task) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{
		Name:        name,
		Version:     version,
		Description: "zero-shot image-text retrieval: recall@k both ways (CLIP_benchmark zeroshot_retrieval)",
		DatasetFields: []sdk.Field{
			{Name: "format", Type: sdk.FieldString, Required: true, Choices: []string{"jsonl", "csv", "webdataset"},
				Help: "jsonl: one {\"image\": ..., \"captions\": [...]} object a line; csv: a header row, one " +
					"image-caption pair a row (rows of one image give it several captions); webdataset: tar shards"},
			{Name: "manifest", Type: sdk.FieldPath,
				Help: "jsonl, csv: the manifest; image paths are relative to its folder"},
			{Name: "image_column", Type: sdk.FieldString, Help: "csv: the column of image paths (default image)"},
			{Name: "caption_column", Type: sdk.FieldString, Help: "csv: the column of captions (default caption)"},
			{Name: "root", Type: sdk.FieldPath, Help: "webdataset: the folder of the shards"},
			{Name: "shards", Type: sdk.FieldStringList,
				Help: "webdataset: the shards, paths or glob patterns relative to root (default [\"*.tar\"])"},
			{Name: "caption_key", Type: sdk.FieldString, Choices: []string{"txt", "json"},
				Help: "webdataset: the member holding the captions: txt, one a line (default), or json, {\"captions\": [...]}"},
			datasets.MaxExpansionField(),
		},
		OptionFields: append([]sdk.Field{
			{Name: "max_k", Type: sdk.FieldInt, Min: sdk.Bound(1), Help: "largest k of the recall@k curves (default 10)"},
			{Name: "queries", Type: sdk.FieldInt, Min: sdk.Bound(0), Help: "evaluate a seeded random subset of this many queries per " +
				"direction against the full gallery (default 0: every query), for very large pools"},
		}, metrics.BootstrapFields()...),
	}, nil
}

// Load reads the manifest and lists the distinct images and captions to encode. Images it makes (DICOM
// renderings, members of compressed shards) go to a spool file in req.WorkDir.
func (t *task) Load(_ context.Context, req sdk.LoadRequest) (d *sdk.Dataset, err error) {
	var dc datasetConfig
	if err := datasets.Decode("retrieval dataset", req.Dataset, &dc); err != nil {
		return nil, err
	}
	opt := options{MaxK: 10}
	if err := datasets.Decode("retrieval options", req.Options, &opt); err != nil {
		return nil, err
	}
	if opt.MaxK < 1 {
		return nil, fmt.Errorf("retrieval options: max_k is %d; it must be at least 1", opt.MaxK)
	}
	sp := datasets.NewSpool(req.WorkDir)
	sp.SkipBadImages(req.SkipBadImages)
	defer func() {
		if cerr := sp.Close(); cerr != nil && err == nil {
			d, err = nil, fmt.Errorf("retrieval dataset: %w", cerr)
		}
	}()
	items, files, err := readItems(dc, sp)
	if err != nil {
		return nil, err
	}
	if opt.Queries < 0 {
		return nil, fmt.Errorf("retrieval options: queries is %d; use 0 for every query or a positive count", opt.Queries)
	}
	l := &loaded{maxK: opt.MaxK, queries: opt.Queries}
	if l.stats, err = opt.Stats(); err != nil {
		return nil, fmt.Errorf("retrieval %w", err)
	}
	var in datasets.Inputs
	for i, it := range items {
		l.names = append(l.names, it.Name)
		l.imageRow = append(l.imageRow, in.AddImage(it.Image))
		for _, c := range it.Captions {
			l.captions = append(l.captions, c)
			l.textRow = append(l.textRow, in.Text(c))
			l.textImage = append(l.textImage, i)
		}
	}
	d = in.Dataset(len(items), fmt.Sprintf("%d images, %d captions from %s", len(items), len(l.captions),
		dc.Manifest+dc.Root), files...)
	d.Skipped = sp.Skipped()
	l.images, l.texts = len(d.Images), len(d.Texts)
	d.ID = t.loaded.Add(name, l)
	return d, nil
}

// readItems reads the captioned images of the configured format and returns them with the data files read
// (besides the image files).
func readItems(dc datasetConfig, sp *datasets.Spool) ([]datasets.Captioned, []string, error) {
	const what = "retrieval dataset"
	uses := map[string][]string{"jsonl": {"manifest"}, "csv": {"manifest", "image_column", "caption_column"},
		"webdataset": {"root", "shards", "caption_key", "max_expansion"}}
	set := map[string]bool{"manifest": dc.Manifest != "", "image_column": dc.ImageColumn != "",
		"caption_column": dc.CaptionColumn != "", "root": dc.Root != "", "shards": dc.Shards != nil, "caption_key": dc.CaptionKey != "",
		"max_expansion": dc.MaxExpansion != 0}
	if uses[dc.Format] == nil {
		return nil, nil, fmt.Errorf("%s: format %q is not supported; use jsonl, csv or webdataset", what, dc.Format)
	}
	if err := datasets.CheckFields(what, dc.Format, set, uses[dc.Format]); err != nil {
		return nil, nil, err
	}
	// Every format reads either manifest or root, named first in uses; CheckFields leaves the other unset.
	if err := datasets.CheckAbs(uses[dc.Format][0], dc.Manifest+dc.Root); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	switch dc.Format {
	case "csv":
		items, err := datasets.ReadCSVCaptions(dc.Manifest, datasets.Columns{Image: dc.ImageColumn, Caption: dc.CaptionColumn}, sp)
		return items, []string{dc.Manifest}, err
	case "webdataset":
		shards, err := datasets.ShardPaths(dc.Root, dc.Shards)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, err)
		}
		key := dc.CaptionKey
		if key == "" {
			key = "txt"
		}
		samples, err := datasets.ReadWebDataset(shards, key, datasets.WebOptions{Spool: sp, MaxExpansion: dc.MaxExpansion})
		if err != nil {
			return nil, nil, err
		}
		items, err := datasets.WebCaptions(samples)
		return items, shards, err
	}
	items, err := datasets.ReadCaptions(dc.Manifest, sp)
	return items, []string{dc.Manifest}, err
}

package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clipeval/clipeval/benchmarks/datasets"
	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// name is the task's name in configs and reports.
const name = "classification"

// task is the zero-shot image classification task. Its zero value is ready; Load may be called many times.
type task struct {
	loaded datasets.Store[loaded]
}

// datasetConfig is the task's `dataset:` mapping.
type datasetConfig struct {
	Format       string            `json:"format"`
	Manifest     string            `json:"manifest"`
	Root         string            `json:"root"`
	LabelField   string            `json:"label_field"`
	LabelMap     map[string]string `json:"label_map"`
	Images       []string          `json:"images"`
	ImageColumn  string            `json:"image_column"`
	LabelColumn  string            `json:"label_column"`
	Shards       []string          `json:"shards"`
	MaxExpansion float64           `json:"max_expansion"`
}

// options is the task's `options:` mapping.
type options struct {
	Classes       []string `json:"classes"`
	Templates     []string `json:"templates"`
	PositiveClass string   `json:"positive_class"`
	probeOptions
	metrics.BootstrapConfig
}

// item is one image to classify.
type item struct {
	name, label string
	image       datasets.Image
}

// loaded is what Load keeps for Score.
type loaded struct {
	classes  []string
	groups   [][]int // class → text rows of its prompts
	items    []string
	imageRow []int // item → image row
	truth    []int // item → class index
	positive int
	images   int
	texts    int
	probe    *probe        // linear-probe mode; nil in zero-shot mode
	stats    stats.Options // bootstrap resamples and seed
}

// without returns l less the items (evaluated, and in linear-probe mode training and validation ones) whose image
// row is not kept (a bad image the harness skipped), as if they had not been in the dataset.
func (l *loaded) without(kept []bool) *loaded {
	out := *l
	out.items, out.imageRow, out.truth = nil, nil, nil
	for i, r := range l.imageRow {
		if kept[r] {
			out.items, out.imageRow, out.truth = append(out.items, l.items[i]), append(out.imageRow, r), append(out.truth, l.truth[i])
		}
	}
	if l.probe != nil {
		p := *l.probe
		p.train = l.probe.train.without(kept)
		if l.probe.val != nil {
			v := l.probe.val.without(kept)
			p.val = &v
		}
		out.probe = &p
	}
	return &out
}

// Describe names the task and declares its config keys.
func (t *task) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{
		Name:        name,
		Version:     version,
		Description: "zero-shot image classification with prompt templates (CLIP_benchmark zeroshot_classification)",
		DatasetFields: []sdk.Field{
			{Name: "format", Type: sdk.FieldString, Required: true, Choices: []string{"jsonl", "csv", "imagefolder", "webdataset", "vqa-rad"},
				Help: "jsonl: one {\"image\": ..., \"label\": ...} object a line; csv: a header row, one image a row; " +
					"imagefolder: a folder per class; webdataset: tar shards; vqa-rad: one item per VQA-RAD image. " +
					"Images may be DICOM files (native pixel data)"},
			{Name: "manifest", Type: sdk.FieldPath, Help: "jsonl, csv: the manifest; image paths are relative to its folder"},
			{Name: "root", Type: sdk.FieldPath, Help: "imagefolder: the folder of class folders; webdataset: the folder " +
				"of the shards; vqa-rad: the folder holding " + datasets.VQARADFile + " and images/"},
			{Name: "label_field", Type: sdk.FieldString, Help: "vqa-rad: the field giving the label (default image_organ); " +
				"webdataset: the member extension holding a class index into options.classes or a class name (default cls)"},
			{Name: "label_map", Type: sdk.FieldStringMap,
				Help: "maps raw labels to class names (e.g. HEAD: head); every raw label must be mapped"},
			{Name: "images", Type: sdk.FieldStringList, Help: "vqa-rad: only these image names, in this order"},
			{Name: "image_column", Type: sdk.FieldString, Help: "csv: the column of image paths (default image)"},
			{Name: "label_column", Type: sdk.FieldString, Help: "csv: the column of labels (default label)"},
			{Name: "shards", Type: sdk.FieldStringList,
				Help: "webdataset: the shards, paths or glob patterns relative to root (default [\"*.tar\"])"},
			datasets.MaxExpansionField(),
		},
		OptionFields: append(append([]sdk.Field{
			{Name: "templates", Type: sdk.FieldStringList,
				Help: "zero-shot (required): prompt templates; {} (or {c}) is replaced by the class name"},
			{Name: "classes", Type: sdk.FieldStringList,
				Help: "class names in order (default: the labels found, sorted)"},
			{Name: "positive_class", Type: sdk.FieldString,
				Help: "the positive class of a two-class task for AUROC (default: the second class)"},
		}, probeFields()...), metrics.BootstrapFields()...),
	}, nil
}

// Load reads the labelled images, fixes the classes and lists the images and class prompts to encode. Images it
// makes (DICOM renderings, members of compressed shards) go to a spool file in req.WorkDir.
func (t *task) Load(_ context.Context, req sdk.LoadRequest) (d *sdk.Dataset, err error) {
	var dc datasetConfig
	if err := datasets.Decode("classification dataset", req.Dataset, &dc); err != nil {
		return nil, err
	}
	var opt options
	if err := datasets.Decode("classification options", req.Options, &opt); err != nil {
		return nil, err
	}
	sp := datasets.NewSpool(req.WorkDir)
	sp.SkipBadImages(req.SkipBadImages)
	defer func() {
		if cerr := sp.Close(); cerr != nil && err == nil {
			d, err = nil, fmt.Errorf("classification dataset: %w", cerr)
		}
	}()
	items, files, err := readItems(dc, opt.Classes, sp)
	if err != nil {
		return nil, err
	}
	if err := relabel(items, dc.LabelMap); err != nil {
		return nil, err
	}
	l := &loaded{}
	if l.classes, err = classes(opt.Classes, items); err != nil {
		return nil, err
	}
	if l.positive, err = positive(opt.PositiveClass, l.classes); err != nil {
		return nil, err
	}
	if len(opt.Templates) == 0 && opt.Mode != metrics.ModeLinearProbe {
		return nil, fmt.Errorf("classification options: templates are required (e.g. [\"a radiology image of the {}\"])")
	}
	var in datasets.Inputs
	l.groups = make([][]int, len(l.classes))
	for c, class := range l.classes {
		for _, tpl := range opt.Templates {
			prompt, err := fill(tpl, class)
			if err != nil {
				return nil, err
			}
			l.groups[c] = append(l.groups[c], in.Text(prompt))
		}
	}
	for _, it := range items {
		l.items = append(l.items, it.name)
		l.imageRow = append(l.imageRow, in.AddImage(it.image))
		l.truth = append(l.truth, slices.Index(l.classes, it.label))
	}
	probeFiles, err := loadModes(l, dc, opt, &in, sp)
	if err != nil {
		return nil, err
	}
	files = append(files, probeFiles...)
	d = in.Dataset(len(items), fmt.Sprintf("%d images in %d classes, %d templates, from %s", len(items),
		len(l.classes), len(opt.Templates), dc.Manifest+dc.Root), files...)
	if l.probe != nil {
		d.Description += l.probe.describe()
	}
	d.Skipped = sp.Skipped()
	l.images, l.texts = len(d.Images), len(d.Texts)
	d.ID = t.loaded.Add(name, l)
	return d, nil
}

// readItems reads the labelled images of the configured format and returns them with the data files read
// (besides the image files). classes are the configured class names, which webdataset class indices refer to.
// Images made while reading go to sp.
func readItems(dc datasetConfig, classes []string, sp *datasets.Spool) ([]item, []string, error) {
	const what = "classification dataset"
	uses := map[string][]string{"jsonl": {"manifest"}, "csv": {"manifest", "image_column", "label_column"},
		"imagefolder": {"root"}, "webdataset": {"root", "shards", "label_field", "max_expansion"}, "vqa-rad": {"root", "label_field", "images"}}
	set := map[string]bool{"manifest": dc.Manifest != "", "root": dc.Root != "", "label_field": dc.LabelField != "",
		"images": dc.Images != nil, "image_column": dc.ImageColumn != "", "label_column": dc.LabelColumn != "",
		"shards": dc.Shards != nil, "max_expansion": dc.MaxExpansion != 0}
	if uses[dc.Format] == nil {
		return nil, nil, fmt.Errorf("%s: format %q is not supported; use jsonl, csv, imagefolder, webdataset or vqa-rad", what, dc.Format)
	}
	if err := datasets.CheckFields(what, dc.Format, set, uses[dc.Format]); err != nil {
		return nil, nil, err
	}
	// Every format reads either manifest or root, named first in uses; CheckFields leaves the other unset.
	if err := datasets.CheckAbs(uses[dc.Format][0], dc.Manifest+dc.Root); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	var rows []datasets.Labeled
	var files []string
	var err error
	switch dc.Format {
	case "jsonl":
		rows, err = datasets.ReadLabels(dc.Manifest, sp)
		files = []string{dc.Manifest}
	case "csv":
		rows, err = datasets.ReadCSVLabels(dc.Manifest, datasets.Columns{Image: dc.ImageColumn, Label: dc.LabelColumn}, sp)
		files = []string{dc.Manifest}
	case "imagefolder":
		rows, err = datasets.ReadImageFolder(dc.Root, sp)
	case "webdataset":
		rows, files, err = webItems(dc, classes, sp)
	case "vqa-rad":
		items, err := vqaRADItems(dc, sp)
		return items, []string{filepath.Join(dc.Root, datasets.VQARADFile)}, err
	}
	if err != nil {
		return nil, nil, err
	}
	items := make([]item, len(rows))
	for i, r := range rows {
		items[i] = item{name: r.Name, image: r.Image, label: r.Label}
	}
	return items, files, nil
}

// webItems reads the labelled samples of webdataset shards: the label from the member dc.LabelField (default
// cls), a class index into classes or a class name; images of compressed shards go to sp.
func webItems(dc datasetConfig, classes []string, sp *datasets.Spool) ([]datasets.Labeled, []string, error) {
	shards, err := datasets.ShardPaths(dc.Root, dc.Shards)
	if err != nil {
		return nil, nil, fmt.Errorf("classification dataset: %w", err)
	}
	member := dc.LabelField
	if member == "" {
		member = "cls"
	}
	samples, err := datasets.ReadWebDataset(shards, member, datasets.WebOptions{Spool: sp, MaxExpansion: dc.MaxExpansion})
	if err != nil {
		return nil, nil, err
	}
	rows, err := datasets.WebLabels(samples, classes)
	return rows, shards, err
}

// vqaRADItems returns one item per VQA-RAD image (file order, or the order of dc.Images when set), labelled by
// dc.LabelField (default image_organ). Rows of one image that disagree on the label are an error. An image left out
// as bad (sp's SkipBadImages) is left out of dc.Images too.
func vqaRADItems(dc datasetConfig, sp *datasets.Spool) ([]item, error) {
	rows, err := datasets.ReadVQARAD(dc.Root, sp)
	if err != nil {
		return nil, err
	}
	field := dc.LabelField
	if field == "" {
		field = "image_organ"
	}
	byName := map[string]*item{}
	var order []string
	for _, r := range rows {
		label, err := r.Field(field)
		if err != nil {
			return nil, fmt.Errorf("classification dataset: VQA-RAD %w", err)
		}
		if it, ok := byName[r.ImageName]; ok {
			if it.label != label {
				return nil, fmt.Errorf("classification dataset: VQA-RAD image %s has %s %q and %q (qid %s); the label must be per image",
					r.ImageName, field, it.label, label, r.QID)
			}
			continue
		}
		byName[r.ImageName] = &item{name: r.ImageName, image: r.ImageFile(), label: label}
		order = append(order, r.ImageName)
	}
	if dc.Images != nil {
		if len(dc.Images) == 0 {
			return nil, fmt.Errorf("classification dataset: images is an empty list")
		}
		order = nil
		seen := map[string]bool{}
		for _, n := range dc.Images {
			if byName[n] == nil && sp.IsSkipped(filepath.Join(dc.Root, "images", n)) {
				continue
			}
			if byName[n] == nil {
				return nil, fmt.Errorf("classification dataset: image %q is not in VQA-RAD (%s)", n, dc.Root)
			}
			if seen[n] {
				return nil, fmt.Errorf("classification dataset: image %q is listed twice", n)
			}
			seen[n] = true
			order = append(order, n)
		}
	}
	items := make([]item, len(order))
	for i, n := range order {
		items[i] = *byName[n]
	}
	return items, nil
}

// relabel replaces every item's label by its label_map entry (when a map is configured); an unmapped label is an
// error.
func relabel(items []item, labelMap map[string]string) error {
	if labelMap == nil {
		return nil
	}
	for i, it := range items {
		mapped, ok := labelMap[it.label]
		if !ok {
			return fmt.Errorf("classification dataset: label %q of %s is not in label_map", it.label, it.name)
		}
		items[i].label = mapped
	}
	return nil
}

// classes returns the configured classes, or the distinct labels sorted, checking that there are at least two,
// none repeats, and every label is one of them.
func classes(configured []string, items []item) ([]string, error) {
	out := slices.Clone(configured)
	if out == nil {
		for _, it := range items {
			out = append(out, it.label)
		}
		slices.Sort(out)
		out = slices.Compact(out)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("classification: %d classes (%q); at least 2 are needed", len(out), out)
	}
	for i, c := range out {
		if c == "" {
			return nil, fmt.Errorf("classification options: class %d is empty", i)
		}
		if slices.Index(out, c) != i {
			return nil, fmt.Errorf("classification options: class %q is listed twice", c)
		}
	}
	for _, it := range items {
		if !slices.Contains(out, it.label) {
			return nil, fmt.Errorf("classification: label %q of %s is not among the classes %q", it.label, it.name, out)
		}
	}
	return out, nil
}

// positive returns the index of the positive class: the configured one, else the second class. It is used only
// for two classes; naming one for more is an error.
func positive(configured string, classes []string) (int, error) {
	if configured == "" {
		return 1, nil
	}
	if len(classes) != 2 {
		return 0, fmt.Errorf("classification options: positive_class applies to two-class tasks; this one has %d classes", len(classes))
	}
	i := slices.Index(classes, configured)
	if i < 0 {
		return 0, fmt.Errorf("classification options: positive_class %q is not among the classes %q", configured, classes)
	}
	return i, nil
}

// fill puts the class name into a prompt template in place of every "{}" and "{c}" (the placeholders
// CLIP_benchmark's templates use); a template without one is an error.
func fill(template, class string) (string, error) {
	if !strings.Contains(template, "{}") && !strings.Contains(template, "{c}") {
		return "", fmt.Errorf("classification options: template %q has no {} (or {c}) for the class name", template)
	}
	return strings.NewReplacer("{}", class, "{c}", class).Replace(template), nil
}

// Score classifies every image zero-shot and reports, as CLIP_benchmark zeroshot_classification does (see
// metrics.Classify for each definition): acc1; acc5 (NaN below 5 classes); mean_per_class_recall (balanced
// accuracy over the classes that have images); recall/<class> (NaN for a class without images); for two classes
// auroc of the positive class; and the confusion matrix (counts by true and predicted class, in the task's class
// order) attached to acc1. Class weights: each class's prompt embeddings L2-normalised, averaged, renormalised; logits =
// logit scale · normalised image embedding · class weights; argmax ties go to the lower class index. A logit
// scale of 0 (unknown) is taken as 1: no reported metric depends on a positive scale.
func (t *task) Score(_ context.Context, req sdk.ScoreRequest) (*sdk.Scores, error) {
	l, err := t.loaded.Get(req.DatasetID)
	if err != nil {
		return nil, err
	}
	if err := metrics.CheckScoreRequest(req, l.images, l.texts); err != nil {
		return nil, fmt.Errorf("classification %s: %w", req.DatasetID, err)
	}
	if len(req.SkippedImages) > 0 {
		kept, err := req.KeptImages(l.images)
		if err != nil {
			return nil, fmt.Errorf("classification %s: %w", req.DatasetID, err)
		}
		l = l.without(kept)
	}
	if l.probe != nil {
		s, err := scoreProbe(l, req)
		if err != nil {
			return nil, fmt.Errorf("classification %s: %w", req.DatasetID, err)
		}
		return s, nil
	}
	scale := req.LogitScale
	if scale == 0 {
		scale = 1
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("classification %s: logit scale %v is not a positive number", req.DatasetID, scale)
	}
	weights, err := metrics.ClassEmbeddings(req.TextEmbeddings, l.groups)
	if err != nil {
		return nil, fmt.Errorf("classification %s: %w", req.DatasetID, err)
	}
	byImage, err := metrics.ZeroShotLogits(req.ImageEmbeddings, weights, scale)
	if err != nil {
		return nil, fmt.Errorf("classification %s: %w", req.DatasetID, err)
	}
	logits := make([][]float64, len(l.items))
	for i, r := range l.imageRow {
		logits[i] = byImage[r]
	}
	c, err := metrics.Classify(logits, l.truth, l.positive)
	if err != nil {
		return nil, fmt.Errorf("classification %s: %w", req.DatasetID, err)
	}
	s := &sdk.Scores{Mode: metrics.ModeZeroShot}
	for i, n := range l.items {
		s.Predictions = append(s.Predictions, sdk.Prediction{Item: n, Truth: l.classes[l.truth[i]],
			Predicted: l.classes[c.Pred[i]], Correct: c.Pred[i] == l.truth[i]})
	}
	if err := addClassification(s, "", l.classes, []*metrics.Classification{c}, l.stats); err != nil {
		return nil, fmt.Errorf("classification %s: %w", req.DatasetID, err)
	}
	s.Metric("acc1").Confusion = confusion(l.classes, c.Confusion)
	return s, nil
}

package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/clipeval/clipeval/benchmarks/datasets"
	"github.com/clipeval/clipeval/benchmarks/logreg"
	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// probeOptions are the options of the linear-probe mode (embedded in options).
type probeOptions struct {
	Mode           string          `json:"mode"`
	TrainManifest  string          `json:"train_manifest"`
	ValManifest    string          `json:"val_manifest"`
	TrainFractions metrics.Numbers `json:"train_fractions"`
	L2Grid         metrics.Numbers `json:"l2_grid"`
	Seeds          metrics.Numbers `json:"seeds"`
}

// Linear-probe defaults: the training fractions of the BiomedCLIP paper (percent), a log grid of L2 strengths,
// one seed, and the share of each class held out for choosing the strength when there is no validation split.
var (
	defaultFractions = []float64{1, 10, 100}
	defaultL2Grid    = []float64{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100}
)

// heldOut is the share of each class of the (sampled) training items held out to choose the L2 strength when no
// val_manifest is given.
const heldOut = 0.1

// probeFields declares the linear-probe options.
func probeFields() []sdk.Field {
	return []sdk.Field{
		{Name: "mode", Type: sdk.FieldString, Choices: []string{metrics.ModeZeroShot, metrics.ModeLinearProbe},
			Help: "zero-shot (default): prompt templates; linear-probe: logistic regression on frozen image features"},
		{Name: "train_manifest", Type: sdk.FieldPath,
			Help: "linear-probe: the training split in the test set's format (its manifest, or its root folder for imagefolder and webdataset)"},
		{Name: "val_manifest", Type: sdk.FieldPath,
			Help: "linear-probe: the validation split choosing the L2 strength, like train_manifest (default: a seeded 10% of each class of the training items)"},
		{Name: "train_fractions", Type: sdk.FieldStringList,
			Help: "linear-probe: percentages of the training split to train on, sampled per class (default [1, 10, 100])"},
		{Name: "l2_grid", Type: sdk.FieldStringList,
			Help: "linear-probe: L2 strengths λ to choose from (default 1e-6, 1e-5, ..., 100)"},
		{Name: "seeds", Type: sdk.FieldStringList,
			Help: "linear-probe: seeds of the training samples; metrics are averaged over them (default [0])"},
	}
}

// split is a labelled image set: the image row and class of each item.
type split struct {
	rows  []int
	truth []int
}

// probe is what Load keeps for a linear-probe Score.
type probe struct {
	train     split
	val       *split // nil: hold out part of the training items
	fractions []float64
	grid      []float64
	seeds     []uint64
}

// loadProbe checks the mode options. In linear-probe mode it reads the training (and validation) split with
// readItems, in the format of the test set, adds their images to in (images made go to sp), and returns the probe
// and the data files read; in zero-shot mode it returns nil.
func loadProbe(dc datasetConfig, opt options, classes []string, in *datasets.Inputs, sp *datasets.Spool) (*probe, []string, error) {
	po := opt.probeOptions
	switch po.Mode {
	case "", metrics.ModeZeroShot:
		if po.TrainManifest != "" || po.ValManifest != "" || po.TrainFractions != nil || po.L2Grid != nil || po.Seeds != nil {
			return nil, nil, fmt.Errorf("classification options: train_manifest, val_manifest, train_fractions, l2_grid and seeds apply to mode %s", metrics.ModeLinearProbe)
		}
		return nil, nil, nil
	case metrics.ModeLinearProbe:
	default:
		return nil, nil, fmt.Errorf("classification options: mode %q is not %s or %s", po.Mode, metrics.ModeZeroShot, metrics.ModeLinearProbe)
	}
	if len(opt.Templates) > 0 {
		return nil, nil, fmt.Errorf("classification options: templates apply to mode %s; the linear probe encodes no texts", metrics.ModeZeroShot)
	}
	if dc.Format == "vqa-rad" {
		return nil, nil, fmt.Errorf("classification options: mode %s needs the training split as a manifest or folder; format vqa-rad has none", metrics.ModeLinearProbe)
	}
	if po.TrainManifest == "" {
		return nil, nil, fmt.Errorf("classification options: mode %s needs train_manifest, the training split", metrics.ModeLinearProbe)
	}
	p := &probe{fractions: orDefault(po.TrainFractions, defaultFractions), grid: orDefault(po.L2Grid, defaultL2Grid)}
	for _, f := range p.fractions {
		if !(f > 0 && f <= 100) {
			return nil, nil, fmt.Errorf("classification options: train fraction %v%% is not in (0, 100]", f)
		}
	}
	for _, l2 := range p.grid {
		if !(l2 > 0) {
			return nil, nil, fmt.Errorf("classification options: L2 strength %v in l2_grid is not positive", l2)
		}
	}
	for _, s := range orDefault(po.Seeds, []float64{0}) {
		if s < 0 || s != math.Trunc(s) || s > 1<<53 {
			return nil, nil, fmt.Errorf("classification options: seed %v is not a whole number ≥ 0", s)
		}
		p.seeds = append(p.seeds, uint64(s))
	}
	var files []string
	var err error
	if p.train, files, err = readSplit(dc, opt, po.TrainManifest, classes, in, sp); err != nil {
		return nil, nil, fmt.Errorf("classification training split: %w", err)
	}
	for c, class := range classes {
		if !slices.Contains(p.train.truth, c) {
			return nil, nil, fmt.Errorf("classification training split %s: class %q has no images; the probe cannot learn it", po.TrainManifest, class)
		}
	}
	if po.ValManifest != "" {
		val, valFiles, err := readSplit(dc, opt, po.ValManifest, classes, in, sp)
		if err != nil {
			return nil, nil, fmt.Errorf("classification validation split: %w", err)
		}
		p.val, files = &val, append(files, valFiles...)
	}
	return p, files, nil
}

// orDefault returns v, or def when v is unset.
func orDefault(v metrics.Numbers, def []float64) []float64 {
	if v == nil {
		return def
	}
	return v
}

// readSplit reads another split of the data set: the dataset config with path in place of its manifest (or root
// folder), labels mapped by label_map and checked against classes; its images are added to in (images made go to
// sp).
func readSplit(dc datasetConfig, opt options, path string, classes []string, in *datasets.Inputs, sp *datasets.Spool) (split, []string, error) {
	if dc.Manifest != "" {
		dc.Manifest = path
	} else {
		dc.Root = path
	}
	items, files, err := readItems(dc, opt.Classes, sp)
	if err != nil {
		return split{}, nil, err
	}
	if err := relabel(items, dc.LabelMap); err != nil {
		return split{}, nil, err
	}
	var s split
	for _, it := range items {
		c := slices.Index(classes, it.label)
		if c < 0 {
			return split{}, nil, fmt.Errorf("label %q of %s is not among the classes %q", it.label, it.name, classes)
		}
		s.rows = append(s.rows, in.AddImage(it.image))
		s.truth = append(s.truth, c)
	}
	return s, files, nil
}

// describe says in a few words what the probe trains on.
func (p *probe) describe() string {
	val := fmt.Sprintf("a held-out %g%% of each class", heldOut*100)
	if p.val != nil {
		val = fmt.Sprintf("%d validation images", len(p.val.rows))
	}
	return fmt.Sprintf("; linear probe on %d training images, L2 chosen on %s", len(p.train.rows), val)
}

// without returns the split less the items whose image row is not kept.
func (s split) without(kept []bool) split {
	var out split
	for i, r := range s.rows {
		if kept[r] {
			out.rows, out.truth = append(out.rows, r), append(out.truth, s.truth[i])
		}
	}
	return out
}

// set returns the split's L2-normalised image features (rows of features) and labels.
func (s split) set(features [][]float64) logreg.Set {
	out := logreg.Set{X: make([][]float64, len(s.rows)), Y: s.truth}
	for i, r := range s.rows {
		out.X[i] = features[r]
	}
	return out
}

// scoreProbe reports the linear probe (the protocol of CLIP's and BiomedCLIP's linear-probe evaluations):
// multinomial logistic regression (logreg.Train: mean cross-entropy + λ/2·‖W‖², bias unpenalised, L-BFGS) on the
// L2-normalised, frozen image embeddings. For each train fraction f and seed: a class-stratified sample of f% of
// the training split (logreg.Subsample: max(1, round(f%·n_c)) per class); λ chosen from l2_grid by accuracy on the
// validation split (the model trained on the sample is kept), or without one on a seeded held-out 10% of each
// class of the sample, then refitted on the whole sample (logreg.SweepHeldOut); the test split classified by the
// highest logit. Per fraction, under linear_probe_<f>pct/, the metrics of Score (acc1, acc5, mean_per_class_recall,
// auroc for two classes with the positive class's logit margin as score, recall/<class>) averaged over the seeds,
// train_items (the sample size) and l2/seed<s> (the chosen λ); the 100% sample with a validation split does not
// depend on the seed and is fitted once. Predictions are those of the first seed, grouped by fraction.
func scoreProbe(l *loaded, req sdk.ScoreRequest) (*sdk.Scores, error) {
	features, err := metrics.NormalizeRows(req.ImageEmbeddings)
	if err != nil {
		return nil, err
	}
	p := l.probe
	k := len(l.classes)
	train := p.train.set(features)
	var val *logreg.Set
	if p.val != nil {
		v := p.val.set(features)
		val = &v
	}
	s := &sdk.Scores{Mode: metrics.ModeLinearProbe}
	for _, f := range p.fractions {
		group := "linear_probe_" + strconv.FormatFloat(f, 'f', -1, 64) + "pct"
		prefix := group + "/"
		seeds := p.seeds
		if f == 100 && val != nil {
			seeds = seeds[:1]
		}
		var runs []*metrics.Classification
		var size int
		var l2 []sdk.Metric
		for _, seed := range seeds {
			model, n, err := fitProbe(train, val, k, f/100, p.grid, seed)
			if err != nil {
				return nil, fmt.Errorf("linear probe at %v%%, seed %d: %w", f, seed, err)
			}
			logits := make([][]float64, len(l.items))
			for i, r := range l.imageRow {
				logits[i] = model.Logits(features[r])
			}
			c, err := metrics.Classify(logits, l.truth, l.positive)
			if err != nil {
				return nil, err
			}
			runs, size = append(runs, c), n
			l2 = append(l2, metrics.New(fmt.Sprintf("%sl2/seed%d", prefix, seed), model.L2, sdk.Informational, sdk.Value,
				fmt.Sprintf("the L2 strength λ chosen for seed %d", seed)))
		}
		if err := addClassification(s, prefix, l.classes, runs, l.stats); err != nil {
			return nil, err
		}
		s.Add(metrics.New(prefix+"train_items", float64(size), sdk.Informational, sdk.Count,
			fmt.Sprintf("training images sampled (%g%% of each class of the training split)", f)))
		for _, m := range l2 {
			s.Add(m)
		}
		for i, n := range l.items {
			pred := runs[0].Pred[i]
			s.Predictions = append(s.Predictions, sdk.Prediction{Item: n, Truth: l.classes[l.truth[i]],
				Predicted: l.classes[pred], Correct: pred == l.truth[i], Group: group})
		}
	}
	return s, nil
}

// fitProbe trains the probe of one fraction and seed and returns it with the number of training items sampled.
func fitProbe(train logreg.Set, val *logreg.Set, classes int, frac float64, grid []float64, seed uint64) (*logreg.Model, int, error) {
	idx, err := logreg.Subsample(train.Y, classes, frac, seed)
	if err != nil {
		return nil, 0, err
	}
	sample := train.Subset(idx)
	var sw *logreg.Swept
	if val != nil {
		sw, err = logreg.Sweep(sample, *val, classes, grid, logreg.Config{})
	} else {
		sw, err = logreg.SweepHeldOut(sample, classes, grid, heldOut, seed, logreg.Config{})
	}
	if err != nil {
		return nil, 0, err
	}
	return sw.Model, len(idx), nil
}

// addClassification adds under prefix the classification metrics of runs (one or more metrics.Classify results on
// the same items: zero-shot, or one linear probe per seed), each averaged over the runs (one run: its value):
// acc1, acc5, mean_per_class_recall, auroc (two classes) and recall/<class> (definitions: metrics.Classify, as
// CLIP_benchmark zeroshot_classification), with the headline metrics appended to s.Headline; the per-item values of
// acc1 and acc5 (metrics.ClassificationItemValues) and the bootstrap intervals (metrics.ClassificationIntervals).
func addClassification(s *sdk.Scores, prefix string, classes []string, runs []*metrics.Classification, opt stats.Options) error {
	average := func(of func(*metrics.Classification) float64) float64 {
		var sum float64
		for _, r := range runs {
			sum += of(r)
		}
		return sum / float64(len(runs))
	}
	items := metrics.ClassificationItemValues(runs)
	add := func(name string, v float64, help string) {
		m := metrics.New(prefix+name, v, sdk.HigherIsBetter, sdk.Fraction, help)
		m.ItemValues = items[name]
		s.Add(m)
	}
	// Top-1 accuracy, CLIP_benchmark accuracy(topk=(1,)): the share of items whose true class has the highest logit.
	add("acc1", average(func(c *metrics.Classification) float64 { return c.Acc1 }),
		"top-1 accuracy: share of images whose true class has the highest score (CLIP_benchmark)")
	// Top-5 accuracy, CLIP_benchmark accuracy(topk=(5,)); NaN below 5 classes, as CLIP_benchmark reports it.
	add("acc5", average(func(c *metrics.Classification) float64 { return c.Acc5 }),
		"top-5 accuracy: share of images whose true class is among the 5 highest scores; NaN below 5 classes (CLIP_benchmark)")
	// Balanced accuracy, CLIP_benchmark mean_per_class_recall (sklearn balanced_accuracy_score).
	add("mean_per_class_recall", average(func(c *metrics.Classification) float64 { return c.MeanPerClassRecall }),
		"balanced accuracy: mean over the classes with images of their recall (CLIP_benchmark)")
	headline := []string{"acc1", "mean_per_class_recall"}
	if len(classes) == 2 {
		// AUROC of the positive class (sklearn roc_auc_score; score: the positive class's logit margin).
		add("auroc", average(func(c *metrics.Classification) float64 { return c.AUROC }),
			"area under the ROC curve of the positive class, scored by its logit margin (sklearn roc_auc_score)")
		headline = append(headline, "auroc")
	}
	for ci, class := range classes {
		// Per-class recall: items of the class predicted as it over items of the class; NaN without items.
		add("recall/"+class, average(func(c *metrics.Classification) float64 { return c.Recall[ci] }),
			fmt.Sprintf("recall of class %q: share of its images classified as it; NaN without images", class))
	}
	for _, h := range headline {
		s.Headline = append(s.Headline, prefix+h)
	}
	iv, err := metrics.ClassificationIntervals(runs, opt)
	if err != nil {
		return err
	}
	return metrics.AttachIntervals(s, prefix, iv)
}

// confusion returns the confusion matrix counts (true class rows, predicted class columns) with its classes.
func confusion(classes []string, counts [][]int) *sdk.Confusion {
	out := &sdk.Confusion{Classes: classes, Counts: make([][]int64, len(counts))}
	for i, row := range counts {
		out.Counts[i] = make([]int64, len(row))
		for j, n := range row {
			out.Counts[i][j] = int64(n)
		}
	}
	return out
}

// loadModes completes Load for the mode options: the bootstrap settings and, in linear-probe mode, the training
// splits (see loadProbe; images made go to sp). It returns the data files read.
func loadModes(l *loaded, dc datasetConfig, opt options, in *datasets.Inputs, sp *datasets.Spool) ([]string, error) {
	var err error
	if l.stats, err = opt.Stats(); err != nil {
		return nil, fmt.Errorf("classification %w", err)
	}
	var files []string
	l.probe, files, err = loadProbe(dc, opt, l.classes, in, sp)
	return files, err
}

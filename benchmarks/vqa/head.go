package main

import (
	"fmt"
	"slices"

	"github.com/clipeval/clipeval/benchmarks/datasets"
	"github.com/clipeval/clipeval/benchmarks/logreg"
	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// headOptions are the options of the linear-head mode (embedded in options).
type headOptions struct {
	Mode   string          `json:"mode"`
	L2Grid metrics.Numbers `json:"l2_grid"`
}

// defaultHeadGrid is the default grid of L2 strengths of the linear head.
var defaultHeadGrid = []float64{1e-4, 1e-3, 1e-2, 1e-1, 1}

// headHeldOut is the share of each answer's training questions held out to choose the L2 strength.
const headHeldOut = 0.1

// headFields declares the mode options.
func headFields() []sdk.Field {
	return []sdk.Field{
		{Name: "mode", Type: sdk.FieldString, Choices: []string{metrics.ModeZeroShot, metrics.ModeLinearHead},
			Help: "zero-shot (default): rank candidate prompts; linear-head: a logistic-regression head over the training answers on frozen [image ; question] embeddings"},
		{Name: "l2_grid", Type: sdk.FieldStringList,
			Help: "linear-head: L2 strengths λ to choose from on a seeded held-out 10% of the training questions (default 1e-4, 1e-3, 0.01, 0.1, 1)"},
	}
}

// headItem is one question for the head: the rows of its image and question embeddings.
type headItem struct {
	imageRow, textRow int
}

// head is what Load keeps for a linear-head Score.
type head struct {
	answers []string   // the classes: the training split's normalised answers, sorted
	train   []headItem // training questions
	labels  []int      // training question → answer class
	eval    []headItem // evaluated questions, in the order of loaded.questions
	grid    []float64
}

// checkHeadOptions checks the mode options and returns the L2 grid of the linear head (nil in zero-shot mode).
func checkHeadOptions(ho headOptions) ([]float64, error) {
	switch ho.Mode {
	case "", metrics.ModeZeroShot:
		if ho.L2Grid != nil {
			return nil, fmt.Errorf("vqa options: l2_grid applies to mode %s", metrics.ModeLinearHead)
		}
		return nil, nil
	case metrics.ModeLinearHead:
	default:
		return nil, fmt.Errorf("vqa options: mode %q is not %s or %s", ho.Mode, metrics.ModeZeroShot, metrics.ModeLinearHead)
	}
	grid := defaultHeadGrid
	if ho.L2Grid != nil {
		grid = ho.L2Grid
	}
	if len(grid) == 0 {
		return nil, fmt.Errorf("vqa options: l2_grid is empty")
	}
	for _, l2 := range grid {
		if !(l2 > 0) {
			return nil, fmt.Errorf("vqa options: L2 strength %v in l2_grid is not positive", l2)
		}
	}
	return grid, nil
}

// loadHead prepares the linear head: the answer classes and the image and question text of every training
// question (answers blank once normalised are left out) and of every evaluated question, added to in.
func loadHead(rows, eval []datasets.VQARADRow, grid []float64, in *datasets.Inputs) (*head, error) {
	train, err := datasets.VQARADSplit(rows, datasets.SplitTrain)
	if err != nil {
		return nil, fmt.Errorf("vqa: the linear head trains on the training split: %w", err)
	}
	h := &head{grid: grid}
	var norm []string
	for _, r := range train {
		if n := metrics.NormalizeAnswer(r.Answer); n != "" {
			h.answers = append(h.answers, n)
			norm = append(norm, n)
			h.train = append(h.train, headItem{imageRow: in.AddImage(r.ImageFile()), textRow: in.Text(r.Question)})
		}
	}
	slices.Sort(h.answers)
	h.answers = slices.Compact(h.answers)
	if len(h.answers) < 2 {
		return nil, fmt.Errorf("vqa: the training split has %d distinct answers; the linear head needs at least 2", len(h.answers))
	}
	for _, n := range norm {
		c, _ := slices.BinarySearch(h.answers, n)
		h.labels = append(h.labels, c)
	}
	for _, r := range eval {
		h.eval = append(h.eval, headItem{imageRow: in.AddImage(r.ImageFile()), textRow: in.Text(r.Question)})
	}
	return h, nil
}

// features returns the head's input for each item: the L2-normalised image embedding followed by the
// L2-normalised question embedding.
func features(items []headItem, images, texts [][]float64) [][]float64 {
	out := make([][]float64, len(items))
	for i, it := range items {
		out[i] = append(slices.Clone(images[it.imageRow]), texts[it.textRow]...)
	}
	return out
}

// scoreHead answers every evaluated question with a linear head (the paper's VQA numbers come from a trained
// head, not zero-shot): multinomial logistic regression (logreg.Train: mean cross-entropy + λ/2·‖W‖², bias
// unpenalised, L-BFGS) over the training split's normalised answers, on [image ; question] with each embedding
// L2-normalised; λ chosen from l2_grid by accuracy on a held-out 10% of each answer's training questions (seeded
// by the seed option), then refitted on all training questions (logreg.SweepHeldOut). Each question gets the
// answer of the highest logit, closed and open alike; an answer absent from the training split cannot be given.
// Metrics as zero-shot (accuracyScores), plus l2 (the chosen λ) and answer_classes (the answer set's size).
func scoreHead(l *loaded, req sdk.ScoreRequest) (*sdk.Scores, error) {
	images, err := metrics.NormalizeRows(req.ImageEmbeddings)
	if err != nil {
		return nil, err
	}
	texts, err := metrics.NormalizeRows(req.TextEmbeddings)
	if err != nil {
		return nil, err
	}
	h := l.head
	if len(h.answers) < 2 {
		return nil, fmt.Errorf("linear head: the training questions left once the skipped images' are left out have %d distinct answers; it needs at least 2", len(h.answers))
	}
	train := logreg.Set{X: features(h.train, images, texts), Y: h.labels}
	sw, err := logreg.SweepHeldOut(train, len(h.answers), h.grid, headHeldOut, l.stats.Seed, logreg.Config{})
	if err != nil {
		return nil, fmt.Errorf("linear head: %w", err)
	}
	outcomes := make([]answered, len(l.questions))
	for i, x := range features(h.eval, images, texts) {
		q := l.questions[i]
		outcomes[i] = answered{item: q.item, truth: q.answer, predicted: h.answers[sw.Model.Predict(x)], closed: q.closed}
	}
	s, err := accuracyScores(outcomes, metrics.ModeLinearHead, l.stats)
	if err != nil {
		return nil, err
	}
	s.Add(metrics.New("l2", sw.L2, sdk.Informational, sdk.Value, "the L2 strength λ of the linear head, chosen on held-out training questions"))
	s.Add(metrics.New("answer_classes", float64(len(h.answers)), sdk.Informational, sdk.Count,
		"the number of answers the linear head chooses from (the training split's normalised answers)"))
	return s, nil
}

// answered is one question's outcome.
type answered struct {
	item, truth, predicted string
	closed                 bool
}

// accuracyScores reports (DESIGN.md, VQA) the share of questions answered right by normalised exact match
// (metrics.AnswersMatch: lower case, no punctuation, no articles a/an/the, single spaces): closed_accuracy over
// closed questions, open_accuracy over open ones, overall_accuracy over all (NaN for a group without questions);
// each question's outcome as a prediction grouped closed or open; per-question 1/0 values of each accuracy
// (closed and open: their questions only, in order); and 95% bootstrap intervals of the three, questions
// resampled together (a group absent from a resample leaves its accuracy out of that resample; a group without
// questions gets no values and no interval).
func accuracyScores(outcomes []answered, mode string, opt stats.Options) (*sdk.Scores, error) {
	s := &sdk.Scores{Mode: mode, Headline: []string{"overall_accuracy", "closed_accuracy", "open_accuracy"}}
	right := make([]float64, len(outcomes))
	values := map[string][]float64{"overall_accuracy": right}
	for i, o := range outcomes {
		ok := metrics.AnswersMatch(o.predicted, o.truth)
		if ok {
			right[i] = 1
		}
		group := "open"
		if o.closed {
			group = "closed"
		}
		values[group+"_accuracy"] = append(values[group+"_accuracy"], right[i])
		s.Predictions = append(s.Predictions, sdk.Prediction{Item: o.item, Truth: o.truth, Predicted: o.predicted,
			Correct: ok, Group: group})
	}
	help := map[string]string{
		"overall_accuracy": "share of all questions answered right (normalised exact match)",
		"closed_accuracy":  "share of closed (yes/no) questions answered right (normalised exact match)",
		"open_accuracy":    "share of open questions answered right (normalised exact match)",
	}
	for _, name := range s.Headline {
		// Accuracy by normalised exact match (DESIGN.md, VQA): the mean of the questions' 1/0 outcomes.
		s.Add(metrics.NewMean(name, values[name], sdk.HigherIsBetter, sdk.Fraction, help[name]))
	}
	if len(outcomes) == 0 {
		return s, nil
	}
	iv, err := stats.Bootstrap(len(outcomes), opt, func(counts []int) []float64 {
		var n, hit [2]float64 // [open, closed]
		for i, c := range counts {
			g := 0
			if outcomes[i].closed {
				g = 1
			}
			n[g] += float64(c)
			hit[g] += float64(c) * right[i]
		}
		return []float64{(hit[0] + hit[1]) / (n[0] + n[1]), hit[1] / n[1], hit[0] / n[0]}
	})
	if err != nil {
		return nil, err
	}
	for j, name := range s.Headline {
		if len(values[name]) > 0 && iv != nil {
			if err := metrics.AttachIntervals(s, "", map[string]stats.Interval{name: iv[j]}); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// loadHeadMode is Load in linear-head mode: it lists the images and question texts of the training split and of
// the evaluated questions (no candidate prompts).
func (t *task) loadHeadMode(dc datasetConfig, opt options, rows, eval []datasets.VQARADRow, files []string,
	grid []float64, boot stats.Options) (*sdk.Dataset, error) {
	l := &loaded{stats: boot}
	var in datasets.Inputs
	var err error
	if l.head, err = loadHead(rows, eval, grid, &in); err != nil {
		return nil, err
	}
	closed := 0
	for _, r := range eval {
		l.questions = append(l.questions, question{item: fmt.Sprintf("qid %s %s: %s", r.QID, r.ImageName, r.Question),
			answer: r.Answer, closed: r.Closed})
		if r.Closed {
			closed++
		}
	}
	d := in.Dataset(len(eval), "", files...)
	d.Description = fmt.Sprintf("%s %s: %d questions (%d closed, %d open); linear head over %d answers of %d training questions",
		dc.Format, opt.Split, len(eval), closed, len(eval)-closed, len(l.head.answers), len(l.head.train))
	l.images, l.texts = len(d.Images), len(d.Texts)
	d.ID = t.loaded.Add(name, l)
	return d, nil
}

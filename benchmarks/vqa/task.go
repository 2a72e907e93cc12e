package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clipeval/clipeval/benchmarks/datasets"
	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// name is the task's name in configs and reports.
const name = "vqa"

// Choices of the open_candidates option.
const (
	openFromTrain     = "train"      // every answer of the training split
	openFromTrainOpen = "train_open" // the answers of the training split's open questions
)

// task is the zero-shot visual question answering task. Its zero value is ready; Load may be called many times.
type task struct {
	loaded datasets.Store[loaded]
}

// datasetConfig is the task's `dataset:` mapping.
type datasetConfig struct {
	Format string `json:"format"`
	Root   string `json:"root"`
}

// options is the task's `options:` mapping.
type options struct {
	Split            string   `json:"split"`
	Prompt           string   `json:"prompt"`
	ClosedCandidates []string `json:"closed_candidates"`
	OpenCandidates   string   `json:"open_candidates"`
	headOptions
	metrics.BootstrapConfig
}

// question is one question to answer: its image row and the text rows of its candidate prompts.
type question struct {
	item       string
	answer     string
	closed     bool
	candidates []string // the closed or the open candidate list
	imageRow   int
	textRows   []int // candidate → text row
}

// loaded is what Load keeps for Score.
type loaded struct {
	questions []question
	images    int
	texts     int
	head      *head         // linear-head mode; nil in zero-shot mode
	stats     stats.Options // bootstrap resamples and seed
}

// without returns l less the questions (evaluated, and in linear-head mode training ones) whose image row is not
// kept (a bad image the harness skipped), as if they had not been in the data set: the head's answer classes are
// those of the training questions kept. Zero-shot candidate answers stay as loaded.
func (l *loaded) without(kept []bool) *loaded {
	out := *l
	out.questions = nil
	var eval []headItem
	for i, q := range l.questions {
		row := q.imageRow
		if l.head != nil {
			row = l.head.eval[i].imageRow // a linear head's questions keep their rows there
		}
		if kept[row] {
			out.questions = append(out.questions, q)
			if l.head != nil {
				eval = append(eval, l.head.eval[i])
			}
		}
	}
	if l.head != nil {
		h := *l.head
		h.train, h.labels, h.eval, h.answers = nil, nil, eval, nil
		for i, it := range l.head.train {
			if kept[it.imageRow] {
				h.train, h.labels = append(h.train, it), append(h.labels, l.head.labels[i])
			}
		}
		// The answers left, still sorted, and the labels renumbered to them.
		used := make([]bool, len(l.head.answers))
		for _, c := range h.labels {
			used[c] = true
		}
		to := make([]int, len(used))
		for c, a := range l.head.answers {
			if used[c] {
				to[c] = len(h.answers)
				h.answers = append(h.answers, a)
			}
		}
		for i, c := range h.labels {
			h.labels[i] = to[c]
		}
		out.head = &h
	}
	return &out
}

// Describe names the task and declares its config keys.
func (t *task) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{
		Name:    name,
		Version: version,
		Description: "zero-shot VQA: rank candidate answers by image-prompt similarity; closed, open and overall " +
			"accuracy (normalised exact match)",
		DatasetFields: []sdk.Field{
			{Name: "format", Type: sdk.FieldString, Required: true, Choices: []string{"vqa-rad", "slake"},
				Help: "dataset format: vqa-rad, or slake (its English questions: q_lang en)"},
			{Name: "root", Type: sdk.FieldPath, Required: true,
				Help: "vqa-rad: the folder holding " + datasets.VQARADFile + " and images/; slake: the folder holding " +
					"train.json, test.json (validate.json) and imgs/"},
		},
		OptionFields: append(append([]sdk.Field{
			{Name: "split", Type: sdk.FieldString, Choices: []string{datasets.SplitTest, datasets.SplitTrain},
				Help: "the split to evaluate (default test: phrase_type test_freeform and test_para)"},
			{Name: "prompt", Type: sdk.FieldString,
				Help: "the text encoded for each candidate; {question} and {answer} are filled in (default \"{question} {answer}\")"},
			{Name: "closed_candidates", Type: sdk.FieldStringList,
				Help: "the candidate answers of closed questions (default [yes, no])"},
			{Name: "open_candidates", Type: sdk.FieldString, Choices: []string{openFromTrain, openFromTrainOpen},
				Help: "open questions' candidates: the normalised answers of the training split (train, default) or of its open questions only (train_open)"},
		}, headFields()...), metrics.BootstrapFields()...),
	}, nil
}

// Load reads VQA-RAD, fixes the candidate answers and lists every image and question–candidate prompt to encode.
// The images are the release's own files, so it needs no work folder.
func (t *task) Load(_ context.Context, req sdk.LoadRequest) (*sdk.Dataset, error) {
	var dc datasetConfig
	if err := datasets.Decode("vqa dataset", req.Dataset, &dc); err != nil {
		return nil, err
	}
	opt := options{Split: datasets.SplitTest, Prompt: "{question} {answer}", ClosedCandidates: []string{"yes", "no"},
		OpenCandidates: openFromTrain}
	if err := datasets.Decode("vqa options", req.Options, &opt); err != nil {
		return nil, err
	}
	if dc.Format != "vqa-rad" && dc.Format != "slake" {
		return nil, fmt.Errorf("vqa dataset: format %q is not supported; use vqa-rad or slake", dc.Format)
	}
	if err := datasets.CheckAbs("root", dc.Root); err != nil {
		return nil, fmt.Errorf("vqa dataset: %w", err)
	}
	if !strings.Contains(opt.Prompt, "{answer}") {
		return nil, fmt.Errorf("vqa options: prompt %q has no {answer}; every candidate would read the same", opt.Prompt)
	}
	if err := checkCandidates(opt.ClosedCandidates); err != nil {
		return nil, err
	}
	sp := datasets.NewSpool("") // only for the bad-image policy: nothing is spooled
	sp.SkipBadImages(req.SkipBadImages)
	rows, files, err := readRows(dc, sp)
	if err != nil {
		return nil, err
	}
	eval, err := datasets.VQARADSplit(rows, opt.Split)
	if err != nil {
		return nil, fmt.Errorf("vqa options: %w", err)
	}
	grid, err := checkHeadOptions(opt.headOptions)
	if err != nil {
		return nil, err
	}
	boot, err := opt.Stats()
	if err != nil {
		return nil, fmt.Errorf("vqa %w", err)
	}
	if grid != nil {
		d, err := t.loadHeadMode(dc, opt, rows, eval, files, grid, boot)
		if d != nil {
			d.Skipped = sp.Skipped()
		}
		return d, err
	}
	open, err := openCandidates(rows, opt.OpenCandidates)
	if err != nil {
		return nil, err
	}
	l := &loaded{stats: boot}
	var in datasets.Inputs
	closedCount := 0
	for _, r := range eval {
		q := question{item: fmt.Sprintf("qid %s %s: %s", r.QID, r.ImageName, r.Question), answer: r.Answer,
			closed: r.Closed, candidates: open, imageRow: in.AddImage(r.ImageFile())}
		if r.Closed {
			q.candidates = opt.ClosedCandidates
			closedCount++
		}
		for _, c := range q.candidates {
			q.textRows = append(q.textRows, in.Text(prompt(opt.Prompt, r.Question, c)))
		}
		l.questions = append(l.questions, q)
	}
	d := in.Dataset(len(eval), "", files...)
	d.Description = fmt.Sprintf("%s %s: %d questions (%d closed, %d open) on %d images; %d closed, %d open candidates",
		dc.Format, opt.Split, len(eval), closedCount, len(eval)-closedCount, len(d.Images), len(opt.ClosedCandidates), len(open))
	d.Skipped = sp.Skipped()
	l.images, l.texts = len(d.Images), len(d.Texts)
	d.ID = t.loaded.Add(name, l)
	return d, nil
}

// readRows reads the questions of the configured release and returns them with the question files read; sp
// carries the bad-image policy and records the images left out.
func readRows(dc datasetConfig, sp *datasets.Spool) ([]datasets.VQARADRow, []string, error) {
	if dc.Format == "slake" {
		return datasets.ReadSLAKE(dc.Root, sp)
	}
	rows, err := datasets.ReadVQARAD(dc.Root, sp)
	return rows, []string{filepath.Join(dc.Root, datasets.VQARADFile)}, err
}

// prompt fills a prompt template's {question} and {answer} in one pass over the template (text filled in is not
// scanned again).
func prompt(template, q, a string) string {
	return strings.NewReplacer("{question}", q, "{answer}", a).Replace(template)
}

// checkCandidates checks the closed candidates: at least two, none blank, none equal to another after answer
// normalisation.
func checkCandidates(cands []string) error {
	if len(cands) < 2 {
		return fmt.Errorf("vqa options: closed_candidates has %d answers; at least 2 are needed", len(cands))
	}
	seen := map[string]bool{}
	for _, c := range cands {
		n := metrics.NormalizeAnswer(c)
		if n == "" {
			return fmt.Errorf("vqa options: closed candidate %q is blank once normalised", c)
		}
		if seen[n] {
			return fmt.Errorf("vqa options: closed candidate %q repeats another once normalised", c)
		}
		seen[n] = true
	}
	return nil
}

// openCandidates returns the open questions' candidates: the training split's answers (all, or those of open
// questions), normalised, without repeats or blanks, sorted.
func openCandidates(rows []datasets.VQARADRow, from string) ([]string, error) {
	if from != openFromTrain && from != openFromTrainOpen {
		return nil, fmt.Errorf("vqa options: open_candidates %q is not %q or %q", from, openFromTrain, openFromTrainOpen)
	}
	train, err := datasets.VQARADSplit(rows, datasets.SplitTrain)
	if err != nil {
		return nil, fmt.Errorf("vqa: open candidates come from the training split: %w", err)
	}
	var out []string
	for _, r := range train {
		if n := metrics.NormalizeAnswer(r.Answer); n != "" && (from == openFromTrain || !r.Closed) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) < 2 {
		return nil, fmt.Errorf("vqa: the training split gives %d open candidate answers; at least 2 are needed", len(out))
	}
	return out, nil
}

// Score answers every question with the candidate whose prompt embedding is most similar (cosine) to the image
// embedding, the first candidate among equal scores (closed: the closed_candidates order; open: sorted order),
// and reports the closed, open and overall accuracy by normalised exact match with their per-question values and
// bootstrap intervals (see accuracyScores). In linear-head mode a trained head answers instead (see scoreHead).
func (t *task) Score(_ context.Context, req sdk.ScoreRequest) (*sdk.Scores, error) {
	l, err := t.loaded.Get(req.DatasetID)
	if err != nil {
		return nil, err
	}
	if err := metrics.CheckScoreRequest(req, l.images, l.texts); err != nil {
		return nil, fmt.Errorf("vqa %s: %w", req.DatasetID, err)
	}
	if len(req.SkippedImages) > 0 {
		kept, err := req.KeptImages(l.images)
		if err != nil {
			return nil, fmt.Errorf("vqa %s: %w", req.DatasetID, err)
		}
		l = l.without(kept)
	}
	if l.head != nil {
		s, err := scoreHead(l, req)
		if err != nil {
			return nil, fmt.Errorf("vqa %s: %w", req.DatasetID, err)
		}
		return s, nil
	}
	images, err := metrics.NormalizeRows(req.ImageEmbeddings)
	if err != nil {
		return nil, fmt.Errorf("vqa %s: %w", req.DatasetID, err)
	}
	outcomes := make([]answered, len(l.questions))
	for i, q := range l.questions {
		sims := make([]float64, len(q.textRows))
		for c, r := range q.textRows {
			sims[c] = metrics.Dot(images[q.imageRow], metrics.Normalize(req.TextEmbeddings.Row(r)))
		}
		outcomes[i] = answered{item: q.item, truth: q.answer, predicted: q.candidates[metrics.Argmax(sims)], closed: q.closed}
	}
	s, err := accuracyScores(outcomes, metrics.ModeZeroShot, l.stats)
	if err != nil {
		return nil, fmt.Errorf("vqa %s: %w", req.DatasetID, err)
	}
	return s, nil
}

package metrics

import (
	"fmt"
	"math"
	"sort"
)

// Classification holds the zero-shot classification metrics of CLIP_benchmark (zeroshot_classification.py,
// evaluate) computed from a logits matrix, plus the confusion matrix and, for two classes, the AUROC.
type Classification struct {
	// Pred is the predicted class of each item: the argmax of its logits, the lowest class index among ties.
	Pred []int
	// Truth is the true class of each item.
	Truth []int
	// TruthRank is, for each item, the 0-based rank of its true class among the classes by descending logit (ties:
	// lower class index first); the item counts toward top-k accuracy when TruthRank < k.
	TruthRank []int
	// Margin is, for two classes, each item's positive-class score the AUROC ranks by: the positive class's logit
	// minus the other's (see BinaryAUROC); nil otherwise.
	Margin []float64
	// Positive is, for two classes, the index of the positive class.
	Positive int
	// Acc1 is top-1 accuracy: the share of items whose true class has the highest logit (CLIP_benchmark accuracy,
	// topk=(1,)).
	Acc1 float64
	// Acc5 is top-5 accuracy: the share of items whose true class is among the 5 highest logits (ties: lower
	// class index first); NaN when there are fewer than 5 classes, as CLIP_benchmark reports it.
	Acc5 float64
	// Recall is the per-class recall: items of class c predicted as c over items of class c; NaN for a class
	// without items.
	Recall []float64
	// MeanPerClassRecall is the mean of Recall over the classes that have items: balanced accuracy, as
	// CLIP_benchmark reports it via sklearn's balanced_accuracy_score (numpy's pairwise sum, then one division).
	MeanPerClassRecall float64
	// Confusion counts items by true class (rows) and predicted class (columns).
	Confusion [][]int
	// AUROC is, for exactly two classes, the area under the ROC curve of the positive class (see BinaryAUROC);
	// NaN otherwise.
	AUROC float64
}

// Classify computes the Classification metrics from logits (one row per item, one column per class, at least 2
// classes) and the true class of each item. positive is the index of the positive class for the binary AUROC
// (ignored unless there are exactly two classes).
func Classify(logits [][]float64, truth []int, positive int) (*Classification, error) {
	if len(logits) == 0 {
		return nil, fmt.Errorf("classification metrics: no items")
	}
	if len(logits) != len(truth) {
		return nil, fmt.Errorf("classification metrics: %d logit rows for %d labels", len(logits), len(truth))
	}
	nc := len(logits[0])
	if nc < 2 {
		return nil, fmt.Errorf("classification metrics: %d classes; at least 2 are needed", nc)
	}
	for i, row := range logits {
		if len(row) != nc {
			return nil, fmt.Errorf("classification metrics: logit row %d has %d classes, row 0 has %d", i, len(row), nc)
		}
		if truth[i] < 0 || truth[i] >= nc {
			return nil, fmt.Errorf("classification metrics: item %d has class %d, outside 0..%d", i, truth[i], nc-1)
		}
	}
	c := &Classification{Pred: make([]int, len(logits)), Truth: truth, TruthRank: make([]int, len(logits)),
		Recall: make([]float64, nc), AUROC: math.NaN()}
	c.Confusion = make([][]int, nc)
	for k := range c.Confusion {
		c.Confusion[k] = make([]int, nc)
	}
	for i, row := range logits {
		c.Pred[i] = Argmax(row)
		c.Confusion[truth[i]][c.Pred[i]]++
		c.TruthRank[i], _ = Rank(row, truth[i]) // truth[i] is in range, checked above
	}
	c.Acc1 = topKAccuracy(c.TruthRank, 1)
	c.Acc5 = math.NaN()
	if nc >= 5 {
		c.Acc5 = topKAccuracy(c.TruthRank, 5)
	}
	var present []float64
	for k, row := range c.Confusion {
		n := 0
		for _, v := range row {
			n += v
		}
		c.Recall[k] = math.NaN()
		if n > 0 {
			c.Recall[k] = float64(row[k]) / float64(n)
			present = append(present, c.Recall[k])
		}
	}
	c.MeanPerClassRecall = Mean(present)
	if nc == 2 {
		if positive < 0 || positive > 1 {
			return nil, fmt.Errorf("classification metrics: positive class %d is not 0 or 1", positive)
		}
		c.Margin, c.Positive = make([]float64, len(logits)), positive
		pos := make([]bool, len(logits))
		for i, row := range logits {
			c.Margin[i] = row[positive] - row[1-positive]
			pos[i] = truth[i] == positive
		}
		c.AUROC, _ = BinaryAUROC(c.Margin, pos) // lengths agree by construction
	}
	return c, nil
}

// topKAccuracy is the share of items whose true class is among the k highest logits, ties broken by lower class
// index (CLIP_benchmark accuracy: correct count over item count), from the true classes' ranks: the mean of their
// Hits (exact, so bit for bit the count over the item count).
func topKAccuracy(truthRank []int, k int) float64 { return Mean(Hits(truthRank, k)) }

// BinaryAUROC returns the area under the ROC curve of scores for the items marked positive: the Mann-Whitney
// statistic, the probability that a random positive scores above a random negative, a tie counting one half (the
// value sklearn's roc_auc_score gives). NaN when either class is empty.
//
// For zero-shot classification the score is the positive class's logit minus the other class's logit: the log-odds
// of the two-class softmax probability, so it orders items exactly as that probability does without the ties a
// saturated probability would add.
func BinaryAUROC(scores []float64, positive []bool) (float64, error) {
	a, err := newAUROC(scores, positive)
	if err != nil {
		return 0, err
	}
	return a.value(nil), nil
}

// auroc holds items sorted by score once, so that the AUROC of many resamples of them costs one pass each.
type auroc struct {
	scores   []float64
	positive []bool
	order    []int // item indices by ascending score
}

// newAUROC sorts the items by score.
func newAUROC(scores []float64, positive []bool) (*auroc, error) {
	if len(scores) != len(positive) {
		return nil, fmt.Errorf("AUROC: %d scores for %d labels", len(scores), len(positive))
	}
	a := &auroc{scores: scores, positive: positive, order: make([]int, len(scores))}
	for i := range a.order {
		a.order[i] = i
	}
	sort.Slice(a.order, func(x, y int) bool { return scores[a.order[x]] < scores[a.order[y]] })
	return a, nil
}

// value returns the AUROC with item i counted counts[i] times (every item once when counts is nil): the
// Mann-Whitney statistic over the counted pairs. NaN when either class is absent.
func (a *auroc) value(counts []int) float64 {
	weight := func(i int) float64 {
		if counts == nil {
			return 1
		}
		return float64(counts[i])
	}
	// Walk groups of equal scores from low to high; each positive beats the negatives below its group and ties
	// with the negatives inside it. The sum is in halves of integers, exact in float64.
	var u, npos, nneg float64
	for g := 0; g < len(a.order); {
		e := g
		var p, n float64
		for ; e < len(a.order) && a.scores[a.order[e]] == a.scores[a.order[g]]; e++ {
			if w := weight(a.order[e]); a.positive[a.order[e]] {
				p += w
			} else {
				n += w
			}
		}
		u += p*nneg + 0.5*p*n
		npos += p
		nneg += n
		g = e
	}
	if npos == 0 || nneg == 0 {
		return math.NaN()
	}
	return u / (npos * nneg)
}

// Mean returns the arithmetic mean of x as numpy's mean computes it (pairwise summation, then one division), so
// that averages match the Python reference bit for bit; NaN for an empty slice.
func Mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	return pairwiseSum(x) / float64(len(x))
}

// pairwiseSum adds x the way numpy's pairwise_sum does (numpy/_core/src/umath/loops_utils.h.src): fewer than 8
// values in order; up to 128 in eight interleaved partial sums combined as a tree, then the rest in order; more
// split in two at a multiple of 8 below the middle.
func pairwiseSum(x []float64) float64 {
	n := len(x)
	switch {
	case n < 8:
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], x[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += x[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += x[i]
		}
		return s
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwiseSum(x[:n2]) + pairwiseSum(x[n2:])
	}
}

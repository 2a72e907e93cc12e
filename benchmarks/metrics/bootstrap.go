package metrics

import (
	"fmt"
	"slices"

	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// sortedKeys returns m's keys in ascending order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ClassificationItemValues returns the per-item values of the item-mean classification metrics of one or more
// runs on the same items (e.g. one linear probe per seed), averaged over the runs: "acc1" (1 when the predicted
// class is the truth) and, with at least 5 classes, "acc5" (1 when the truth is among the top 5). Their means are
// the runs' mean acc1 and acc5.
func ClassificationItemValues(runs []*Classification) map[string][]float64 {
	out := map[string][]float64{"acc1": hitValues(runs, 1)}
	if len(runs[0].Recall) >= 5 {
		out["acc5"] = hitValues(runs, 5)
	}
	return out
}

// hitValues returns, per item, the share of runs whose true class ranks within the top k: the mean over runs of
// the items' Hits (one run: its Hits).
func hitValues(runs []*Classification, k int) []float64 {
	out := make([]float64, len(runs[0].TruthRank))
	for _, r := range runs {
		for i, h := range Hits(r.TruthRank, k) {
			out[i] += h
		}
	}
	for i := range out {
		out[i] /= float64(len(runs))
	}
	return out
}

// ClassificationIntervals returns 95% bootstrap intervals (items resampled, see stats.Bootstrap) of the mean over
// runs (one or more Classify results on the same items) of acc1, acc5 (at least 5 classes),
// mean_per_class_recall (the mean over the classes present in the resample of their recall, each item counted as
// often as drawn) and auroc (two classes). nil when opt.Resamples is 0.
func ClassificationIntervals(runs []*Classification, opt stats.Options) (map[string]stats.Interval, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("classification intervals: no runs")
	}
	items := runs[0].Truth
	classes := len(runs[0].Recall)
	names := []string{"acc1", "mean_per_class_recall"}
	hit1, hit5 := make([][]float64, len(runs)), make([][]float64, len(runs))
	aurocs := make([]*auroc, len(runs))
	for r, run := range runs {
		hit1[r], hit5[r] = hitValues(runs[r:r+1], 1), hitValues(runs[r:r+1], 5)
		if run.Margin != nil {
			pos := make([]bool, len(items))
			for i, y := range items {
				pos[i] = y == run.Positive
			}
			var err error
			if aurocs[r], err = newAUROC(run.Margin, pos); err != nil {
				return nil, fmt.Errorf("classification intervals: %w", err)
			}
		}
	}
	at5, atAUROC := -1, -1
	if classes >= 5 {
		at5, names = len(names), append(names, "acc5")
	}
	if aurocs[0] != nil {
		atAUROC, names = len(names), append(names, "auroc")
	}
	iv, err := stats.Bootstrap(len(items), opt, func(counts []int) []float64 {
		out := make([]float64, len(names))
		for r := range runs {
			out[0] += stats.WeightedMean(hit1[r], counts)
			out[1] += resampledBalancedAccuracy(items, hit1[r], classes, counts)
			if at5 >= 0 {
				out[at5] += stats.WeightedMean(hit5[r], counts)
			}
			if atAUROC >= 0 {
				out[atAUROC] += aurocs[r].value(counts)
			}
		}
		for j := range out {
			out[j] /= float64(len(runs))
		}
		return out
	})
	if err != nil || iv == nil {
		return nil, err
	}
	out := make(map[string]stats.Interval, len(names))
	for j, n := range names {
		out[n] = iv[j]
	}
	return out, nil
}

// resampledBalancedAccuracy is the mean per-class recall with item i counted counts[i] times: per class, the
// counted hits over the counted items; averaged over the classes with counted items.
func resampledBalancedAccuracy(truth []int, hit []float64, classes int, counts []int) float64 {
	right, total := make([]float64, classes), make([]float64, classes)
	for i, c := range counts {
		if c != 0 {
			right[truth[i]] += float64(c) * hit[i]
			total[truth[i]] += float64(c)
		}
	}
	var recalls []float64
	for k := range total {
		if total[k] > 0 {
			recalls = append(recalls, right[k]/total[k])
		}
	}
	return Mean(recalls)
}

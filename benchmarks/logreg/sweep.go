package logreg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Set is a labelled feature set: one feature row and one class label per item.
type Set struct {
	X [][]float64
	Y []int
}

// Subset returns the items idx of s, sharing their rows.
func (s Set) Subset(idx []int) Set {
	out := Set{X: make([][]float64, len(idx)), Y: make([]int, len(idx))}
	for i, j := range idx {
		out.X[i], out.Y[i] = s.X[j], s.Y[j]
	}
	return out
}

// Swept is the outcome of Sweep.
type Swept struct {
	// Model is the model trained with the chosen strength.
	Model *Model
	// L2 is the chosen strength.
	L2 float64
	// Accuracy holds the validation accuracy of each strength, in the grid's order.
	Accuracy []float64
}

// Sweep trains one model per L2 strength of grid on train and keeps the one with the highest accuracy on val,
// the larger strength among equal accuracies (the simpler model). Strengths are fitted from the largest down,
// each warm-started from the previous solution (a regularisation path); cfg gives the tolerance and iteration cap.
func Sweep(train, val Set, classes int, grid []float64, cfg Config) (*Swept, error) {
	if len(grid) == 0 {
		return nil, fmt.Errorf("L2 sweep: the grid is empty")
	}
	if len(val.X) == 0 || len(val.X) != len(val.Y) {
		return nil, fmt.Errorf("L2 sweep: %d validation rows for %d labels; a non-empty validation set is needed", len(val.X), len(val.Y))
	}
	order := make([]int, len(grid))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return -compareFloat(grid[a], grid[b]) })
	out := &Swept{Accuracy: make([]float64, len(grid))}
	var prev *Model
	best := math.Inf(-1)
	for _, i := range order {
		c := cfg
		c.L2 = grid[i]
		m, err := Train(train.X, train.Y, classes, c, prev)
		if err != nil {
			return nil, fmt.Errorf("L2 sweep at %g: %w", grid[i], err)
		}
		out.Accuracy[i] = m.Accuracy(val.X, val.Y)
		if out.Accuracy[i] > best {
			out.Model, out.L2, best = m, grid[i], out.Accuracy[i]
		}
		prev = m
	}
	return out, nil
}

// compareFloat orders two numbers ascending.
func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Streams of the PCG generator, so that Subsample and HoldOut with one seed draw independently.
const (
	streamSubsample = 0x5ab5
	streamHoldOut   = 0x401d
)

// Subsample returns, ascending, the indices of a class-stratified random sample of the items with the given
// labels (0..classes−1): from each class with n_c > 0 items, max(1, round(frac·n_c)) of them, drawn without
// replacement (frac 1 keeps every item). frac must be in (0, 1]; equal seeds give equal samples.
func Subsample(labels []int, classes int, frac float64, seed uint64) ([]int, error) {
	if !(frac > 0 && frac <= 1) {
		return nil, fmt.Errorf("subsample: fraction %v is not in (0, 1]", frac)
	}
	byClass, err := shuffledByClass(labels, classes, seed, streamSubsample)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, idx := range byClass {
		if len(idx) > 0 {
			out = append(out, idx[:max(1, int(math.Round(frac*float64(len(idx)))))]...)
		}
	}
	slices.Sort(out)
	return out, nil
}

// HoldOut splits the items with the given labels (0..classes−1) into a kept and a held-out part, both ascending:
// from each class with n_c ≥ 2 items, round(frac·n_c) clamped to [1, n_c − 1] of them drawn at random are held
// out, so every class keeps at least one item and a class of one is never held out. frac must be in (0, 1); an
// empty held-out part (every class has one item) is an error.
func HoldOut(labels []int, classes int, frac float64, seed uint64) (keep, held []int, err error) {
	if !(frac > 0 && frac < 1) {
		return nil, nil, fmt.Errorf("hold out: fraction %v is not in (0, 1)", frac)
	}
	byClass, err := shuffledByClass(labels, classes, seed, streamHoldOut)
	if err != nil {
		return nil, nil, err
	}
	for _, idx := range byClass {
		h := 0
		if len(idx) >= 2 {
			h = min(max(int(math.Round(frac*float64(len(idx)))), 1), len(idx)-1)
		}
		held = append(held, idx[:h]...)
		keep = append(keep, idx[h:]...)
	}
	if len(held) == 0 {
		return nil, nil, fmt.Errorf("hold out: every class of the %d items has a single item; none can be held out", len(labels))
	}
	slices.Sort(keep)
	slices.Sort(held)
	return keep, held, nil
}

// shuffledByClass returns the indices of each class's items, each list shuffled by one PCG(seed, stream)
// generator taken through the classes in order.
func shuffledByClass(labels []int, classes int, seed, stream uint64) ([][]int, error) {
	byClass := make([][]int, max(classes, 0))
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("sampling: item %d has label %d, outside 0..%d", i, l, classes-1)
		}
		byClass[l] = append(byClass[l], i)
	}
	r := rand.New(rand.NewPCG(seed, stream))
	for _, idx := range byClass {
		r.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
	}
	return byClass, nil
}

// SweepHeldOut chooses the L2 strength on a held-out part of train and refits with it on all of train: HoldOut
// holds out frac of each class (seeded), Sweep picks the strength by accuracy on that part, and the returned
// Swept's Model is then trained on every item of train with the chosen strength, warm-started from the sweep's
// model. Accuracy holds the held-out accuracies.
func SweepHeldOut(train Set, classes int, grid []float64, frac float64, seed uint64, cfg Config) (*Swept, error) {
	keep, held, err := HoldOut(train.Y, classes, frac, seed)
	if err != nil {
		return nil, fmt.Errorf("L2 sweep: %w", err)
	}
	sw, err := Sweep(train.Subset(keep), train.Subset(held), classes, grid, cfg)
	if err != nil {
		return nil, err
	}
	c := cfg
	c.L2 = sw.L2
	if sw.Model, err = Train(train.X, train.Y, classes, c, sw.Model); err != nil {
		return nil, fmt.Errorf("L2 sweep, refit at %g: %w", sw.L2, err)
	}
	return sw, nil
}

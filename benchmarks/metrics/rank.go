package metrics

import (
	"fmt"
)

// before reports whether entry i ranks before entry j in x: a higher score first, equal scores by lower index
// (the order of numpy's argsort(-x, kind="stable"), which CLIP_benchmark's reference uses).
func before(x []float64, i, j int) bool {
	return x[i] > x[j] || (x[i] == x[j] && i < j)
}

// Argmax returns the index of the largest value, the lowest index among equal values; -1 for an empty slice.
func Argmax(x []float64) int {
	best := -1
	for i := range x {
		if best < 0 || x[i] > x[best] {
			best = i
		}
	}
	return best
}

// Rank returns the 0-based position of x[target] when x is ordered by descending value, equal values by lower
// index first: the number of entries that rank before it.
func Rank(x []float64, target int) (int, error) {
	if target < 0 || target >= len(x) {
		return 0, fmt.Errorf("rank: target %d is outside the %d scores", target, len(x))
	}
	r := 0
	for i := range x {
		if before(x, i, target) {
			r++
		}
	}
	return r, nil
}

package metrics

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPerItemValues(t *testing.T) {
	tests := []struct {
		name        string
		first       []int
		all         [][]int
		k           int
		hits, recip []float64
		trueRecalls []float64
	}{
		{"ranks 0, 1, 4, none", []int{0, 1, 4, NoRank}, [][]int{{0, 3}, {1}, {4, 5, 6}, {}}, 2,
			[]float64{1, 1, 0, 0}, []float64{1, 0.5, 0.2, 0}, []float64{0.5, 1, 0, 0}},
		{"no queries", []int{}, [][]int{}, 1, []float64{}, []float64{}, []float64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.hits, Hits(tc.first, tc.k))
			assert.Equal(t, tc.recip, Reciprocals(tc.first))
			assert.Equal(t, tc.trueRecalls, TrueRecalls(tc.all, tc.k))
		})
	}
}

// TestHitRateIsCountOverQueries checks that the mean of the 0/1 hits (numpy's pairwise summation) is exactly the
// hit count over the query count, the value the task reported before it kept per-item values.
func TestHitRateIsCountOverQueries(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 8, 9, 127, 128, 129, 1000, 12345} {
		ranks := make([]int, n)
		for i := range ranks {
			ranks[i] = r.IntN(20)
		}
		for _, k := range []int{1, 5, 10} {
			hits := 0
			for _, rk := range ranks {
				if rk < k {
					hits++
				}
			}
			assert.Equal(t, float64(hits)/float64(n), HitRate(ranks, k), "n %d, k %d", n, k)
		}
	}
}

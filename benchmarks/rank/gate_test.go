package rank

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGateScan checks this build's gateScan (vectorised C with -tags openblas, plain Go without) against the
// definition, one position at a time, on rows of every length around the vector widths (4 and 8), with scores
// equal to a gate (≥ passes), NaN (passes nothing), infinities and signed zeros.
func TestGateScan(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	r := rand.New(rand.NewPCG(5, 9))
	cases := []struct {
		name    string
		row     []float32
		rowGate float32
		gates   []float32
	}{
		{"empty", nil, 0, nil},
		{"one above the row gate", []float32{0.5}, 0.5, []float32{1}},
		{"one above its column gate", []float32{0.5}, 1, []float32{0.5}},
		{"none", []float32{0.1, 0.2, 0.3}, 1, []float32{1, 1, 1}},
		{"NaN passes nothing", []float32{nan, nan, nan, nan, nan, 1}, -inf, []float32{-inf, -inf, -inf, -inf, -inf, nan}},
		{"signed zeros are equal", []float32{float32(math.Copysign(0, -1)), 0, 0, 0, 0, 0, 0, 0, 0}, 1,
			[]float32{0, float32(math.Copysign(0, -1)), 1, 1, 1, 1, 1, 1, 0}},
		{"infinite gates", []float32{inf, -inf, 3, 4, 5, 6, 7, 8, inf}, inf, []float32{inf, -inf, inf, inf, -inf, inf, inf, inf, 0}},
	}
	for _, n := range []int{3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 4096} {
		row, gates := make([]float32, n), make([]float32, n)
		for j := range n {
			row[j] = float32(r.IntN(5)) / 4 // few distinct values: many ties with the gates
			gates[j] = float32(r.IntN(5)) / 4
		}
		cases = append(cases, struct {
			name    string
			row     []float32
			rowGate float32
			gates   []float32
		}{"random ties", row, float32(r.IntN(5)) / 4, gates})
	}
	for _, c := range cases {
		var want []int32
		for j, v := range c.row {
			if v >= c.rowGate || v >= c.gates[j] {
				want = append(want, int32(j))
			}
		}
		hits := make([]int32, len(c.row))
		got := hits[:gateScan(c.row, c.rowGate, c.gates, hits)]
		if !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Errorf("%s (n = %d): hits %v, want %v", c.name, len(c.row), got, want)
		}
	}
}

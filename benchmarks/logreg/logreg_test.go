package logreg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tight trains to a gradient of 1e-9, close to what float64 allows for these objectives.
func tight(l2 float64) Config { return Config{L2: l2, Tolerance: 1e-9} }

func TestTrainAnalytic(t *testing.T) {
	ln3 := math.Log(3)
	tests := []struct {
		name       string
		x          [][]float64
		y          []int
		l2         float64
		weights    []float64
		bias       []float64
		loss       float64
		derivation string
	}{
		{
			name: "symmetric 1-D", x: [][]float64{{1}, {-1}}, y: []int{1, 0}, l2: 1 / (2 * ln3),
			// With u = w1 − w0 and b = 0 (the bias gradient vanishes by symmetry), both items have cross-entropy
			// log(1 + e^−u) and the penalty (λ/2)(w0² + w1²) is least at w1 = −w0 = u/2: f(u) = log(1 + e^−u) +
			// λu²/4, f'(u) = −1/(1 + e^u) + λu/2 = 0. At λ = 1/(2 ln 3) the root is u = ln 3 (1/4 = 1/4).
			weights: []float64{-ln3 / 2, ln3 / 2}, bias: []float64{0, 0}, loss: math.Log(4.0/3) + ln3/8,
		},
		{
			name: "bias only, unregularised", x: [][]float64{{0}, {0}, {0}, {0}}, y: []int{1, 1, 0, 1}, l2: 10,
			// Zero features leave W at 0; the unpenalised bias fits the class frequencies, softmax(b) = (1/4, 3/4),
			// so b1 − b0 = ln 3, and b0 + b1 stays 0 (every bias gradient sums to 0 over the classes).
			weights: []float64{0, 0}, bias: []float64{-ln3 / 2, ln3 / 2},
			loss: -0.75*math.Log(0.75) - 0.25*math.Log(0.25),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Train(tc.x, tc.y, 2, tight(tc.l2), nil)
			require.NoError(t, err)
			assert.InDeltaSlice(t, tc.weights, m.Weights, 1e-6)
			assert.InDeltaSlice(t, tc.bias, m.Bias, 1e-6)
			assert.InDelta(t, tc.loss, m.Loss, 1e-12)
			assert.Equal(t, 2, m.Classes)
			assert.Equal(t, 1, m.Dim)
			assert.Equal(t, tc.l2, m.L2)
		})
	}
}

// toy is three well separated classes in the plane: points near (1, 0), (0, 1) and (−1, −1).
func toy() Set {
	centres := [][]float64{{1, 0}, {0, 1}, {-1, -1}}
	offsets := [][]float64{{0, 0}, {0.1, 0.05}, {-0.05, 0.1}, {0.08, -0.1}}
	var s Set
	for c, ctr := range centres {
		for _, o := range offsets {
			s.X = append(s.X, []float64{ctr[0] + o[0], ctr[1] + o[1]})
			s.Y = append(s.Y, c)
		}
	}
	return s
}

func TestTrainSeparable(t *testing.T) {
	train := toy()
	m, err := Train(train.X, train.Y, 3, Config{L2: 1e-3}, nil)
	require.NoError(t, err)
	assert.True(t, m.Converged)
	assert.Equal(t, 1.0, m.Accuracy(train.X, train.Y))
	// The class centres are classified right; the fourth item sits on class 0's centre but is labelled 1.
	test := [][]float64{{1, 0}, {0, 1}, {-1, -1}, {1, 0}}
	assert.Equal(t, 0.75, m.Accuracy(test, []int{0, 1, 2, 1}))
	assert.Equal(t, []int{0, 1, 2}, []int{m.Predict(test[0]), m.Predict(test[1]), m.Predict(test[2])})
	assert.Len(t, m.Logits(test[0]), 3)
	assert.True(t, math.IsNaN(m.Accuracy(nil, nil)))
}

// random returns n unit feature rows of width d and labels of a random linear teacher over k classes.
func random(n, d, k int, seed uint64) Set {
	r := rand.New(rand.NewPCG(seed, 9))
	teacher := make([][]float64, k)
	for c := range teacher {
		teacher[c] = make([]float64, d)
		for j := range teacher[c] {
			teacher[c][j] = r.NormFloat64()
		}
	}
	s := Set{X: make([][]float64, n), Y: make([]int, n)}
	for i := range s.X {
		x := make([]float64, d)
		for j := range x {
			x[j] = r.NormFloat64()
		}
		norm := math.Sqrt(dot(x, x))
		for j := range x {
			x[j] /= norm
		}
		best := 0
		for c := range teacher {
			if dot(teacher[c], x) > dot(teacher[best], x) {
				best = c
			}
		}
		s.X[i], s.Y[i] = x, best
	}
	return s
}

func TestTrainDeterministic(t *testing.T) {
	s := random(300, 16, 4, 1)
	a, err := Train(s.X, s.Y, 4, Config{L2: 1e-2}, nil)
	require.NoError(t, err)
	b, err := Train(s.X, s.Y, 4, Config{L2: 1e-2}, nil)
	require.NoError(t, err)
	assert.Equal(t, a, b, "equal inputs give bit-equal models")
	assert.True(t, a.Converged)

	// A warm start from the solution of a nearby strength reaches the same optimum (the objective is strictly
	// convex in W).
	near, err := Train(s.X, s.Y, 4, Config{L2: 2e-2}, nil)
	require.NoError(t, err)
	warm, err := Train(s.X, s.Y, 4, tight(1e-2), near)
	require.NoError(t, err)
	cold, err := Train(s.X, s.Y, 4, tight(1e-2), nil)
	require.NoError(t, err)
	assert.InDeltaSlice(t, cold.Weights, warm.Weights, 1e-6)
}

func TestTrainIterationCap(t *testing.T) {
	s := random(100, 8, 3, 2)
	m, err := Train(s.X, s.Y, 3, Config{L2: 1e-4, MaxIterations: 2}, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, m.Iterations)
	assert.False(t, m.Converged)
}

func TestTrainErrors(t *testing.T) {
	x := [][]float64{{1}, {2}}
	tests := []struct {
		name    string
		x       [][]float64
		y       []int
		classes int
		cfg     Config
		init    *Model
		want    string
	}{
		{"no items", nil, nil, 2, Config{L2: 1}, nil, "no training items"},
		{"lengths", x, []int{0}, 2, Config{L2: 1}, nil, "2 feature rows for 1 labels"},
		{"one class", x, []int{0, 0}, 1, Config{L2: 1}, nil, "1 classes"},
		{"ragged", [][]float64{{1}, {2, 3}}, []int{0, 1}, 2, Config{L2: 1}, nil, "row 1 has width 2"},
		{"width 0", [][]float64{{}, {}}, []int{0, 1}, 2, Config{L2: 1}, nil, "width 0"},
		{"NaN", [][]float64{{1}, {math.NaN()}}, []int{0, 1}, 2, Config{L2: 1}, nil, "row 1 holds NaN"},
		{"label", x, []int{0, 2}, 2, Config{L2: 1}, nil, "item 1 has label 2, outside 0..1"},
		{"no L2", x, []int{0, 1}, 2, Config{}, nil, "L2 strength 0"},
		{"infinite L2", x, []int{0, 1}, 2, Config{L2: math.Inf(1)}, nil, "L2 strength +Inf"},
		{"negative tolerance", x, []int{0, 1}, 2, Config{L2: 1, Tolerance: -1}, nil, "tolerance -1"},
		{"warm start shape", x, []int{0, 1}, 2, Config{L2: 1}, &Model{Classes: 3, Dim: 1}, "warm start has 3 classes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Train(tc.x, tc.y, tc.classes, tc.cfg, tc.init)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestSweep(t *testing.T) {
	// Class 1 only at x = 1; class 0 at x = −1 and four times at 0. A strong penalty leaves W ≈ 0 and the bias
	// predicts class 0 everywhere (validation accuracy 1/2); a weak one separates x = 1 (accuracy 1).
	train := Set{X: [][]float64{{1}, {-1}, {0}, {0}, {0}, {0}}, Y: []int{1, 0, 0, 0, 0, 0}}
	val := Set{X: [][]float64{{1}, {-1}}, Y: []int{1, 0}}
	sw, err := Sweep(train, val, 2, []float64{1e-4, 1e3}, Config{})
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 0.5}, sw.Accuracy)
	assert.Equal(t, 1e-4, sw.L2)
	assert.Equal(t, 1e-4, sw.Model.L2)

	// Equal accuracies: the larger strength wins, whatever the grid's order.
	sw, err = Sweep(toy(), toy(), 3, []float64{1e-3, 1e-1, 1e-2}, Config{})
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 1, 1}, sw.Accuracy)
	assert.Equal(t, 1e-1, sw.L2)

	_, err = Sweep(train, val, 2, nil, Config{})
	assert.ErrorContains(t, err, "grid is empty")
	_, err = Sweep(train, Set{}, 2, []float64{1}, Config{})
	assert.ErrorContains(t, err, "non-empty validation set")
	_, err = Sweep(train, val, 2, []float64{1, -1}, Config{})
	assert.ErrorContains(t, err, "L2 sweep at -1: logistic regression: L2 strength -1")
}

func TestSubset(t *testing.T) {
	s := Set{X: [][]float64{{0}, {1}, {2}}, Y: []int{5, 6, 7}}
	assert.Equal(t, Set{X: [][]float64{{2}, {0}}, Y: []int{7, 5}}, s.Subset([]int{2, 0}))
}

// counts returns how many of idx have each label.
func counts(labels, idx []int, classes int) []int {
	out := make([]int, classes)
	for _, i := range idx {
		out[labels[i]]++
	}
	return out
}

func TestSubsample(t *testing.T) {
	// 10 items of class 0, 3 of class 1, 1 of class 2.
	labels := []int{0, 1, 0, 0, 2, 0, 0, 1, 0, 0, 0, 1, 0, 0}
	tests := []struct {
		frac float64
		want []int // per class: max(1, round(frac·n_c))
	}{
		{0.01, []int{1, 1, 1}},
		{0.1, []int{1, 1, 1}},
		{0.5, []int{5, 2, 1}}, // round(1.5) = 2, round(0.5) = 1
		{1, []int{10, 3, 1}},
	}
	for _, tc := range tests {
		idx, err := Subsample(labels, 3, tc.frac, 7)
		require.NoError(t, err)
		assert.Equal(t, tc.want, counts(labels, idx, 3), "fraction %v", tc.frac)
		assert.IsIncreasing(t, idx)
		again, err := Subsample(labels, 3, tc.frac, 7)
		require.NoError(t, err)
		assert.Equal(t, idx, again, "same seed, same sample")
	}
	all, err := Subsample(labels, 3, 1, 7)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, all)
	a, err := Subsample(labels, 3, 0.5, 0)
	require.NoError(t, err)
	b, err := Subsample(labels, 3, 0.5, 1)
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "another seed samples differently")

	for _, frac := range []float64{0, -0.5, 1.5, math.NaN()} {
		_, err := Subsample(labels, 3, frac, 0)
		assert.ErrorContains(t, err, "not in (0, 1]")
	}
	_, err = Subsample([]int{0, 3}, 3, 1, 0)
	assert.ErrorContains(t, err, "item 1 has label 3, outside 0..2")
}

func TestHoldOut(t *testing.T) {
	labels := []int{0, 1, 0, 0, 2, 0, 0, 1, 0, 0, 0, 1, 0, 0}
	tests := []struct {
		frac       float64
		held, keep []int // per class: round(frac·n_c) in [1, n_c − 1] held, none of a class of one
	}{
		{0.01, []int{1, 1, 0}, []int{9, 2, 1}},
		{0.2, []int{2, 1, 0}, []int{8, 2, 1}},
		{0.5, []int{5, 2, 0}, []int{5, 1, 1}},
		{0.9, []int{9, 2, 0}, []int{1, 1, 1}},
	}
	for _, tc := range tests {
		keep, held, err := HoldOut(labels, 3, tc.frac, 3)
		require.NoError(t, err)
		assert.Equal(t, tc.held, counts(labels, held, 3), "held, fraction %v", tc.frac)
		assert.Equal(t, tc.keep, counts(labels, keep, 3), "kept, fraction %v", tc.frac)
		assert.IsIncreasing(t, keep)
		assert.IsIncreasing(t, held)
		assert.ElementsMatch(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, append(keep, held...))
	}
	_, _, err := HoldOut([]int{0, 1}, 2, 0.1, 0)
	assert.ErrorContains(t, err, "every class of the 2 items has a single item")
	_, _, err = HoldOut(labels, 3, 1, 0)
	assert.ErrorContains(t, err, "not in (0, 1)")
}

// BenchmarkEval measures one loss-and-gradient pass (the unit of L-BFGS work) over 10,000 examples of width 512
// and 10 classes.
func BenchmarkEval(b *testing.B) {
	s := random(10000, 512, 10, 3)
	p := newProblem(s.X, s.Y, 10, 1e-3)
	theta := make([]float64, 10*512+10)
	grad := make([]float64, len(theta))
	for b.Loop() {
		p.eval(theta, grad)
	}
	b.ReportMetric(float64(len(s.X))*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}

// BenchmarkTrain fits 2,000 examples of width 512 and 10 classes at λ = 1e-3 to the default tolerance.
func BenchmarkTrain(b *testing.B) {
	s := random(2000, 512, 10, 4)
	iters := 0
	for b.Loop() {
		m, err := Train(s.X, s.Y, 10, Config{L2: 1e-3}, nil)
		if err != nil {
			b.Fatal(err)
		}
		iters = m.Iterations
	}
	b.ReportMetric(float64(iters), "iterations")
	b.ReportMetric(float64(len(s.X))*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}

func TestSweepHeldOut(t *testing.T) {
	// toy has 4 items per class: round(0.25·4) = 1 of each is held out, and every strength classifies the held
	// out items right, so the largest strength is chosen and refitted on all 12 items.
	s := toy()
	sw, err := SweepHeldOut(s, 3, []float64{1e-3, 1e-2}, 0.25, 5, Config{Tolerance: 1e-9})
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 1}, sw.Accuracy)
	assert.Equal(t, 1e-2, sw.L2)
	want, err := Train(s.X, s.Y, 3, tight(1e-2), nil)
	require.NoError(t, err)
	assert.InDeltaSlice(t, want.Weights, sw.Model.Weights, 1e-6, "refitted on all items")
	assert.Equal(t, 1.0, sw.Model.Accuracy(s.X, s.Y))

	_, err = SweepHeldOut(Set{X: [][]float64{{0}, {1}}, Y: []int{0, 1}}, 2, []float64{1}, 0.25, 0, Config{})
	assert.ErrorContains(t, err, "L2 sweep: hold out")
}

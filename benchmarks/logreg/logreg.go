// Package logreg trains multinomial logistic regression classifiers on frozen feature vectors, as linear probes
// and linear heads of the benchmark tasks: an L2-regularised softmax regression with an unregularised bias, fitted
// by full-batch L-BFGS in float64, plus the regularisation sweep and the seeded class-stratified sampling the
// protocols need.
//
// Training is deterministic: the loss and gradient are summed over a fixed partition of the items in a fixed
// order, whatever the number of CPUs, so equal inputs give bit-equal models.
package logreg

import (
	"fmt"
	"math"
	"sync"
)

// Defaults of Config.
const (
	// DefaultTolerance is the default stopping threshold on the largest absolute gradient entry.
	DefaultTolerance = 1e-6
	// DefaultMaxIterations is the default cap on L-BFGS iterations.
	DefaultMaxIterations = 1000
)

// Config configures Train.
type Config struct {
	// L2 is the regularisation strength λ > 0 (see Train for the objective).
	L2 float64
	// Tolerance stops training once every gradient entry is at most this in absolute value (default
	// DefaultTolerance).
	Tolerance float64
	// MaxIterations caps the L-BFGS iterations (default DefaultMaxIterations).
	MaxIterations int
}

// Model is a trained multinomial logistic regression: class c's logit for features x is Bias[c] + W_c · x.
type Model struct {
	// Classes and Dim are the number of classes and the feature width.
	Classes, Dim int
	// Weights holds W row-major: class c's weights are Weights[c*Dim : (c+1)*Dim].
	Weights []float64
	// Bias holds one bias per class.
	Bias []float64
	// L2 is the regularisation strength the model was trained with.
	L2 float64
	// Loss is the objective at the returned parameters.
	Loss float64
	// Iterations is the number of L-BFGS iterations run.
	Iterations int
	// Converged is whether the gradient tolerance was reached (otherwise the iteration cap was, or the line
	// search could make no more progress in float64).
	Converged bool
}

// Logits returns the class logits of one feature vector of width m.Dim.
func (m *Model) Logits(x []float64) []float64 {
	z := make([]float64, m.Classes)
	m.logits(x, z)
	return z
}

// logits writes the class logits of x into z.
func (m *Model) logits(x, z []float64) {
	for c := range z {
		z[c] = m.Bias[c] + dot(m.Weights[c*m.Dim:(c+1)*m.Dim], x)
	}
}

// Predict returns the class with the highest logit, the lowest class index among equal logits.
func (m *Model) Predict(x []float64) int {
	z := m.Logits(x)
	best := 0
	for c, v := range z {
		if v > z[best] {
			best = c
		}
	}
	return best
}

// Accuracy returns the share of items whose predicted class is their label (NaN for no items).
func (m *Model) Accuracy(x [][]float64, y []int) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	right := 0
	for i, row := range x {
		if m.Predict(row) == y[i] {
			right++
		}
	}
	return float64(right) / float64(len(x))
}

// Train fits a multinomial logistic regression to features x (one row per item, all of one width) and labels y
// (0..classes−1), minimising the mean cross-entropy plus an L2 penalty on the weights, the bias unpenalised:
//
//	f(W, b) = (1/n) Σ_i [log Σ_c exp(z_ic) − z_{i,y_i}] + (λ/2) Σ_cj W_cj²,   z_ic = b_c + W_c · x_i
//
// (scikit-learn's LogisticRegression(multi_class="multinomial") with C = 1/(nλ) minimises n times this). It
// starts from init when given (a warm start; it must match in classes and width) or from zero, and runs
// full-batch L-BFGS (10 correction pairs, backtracking Armijo line search) until every gradient entry is at most
// cfg.Tolerance in absolute value, or cfg.MaxIterations iterations, or the line search can make no progress.
func Train(x [][]float64, y []int, classes int, cfg Config, init *Model) (*Model, error) {
	if err := check(x, y, classes); err != nil {
		return nil, err
	}
	if !(cfg.L2 > 0) || math.IsInf(cfg.L2, 0) {
		return nil, fmt.Errorf("logistic regression: L2 strength %v; it must be a positive number", cfg.L2)
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.MaxIterations == 0 {
		cfg.MaxIterations = DefaultMaxIterations
	}
	if !(cfg.Tolerance > 0) || cfg.MaxIterations < 0 {
		return nil, fmt.Errorf("logistic regression: tolerance %v and max iterations %d must be positive",
			cfg.Tolerance, cfg.MaxIterations)
	}
	d := len(x[0])
	p := newProblem(x, y, classes, cfg.L2)
	theta := make([]float64, classes*d+classes)
	if init != nil {
		if init.Classes != classes || init.Dim != d {
			return nil, fmt.Errorf("logistic regression: warm start has %d classes of width %d, the data %d of width %d",
				init.Classes, init.Dim, classes, d)
		}
		copy(theta, init.Weights)
		copy(theta[classes*d:], init.Bias)
	}
	loss, iters, converged := minimize(p.eval, theta, p.preconditioner(), cfg.Tolerance, cfg.MaxIterations)
	return &Model{Classes: classes, Dim: d, Weights: theta[: classes*d : classes*d], Bias: theta[classes*d:],
		L2: cfg.L2, Loss: loss, Iterations: iters, Converged: converged}, nil
}

// check validates training data: items, equal finite rows, labels in range, at least two classes.
func check(x [][]float64, y []int, classes int) error {
	if len(x) == 0 {
		return fmt.Errorf("logistic regression: no training items")
	}
	if len(x) != len(y) {
		return fmt.Errorf("logistic regression: %d feature rows for %d labels", len(x), len(y))
	}
	if classes < 2 {
		return fmt.Errorf("logistic regression: %d classes; at least 2 are needed", classes)
	}
	d := len(x[0])
	if d == 0 {
		return fmt.Errorf("logistic regression: features have width 0")
	}
	for i, row := range x {
		if len(row) != d {
			return fmt.Errorf("logistic regression: feature row %d has width %d, row 0 has %d", i, len(row), d)
		}
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("logistic regression: feature row %d holds %v; features must be finite", i, v)
			}
		}
		if y[i] < 0 || y[i] >= classes {
			return fmt.Errorf("logistic regression: item %d has label %d, outside 0..%d", i, y[i], classes-1)
		}
	}
	return nil
}

// slots is the fixed number of parts the items are split into for the loss and gradient: each part is summed in
// item order by one goroutine, and the parts are added in order, so the result does not depend on the CPUs.
const slots = 16

// problem evaluates the objective of Train and its gradient; parameters θ are W row-major, then b.
type problem struct {
	x      [][]float64
	y      []int
	k, d   int
	l2     float64
	parts  [][]float64 // per slot: its gradient sum
	losses []float64   // per slot: its loss sum
}

// newProblem prepares the evaluation buffers.
func newProblem(x [][]float64, y []int, classes int, l2 float64) *problem {
	p := &problem{x: x, y: y, k: classes, d: len(x[0]), l2: l2}
	n := min(slots, len(x))
	p.parts = make([][]float64, n)
	for s := range p.parts {
		p.parts[s] = make([]float64, classes*p.d+classes)
	}
	p.losses = make([]float64, n)
	return p
}

// eval returns f(θ) and writes its gradient into grad.
func (p *problem) eval(theta, grad []float64) float64 {
	n := len(p.x)
	var wg sync.WaitGroup
	for s := range p.parts {
		wg.Go(func() {
			p.losses[s] = p.partial(theta, p.parts[s], s*n/len(p.parts), (s+1)*n/len(p.parts))
		})
	}
	wg.Wait()
	clear(grad)
	var loss float64
	for s, part := range p.parts {
		loss += p.losses[s]
		axpy(1, part, grad)
	}
	inv := 1 / float64(n)
	loss *= inv
	for i := range grad {
		grad[i] *= inv
	}
	w := theta[:p.k*p.d]
	loss += p.l2 / 2 * dot(w, w)
	axpy(p.l2, w, grad[:p.k*p.d])
	return loss
}

// preconditioner returns the inverse of the Hessian's diagonal at uniform class probabilities 1/K (the
// starting point): for weight W_cj, 1/(v·mean_i x_ij² + λ), for bias b_c, 1/v, with v = (K−1)/K², the variance of
// a class indicator. The bias has no penalty and so far less curvature than the weights under a strong one;
// without this scaling L-BFGS needs hundreds of iterations to fit it.
func (p *problem) preconditioner() []float64 {
	v := float64(p.k-1) / float64(p.k*p.k)
	second := make([]float64, p.d)
	for _, x := range p.x {
		for j, xj := range x {
			second[j] += xj * xj
		}
	}
	out := make([]float64, p.k*p.d+p.k)
	for c := range p.k {
		for j := range p.d {
			out[c*p.d+j] = 1 / (v*second[j]/float64(len(p.x)) + p.l2)
		}
		out[p.k*p.d+c] = 1 / v
	}
	return out
}

// partial returns the summed cross-entropy of items lo..hi−1 and writes the sum of their gradients into g.
func (p *problem) partial(theta, g []float64, lo, hi int) float64 {
	clear(g)
	m := Model{Classes: p.k, Dim: p.d, Weights: theta[:p.k*p.d], Bias: theta[p.k*p.d:]}
	gw, gb := g[:p.k*p.d], g[p.k*p.d:]
	z := make([]float64, p.k)
	var loss float64
	for i := lo; i < hi; i++ {
		x := p.x[i]
		m.logits(x, z)
		top := z[0]
		for _, v := range z {
			top = max(top, v)
		}
		own := z[p.y[i]] - top
		var sum float64
		for c, v := range z {
			z[c] = math.Exp(v - top)
			sum += z[c]
		}
		loss += math.Log(sum) - own
		for c := range z {
			q := z[c] / sum
			if c == p.y[i] {
				q--
			}
			gb[c] += q
			axpy(q, x, gw[c*p.d:(c+1)*p.d])
		}
	}
	return loss
}

// dot returns Σ a[i]·b[i] over len(a) entries, in four interleaved partial sums.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds alpha·x to y (len(x) entries).
func axpy(alpha float64, x, y []float64) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

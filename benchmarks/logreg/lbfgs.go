package logreg

import "math"

// Settings of the L-BFGS minimiser (Nocedal & Wright, "Numerical Optimization", 2nd ed., algorithms 7.4 and 7.5,
// with a backtracking line search, algorithm 3.1).
const (
	memory    = 10   // correction pairs kept
	armijo    = 1e-4 // sufficient decrease constant c1
	shrink    = 0.5  // step shrink factor of the backtracking line search
	maxShrink = 60   // halvings before the line search gives up
)

// minimize minimises the smooth convex function f (which returns f(θ) and writes ∇f(θ) into its second argument)
// from theta, updated in place. precond is a positive diagonal estimate of the inverse Hessian, the initial matrix
// H0 of L-BFGS up to a scale chosen each iteration as sᵀy / yᵀ·precond·y (Nocedal & Wright eq. 7.20 with a
// diagonal preconditioner). It returns the final value, the iterations run and whether every gradient entry
// reached tol or below.
func minimize(f func(theta, grad []float64) float64, theta, precond []float64, tol float64, maxIter int) (float64, int, bool) {
	n := len(theta)
	g, gNew, next, dir := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	fx := f(theta, g)
	var s, y [][]float64 // correction pairs, oldest first
	var rho []float64
	alpha := make([]float64, memory)
	for it := 0; it < maxIter; it++ {
		if maxAbs(g) <= tol {
			return fx, it, true
		}
		// Two-loop recursion: dir = −H·g, H the L-BFGS inverse Hessian estimate.
		for i := range dir {
			dir[i] = -g[i]
		}
		for j := len(s) - 1; j >= 0; j-- {
			alpha[j] = rho[j] * dot(s[j], dir)
			axpy(-alpha[j], y[j], dir)
		}
		gamma := 1.0
		if k := len(s) - 1; k >= 0 {
			var yhy float64
			for i, v := range y[k] {
				yhy += v * precond[i] * v
			}
			gamma = dot(s[k], y[k]) / yhy
		}
		for i := range dir {
			dir[i] *= gamma * precond[i]
		}
		for j := range s {
			beta := rho[j] * dot(y[j], dir)
			axpy(alpha[j]-beta, s[j], dir)
		}
		slope := dot(g, dir)
		if !(slope < 0) { // not a descent direction: restart from the preconditioned gradient
			s, y, rho = nil, nil, nil
			for i := range dir {
				dir[i] = -precond[i] * g[i]
			}
			slope = dot(g, dir)
		}
		step := 1.0
		var fNew float64
		ok := false
		for range maxShrink {
			for i := range next {
				next[i] = theta[i] + step*dir[i]
			}
			fNew = f(next, gNew)
			if fNew <= fx+armijo*step*slope {
				ok = true
				break
			}
			step *= shrink
		}
		if !ok {
			return fx, it, maxAbs(g) <= tol
		}
		sk, yk := make([]float64, n), make([]float64, n)
		for i := range sk {
			sk[i] = next[i] - theta[i]
			yk[i] = gNew[i] - g[i]
		}
		if sy := dot(sk, yk); sy > 1e-12*math.Sqrt(dot(sk, sk)*dot(yk, yk)) {
			if len(s) == memory {
				s, y, rho = s[1:], y[1:], rho[1:]
			}
			s, y, rho = append(s, sk), append(y, yk), append(rho, 1/sy)
		}
		copy(theta, next)
		copy(g, gNew)
		fx = fNew
	}
	return fx, maxIter, maxAbs(g) <= tol
}

// maxAbs returns the largest absolute entry of v.
func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

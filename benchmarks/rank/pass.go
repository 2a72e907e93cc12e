package rank

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/clipeval/clipeval/benchmarks/metrics"
)

var (
	inf32    = float32(math.Inf(1))
	negInf32 = float32(math.Inf(-1))
)

// pass is one sweep over the tiles of rows (texts) × cols (images), ranking images for the rows that are text
// queries and texts for the columns that are image queries. Rows and columns are ascending logical indices.
type pass struct {
	p          *problem
	rows, cols []int
	rowQ, colQ []bool    // by logical text (image): a query of this pass; nil: none
	cmat       []float32 // the columns' float32 unit rows, contiguous

	// Per column position: the running float32 maximum of its scores, the cut below which a score cannot be its
	// top (max − 2·bound), the best float64 score and its text, and the gate, the least score worth a closer look.
	colGate, colMax, colCut []float32
	colBest                 []float64
	colBestIdx              []int
	// The captions of column c are entries capStart[c] to capStart[c+1]-1: each one's text, float64 score with
	// the image, float32 thresholds (above capHi it is beaten, below capLo it is not, between re-checked) and
	// count of texts ranking before it. capLoMin[c] is the least capLo of the column.
	capStart     []int
	capText      []int
	capRef       []float64
	capHi, capLo []float32
	capCount     []int
	capLoMin     []float32
}

// rowTop is one worker's state of one row of a block: the count of images ranking before the row's image among
// the columns it scanned, and the same running maximum, cut, best and gate as a column's.
type rowTop struct {
	count    int
	max, cut float32
	best     float64
	bestIdx  int
	gate     float32
	_        [2]int64 // keeps neighbouring workers' states off one cache line
}

// newPass prepares a pass's column state; rowQ and colQ flag the queries by logical index (nil: none).
func (p *problem) newPass(rows, cols []int, rowQ, colQ []bool) *pass {
	ps := &pass{p: p, rows: rows, cols: cols, rowQ: rowQ, colQ: colQ}
	if len(cols) == len(p.imageRow) {
		ps.cmat = p.i32
	} else {
		ps.cmat = make([]float32, len(cols)*p.d)
		for c, i := range cols {
			copy(ps.cmat[c*p.d:(c+1)*p.d], p.i32[i*p.d:(i+1)*p.d])
		}
	}
	n := len(cols)
	ps.colGate, ps.colMax, ps.colCut = make([]float32, n), make([]float32, n), make([]float32, n)
	ps.colBest, ps.colBestIdx = make([]float64, n), make([]int, n)
	ps.capStart, ps.capLoMin = make([]int, n+1), make([]float32, n)
	for c, i := range cols {
		ps.colGate[c], ps.colMax[c], ps.colCut[c] = inf32, negInf32, negInf32
		ps.colBest[c], ps.colBestIdx[c] = math.Inf(-1), -1
		ps.capLoMin[c] = inf32
		if colQ != nil && colQ[i] {
			ps.colGate[c] = negInf32
			for _, t := range p.captions[i] {
				ref := p.ref[t]
				ps.capText = append(ps.capText, t)
				ps.capRef = append(ps.capRef, ref)
				ps.capHi = append(ps.capHi, up32(ref+p.bound))
				lo := down32(ref - p.bound)
				ps.capLo = append(ps.capLo, lo)
				ps.capLoMin[c] = min(ps.capLoMin[c], lo)
			}
		}
		ps.capStart[c+1] = len(ps.capText)
	}
	ps.capCount = make([]int, len(ps.capText))
	return ps
}

// block is the state of one block of rows: their float32 rows (the GEMM's A), float64 unit rows (for
// re-checks), the thresholds of the rows that are text queries, the tile of scores and each worker's row states
// and scratch row.
type block struct {
	n            int
	a            []float32
	r64          []float64
	rowAct       []bool
	rowHi, rowLo []float32
	rowRef       []float64
	rowRel       []int
	scores       []float32
	r0           int // the block's first row position
	ld           int // the tile's width
	c0           int // the tile's first column position
	states       [][]rowTop
	scratch      [][]float64
}

// run sweeps the pass's tiles and writes its queries' results into out.
func (ps *pass) run(ctx context.Context, cfg config, out outputs) error {
	p, d := ps.p, ps.p.d
	rows := max(min(cfg.rows, len(ps.rows)), 1)
	cols := max(min(cfg.cols, len(ps.cols)), 1)
	workers := max(cfg.workers, 1)
	b := &block{a: make([]float32, rows*d), r64: make([]float64, rows*d), rowAct: make([]bool, rows),
		rowHi: make([]float32, rows), rowLo: make([]float32, rows), rowRef: make([]float64, rows),
		rowRel: make([]int, rows), scores: make([]float32, rows*cols),
		states: make([][]rowTop, workers), scratch: make([][]float64, workers)}
	for w := range workers {
		b.states[w], b.scratch[w] = make([]rowTop, rows), make([]float64, d)
	}
	for r0 := 0; r0 < len(ps.rows); r0 += rows {
		b.r0, b.n = r0, min(rows, len(ps.rows)-r0)
		p.parallel(b.n, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				t := ps.rows[r0+r]
				copy(b.a[r*d:(r+1)*d], p.t32[t*d:(t+1)*d])
				p.unitText(b.r64[r*d:(r+1)*d], t)
				b.rowAct[r] = ps.rowQ != nil && ps.rowQ[t]
				if b.rowAct[r] {
					ref := p.ref[t]
					b.rowRef[r], b.rowRel[r] = ref, p.textImage[t]
					b.rowHi[r], b.rowLo[r] = up32(ref+p.bound), down32(ref-p.bound)
				}
				for w := range workers {
					st := rowTop{max: negInf32, cut: negInf32, best: math.Inf(-1), bestIdx: -1, gate: inf32}
					if b.rowAct[r] {
						st.gate = negInf32
					}
					b.states[w][r] = st
				}
			}
		})
		for c0 := 0; c0 < len(ps.cols); c0 += cols {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("ranking: %w", err)
			}
			b.c0, b.ld = c0, min(cols, len(ps.cols)-c0)
			sgemm(b.n, b.ld, d, b.a[:b.n*d], ps.cmat[c0*d:(c0+b.ld)*d], b.scores[:b.n*b.ld], b.ld)
			per := (b.ld + workers - 1) / workers
			var wg sync.WaitGroup
			for w := range workers {
				if lo := w * per; lo < b.ld {
					wg.Go(func() { ps.scan(b, w, lo, min(lo+per, b.ld)) })
				}
			}
			wg.Wait()
		}
		for r := range b.n {
			if !b.rowAct[r] {
				continue
			}
			t, st := ps.rows[r0+r], b.states[0][r]
			for w := 1; w < workers; w++ {
				o := b.states[w][r]
				st.count += o.count
				if o.bestIdx >= 0 && better(o.best, o.bestIdx, st.best, st.bestIdx) {
					st.best, st.bestIdx = o.best, o.bestIdx
				}
			}
			out.t2iRank[t], out.t2iTop[t] = st.count, st.bestIdx
		}
	}
	for c, i := range ps.cols {
		if ps.colQ != nil && ps.colQ[i] {
			out.i2tRanks[i] = append([]int{}, ps.capCount[ps.capStart[c]:ps.capStart[c+1]]...)
			out.i2tTop[i] = ps.colBestIdx[c]
		}
	}
	return nil
}

// scan looks at columns lo..hi-1 of the current tile for every row of the block, as worker w. An entry below
// both its row's gate and its column's gate changes nothing; the rest go to look.
func (ps *pass) scan(b *block, w, lo, hi int) {
	gates := ps.colGate[b.c0+lo : b.c0+hi]
	for r := range b.n {
		st := &b.states[w][r]
		rg := st.gate
		row := b.scores[r*b.ld+lo : r*b.ld+hi]
		gates := gates[:len(row)]
		for j, v := range row {
			if v >= rg || v >= gates[j] {
				ps.look(b, w, r, b.c0+lo+j, v)
				rg = st.gate
			}
		}
	}
}

// look updates row r's and column position c's state with their float32 score v, re-scoring the pair in float64
// where v is within the bound of a threshold.
func (ps *pass) look(b *block, w, r, c int, v float32) {
	p, d := ps.p, ps.p.d
	i := ps.cols[c]
	var s float64
	scored := false
	score := func() float64 {
		if !scored {
			s = metrics.Dot(b.r64[r*d:(r+1)*d], p.unitImage(b.scratch[w], i))
			scored = true
		}
		return s
	}
	if st := &b.states[w][r]; v >= st.gate {
		if v > b.rowHi[r] {
			st.count++
		} else if v >= b.rowLo[r] {
			if x := score(); better(x, i, b.rowRef[r], b.rowRel[r]) {
				st.count++
			}
		}
		if v >= st.cut {
			if x := score(); better(x, i, st.best, st.bestIdx) {
				st.best, st.bestIdx = x, i
			}
			if v > st.max {
				st.max, st.cut = v, down32(float64(v)-2*p.bound)
			}
		}
		st.gate = min(b.rowLo[r], st.cut)
	}
	if v >= ps.colGate[c] {
		text := ps.rows[b.r0+r]
		for k := ps.capStart[c]; k < ps.capStart[c+1]; k++ {
			if v > ps.capHi[k] {
				ps.capCount[k]++
			} else if v >= ps.capLo[k] {
				if x := score(); better(x, text, ps.capRef[k], ps.capText[k]) {
					ps.capCount[k]++
				}
			}
		}
		if v >= ps.colCut[c] {
			if x := score(); better(x, text, ps.colBest[c], ps.colBestIdx[c]) {
				ps.colBest[c], ps.colBestIdx[c] = x, text
			}
			if v > ps.colMax[c] {
				ps.colMax[c], ps.colCut[c] = v, down32(float64(v)-2*p.bound)
			}
		}
		ps.colGate[c] = min(ps.capLoMin[c], ps.colCut[c])
	}
}

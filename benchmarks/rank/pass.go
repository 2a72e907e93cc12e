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

	// Per column position: the gate, the least float32 score worth a closer look (the least capLo, or colCut for
	// an image without captions); the top's candidates, the texts ranking before the column's best caption (every
	// text for an image without captions): their running float32 maximum, the cut below which one cannot be the
	// top (max − 2·bound), and the best one's float64 score and text; capBest, the column's best caption (the
	// highest float64 score, the lower index among equal ones), an index into the caption entries (−1: none).
	colGate, colMax, colCut []float32
	colBest                 []float64
	colBestIdx              []int
	capBest                 []int
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
// the columns it scanned, and, among those images (the top's candidates), their running float32 maximum, the cut
// below which one cannot be the top (max − 2·bound) and the best one's float64 score and image.
type rowTop struct {
	count    int
	max, cut float32
	best     float64
	bestIdx  int
	_        [3]int64 // keeps neighbouring workers' states off one cache line
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
	ps.colBest, ps.colBestIdx, ps.capBest = make([]float64, n), make([]int, n), make([]int, n)
	ps.capStart, ps.capLoMin = make([]int, n+1), make([]float32, n)
	for c, i := range cols {
		ps.colGate[c], ps.colMax[c], ps.colCut[c] = inf32, negInf32, negInf32
		ps.colBest[c], ps.colBestIdx[c] = math.Inf(-1), -1
		ps.capLoMin[c], ps.capBest[c] = inf32, -1
		if colQ != nil && colQ[i] {
			ps.colGate[c] = negInf32 // an image without captions: every text is a candidate top
			for _, t := range p.captions[i] {
				ref := p.ref[t]
				if b := ps.capBest[c]; b < 0 || better(ref, t, ps.capRef[b], ps.capText[b]) {
					ps.capBest[c] = len(ps.capText)
				}
				ps.capText = append(ps.capText, t)
				ps.capRef = append(ps.capRef, ref)
				ps.capHi = append(ps.capHi, up32(ref+p.bound))
				lo := down32(ref - p.bound)
				ps.capLo = append(ps.capLo, lo)
				ps.capLoMin[c] = min(ps.capLoMin[c], lo)
				ps.colGate[c] = ps.capLoMin[c]
			}
		}
		ps.capStart[c+1] = len(ps.capText)
	}
	ps.capCount = make([]int, len(ps.capText))
	return ps
}

// block is the state of one block of rows: their float32 rows (the GEMM's A), float64 unit rows (for
// re-checks), the thresholds of the rows that are text queries (rowLo is also the row's gate: +Inf for a row that
// is no query), and each worker's row states, scratch row and gate hits.
type block struct {
	r0, n        int // the block's first row position and its number of rows
	a            []float32
	r64          []float64
	rowAct       []bool
	rowHi, rowLo []float32
	rowRef       []float64
	rowRel       []int
	states       [][]rowTop
	scratch      [][]float64
	hits         [][]int32 // each worker's gate hits in one row of a tile
}

// tile is one block's scores against columns c0..c0+ld-1, row-major with stride ld.
type tile struct {
	b      *block
	c0, ld int
	scores []float32
}

// run sweeps the pass's tiles and writes its queries' results into out. Each tile's GEMM runs on the BLAS's
// threads (the pure-Go kernel: on goroutines), then its scan on cfg.workers goroutines: one after the other, so
// that the two never compete for the cores (running them at once measured slower: a threaded GEMM waits on its
// slowest thread).
func (ps *pass) run(ctx context.Context, cfg config, out outputs) error {
	d := ps.p.d
	rows := max(min(cfg.rows, len(ps.rows)), 1)
	cols := max(min(cfg.cols, len(ps.cols)), 1)
	workers := max(cfg.workers, 1)
	b := &block{a: make([]float32, rows*d), r64: make([]float64, rows*d), rowAct: make([]bool, rows),
		rowHi: make([]float32, rows), rowLo: make([]float32, rows), rowRef: make([]float64, rows),
		rowRel: make([]int, rows), states: make([][]rowTop, workers), scratch: make([][]float64, workers),
		hits: make([][]int32, workers)}
	for w := range workers {
		b.states[w], b.scratch[w], b.hits[w] = make([]rowTop, rows), make([]float64, d), make([]int32, cols)
	}
	tl := &tile{b: b, scores: make([]float32, rows*cols)}
	for r0 := 0; r0 < len(ps.rows); r0 += rows {
		ps.prepare(b, r0, min(rows, len(ps.rows)-r0))
		for c0 := 0; c0 < len(ps.cols); c0 += cols {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("ranking: %w", err)
			}
			tl.c0, tl.ld = c0, min(cols, len(ps.cols)-c0)
			sgemm(b.n, tl.ld, d, b.a[:b.n*d], ps.cmat[c0*d:(c0+tl.ld)*d], tl.scores[:b.n*tl.ld], tl.ld)
			per := (tl.ld + workers - 1) / workers
			var wg sync.WaitGroup
			for w := range workers {
				if lo := w * per; lo < tl.ld {
					wg.Go(func() { ps.scan(tl, w, lo, min(lo+per, tl.ld)) })
				}
			}
			wg.Wait()
		}
		ps.finishRows(b, out)
	}
	for c, i := range ps.cols {
		if ps.colQ != nil && ps.colQ[i] {
			out.i2tRanks[i] = append([]int{}, ps.capCount[ps.capStart[c]:ps.capStart[c+1]]...)
			out.i2tTop[i] = ps.colBestIdx[c]
			if k := ps.capBest[c]; k >= 0 && ps.capCount[k] == 0 { // nothing ranks before the best caption
				out.i2tTop[i] = ps.capText[k]
			}
		}
	}
	return nil
}

// prepare loads rows r0..r0+n-1 of the pass into b and resets its row states.
func (ps *pass) prepare(b *block, r0, n int) {
	p, d := ps.p, ps.p.d
	b.r0, b.n = r0, n
	p.parallel(n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			t := ps.rows[r0+r]
			copy(b.a[r*d:(r+1)*d], p.t32[t*d:(t+1)*d])
			p.unitText(b.r64[r*d:(r+1)*d], t)
			b.rowAct[r] = ps.rowQ != nil && ps.rowQ[t]
			b.rowLo[r] = inf32
			if b.rowAct[r] {
				ref := p.ref[t]
				b.rowRef[r], b.rowRel[r] = ref, p.textImage[t]
				b.rowHi[r], b.rowLo[r] = up32(ref+p.bound), down32(ref-p.bound)
			}
			for w := range b.states {
				b.states[w][r] = rowTop{max: negInf32, cut: negInf32, best: math.Inf(-1), bestIdx: -1}
			}
		}
	})
}

// finishRows merges the workers' states of b's query rows into out.
func (ps *pass) finishRows(b *block, out outputs) {
	for r := range b.n {
		if !b.rowAct[r] {
			continue
		}
		t, st := ps.rows[b.r0+r], b.states[0][r]
		for _, ws := range b.states[1:] {
			o := ws[r]
			st.count += o.count
			if o.bestIdx >= 0 && better(o.best, o.bestIdx, st.best, st.bestIdx) {
				st.best, st.bestIdx = o.best, o.bestIdx
			}
		}
		out.t2iRank[t], out.t2iTop[t] = st.count, st.bestIdx
		if st.count == 0 { // nothing ranks before the row's image: it is the top
			out.t2iTop[t] = b.rowRel[r]
		}
	}
}

// scan looks at columns lo..hi-1 of tile tl for every row of its block, as worker w. An entry below both its
// row's gate and its column's gate changes nothing; gateScan finds the rest, which go to look. Within a row, look
// changes only the gate of the column it looks at, and workers own disjoint columns, so the gates gateScan reads
// are current.
func (ps *pass) scan(tl *tile, w, lo, hi int) {
	b := tl.b
	gates, hits := ps.colGate[tl.c0+lo:tl.c0+hi], b.hits[w]
	for r := range b.n {
		row := tl.scores[r*tl.ld+lo : r*tl.ld+hi]
		for _, j := range hits[:gateScan(row, b.rowLo[r], gates, hits)] {
			ps.look(b, w, r, tl.c0+lo+int(j), row[j])
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
	// Text → image: count the images ranking before the row's image; those are the candidates for its top.
	if v >= b.rowLo[r] {
		beats := v > b.rowHi[r]
		if !beats {
			beats = better(score(), i, b.rowRef[r], b.rowRel[r])
		}
		if st := &b.states[w][r]; beats {
			st.count++
			if v >= st.cut {
				if x := score(); better(x, i, st.best, st.bestIdx) {
					st.best, st.bestIdx = x, i
				}
				if v > st.max {
					st.max, st.cut = v, down32(float64(v)-2*p.bound)
				}
			}
		}
	}
	// Image → text: count the texts ranking before each caption of the column's image; those ranking before its
	// best caption (every text, for an image without captions) are the candidates for its top.
	if v >= ps.colGate[c] {
		text := ps.rows[b.r0+r]
		candidate := ps.capBest[c] < 0
		for k := ps.capStart[c]; k < ps.capStart[c+1]; k++ {
			if v < ps.capLo[k] {
				continue
			}
			if v > ps.capHi[k] || better(score(), text, ps.capRef[k], ps.capText[k]) {
				ps.capCount[k]++
				candidate = candidate || k == ps.capBest[c]
			}
		}
		if candidate && v >= ps.colCut[c] {
			if x := score(); better(x, text, ps.colBest[c], ps.colBestIdx[c]) {
				ps.colBest[c], ps.colBestIdx[c] = x, text
			}
			if v > ps.colMax[c] {
				ps.colMax[c], ps.colCut[c] = v, down32(float64(v)-2*p.bound)
				if ps.capBest[c] < 0 {
					ps.colGate[c] = ps.colCut[c]
				}
			}
		}
	}
}

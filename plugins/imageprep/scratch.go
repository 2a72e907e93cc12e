package imageprep

import "sync"

// scratch holds the buffers one preprocessing call reuses from the last: the decoded pixels, the premultiplied
// copy, the intermediate pass and the resized window. A nil *scratch allocates fresh buffers (for results handed
// to callers).
type scratch struct {
	buf [numBufs][]uint8
	// budget, when set, is what the image being decoded reserves its cost from (see admit); reserved is how much
	// it holds, returned by putScratch.
	budget   *Budget
	reserved int64
	// axes caches the last coefficients computed (many data sets have few image sizes), next is the slot to
	// replace.
	axes [4]cachedAxis
	next int
}

// cachedAxis is bicubicAxis(in, out, o0, n) with its fixed-point weights.
type cachedAxis struct {
	in, out, o0, n int
	ax             axis
	kk             []int32
}

// The scratch slots.
const (
	bufDecode = iota
	bufPremul
	bufTmp
	bufOut
	numBufs
)

// maxPooled bounds the buffers a pooled scratch keeps (64 MiB each): one huge image must not pin its buffers in
// every worker for the rest of the run.
const maxPooled = 64 << 20

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if s.reserved > 0 {
		s.budget.release(s.reserved)
	}
	s.budget, s.reserved = nil, 0
	for i, b := range s.buf {
		if cap(b) > maxPooled {
			s.buf[i] = nil
		}
	}
	scratchPool.Put(s)
}

// bytes returns n bytes of slot i (their contents unspecified), growing the slot when needed.
func (s *scratch) bytes(i, n int) []uint8 {
	if s == nil {
		return make([]uint8, n)
	}
	if cap(s.buf[i]) < n {
		s.buf[i] = make([]uint8, n)
	}
	return s.buf[i][:n]
}

// bicubic returns bicubicAxis(in, out, o0, n) and its fixed-point weights, from the cache when they are there (the
// result is shared: read it only).
func (s *scratch) bicubic(in, out, o0, n int) (axis, []int32) {
	if s == nil {
		ax := bicubicAxis(in, out, o0, n)
		return ax, ax.fixed()
	}
	for _, c := range s.axes {
		if c.kk != nil && c.in == in && c.out == out && c.o0 == o0 && c.n == n {
			return c.ax, c.kk
		}
	}
	ax := bicubicAxis(in, out, o0, n)
	c := cachedAxis{in: in, out: out, o0: o0, n: n, ax: ax, kk: ax.fixed()}
	s.axes[s.next] = c
	s.next = (s.next + 1) % len(s.axes)
	return c.ax, c.kk
}

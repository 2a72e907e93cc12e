package imageprep

import "sync"

// scratch holds the buffers one preprocessing call reuses from the last: the decoded pixels, the premultiplied
// copy, the intermediate pass and the resized window. A nil *scratch allocates fresh buffers (for results handed
// to callers).
type scratch struct {
	buf [numBufs][]uint8
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

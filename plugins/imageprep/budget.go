package imageprep

import "sync"

// DecodeBytesPerPixel is what Budget charges per pixel of an image being decoded and preprocessed: the decoder's
// own pixels (up to 8 bytes for 16-bit RGBA), the converted copy the resampler reads (4) and its row buffers.
const DecodeBytesPerPixel = 12

// DefaultBudgetBytes is the decoded-memory budget a model backend shares across its parallel decodes (2 GiB).
const DefaultBudgetBytes = 2 << 30

// Budget bounds the memory that images decoded at the same time take together, across every goroutine sharing it
// (PreprocessWithin): a decode reserves its image's cost (width × height × DecodeBytesPerPixel) as soon as the
// header gives the size, before any pixel is decoded, and returns it when the image is preprocessed. A decode that
// does not fit waits for others to return theirs; an image costing more than the whole budget (but within
// MaxPixels) waits until no other is being decoded, then decodes alone. Reservations are granted in the order
// they are asked for, so a large image is not starved by a stream of small ones. Without a budget, decodes run
// unbounded (per image, MaxPixels still applies).
type Budget struct {
	mu          sync.Mutex
	cond        sync.Cond
	limit, used int64
	active      int
	// next is the ticket the next reservation gets, serving the one granted next.
	next, serving uint64
	peak          int64 // the most ever reserved at once (for tests)
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget {
	b := &Budget{limit: limit}
	b.cond.L = &b.mu
	return b
}

// reserve blocks until n bytes fit (or nothing else is reserved) and this call's turn has come, then takes them.
func (b *Budget) reserve(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ticket := b.next
	b.next++
	for ticket != b.serving || (b.active > 0 && b.used+n > b.limit) {
		b.cond.Wait()
	}
	b.serving++
	b.used += n
	b.active++
	b.peak = max(b.peak, b.used)
	b.cond.Broadcast() // the next ticket may fit too
}

// release returns n bytes reserved by reserve.
func (b *Budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.active--
	b.cond.Broadcast()
}

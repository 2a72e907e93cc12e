package imageprep

import (
	"bytes"
	"image"
	"image/png"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pngOf returns a w×h RGBA PNG.
func pngOf(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// preprocessAll preprocesses data n times in parallel within budget.
func preprocessAll(t *testing.T, budget *Budget, data []byte, n int) {
	cfg := openAI(32)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = cfg.PreprocessWithin(budget, make([]float32, 3*32*32), data) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// TestBudgetBoundsParallelDecodes: parallel decodes sharing a budget never hold more than it together, and every
// reservation is returned.
func TestBudgetBoundsParallelDecodes(t *testing.T) {
	data := pngOf(t, 300, 200)
	cost := int64(300 * 200 * DecodeBytesPerPixel)
	b := NewBudget(2*cost + cost/2)
	preprocessAll(t, b, data, 16)
	assert.LessOrEqual(t, b.peak, 2*cost, "at most two images of this size fit at once")
	assert.GreaterOrEqual(t, b.peak, cost, "each decode reserved its cost")
	assert.Equal(t, int64(0), b.used)
	assert.Equal(t, 0, b.active)
}

// TestBudgetLargerImageDecodesAlone: an image costing more than the whole budget is decoded, but only when no
// other is.
func TestBudgetLargerImageDecodesAlone(t *testing.T) {
	data := pngOf(t, 300, 200)
	cost := int64(300 * 200 * DecodeBytesPerPixel)
	b := NewBudget(cost / 2)
	preprocessAll(t, b, data, 6)
	assert.Equal(t, cost, b.peak, "one at a time")
	assert.Equal(t, int64(0), b.used)
}

// TestBudgetGrantsInOrder: a small reservation asked after a large one that waits does not overtake it, so a
// large image is not starved by small ones.
func TestBudgetGrantsInOrder(t *testing.T) {
	b := NewBudget(10)
	b.reserve(6)
	granted := make(chan string, 2)
	go func() { b.reserve(6); granted <- "large" }()
	for { // wait until the large reservation holds its ticket
		b.mu.Lock()
		n := b.next
		b.mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	go func() { b.reserve(1); granted <- "small" }()
	select {
	case g := <-granted:
		t.Fatalf("%s granted while 6 of 10 are held and the large one is first in line", g)
	case <-time.After(50 * time.Millisecond):
	}
	b.release(6)
	assert.Equal(t, "large", <-granted)
	assert.Equal(t, "small", <-granted)
}

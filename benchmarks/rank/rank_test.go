package rank

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/metrics"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// oracle ranks in as the retrieval task did before this package: float64 unit rows (metrics.NormalizeRows) and
// queryRanks for each direction, each query against the whole gallery.
func oracle(t *testing.T, in Input) *Result {
	t.Helper()
	textRows, err := metrics.NormalizeRows(in.Texts)
	require.NoError(t, err)
	imageRows, err := metrics.NormalizeRows(in.Images)
	require.NoError(t, err)
	texts, images := pickRows(textRows, in.TextRows), pickRows(imageRows, in.ImageRows)
	captions := make([][]int, len(images))
	for ti, i := range in.TextImage {
		captions[i] = append(captions[i], ti)
	}
	res := &Result{TextToImage: []int{}, TextTop: []int{}, ImageToText: [][]int{}, ImageTop: []int{}}
	if len(in.TextQueries) > 0 {
		queries, relevant := make([][]float64, len(in.TextQueries)), make([][]int, len(in.TextQueries))
		for q, ti := range in.TextQueries {
			queries[q], relevant[q] = texts[ti], []int{in.TextImage[ti]}
		}
		ranks, top, err := queryRanks(queries, images, relevant)
		require.NoError(t, err)
		for _, r := range ranks {
			res.TextToImage = append(res.TextToImage, r[0])
		}
		res.TextTop = top
	}
	if len(in.ImageQueries) > 0 {
		queries, relevant := make([][]float64, len(in.ImageQueries)), make([][]int, len(in.ImageQueries))
		for q, i := range in.ImageQueries {
			queries[q], relevant[q] = images[i], captions[i]
		}
		ranks, top, err := queryRanks(queries, texts, relevant)
		require.NoError(t, err)
		res.ImageToText, res.ImageTop = ranks, top
	}
	return res
}

// pickRows returns rows[idx[i]] for each i (rows itself for nil idx).
func pickRows(rows [][]float64, idx []int) [][]float64 {
	if idx == nil {
		return rows
	}
	out := make([][]float64, len(idx))
	for i, j := range idx {
		out[i] = rows[j]
	}
	return out
}

// gallery describes a random retrieval problem.
type gallery struct {
	images int   // logical images
	caps   []int // captions per image, cycled (0: an image without captions)
	d      int
	// values: "normal" (Gaussian, each caption near its image), "ternary" (entries in {-1, 0, 1}: many exactly
	// equal cosines of different vectors), "near" (neighbouring images equal but for the last bit of one entry:
	// float32 cannot order them, float64 can), "zero" (some rows all zero).
	values string
	// dupImages, dupTexts: logical items share embedding rows (every k-th maps onto the previous one's row; 0:
	// none), so whole rows tie.
	dupImages, dupTexts int
	// queries: a share of each direction's queries to rank (0: all of them), drawn at random, unsorted.
	queries float64
	seed    uint64
}

// build makes the Input of g.
func (g gallery) build() Input {
	r := rand.New(rand.NewPCG(g.seed, 7))
	entry := func() float32 {
		if g.values == "ternary" {
			return float32(r.IntN(3) - 1)
		}
		return float32(r.NormFloat64())
	}
	var in Input
	images := sdk.Matrix{Rows: g.images, Cols: g.d, Data: make([]float32, g.images*g.d)}
	for i := range g.images {
		row := images.Row(i)
		for k := range row {
			row[k] = entry()
		}
		if g.values == "near" && i%2 == 1 {
			copy(row, images.Row(i-1))
			row[g.d-1] = math.Nextafter32(row[g.d-1], float32(math.Inf(1)))
		}
		if g.values == "zero" && i%5 == 3 {
			clear(row)
		}
	}
	var textData []float32
	for i := range g.images {
		for range g.caps[i%len(g.caps)] {
			for k, x := range images.Row(i) {
				v := x + 0.8*entry()
				if g.values == "ternary" || g.values == "zero" && len(in.TextImage)%4 == 1 {
					v = entry()
				}
				if g.values == "near" {
					v = x
					if k == 0 && len(in.TextImage)%3 == 0 {
						v = math.Nextafter32(x, 0)
					}
				}
				textData = append(textData, v)
			}
			in.TextImage = append(in.TextImage, i)
		}
	}
	texts := sdk.Matrix{Rows: len(in.TextImage), Cols: g.d, Data: textData}
	in.Texts, in.Images = texts, images
	if g.dupImages > 0 {
		in.ImageRows = dupMap(g.images, g.dupImages)
	}
	if g.dupTexts > 0 {
		in.TextRows = dupMap(texts.Rows, g.dupTexts)
	}
	in.TextQueries = subset(r, len(in.TextImage), g.queries)
	in.ImageQueries = subset(r, g.images, g.queries)
	return in
}

// dupMap maps n logical items onto rows, every k-th item sharing the previous one's row.
func dupMap(n, k int) []int {
	m := make([]int, n)
	for i := range m {
		m[i] = i
		if i%k == k-1 {
			m[i] = i - 1
		}
	}
	return m
}

// subset returns a random share of 0..n-1 in random order, every index when share is 0.
func subset(r *rand.Rand, n int, share float64) []int {
	idx := r.Perm(n)
	if share == 0 {
		slices.Sort(idx)
		return idx
	}
	return idx[:int(share*float64(n))]
}

func TestRetrieveMatchesOracle(t *testing.T) {
	tiles := []config{
		{rows: 1024, cols: 4096, workers: 2}, // one tile
		{rows: 3, cols: 5, workers: 3},       // many tiles, ragged edges, more workers than columns of some
		{rows: 7, cols: 2, workers: 1},
	}
	tests := []struct {
		name string
		g    gallery
	}{
		{"one caption each", gallery{images: 40, caps: []int{1}, d: 16, values: "normal", seed: 1}},
		{"five captions each", gallery{images: 30, caps: []int{5}, d: 32, values: "normal", seed: 2}},
		{"images without captions", gallery{images: 33, caps: []int{0, 2, 3, 0, 1}, d: 8, values: "normal", seed: 3}},
		{"exact ties of different vectors", gallery{images: 50, caps: []int{1, 2}, d: 4, values: "ternary", seed: 4}},
		{"ties within float32 rounding", gallery{images: 40, caps: []int{2}, d: 24, values: "near", seed: 5}},
		{"zero rows", gallery{images: 25, caps: []int{1, 2}, d: 6, values: "zero", seed: 6}},
		{"duplicated rows", gallery{images: 36, caps: []int{3, 0, 2}, d: 12, values: "normal", dupImages: 3, dupTexts: 2, seed: 7}},
		{"duplicated ternary rows", gallery{images: 36, caps: []int{2}, d: 3, values: "ternary", dupImages: 2, dupTexts: 3, seed: 8}},
		{"query subsets, one pass", gallery{images: 40, caps: []int{1, 3}, d: 16, values: "normal", queries: 0.6, seed: 9}},
		{"query subsets, two passes", gallery{images: 60, caps: []int{2, 0, 1}, d: 16, values: "ternary", queries: 0.2, seed: 10}},
		{"query subsets with ties", gallery{images: 40, caps: []int{2}, d: 24, values: "near", dupImages: 4, queries: 0.3, seed: 11}},
		{"one image", gallery{images: 1, caps: []int{3}, d: 5, values: "normal", seed: 12}},
		{"wide rows", gallery{images: 20, caps: []int{1, 4}, d: 512, values: "normal", seed: 13}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.g.build()
			want := oracle(t, in)
			for _, cfg := range tiles {
				got, err := retrieve(context.Background(), in, cfg)
				require.NoError(t, err)
				assert.Equal(t, want, got, "tiles %+v", cfg)
			}
			got, err := Retrieve(context.Background(), in)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

// TestRetrieveTies pins hand-made ties: images 0 and 2 are one vector, image 1 its negation; text 0 and 1 are
// equal, text 2 is orthogonal to every image.
func TestRetrieveTies(t *testing.T) {
	in := Input{
		Images:    sdk.Matrix{Rows: 3, Cols: 2, Data: []float32{1, 0, -1, 0, 1, 0}},
		Texts:     sdk.Matrix{Rows: 3, Cols: 2, Data: []float32{2, 0, 2, 0, 0, 3}},
		TextImage: []int{2, 0, 1}, TextQueries: []int{0, 1, 2}, ImageQueries: []int{0, 1, 2},
	}
	got, err := Retrieve(context.Background(), in)
	require.NoError(t, err)
	want := &Result{
		// Text 0's image 2 ties image 0 (lower index first): rank 1; text 1's image 0 ranks first; text 2 scores
		// 0 with all three, its image 1 ranks after image 0.
		TextToImage: []int{1, 0, 1}, TextTop: []int{0, 0, 0},
		// Image 0's text 1 ties text 0: rank 1; image 1's text 2 (0) beats texts 0 and 1 (−1): rank 0; image 2's
		// text 0 ranks first.
		ImageToText: [][]int{{1}, {0}, {0}}, ImageTop: []int{0, 2, 0},
	}
	assert.Equal(t, want, got)
	assert.Equal(t, oracle(t, in), got)
}

func TestRetrieveErrors(t *testing.T) {
	m := sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, 1}}
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"shape", Input{Texts: sdk.Matrix{Rows: 2, Cols: 2, Data: []float32{1}}, Images: m}, "text embeddings"},
		{"not finite", Input{Texts: m, Images: sdk.Matrix{Rows: 1, Cols: 2, Data: []float32{float32(math.NaN()), 0}}},
			"image embeddings: row 0 holds NaN"},
		{"widths", Input{Texts: m, Images: sdk.Matrix{Rows: 1, Cols: 1, Data: []float32{1}}, TextImage: []int{0, 0}},
			"text embeddings have width 2, image embeddings 1"},
		{"relevance", Input{Texts: m, Images: m, TextImage: []int{0}}, "1 relevant images for 2 texts"},
		{"relevant image", Input{Texts: m, Images: m, TextImage: []int{0, 2}}, "text 1's image is 2 of 2"},
		{"text row", Input{Texts: m, Images: m, TextRows: []int{0, 5}, TextImage: []int{0, 1}},
			"text 1 maps to embedding row 5 of 2"},
		{"text query", Input{Texts: m, Images: m, TextImage: []int{0, 1}, TextQueries: []int{2}}, "text query 0 is text 2 of 2"},
		{"image query", Input{Texts: m, Images: m, TextImage: []int{0, 1}, ImageQueries: []int{-1}},
			"image query 0 is image -1 of 2"},
		{"empty images", Input{Texts: m, Images: sdk.Matrix{Cols: 2}, TextImage: []int{0, 0}, TextQueries: []int{0}},
			"1 text queries but the image gallery is empty"},
		{"empty texts", Input{Texts: sdk.Matrix{Cols: 2}, Images: m, ImageQueries: []int{0}},
			"1 image queries but the text gallery is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Retrieve(context.Background(), tc.in)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestRetrieveCancelled(t *testing.T) {
	in := gallery{images: 10, caps: []int{1}, d: 4, values: "normal", seed: 1}.build()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Retrieve(ctx, in)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestErrorBound checks the bound's size at common widths and that it covers the float32 error observed on
// random unit rows with a wide margin (the bound is a worst case; typical errors are far smaller).
func TestErrorBound(t *testing.T) {
	tests := []struct {
		d        int
		low, top float64
	}{
		{d: 8, low: 1e-6, top: 2e-6},
		{d: 512, low: 6e-5, top: 7e-5},
		{d: 768, low: 9e-5, top: 1e-4},
	}
	for _, tc := range tests {
		b := ErrorBound(tc.d)
		assert.True(t, b > tc.low && b < tc.top, "d=%d: bound %g", tc.d, b)
		in := gallery{images: 64, caps: []int{1}, d: tc.d, values: "normal", seed: uint64(tc.d)}.build()
		p, err := newProblem(in, 1)
		require.NoError(t, err)
		c := make([]float32, 64*64)
		sgemm(64, 64, tc.d, p.t32, p.i32, c, 64)
		a, x := make([]float64, tc.d), make([]float64, tc.d)
		for ti := range 64 {
			for i := range 64 {
				s64 := metrics.Dot(p.unitText(a, ti), p.unitImage(x, i))
				assert.Less(t, math.Abs(float64(c[ti*64+i])-s64), b/4, "d=%d text %d image %d", tc.d, ti, i)
			}
		}
	}
}

func TestGemmGo(t *testing.T) {
	// Shapes around the 4×2 register tile and the 128-column chunk, checked against dot32 entry by entry (the
	// same left-to-right sums, so equal bit for bit).
	for _, s := range [][3]int{{1, 1, 1}, {4, 2, 3}, {5, 3, 7}, {9, 130, 16}, {3, 257, 5}} {
		m, n, k := s[0], s[1], s[2]
		a, b := randomMatrix(m, k, 1).Data, randomMatrix(n, k, 2).Data
		c := make([]float32, m*(n+1))
		gemmGo(m, n, k, a, b, c, n+1)
		for i := range m {
			for j := range n {
				require.Equal(t, dot32(a[i*k:(i+1)*k], b[j*k:(j+1)*k]), c[i*(n+1)+j], "%v (%d, %d)", s, i, j)
			}
		}
	}
}

// randomMatrix returns a rows×cols matrix of reproducible Gaussian values.
func randomMatrix(rows, cols int, seed uint64) sdk.Matrix {
	r := rand.New(rand.NewPCG(seed, 1))
	m := sdk.Matrix{Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
	for i := range m.Data {
		m.Data[i] = float32(r.NormFloat64())
	}
	return m
}

package rank

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOracleQueryRanks(t *testing.T) {
	// The score matrix of TestRetrievalRanks (4 texts × 3 images), made by unit vectors: text rows are the
	// scores, images the unit vectors e0, e1, e2, so every dot product is one score.
	texts := [][]float64{
		{0.9, 0.1, 0.5},
		{0.2, 0.2, 0.2},
		{0.3, 0.1, 0.8},
		{0.2, 0.6, 0.1},
	}
	images := [][]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	tests := []struct {
		name             string
		queries, gallery [][]float64
		relevant, want   [][]int
		top              []int
	}{
		// Text → image, each text's one image: the ranks of Ranks.TextToImage; the tie of text 1 goes to image 0.
		{name: "text to image", queries: texts, gallery: images, relevant: [][]int{{0}, {0}, {1}, {0}},
			want: [][]int{{0}, {0}, {2}, {1}}, top: []int{0, 0, 2, 1}},
		// Image → text: the columns; image 0's texts 0, 1, 3 rank 0, 2, 3 (ties 0.2: text 1 before text 3), image
		// 1's text 2 ranks last, image 2 has none. Relevant lists keep their order.
		{name: "image to text", queries: images, gallery: texts, relevant: [][]int{{3, 0, 1}, {2}, {}},
			want: [][]int{{3, 0, 2}, {3}, {}}, top: []int{0, 3, 2}},
		{name: "a subset of queries", queries: texts[2:3], gallery: images, relevant: [][]int{{1}},
			want: [][]int{{2}}, top: []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ranks, top, err := queryRanks(tc.queries, tc.gallery, tc.relevant)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ranks)
			assert.Equal(t, tc.top, top)
		})
	}
}

func TestOracleQueryRanksErrors(t *testing.T) {
	g := [][]float64{{1, 0}, {0, 1}}
	tests := []struct {
		name             string
		queries, gallery [][]float64
		relevant         [][]int
		want             string
	}{
		{"lengths", [][]float64{{1, 0}}, g, nil, "1 queries with 0 relevance lists"},
		{"empty gallery", nil, nil, nil, "gallery is empty"},
		{"query width", [][]float64{{1}}, g, [][]int{{0}}, "row 0 has width 1, gallery row 0 has 2"},
		{"gallery width", [][]float64{{1, 0}}, [][]float64{{1, 0}, {1}}, [][]int{{0}}, "row 1 has width 1"},
		{"relevant", [][]float64{{1, 0}}, g, [][]int{{2}}, "query 0 names gallery item 2 of 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := queryRanks(tc.queries, tc.gallery, tc.relevant)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

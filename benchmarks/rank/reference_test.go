package rank

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// TestRetrieveReferenceEmbeddings ranks the real model embeddings of the tiny-a reference (the 24 VQA-RAD images,
// image k captioned by texts 2k and 2k+1) both ways and checks them against the oracle, for every query and for a
// subset.
func TestRetrieveReferenceEmbeddings(t *testing.T) {
	arrays, err := npy.ReadNPZ(sharedtest.Path(t, "fixtures", "tiny-a", "reference") + "/reference.npz")
	require.NoError(t, err)
	first := func(a *npy.Array, n int) sdk.Matrix {
		require.Len(t, a.Shape, 2)
		require.GreaterOrEqual(t, a.Shape[0], n)
		return sdk.Matrix{Rows: n, Cols: a.Shape[1], Data: a.Float32[:n*a.Shape[1]]}
	}
	tests := []struct {
		model         string
		textQ, imageQ []int
		tiles         config
	}{
		{model: "biomedclip", tiles: config{rows: 5, cols: 7, workers: 2}},
		{model: "clip", tiles: config{rows: 5, cols: 7, workers: 2}},
		{model: "clip", textQ: []int{47, 3, 20}, imageQ: []int{0, 23}, tiles: config{rows: 1024, cols: 4096, workers: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			in := Input{Texts: first(arrays[tc.model+"_text_embeds"], 48), Images: first(arrays[tc.model+"_image_embeds"], 24),
				TextQueries: tc.textQ, ImageQueries: tc.imageQ}
			for ti := range 48 {
				in.TextImage = append(in.TextImage, ti/2)
				if tc.textQ == nil {
					in.TextQueries = append(in.TextQueries, ti)
				}
			}
			for i := range 24 {
				if tc.imageQ == nil {
					in.ImageQueries = append(in.ImageQueries, i)
				}
			}
			got, err := retrieve(context.Background(), in, tc.tiles)
			require.NoError(t, err)
			assert.Equal(t, oracle(t, in), got)
		})
	}
}

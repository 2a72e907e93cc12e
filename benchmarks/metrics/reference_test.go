package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// zeroShotReference is <model>_zeroshot_organ of reference.json (written by make_fixtures.py).
type zeroShotReference struct {
	Classes            []string    `json:"classes"`
	Logits             [][]float64 `json:"logits"`
	Pred               []int       `json:"pred"`
	Y                  []int       `json:"y"`
	Acc1               float64     `json:"acc1"`
	MeanPerClassRecall float64     `json:"mean_per_class_recall"`
}

func loadReference(t *testing.T) (map[string]json.RawMessage, map[string]*npy.Array) {
	t.Helper()
	dir := sharedtest.Path(t, "fixtures", "tiny-a", "reference")
	b, err := os.ReadFile(dir + "/reference.json")
	require.NoError(t, err)
	var ref map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &ref))
	arrays, err := npy.ReadNPZ(dir + "/reference.npz")
	require.NoError(t, err)
	return ref, arrays
}

// firstRows returns the first n rows of a float32 [rows, cols] array as a Matrix.
func firstRows(t *testing.T, a *npy.Array, n int) sdk.Matrix {
	t.Helper()
	require.Len(t, a.Shape, 2)
	require.GreaterOrEqual(t, a.Shape[0], n)
	return sdk.Matrix{Rows: n, Cols: a.Shape[1], Data: a.Float32[:n*a.Shape[1]]}
}

// TestReferenceRetrieval recomputes <model>_retrieval of reference.json from the embeddings in reference.npz: the
// first 24 images (the VQA-RAD ones) and the 48 texts, image k paired with texts 2k and 2k+1. Values must be equal.
func TestReferenceRetrieval(t *testing.T) {
	ref, arrays := loadReference(t)
	for _, model := range []string{"biomedclip", "clip"} {
		t.Run(model, func(t *testing.T) {
			var want map[string]any
			require.NoError(t, json.Unmarshal(ref[model+"_retrieval"], &want))
			texts := arrays[model+"_text_embeds"]
			require.NotNil(t, texts)
			n := texts.Shape[0] / 2
			require.Equal(t, 24, n)
			scores, err := cosineMatrix(firstRows(t, texts, 2*n), firstRows(t, arrays[model+"_image_embeds"], n))
			require.NoError(t, err)
			textImage := make([]int, 2*n)
			for i := range textImage {
				textImage[i] = i / 2
			}
			r, err := ranks(scores, textImage)
			require.NoError(t, err)
			for _, k := range []int{1, 5, 10} {
				assert.Equal(t, want[fmt.Sprintf("image_retrieval_recall@%d", k)], HitRate(r.TextToImage, k), "t2i@%d", k)
				assert.Equal(t, want[fmt.Sprintf("text_retrieval_recall@%d", k)], HitRate(r.firstRanks(), k), "i2t@%d", k)
			}
		})
	}
}

// TestReferenceZeroShotOrgan recomputes acc1 and mean_per_class_recall of <model>_zeroshot_organ from the logits
// and labels stored beside them (the class prompts' text embeddings are not in reference.npz).
func TestReferenceZeroShotOrgan(t *testing.T) {
	ref, _ := loadReference(t)
	for _, model := range []string{"biomedclip", "clip"} {
		t.Run(model, func(t *testing.T) {
			var want zeroShotReference
			require.NoError(t, json.Unmarshal(ref[model+"_zeroshot_organ"], &want))
			require.Equal(t, []string{"head", "chest", "abdomen"}, want.Classes)
			got, err := Classify(want.Logits, want.Y, 0)
			require.NoError(t, err)
			assert.Equal(t, want.Pred, got.Pred)
			assert.Equal(t, want.Acc1, got.Acc1)
			assert.Equal(t, want.MeanPerClassRecall, got.MeanPerClassRecall)
		})
	}
}

package imageprep

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// referenceImage is one image whose preprocessed tensor reference.npz holds.
type referenceImage struct {
	name   string
	path   string
	pixels []float32 // 3×224×224 CHW, what open_clip's eval transform gave
}

// referenceImages loads the images behind reference.npz `pixels` (indices `pixels_index` into
// reference.json `images`; "vqa-rad/images/X" lives under data/vqa-rad/images, the rest under reference/).
func referenceImages(t *testing.T) []referenceImage {
	t.Helper()
	ref := sharedtest.Path(t, "fixtures", "tiny-a", "reference")
	arrays, err := npy.ReadNPZ(filepath.Join(ref, "reference.npz"))
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(ref, "reference.json"))
	require.NoError(t, err)
	var meta struct {
		Images []string `json:"images"`
	}
	require.NoError(t, json.Unmarshal(raw, &meta))
	pix, idx := arrays["pixels"], arrays["pixels_index"]
	require.NotNil(t, pix)
	require.NotNil(t, idx)
	require.Equal(t, []int{len(idx.Int64), 3, 224, 224}, pix.Shape)
	const n = 3 * 224 * 224
	out := make([]referenceImage, len(idx.Int64))
	for i, k := range idx.Int64 {
		name := meta.Images[k]
		p := filepath.Join(ref, name)
		if rest, ok := strings.CutPrefix(name, "vqa-rad/images/"); ok {
			p = sharedtest.Path(t, "data", "vqa-rad", "images", rest)
		}
		out[i] = referenceImage{name: name, path: p, pixels: pix.Float32[i*n : (i+1)*n]}
	}
	return out
}

// biomedCLIP is the eval config of the fixture models (tiny-a/biomedclip/open_clip_config.json).
func biomedCLIP(t *testing.T) Config {
	t.Helper()
	raw, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip", "open_clip_config.json"))
	require.NoError(t, err)
	c, err := ConfigFromOpenCLIP(raw)
	require.NoError(t, err)
	return c
}

// TestReferencePixels checks every tensor in reference.npz `pixels`: the Go transform must give the same
// float32 values (max abs difference ≤ 1e-6; in practice bit-identical).
func TestReferencePixels(t *testing.T) {
	cfg := biomedCLIP(t)
	imgs := referenceImages(t)
	require.Len(t, imgs, 13)
	for _, ri := range imgs {
		t.Run(ri.name, func(t *testing.T) {
			data, err := os.ReadFile(ri.path)
			require.NoError(t, err)
			got, err := preprocess(cfg, data)
			require.NoError(t, err)
			require.Len(t, got, len(ri.pixels))
			maxDiff, diffs := 0.0, 0
			for i := range got {
				d := math.Abs(float64(got[i]) - float64(ri.pixels[i]))
				if d > 0 {
					diffs++
				}
				maxDiff = max(maxDiff, d)
			}
			require.LessOrEqualf(t, maxDiff, 1e-6, "%d of %d values differ", diffs, len(got))
			require.Zerof(t, diffs, "values differ (max %g) though within tolerance", maxDiff)
		})
	}
}

// TestConcurrentUse preprocesses the reference images from several goroutines at once (run with -race): a
// Config holds no mutable state, so every goroutine must get the reference tensor.
func TestConcurrentUse(t *testing.T) {
	cfg := biomedCLIP(t)
	imgs := referenceImages(t)
	var wg sync.WaitGroup
	errs := make([]error, 4*len(imgs))
	same := make([]bool, len(errs))
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ri := imgs[i%len(imgs)]
			data, err := os.ReadFile(ri.path)
			if err == nil {
				var got []float32
				got, err = preprocess(cfg, data)
				same[i] = err == nil && slices.Equal(got, ri.pixels)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range errs {
		require.NoError(t, errs[i])
		require.Truef(t, same[i], "goroutine %d (%s) got other pixels", i, imgs[i%len(imgs)].name)
	}
}

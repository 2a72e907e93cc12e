// Package synthetic makes the embeddings the retrieval benchmarks rank: image–caption pairs of unit vectors that
// behave like a trained model's, generated in parallel from per-row seeds (the same values on every machine).
package synthetic

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// Noise is the norm of the noise added to an image's unit vector to make its caption, relative to the image's:
// a caption's cosine with its image is about 1/√(1+Noise²) ≈ 0.22, near the top of the ≈ N(0, 1/d) cosines of
// unrelated pairs, so that most queries rank their item first or nearly.
const Noise = 4.5

// Pairs returns n images and n captions, one per image, as float32 unit vectors of width d: images uniform on the
// sphere, caption i = unit(image i + Gaussian noise of norm Noise). signal false makes captions independent of
// images (every rank equally likely: a ranking's worst case).
func Pairs(n, d int, signal bool) (images, texts sdk.Matrix) {
	images = sdk.Matrix{Rows: n, Cols: d, Data: make([]float32, n*d)}
	texts = sdk.Matrix{Rows: n, Cols: d, Data: make([]float32, n*d)}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			img, txt := make([]float64, d), make([]float64, d)
			for i := w; i < n; i += workers {
				r := rand.New(rand.NewPCG(uint64(i), 11))
				for k := range img {
					img[k] = r.NormFloat64()
				}
				unit(img)
				for k := range txt {
					txt[k] = Noise * r.NormFloat64() / math.Sqrt(float64(d))
					if signal {
						txt[k] += img[k]
					}
				}
				unit(txt)
				for k := range d {
					images.Data[i*d+k], texts.Data[i*d+k] = float32(img[k]), float32(txt[k])
				}
			}
		})
	}
	wg.Wait()
	return images, texts
}

// unit scales v to unit L2 norm.
func unit(v []float64) {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	n := math.Sqrt(ss)
	for i := range v {
		v[i] /= n
	}
}

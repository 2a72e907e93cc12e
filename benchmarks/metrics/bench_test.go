package metrics

import (
	"math/rand/v2"
	"testing"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// randomMatrix returns a rows×cols matrix of reproducible pseudo-random values.
func randomMatrix(rows, cols int, seed uint64) sdk.Matrix {
	r := rand.New(rand.NewPCG(seed, 1))
	m := sdk.Matrix{Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
	for i := range m.Data {
		m.Data[i] = float32(r.NormFloat64())
	}
	return m
}

// BenchmarkRetrieval scores 1,000 images against 5,000 captions (5 each) of width 512: cosine matrix and ranks.
func BenchmarkRetrieval(b *testing.B) {
	images, texts := randomMatrix(1000, 512, 1), randomMatrix(5000, 512, 2)
	textImage := make([]int, texts.Rows)
	for i := range textImage {
		textImage[i] = i / 5
	}
	for b.Loop() {
		s, err := cosineMatrix(texts, images)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ranks(s, textImage); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkZeroShot classifies 10,000 images into 100 classes of 10 templates each, width 512.
func BenchmarkZeroShot(b *testing.B) {
	images, texts := randomMatrix(10000, 512, 3), randomMatrix(1000, 512, 4)
	groups := make([][]int, 100)
	truth := make([]int, images.Rows)
	for i := range texts.Rows {
		groups[i/10] = append(groups[i/10], i)
	}
	for i := range truth {
		truth[i] = i % 100
	}
	for b.Loop() {
		w, err := ClassEmbeddings(texts, groups)
		if err != nil {
			b.Fatal(err)
		}
		logits, err := ZeroShotLogits(images, w, 100)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Classify(logits, truth, 1); err != nil {
			b.Fatal(err)
		}
	}
}

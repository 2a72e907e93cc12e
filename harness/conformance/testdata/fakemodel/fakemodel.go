// Package fakemodel is what the test model plugins under harness/conformance/testdata share: a "model folder" is a
// fake-model.json naming the embedding width, and an input's embedding is derived from its bytes' SHA-256, so that
// equal inputs embed equally and different ones differently, with no model to run.
package fakemodel

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// Config is a fake model folder's fake-model.json.
type Config struct {
	// EmbedDim is the embedding width (at least 1).
	EmbedDim int `json:"embed_dim"`
}

// Load reads the fake-model.json of the folder ref names.
func Load(ref sdk.ModelRef) (Config, error) {
	var c Config
	b, err := os.ReadFile(filepath.Join(ref.Dir, "fake-model.json"))
	if err != nil {
		return c, fmt.Errorf("model: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil || c.EmbedDim < 1 {
		return c, fmt.Errorf("model: fake-model.json: want {\"embed_dim\": D ≥ 1} (%v)", err)
	}
	return c, nil
}

// Embed returns the dim-wide embedding of each input: component k is byte k (mod 32) of the input's SHA-256,
// scaled to [-0.5, 0.5].
func Embed(inputs [][]byte, dim int) sdk.Matrix {
	m := sdk.Matrix{Rows: len(inputs), Cols: dim, Data: make([]float32, len(inputs)*dim)}
	for i, in := range inputs {
		sum := sha256.Sum256(in)
		for k := range dim {
			m.Data[i*dim+k] = float32(sum[k%len(sum)])/255 - 0.5
		}
	}
	return m
}

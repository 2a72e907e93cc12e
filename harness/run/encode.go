package run

import (
	"context"
	"fmt"

	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// encoder sends one model's inputs to its backend in batches, through an in-memory cache keyed by input (image
// path or text), so an input shared by several tasks is encoded once per model.
type encoder struct {
	runner *Runner
	model  *pluginhost.Model
	ref    sdk.ModelRef
	batch  int
	name   string
	cache  map[string][]float32
	// info describes the loaded model; err, when set, is why it could not be loaded.
	info *sdk.ModelInfo
	err  error
}

// Batches calls f for consecutive ranges [lo, hi) of at most size of 0..n, in order, stopping at the first error:
// the one batching loop of the harness (run and the CLI's input-level commands).
func Batches(n, size int, f func(lo, hi int) error) error {
	if size < 1 {
		return fmt.Errorf("batch size %d: want at least 1", size)
	}
	for lo := 0; lo < n; lo += size {
		if err := f(lo, min(lo+size, n)); err != nil {
			return err
		}
	}
	return nil
}

// images returns the embeddings of images, in order.
func (e *encoder) images(ctx context.Context, task string, images []sdk.ImageInput) (sdk.Matrix, error) {
	keys := make([]string, len(images))
	for i, im := range images {
		if l := im.Label(); l != "" { // images by reference are named by their file (and range) or by the task
			keys[i] = "image\x00" + l
		}
	}
	return e.encode(ctx, task, "images", keys, len(images), func(idx []int) (sdk.Matrix, error) {
		batch := make([]sdk.ImageInput, len(idx))
		for j, i := range idx {
			batch[j] = images[i]
		}
		r, err := e.model.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: e.ref, Images: batch})
		if err != nil {
			return sdk.Matrix{}, err
		}
		return r.Embeddings, nil
	})
}

// texts returns the embeddings of texts, in order.
func (e *encoder) texts(ctx context.Context, task string, texts []string) (sdk.Matrix, error) {
	keys := make([]string, len(texts))
	for i, t := range texts {
		keys[i] = "text\x00" + t
	}
	return e.encode(ctx, task, "texts", keys, len(texts), func(idx []int) (sdk.Matrix, error) {
		batch := make([]string, len(idx))
		for j, i := range idx {
			batch[j] = texts[i]
		}
		r, err := e.model.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: e.ref, Texts: batch})
		if err != nil {
			return sdk.Matrix{}, err
		}
		return r.Embeddings, nil
	})
}

// encode fills an [n, d] matrix from the cache and from batched calls for the misses.
func (e *encoder) encode(ctx context.Context, task, kind string, keys []string, n int, call func([]int) (sdk.Matrix, error)) (sdk.Matrix, error) {
	rows := make([][]float32, n)
	var miss []int
	for i, k := range keys {
		if v, ok := e.cache[k]; ok && k != "" {
			rows[i] = v
		} else {
			miss = append(miss, i)
		}
	}
	done := n - len(miss)
	e.runner.emit(Event{Model: e.name, Task: task, Stage: kind, Done: done, Total: n})
	err := Batches(len(miss), e.batch, func(lo, hi int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx := miss[lo:hi]
		m, err := call(idx)
		if err != nil {
			return fmt.Errorf("encoding %s %d-%d of %d: %w", kind, lo+1, hi, len(miss), err)
		}
		for j, i := range idx {
			rows[i] = append([]float32(nil), m.Row(j)...)
			if keys[i] != "" {
				e.cache[keys[i]] = rows[i]
			}
		}
		done += len(idx)
		e.runner.emit(Event{Model: e.name, Task: task, Stage: kind, Done: done, Total: n})
		return nil
	})
	if err != nil {
		return sdk.Matrix{}, err
	}
	out := sdk.Matrix{Rows: n}
	if n > 0 {
		out.Cols = len(rows[0])
	}
	out.Data = make([]float32, 0, n*out.Cols)
	for i, r := range rows {
		if len(r) != out.Cols {
			return sdk.Matrix{}, fmt.Errorf("%s %d has %d values, the first has %d", kind, i, len(r), out.Cols)
		}
		out.Data = append(out.Data, r...)
	}
	return out, nil
}

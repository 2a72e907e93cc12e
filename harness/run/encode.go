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
}

// images returns the embeddings of images, in order.
func (e *encoder) images(ctx context.Context, task string, images []sdk.ImageInput) (sdk.Matrix, error) {
	keys := make([]string, len(images))
	for i, im := range images {
		if im.Path != "" { // tasks name in-memory images too (e.g. "shard.tar#key.jpg"); nameless ones are not cached
			keys[i] = "image\x00" + im.Path
		}
	}
	return e.encode(ctx, task, "images", keys, len(images), func(idx []int) (sdk.Matrix, error) {
		batch := make([]sdk.ImageInput, len(idx))
		for j, i := range idx {
			batch[j] = images[i]
		}
		return e.model.EncodeImages(ctx, e.ref, batch)
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
		return e.model.EncodeTexts(ctx, e.ref, batch)
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
	for lo := 0; lo < len(miss); lo += e.batch {
		if err := ctx.Err(); err != nil {
			return sdk.Matrix{}, err
		}
		idx := miss[lo:min(lo+e.batch, len(miss))]
		m, err := call(idx)
		if err != nil {
			return sdk.Matrix{}, fmt.Errorf("encoding %s %d-%d of %d: %w", kind, lo+1, lo+len(idx), len(miss), err)
		}
		for j, i := range idx {
			rows[i] = append([]float32(nil), m.Row(j)...)
			if keys[i] != "" {
				e.cache[keys[i]] = rows[i]
			}
		}
		done += len(idx)
		e.runner.emit(Event{Model: e.name, Task: task, Stage: kind, Done: done, Total: n})
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

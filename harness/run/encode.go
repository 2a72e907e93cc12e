package run

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// Key identifies an input's content: the sha256 of the image bytes or of the text, domain-separated by kind.
type Key = [32]byte

// Cache is where embeddings are looked up before encoding and kept after: the persistent embedding store, shared
// by every run on the machine. model is the model's fingerprint (see Fingerprint).
type Cache interface {
	// Get returns the vectors found for keys, by index into keys; a missing or unreadable entry is absent.
	Get(model string, keys []Key) (map[int][]float32, error)
	// Put keeps the vectors of keys, durably once it returns.
	Put(model string, keys []Key, vecs [][]float32) error
}

// window is how many inputs an encoder looks up, encodes and writes at a time: the harness's memory while encoding
// is bounded by the window, whatever the dataset's size.
const window = 4096

// encoder sends one model's inputs to its backend in batches, through the cache when there is one, and writes the
// embeddings straight into the .npy file the task maps.
type encoder struct {
	runner *Runner
	model  *pluginhost.Model
	ref    sdk.ModelRef
	batch  int
	name   string
	// cache, when set, is looked up and filled under fingerprint.
	cache       Cache
	fingerprint string
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

// imageKey is the content key of an image: sha256 of "image\x00" and its encoded bytes.
func imageKey(im sdk.ImageInput) (Key, error) {
	b, err := im.Bytes()
	if err != nil {
		return Key{}, err
	}
	h := sha256.New()
	h.Write([]byte("image\x00"))
	h.Write(b)
	return Key(h.Sum(nil)), nil
}

// textKey is the content key of a text: sha256 of "text\x00" and its UTF-8 bytes.
func textKey(s string) Key { return sha256.Sum256([]byte("text\x00" + s)) }

// images writes the embeddings of images, in order, to a .npy file at path.
func (e *encoder) images(ctx context.Context, task, path string, images []sdk.ImageInput) (sdk.EmbeddingFile, error) {
	return e.encode(ctx, task, "images", path, len(images),
		func(i int) (Key, error) { return imageKey(images[i]) },
		func(idx []int) (sdk.Matrix, error) {
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

// texts writes the embeddings of texts, in order, to a .npy file at path.
func (e *encoder) texts(ctx context.Context, task, path string, texts []string) (sdk.EmbeddingFile, error) {
	return e.encode(ctx, task, "texts", path, len(texts),
		func(i int) (Key, error) { return textKey(texts[i]), nil },
		func(idx []int) (sdk.Matrix, error) {
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

// encode fills an [n, d] .npy file window by window: the window's keys are looked up in the cache, the misses
// encoded in batches and put in the cache, and every row written in place.
func (e *encoder) encode(ctx context.Context, task, kind, path string, n int, key func(int) (Key, error),
	call func([]int) (sdk.Matrix, error)) (sdk.EmbeddingFile, error) {
	cols := e.info.EmbedDim
	var w *npy.Float32Writer
	open := func(d int) error {
		if w != nil {
			return nil
		}
		cols = d
		var err error
		w, err = npy.CreateFloat32(path, n, cols)
		return err
	}
	fail := func(err error) (sdk.EmbeddingFile, error) {
		if w != nil {
			w.Abort()
		}
		return sdk.EmbeddingFile{}, err
	}
	if n == 0 || cols > 0 {
		if err := open(max(cols, 0)); err != nil {
			return fail(err)
		}
	}
	done, cached := 0, 0
	e.runner.emit(Event{Model: e.name, Task: task, Stage: kind, Done: done, Total: n})
	put := func(i int, v []float32) error {
		if err := open(len(v)); err != nil {
			return err
		}
		if len(v) != cols {
			return fmt.Errorf("%s %d has %d values, the model's embeddings have %d", kind, i, len(v), cols)
		}
		return w.WriteRows(i, v)
	}
	err := Batches(n, window, func(lo, hi int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var keys []Key
		found := map[int][]float32{}
		if e.cache != nil {
			keys = make([]Key, hi-lo)
			for i := lo; i < hi; i++ {
				k, err := key(i)
				if err != nil {
					return fmt.Errorf("%s %d: %w", kind, i+1, err)
				}
				keys[i-lo] = k
			}
			var err error
			if found, err = e.cache.Get(e.fingerprint, keys); err != nil {
				return fmt.Errorf("reading the embedding store: %w", err)
			}
		}
		var miss []int
		for i := lo; i < hi; i++ {
			if v, ok := found[i-lo]; ok {
				if err := put(i, v); err != nil {
					return err
				}
				cached++
				done++
			} else {
				miss = append(miss, i)
			}
		}
		e.runner.emit(Event{Model: e.name, Task: task, Stage: kind, Done: done, Total: n, Cached: cached})
		return Batches(len(miss), e.batch, func(blo, bhi int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			idx := miss[blo:bhi]
			m, err := call(idx)
			if err != nil {
				return fmt.Errorf("encoding %s %d-%d of %d: %w", kind, idx[0]+1, idx[len(idx)-1]+1, n, err)
			}
			vecs := make([][]float32, len(idx))
			bkeys := make([]Key, len(idx))
			for j, i := range idx {
				vecs[j] = m.Row(j)
				if err := put(i, vecs[j]); err != nil {
					return err
				}
				if keys != nil {
					bkeys[j] = keys[i-lo]
				}
			}
			if e.cache != nil {
				if err := e.cache.Put(e.fingerprint, bkeys, vecs); err != nil {
					return fmt.Errorf("writing the embedding store: %w", err)
				}
			}
			done += len(idx)
			e.runner.emit(Event{Model: e.name, Task: task, Stage: kind, Done: done, Total: n, Cached: cached})
			return nil
		})
	})
	if err != nil {
		return fail(err)
	}
	if w == nil { // no row and no declared width
		if err := open(0); err != nil {
			return fail(err)
		}
	}
	if err := w.Close(); err != nil {
		return sdk.EmbeddingFile{}, err
	}
	return sdk.EmbeddingFile{Path: path, Rows: n, Cols: cols}, nil
}

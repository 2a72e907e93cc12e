package run

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/store"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// Cache is where embeddings are looked up before encoding and kept after: the persistent embedding store
// (*store.Store), shared by every run on the machine, keyed by the model's fingerprint (store.ModelFingerprint)
// and the input's content (store.ImageKey, store.TextKey).
type Cache interface {
	// Get returns the vectors found for keys, by index into keys; a missing or unreadable entry is absent.
	Get(model string, keys []store.Key) (map[int][]float32, error)
	// Put keeps the vectors of keys, durably once it returns.
	Put(model string, keys []store.Key, vecs [][]float32) error
	// Touch records that model is in use, under a human-readable label.
	Touch(model, label string) error
}

// window is how many inputs an encoder looks up, encodes and writes at a time: the harness's memory while encoding
// is bounded by the window, whatever the dataset's size.
const window = 4096

// inFlight is how many batches an encoder keeps at its backend at once: two, so that the backend prepares one
// (reads, decodes and resizes its images, or tokenises its texts) while its model runs on the other, and no more,
// so that memory holds at most two batches whatever the dataset's size.
const inFlight = 2

// storeGroup is how many new embeddings an encoder gathers before putting them in the store in one transaction.
const storeGroup = 256

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

// imageKey is the content key of an image's encoded bytes.
func imageKey(im sdk.ImageInput) (store.Key, error) {
	b, err := im.Bytes()
	if err != nil {
		return store.Key{}, err
	}
	return store.ImageKey(b), nil
}

// badImage is an image an encoder left out: its index in the task's images and why it could not be encoded.
type badImage struct {
	index int
	err   error
}

// images writes the embeddings of images, in order, to a .npy file at path. With skipBad, an image that cannot be
// read or decoded (bad input, as the harness or the backend found it) is left out instead of failing the run: its
// row stays zeros and it is returned among the skipped, in index order.
func (e *encoder) images(ctx context.Context, task, path string, images []sdk.ImageInput, skipBad bool) (sdk.EmbeddingFile, []badImage, error) {
	return e.encode(ctx, task, "images", path, len(images), skipBad,
		func(i int) (store.Key, error) { return imageKey(images[i]) }, nil,
		func(ctx context.Context, idx []int) (sdk.Matrix, error) {
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

// texts writes the embeddings of texts, in order, to a .npy file at path. Each window's texts to encode are sent
// shortest first, so that a batch holds texts of about one length: a backend whose text graph takes any sequence
// length cuts each batch to its longest text, and a batch of like lengths wastes little on padding.
func (e *encoder) texts(ctx context.Context, task, path string, texts []string) (sdk.EmbeddingFile, error) {
	f, _, err := e.encode(ctx, task, "texts", path, len(texts), false,
		func(i int) (store.Key, error) { return store.TextKey(texts[i]), nil },
		func(miss []int) {
			slices.SortStableFunc(miss, func(a, b int) int { return cmp.Compare(len(texts[a]), len(texts[b])) })
		},
		func(ctx context.Context, idx []int) (sdk.Matrix, error) {
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
	return f, err
}

// encode fills an [n, d] .npy file window by window: the window's keys are looked up in the cache, the misses
// (in the order order puts them, when set) encoded in batches, inFlight at a time, and put in the cache, and every
// row written in place. With skipBad, an input whose key cannot be read, or that its backend refuses as bad input
// (a batch so refused is sent again an input at a time to find which), is skipped: its row stays zeros and it is
// returned among the skipped (that every input is bad is for the caller to judge: a shard may hold only bad ones).
func (e *encoder) encode(ctx context.Context, task, kind, path string, n int, skipBad bool, key func(int) (store.Key, error),
	order func(miss []int), call func(context.Context, []int) (sdk.Matrix, error)) (sdk.EmbeddingFile, []badImage, error) {
	// The file is laid out once the width is known: the model's declared width, else the first row's.
	cols := e.info.EmbedDim
	var w *npy.Float32Writer
	open := func(d int) error {
		if w != nil {
			return nil
		}
		cols = d
		var err error
		if w, err = npy.CreateFloat32(path, n, cols); err == nil {
			w.Scratch = true // the work folder goes when the run ends; the store keeps the embeddings
		}
		return err
	}
	fail := func(err error) (sdk.EmbeddingFile, []badImage, error) {
		if w != nil {
			w.Abort()
		}
		return sdk.EmbeddingFile{}, nil, err
	}
	if cols > 0 || n == 0 {
		if err := open(cols); err != nil {
			return fail(err)
		}
	}
	done, cached := 0, 0
	var skipped []badImage
	skip := func(i int, err error) bool {
		if !skipBad || !sdk.IsInvalidInput(err) {
			return false
		}
		skipped = append(skipped, badImage{index: i, err: err})
		done++
		return true
	}
	progress := func() {
		e.runner.emit(Event{Model: e.name, Task: task, Stage: kind, Done: done, Total: n, Cached: cached, Skipped: len(skipped)})
	}
	progress()
	put := func(i int, v []float32) error {
		if err := open(len(v)); err != nil {
			return err
		}
		if len(v) != cols {
			return fmt.Errorf("%s %d of %d: the backend returned an embedding of %d values, the model's embeddings have %d (its Info's embed_dim, or the first embedding's width)",
				strings.TrimSuffix(kind, "s"), i+1, n, len(v), cols)
		}
		return w.WriteRows(i, v)
	}
	err := Batches(n, window, func(lo, hi int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var keys []store.Key         // by i-lo
		found := map[int][]float32{} // by i
		bad := map[int]bool{}
		if e.cache != nil {
			keys = make([]store.Key, hi-lo)
			var look []store.Key
			var at []int
			for i := lo; i < hi; i++ {
				k, err := key(i)
				if skip(i, err) {
					bad[i] = true
					continue
				}
				if err != nil {
					return fmt.Errorf("%s %d: %w", kind, i+1, err)
				}
				keys[i-lo] = k
				look, at = append(look, k), append(at, i)
			}
			got, err := e.cache.Get(e.fingerprint, look)
			if err != nil {
				return fmt.Errorf("reading the embedding store: %w", err)
			}
			for j, v := range got {
				found[at[j]] = v
			}
		}
		var miss []int
		for i := lo; i < hi; i++ {
			if v, ok := found[i]; ok {
				if err := put(i, v); err != nil {
					return err
				}
				cached++
				done++
			} else if !bad[i] {
				miss = append(miss, i)
			}
		}
		progress()
		// New embeddings go to the store in groups of at least storeGroup (one durable transaction each), so that a
		// killed run loses at most a group of encoding, and small batches do not cost a transaction each.
		var pendKeys []store.Key
		var pendVecs [][]float32
		flush := func() error {
			if e.cache == nil || len(pendKeys) == 0 {
				return nil
			}
			if err := e.cache.Put(e.fingerprint, pendKeys, pendVecs); err != nil {
				return fmt.Errorf("writing the embedding store: %w", err)
			}
			pendKeys, pendVecs = nil, nil
			return nil
		}
		if order != nil {
			order(miss)
		}
		keep := func(i int, v []float32) error {
			if err := put(i, v); err != nil {
				return err
			}
			if keys != nil {
				pendKeys, pendVecs = append(pendKeys, keys[i-lo]), append(pendVecs, v)
			}
			done++
			return nil
		}
		err := pipeline(ctx, miss, e.batch, call, func(idx []int, m sdk.Matrix, err error) error {
			switch {
			case err != nil && skipBad && sdk.IsInvalidInput(err):
				// Some input of the batch is bad: each is sent alone, to keep the good ones and skip the bad.
				for _, i := range idx {
					one, err := call(ctx, []int{i})
					if skip(i, err) {
						continue
					}
					if err != nil {
						return fmt.Errorf("encoding %s %d of %d: %w", kind, i+1, n, err)
					}
					if err := keep(i, one.Row(0)); err != nil {
						return err
					}
				}
			case err != nil:
				return fmt.Errorf("encoding %s %d-%d of %d: %w", kind, idx[0]+1, idx[len(idx)-1]+1, n, err)
			default:
				for j, i := range idx {
					if err := keep(i, m.Row(j)); err != nil {
						return err
					}
				}
			}
			if len(pendKeys) >= storeGroup {
				if err := flush(); err != nil {
					return err
				}
			}
			progress()
			return nil
		})
		// What was encoded before a failure is kept too, for the next run.
		return errors.Join(err, flush())
	})
	if err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return sdk.EmbeddingFile{}, nil, err
	}
	slices.SortFunc(skipped, func(a, b badImage) int { return cmp.Compare(a.index, b.index) })
	return sdk.EmbeddingFile{Path: path, Rows: n, Cols: cols}, skipped, nil
}

// pipeline calls call on consecutive batches of at most size of items, keeping up to inFlight calls running at
// once (a batch's slot is free once use has returned), and hands each batch's answer to use in order, one at a
// time. It stops at the first error (a call's,
// through use, or use's own), cancels the calls still running and waits for them before it returns.
func pipeline(ctx context.Context, items []int, size int, call func(context.Context, []int) (sdk.Matrix, error),
	use func(idx []int, m sdk.Matrix, err error) error) error {
	var batches [][]int
	if err := Batches(len(items), size, func(lo, hi int) error {
		batches = append(batches, items[lo:hi])
		return nil
	}); err != nil {
		return err
	}
	type answer struct {
		m   sdk.Matrix
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	answers := make([]chan answer, len(batches))
	for k := range answers {
		answers[k] = make(chan answer, 1)
	}
	slots := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // no call outlives pipeline
	wg.Go(func() {
		for k, idx := range batches {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				m, err := call(ctx, idx)
				answers[k] <- answer{m, err}
			})
		}
	})
	for k, idx := range batches {
		var a answer
		select {
		case a = <-answers[k]:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := use(idx, a.m, a.err)
		<-slots // the next call starts once this batch is written: two batches in memory at most
		if err != nil {
			return err
		}
	}
	return nil
}

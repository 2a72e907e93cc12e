package backend

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk"
)

func TestFeedSlotsHoldAtMostTheirBatches(t *testing.T) {
	s := newFeedSlots(BatchesInFlight)
	var taken []*feed
	for range BatchesInFlight {
		f, err := s.take(context.Background())
		require.NoError(t, err)
		taken = append(taken, f)
	}
	assert.NotSame(t, taken[0], taken[1])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := s.take(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a third batch waits")
	taken[0].pixels = grow(taken[0].pixels, 12)
	s.give(taken[0])
	f, err := s.take(context.Background())
	require.NoError(t, err)
	assert.Same(t, taken[0], f, "buffers are reused")
	assert.Len(t, grow(f.pixels, 5), 5)
	assert.Equal(t, 12, cap(grow(f.pixels, 5)), "a shorter batch reuses the buffer")
}

// referenceInputs returns the tiny-a reference images and texts.
func referenceInputs(t testing.TB) ([]sdk.ImageInput, []string) {
	dir := sharedtest.Path(t, "fixtures", "tiny-a", "reference")
	raw, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	require.NoError(t, err)
	var ref struct {
		Images []string `json:"images"`
		Texts  []string `json:"texts"`
	}
	require.NoError(t, json.Unmarshal(raw, &ref))
	images := make([]sdk.ImageInput, len(ref.Images))
	for i, p := range ref.Images {
		if rest, ok := strings.CutPrefix(p, "vqa-rad/"); ok {
			images[i] = sdk.ImageInput{Path: sharedtest.Path(t, "data", "vqa-rad", rest)}
		} else {
			images[i] = sdk.ImageInput{Path: filepath.Join(dir, p)}
		}
	}
	return images, ref.Texts
}

func TestConcurrentEncodesGiveTheSequentialEmbeddings(t *testing.T) {
	images, texts := referenceInputs(t)
	images, texts = images[len(images)-12:], texts[:24] // the small made images, some captions
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	ctx := context.Background()
	ref := fixtureRef(t, "biomedclip")
	const batch = 4
	type job struct {
		images []sdk.ImageInput
		texts  []string
	}
	var jobs []job
	for lo := 0; lo < len(images); lo += batch {
		jobs = append(jobs, job{images: images[lo:min(lo+batch, len(images))]})
	}
	for lo := 0; lo < len(texts); lo += batch {
		jobs = append(jobs, job{texts: texts[lo:min(lo+batch, len(texts))]})
	}
	encode := func(j job) (sdk.Matrix, error) {
		var r *sdk.EncodeResponse
		var err error
		if j.images != nil {
			r, err = b.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: j.images})
		} else {
			r, err = b.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: ref, Texts: j.texts})
		}
		if err != nil {
			return sdk.Matrix{}, err
		}
		return r.Embeddings, nil
	}
	want := make([]sdk.Matrix, len(jobs))
	for i, j := range jobs {
		var err error
		want[i], err = encode(j)
		require.NoError(t, err)
	}
	// Three callers at once over every batch: more calls than slots, images and texts mixed.
	got := make([][]sdk.Matrix, 3)
	var wg sync.WaitGroup
	for c := range got {
		got[c] = make([]sdk.Matrix, len(jobs))
		wg.Go(func() {
			for k := range got[c] {
				i := (k + c*3) % len(jobs)
				m, err := encode(jobs[i])
				assert.NoError(t, err)
				got[c][k] = m
			}
		})
	}
	wg.Wait()
	for c := range got {
		for k, m := range got[c] {
			assert.Equal(t, want[(k+c*3)%len(jobs)], m, "caller %d call %d", c, k)
		}
	}
}

func TestOutputOfUndeclaredWidthIsCopied(t *testing.T) {
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	m, err := b.load(fixtureRef(t, "clip"))
	require.NoError(t, err)
	_, texts := referenceInputs(t)
	ids := make([]int64, 0, 3*m.tok.ContextLength())
	for _, s := range texts[:3] {
		ids = append(ids, m.tok.Encode(s)...)
	}
	want, err := m.EncodeIDs(context.Background(), ids, 3)
	require.NoError(t, err)
	// As if the graph left the output's width to the runtime: ONNX Runtime allocates the output and it is copied.
	m.text.output.Dimensions = ort.NewShape(-1, -1)
	got, err := m.EncodeIDs(context.Background(), ids, 3)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestEncodeRespectsCancellation(t *testing.T) {
	images, texts := referenceInputs(t)
	b := New(sharedtest.ORTLib(t))
	defer b.Close()
	ref := fixtureRef(t, "biomedclip")
	_, err := b.Info(context.Background(), sdk.ModelInfoRequest{Model: ref})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: images[:2]})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = b.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: ref, Texts: texts[:2]})
	assert.ErrorIs(t, err, context.Canceled)
}

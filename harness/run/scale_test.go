package run

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// peakRSS returns a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	_, hwm, err := procPeak(pid)
	require.NoError(t, err)
	return hwm
}

// procPeak reads a process's name and peak resident set size (VmHWM, bytes) from /proc.
func procPeak(pid int) (name string, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Name:"); ok {
			name = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return "", 0, fmt.Errorf("/proc/%d/status: VmHWM %q: %w", pid, v, err)
			}
			hwm = kb << 10
		}
	}
	if hwm == 0 {
		return "", 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return name, hwm, nil
}

// writeNoiseShard writes a webdataset shard of n samples, each a w×w RGB PNG of seeded noise stored without
// compression (so the file holds ~3·w² bytes of image) and a caption, and returns the image bytes written.
func writeNoiseShard(t *testing.T, path string, n, w int) int64 {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	r := rand.New(rand.NewPCG(1, 2))
	img := image.NewNRGBA(image.Rect(0, 0, w, w))
	var total int64
	enc := png.Encoder{CompressionLevel: png.NoCompression}
	for i := range n {
		for j := range img.Pix {
			if j%4 == 3 {
				img.Pix[j] = 255
			} else {
				img.Pix[j] = uint8(r.Uint32())
			}
		}
		var buf strings.Builder
		require.NoError(t, enc.Encode(&buf, img))
		members := []struct{ name, data string }{
			{fmt.Sprintf("%06d.png", i), buf.String()},
			{fmt.Sprintf("%06d.txt", i), fmt.Sprintf("noise sample %d", i)},
		}
		for _, m := range members {
			require.NoError(t, tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}))
			_, err := tw.Write([]byte(m.data))
			require.NoError(t, err)
		}
		total += int64(len(buf.String()))
	}
	require.NoError(t, tw.Close())
	require.NoError(t, bw.Flush())
	return total
}

// TestWebDatasetOverMessageLimit runs a retrieval config over one webdataset shard holding more than 256 MiB of
// images (23 uncompressed 2048² PNGs, 289 MB): v1 sent those bytes in one Load message and failed with
// ResourceExhausted. In v2 the task refers to each member by byte range and the backend reads it itself.
// Measured on the 2-core development machine (2026-12-01): peak RSS of the retrieval task plugin 19 MiB (it never
// holds an image), of the ONNX backend 181 MiB with one batch of 4 at a time, 299 MiB with two in flight, the test
// 6 s.
func TestWebDatasetOverMessageLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 290 MB shard")
	}
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	shards := t.TempDir()
	const n = 23
	bytes := writeNoiseShard(t, filepath.Join(shards, "big-000.tar"), n, 2048)
	require.Greater(t, bytes, int64(256<<20), "the shard's images must exceed the old 256 MiB message limit")

	cfgPath := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`models:
  - name: demo
    path: %s
    batch_size: 4
tasks:
  - name: big-shard
    task: retrieval
    dataset:
      format: webdataset
      root: %s
`, filepath.Join(demo, demogen.ModelDir), shards)), 0o644))
	cfg, err := config.Load(cfgPath, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	r, host := newRunner(t)
	res, err := r.Run(context.Background(), plan.New(cfg, t.TempDir(), "test"))
	require.NoError(t, err)
	require.Len(t, res.Runs, 1)
	assert.Empty(t, res.Runs[0].Error)
	assert.Equal(t, n, res.Tasks[0].Images)
	assert.Equal(t, n, res.Tasks[0].DatasetSize)
	assert.Equal(t, 2*n, len(res.Runs[0].Predictions), "one top-1 prediction per query, both ways")

	task, err := host.Task("retrieval")
	require.NoError(t, err)
	model, err := host.Model("onnx")
	require.NoError(t, err)
	taskRSS, modelRSS := peakRSS(t, task.Pid()), peakRSS(t, model.Pid())
	t.Logf("peak RSS: retrieval task %d MiB, onnx backend %d MiB", taskRSS>>20, modelRSS>>20)
	assert.Less(t, taskRSS, int64(64<<20), "the task must not hold image bytes")
	// The backend holds at most the inFlight batches the harness keeps at it: per image its bytes, the decoded
	// pixels (2048² RGB, about the PNG's size here: noise does not compress) and the resize's buffers, about three
	// times the file, plus the runtime's own 64 MiB. It never holds the dataset (23 images).
	perImage := bytes / n
	assert.Less(t, modelRSS, 64<<20+int64(inFlight*4*3)*perImage, "the backend holds the batches in flight, not the dataset")
}

// TestRetrievalScoreOver300MB scores a retrieval dataset of 1,000 images with 150 captions each at d = 512: the
// caption embeddings alone are 307 MB, beyond any gRPC message, and reach the task as a .npy file it maps. Each
// caption's embedding is its image's plus small noise, so every query's own item ranks first both ways.
// Measured on the 2-core development machine (2026-12-01): peak RSS of the retrieval task plugin 660 MiB (the
// mapped 307 MB plus the ranking's float32 copy of the normalised rows, benchmarks/rank), the test 8 s.
func TestRetrievalScoreOver300MB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 307 MB embedding file")
	}
	const images, perImage, d = 1000, 150, 512
	dir := t.TempDir()
	var manifest strings.Builder
	for i := range images {
		name := fmt.Sprintf("img-%04d.png", i)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("not read by Load"), 0o644))
		caps := make([]string, perImage)
		for j := range caps {
			caps[j] = fmt.Sprintf("caption %d of image %d", j, i)
		}
		line, err := json.Marshal(map[string]any{"image": name, "captions": caps})
		require.NoError(t, err)
		manifest.Write(append(line, '\n'))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.jsonl"), []byte(manifest.String()), 0o644))

	h := pluginhost.New(filepath.Join(binDir, "plugins"), os.Stderr)
	t.Cleanup(h.Close)
	task, err := h.Task("retrieval")
	require.NoError(t, err)
	ctx := context.Background()
	ds, err := task.Load(ctx, sdk.LoadRequest{Dataset: []byte(`{"format": "jsonl", "manifest": "` + filepath.Join(dir, "manifest.jsonl") + `"}`),
		Options: []byte(`{"queries": 100}`), WorkDir: t.TempDir()})
	require.NoError(t, err)
	require.Len(t, ds.Images, images)
	require.Len(t, ds.Texts, images*perImage)

	r := rand.New(rand.NewPCG(3, 4))
	img := make([]float32, images*d)
	for i := range img {
		img[i] = float32(r.NormFloat64())
	}
	txt := make([]float32, images*perImage*d)
	for i := range images * perImage {
		own := img[(i/perImage)*d : (i/perImage+1)*d] // texts are in manifest order: image i's captions are rows i*150...
		for k := range d {
			txt[i*d+k] = own[k] + 0.01*float32(r.NormFloat64())
		}
	}
	files := t.TempDir()
	imgFile, txtFile := filepath.Join(files, "images.npy"), filepath.Join(files, "texts.npy")
	require.NoError(t, npy.WriteFloat32File(imgFile, images, d, img))
	require.NoError(t, npy.WriteFloat32File(txtFile, images*perImage, d, txt))
	st, err := os.Stat(txtFile)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(300e6))
	txt = nil

	sc, err := task.Score(ctx, sdk.ScoreFilesRequest{DatasetID: ds.ID, LogitScale: 100,
		ImageEmbeddings: sdk.EmbeddingFile{Path: imgFile, Rows: images, Cols: d},
		TextEmbeddings:  sdk.EmbeddingFile{Path: txtFile, Rows: images * perImage, Cols: d}})
	require.NoError(t, err)
	for _, m := range []string{"image_retrieval_recall@1", "text_retrieval_recall@1", "image_retrieval_mrr", "text_retrieval_mrr"} {
		assert.Equal(t, 1.0, sc.Value(m), m)
	}
	assert.Equal(t, 1.0, sc.Value("text_retrieval_median_rank"))
	assert.Len(t, sc.Metric("image_retrieval_recall@1").ItemValues, 100, "one per sampled query")
	assert.Len(t, sc.Predictions, 200)
	assert.False(t, math.IsNaN(sc.Value("text_retrieval_true_recall@10")))
	rss := peakRSS(t, task.Pid())
	t.Logf("peak RSS: retrieval task %d MiB", rss>>20)
}

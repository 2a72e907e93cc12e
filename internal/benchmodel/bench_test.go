package benchmodel

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/clipeval/clipeval/internal/sharedtest"
)

// benchEnv reads a non-negative integer setting of the benchmark from the environment.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		b.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// BenchmarkONNXRuntime times the full-size benchmark model that `make bench-model` writes (or the folder named by
// CLIPEVAL_BENCH_MODEL) in ONNX Runtime and reports images/s and texts/s: batches of CLIPEVAL_BENCH_BATCH (default
// 32), CLIPEVAL_BENCH_THREADS intra-op threads (default 0: ONNX Runtime's choice), texts of CLIPEVAL_BENCH_SEQ
// tokens (default the context length, 256) with every token attended. Skipped when the folder is missing.
func BenchmarkONNXRuntime(b *testing.B) {
	dir := os.Getenv("CLIPEVAL_BENCH_MODEL")
	if dir == "" {
		dir = filepath.Join(sharedtest.RepoRoot(), ".cache", "bench-model", "biomedclip-vit-b16")
	}
	if _, err := os.Stat(filepath.Join(dir, StampFile)); err != nil {
		b.Skipf("no benchmark model in %s (run `make bench-model`, or set CLIPEVAL_BENCH_MODEL): %v", dir, err)
	}
	lib := sharedtest.ORTLib(b)
	if !ort.IsInitialized() {
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(); err != nil {
			b.Fatalf("loading ONNX Runtime from %s: %v", lib, err)
		}
	}
	batch := max(1, benchEnv(b, "CLIPEVAL_BENCH_BATCH", 32))
	threads := benchEnv(b, "CLIPEVAL_BENCH_THREADS", 0)
	meta, err := ort.GetModelMetadata(filepath.Join(dir, TextFile))
	if err != nil {
		b.Fatal(err)
	}
	defer meta.Destroy()
	cfg := BiomedCLIP()
	if js, ok, err := meta.LookupCustomMetadataMap(MetadataKey); err == nil && ok {
		var info TowerInfo
		if err := json.Unmarshal([]byte(js), &info); err != nil {
			b.Fatalf("%s metadata: %v", TextFile, err)
		}
		cfg = info.Config
	}
	seq := max(1, benchEnv(b, "CLIPEVAL_BENCH_SEQ", cfg.Text.ContextLength))

	session := func(b *testing.B, file string, inputs, outputs []string) *ort.DynamicAdvancedSession {
		opts, err := ort.NewSessionOptions()
		if err != nil {
			b.Fatal(err)
		}
		defer opts.Destroy()
		if threads > 0 {
			if err := opts.SetIntraOpNumThreads(threads); err != nil {
				b.Fatal(err)
			}
		}
		s, err := ort.NewDynamicAdvancedSession(filepath.Join(dir, file), inputs, outputs, opts)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	run := func(b *testing.B, s *ort.DynamicAdvancedSession, in []ort.Value, unit string) {
		out := []ort.Value{nil}
		if err := s.Run(in, out); err != nil { // warm-up: allocations and kernel selection
			b.Fatal(err)
		}
		out[0].Destroy()
		b.ResetTimer()
		for range b.N {
			out[0] = nil
			if err := s.Run(in, out); err != nil {
				b.Fatal(err)
			}
			out[0].Destroy()
		}
		b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), unit)
	}

	b.Run("image", func(b *testing.B) {
		s := session(b, ImageFile, []string{ImageInput}, []string{ImageOutput})
		defer s.Destroy()
		size := cfg.Vision.ImageSize
		x, err := ort.NewTensor(ort.NewShape(int64(batch), 3, int64(size), int64(size)), testPixels(batch, size))
		if err != nil {
			b.Fatal(err)
		}
		defer x.Destroy()
		run(b, s, []ort.Value{x}, "images/s")
	})
	b.Run("text", func(b *testing.B) {
		s := session(b, TextFile, []string{TextInput, TextMask}, []string{TextOutput})
		defer s.Destroy()
		ids := make([]int64, batch*seq)
		mask := make([]int64, batch*seq)
		for i := range ids {
			ids[i], mask[i] = int64(5+(i*7919)%(cfg.Text.Vocab-5)), 1
		}
		for r := range batch {
			ids[r*seq] = 2
		}
		shape := ort.NewShape(int64(batch), int64(seq))
		x, err := ort.NewTensor(shape, ids)
		if err != nil {
			b.Fatal(err)
		}
		defer x.Destroy()
		m, err := ort.NewTensor(shape, mask)
		if err != nil {
			b.Fatal(err)
		}
		defer m.Destroy()
		run(b, s, []ort.Value{x, m}, "texts/s")
	})
}

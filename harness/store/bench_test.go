package store

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

const (
	benchDim     = 512
	benchBatch   = 256
	benchEntries = 100_000
)

func benchKeys(lo, hi int) ([]Key, [][]float32) {
	keys := make([]Key, 0, hi-lo)
	vecs := make([][]float32, 0, hi-lo)
	for n := lo; n < hi; n++ {
		keys = append(keys, TextKey(strconv.Itoa(n)))
		vecs = append(vecs, vec(n, benchDim))
	}
	return keys, vecs
}

// BenchmarkPut writes batches of d=512 vectors (32 per batch, as a run's default, and benchBatch), one durable
// transaction each, into a store that grows to about benchEntries.
func BenchmarkPut(b *testing.B) {
	for _, batch := range []int{32, benchBatch} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(batch * 4 * benchDim))
			n := 0
			for b.Loop() {
				b.StopTimer()
				keys, vecs := benchKeys(n, n+batch)
				n += batch
				b.StartTimer()
				if err := s.Put("m", keys, vecs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
			if fi, err := os.Stat(s.Path()); err == nil {
				b.ReportMetric(float64(fi.Size())/float64(n), "file-B/entry")
			}
		})
	}
}

// filled returns a store holding benchEntries d=512 vectors of model "m".
func filled(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for lo := 0; lo < benchEntries; lo += 4096 {
		keys, vecs := benchKeys(lo, min(lo+4096, benchEntries))
		if err := s.Put("m", keys, vecs); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkGet reads batches of benchBatch random keys from a store of benchEntries d=512 vectors.
func BenchmarkGet(b *testing.B) {
	s := filled(b)
	keys, _ := benchKeys(0, benchEntries)
	rng := rand.New(rand.NewPCG(1, 2))
	batch := make([]Key, benchBatch)
	b.SetBytes(benchBatch * 4 * benchDim)
	b.ResetTimer()
	for b.Loop() {
		for i := range batch {
			batch[i] = keys[rng.IntN(len(keys))]
		}
		got, err := s.Get("m", batch)
		if err != nil || len(got) != benchBatch {
			b.Fatalf("got %d of %d: %v", len(got), benchBatch, err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkGetAll reads all benchEntries d=512 vectors in one Get (a task's whole dataset).
func BenchmarkGetAll(b *testing.B) {
	s := filled(b)
	keys, _ := benchKeys(0, benchEntries)
	b.SetBytes(benchEntries * 4 * benchDim)
	b.ResetTimer()
	for b.Loop() {
		got, err := s.Get("m", keys)
		if err != nil || len(got) != benchEntries {
			b.Fatalf("got %d of %d: %v", len(got), benchEntries, err)
		}
	}
	b.ReportMetric(float64(b.N*benchEntries)/b.Elapsed().Seconds(), "entries/s")
}

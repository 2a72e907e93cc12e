package rank

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	synth "github.com/clipeval/clipeval/internal/synthetic"
)

// benchWidth is the embedding width of the benchmarks (CLIP ViT-B's 512).
const benchWidth = 512

// benchSizes returns the gallery sizes N the benchmarks run: CLIPEVAL_RANK_BENCH_N (a comma-separated list, e.g.
// "725739" for a PMC-OA-sized run: hours on two cores) when set, else 10,000 and, with OpenBLAS, 100,000.
func benchSizes(b *testing.B) []int {
	if s := os.Getenv("CLIPEVAL_RANK_BENCH_N"); s != "" {
		var out []int
		for f := range strings.SplitSeq(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("CLIPEVAL_RANK_BENCH_N: %q is not a positive count", f)
			}
			out = append(out, n)
		}
		return out
	}
	if Backend == "openblas" {
		return []int{10_000, 100_000}
	}
	return []int{10_000}
}

// synthetic returns n image–caption pairs of width d as Retrieve's input, every item a query both ways (see
// synthetic.Pairs).
func synthetic(n, d int, signal bool) Input {
	images, texts := synth.Pairs(n, d, signal)
	in := Input{Texts: texts, Images: images, TextImage: make([]int, n), TextQueries: make([]int, n),
		ImageQueries: make([]int, n)}
	for i := range n {
		in.TextImage[i], in.TextQueries[i], in.ImageQueries[i] = i, i, i
	}
	return in
}

// resetPeakRSS starts a new peak-RSS measurement: writing 5 to /proc/self/clear_refs resets VmHWM (Linux ≥ 4.0).
// It reports false where that is not possible.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// procStatus returns a field of /proc/self/status in MiB (VmHWM: peak resident set, VmRSS: resident set), NaN where
// it cannot be read.
func procStatus(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return math.NaN()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return math.NaN()
			}
			return kb / 1024
		}
	}
	return math.NaN()
}

// BenchmarkRanks ranks N captions × N images (one caption each, width 512, every query both ways) with
// Retrieve. After each run it also runs, untimed, the bare GEMM of the same FLOPs (bareGemm; above N = 100,000
// a sixteenth of its tiles, reported as sgemm-share, and the time scaled to all of them), so that the ratio
// x-sgemm (Retrieve's time over the GEMM's) is measured side by side on a machine whose load may drift. It
// reports the effective GFLOP/s (2·N²·d flops over Retrieve's time), the peak resident set of the process during
// the first call (VmHWM, reset after building the inputs and the GEMM's buffers), the resident set before
// (inputs-RSS-MiB) and the difference (retrieve-MiB: what Retrieve adds), and R@1 both ways as a check on the data.
func BenchmarkRanks(b *testing.B) {
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchRanks(b, n, true) })
	}
	// The worst case of the scan: captions unrelated to their images, so that half of all scores pass a gate.
	b.Run("N=10000/unrelated", func(b *testing.B) { benchRanks(b, 10_000, false) })
}

func benchRanks(b *testing.B, n int, signal bool) {
	in := synthetic(n, benchWidth, signal)
	share := 1.0
	if n > sampledAbove {
		share = 1.0 / 16
	}
	g := newBareGemm(n, share)
	peak := resetPeakRSS()
	inputs := procStatus("VmRSS")
	var r *Result
	var err error
	var ranks, gemm time.Duration
	hwm := math.NaN()
	for b.Loop() {
		t0 := time.Now()
		if r, err = Retrieve(context.Background(), in); err != nil {
			b.Fatal(err)
		}
		ranks += time.Since(t0)
		if math.IsNaN(hwm) { // the first call's peak, before garbage of earlier calls piles up
			hwm = procStatus("VmHWM")
		}
		b.StopTimer()
		gemm += g.run()
		b.StartTimer()
	}
	flops := 2 * float64(n) * float64(n) * benchWidth
	b.ReportMetric(flops*float64(b.N)/ranks.Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(ranks.Seconds()/gemm.Seconds(), "x-sgemm")
	b.ReportMetric(share, "sgemm-share")
	if peak {
		b.ReportMetric(hwm, "peak-RSS-MiB")
		b.ReportMetric(inputs, "inputs-RSS-MiB")
		b.ReportMetric(hwm-inputs, "retrieve-MiB")
	}
	var t1, i1 int
	for q := range n {
		if r.TextToImage[q] == 0 {
			t1++
		}
		if r.ImageToText[q][0] == 0 {
			i1++
		}
	}
	b.ReportMetric(float64(t1)/float64(n), "t2i-R@1")
	b.ReportMetric(float64(i1)/float64(n), "i2t-R@1")
}

// sgemmTile is the side of the square tiles of bareGemm: large enough for the GEMM's best throughput.
const sgemmTile = 4096

// sampledAbove is the N above which BenchmarkRanks times a sample of the bare GEMM's tiles, not all of them: at
// N = 725,739 the whole of it takes about as long as Retrieve (over an hour on two cores).
const sampledAbove = 100_000

// bareGemm is the GEMM of N² scores of width 512 (2·N²·d flops) and nothing else, as square 4096×4096×512 tiles
// with this build's kernel (OpenBLAS with -tags openblas, else the pure-Go one): the floor Retrieve is set
// against. With a share below 1 it runs that share of the tiles (every tile is the same work on the same
// operands, so the time of all of them is the sample's over the share).
type bareGemm struct {
	side, full, rest int // tile side; full tiles and leftover rows of one more
	share            float64
	a, g, c          []float32
}

func newBareGemm(n int, share float64) *bareGemm {
	side := min(n, sgemmTile)
	return &bareGemm{side: side, full: (n * n) / (side * side), rest: (n * n) % (side * side) / side, share: share,
		a: randomMatrix(side, benchWidth, 1).Data, g: randomMatrix(side, benchWidth, 2).Data,
		c: make([]float32, side*side)}
}

// run runs the GEMM (or its share) and returns the time the whole GEMM takes at the rate measured.
func (g *bareGemm) run() time.Duration {
	t0 := time.Now()
	if g.share >= 1 {
		for range g.full {
			sgemm(g.side, g.side, benchWidth, g.a, g.g, g.c, g.side)
		}
		if g.rest > 0 {
			sgemm(g.rest, g.side, benchWidth, g.a[:g.rest*benchWidth], g.g, g.c, g.side)
		}
		return time.Since(t0)
	}
	tiles := max(int(math.Ceil(float64(g.full)*g.share)), 1)
	for range tiles {
		sgemm(g.side, g.side, benchWidth, g.a, g.g, g.c, g.side)
	}
	whole := float64(g.full) + float64(g.rest)/float64(g.side)
	return time.Duration(float64(time.Since(t0)) * whole / float64(tiles))
}

// BenchmarkSgemm times bareGemm alone, N as BenchmarkRanks's.
func BenchmarkSgemm(b *testing.B) {
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			g := newBareGemm(n, 1)
			for b.Loop() {
				g.run()
			}
			flops := 2 * float64(n) * float64(n) * benchWidth
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

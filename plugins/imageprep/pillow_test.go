package imageprep

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// This file runs pillow_bench.py, where python3 has Pillow and numpy (Debian python3-pil and python3-numpy), on
// the VQA-RAD images: BenchmarkVQARAD times both sides in the same run, TestVQARADMatchesPillow compares their
// pixels. Without them both skip.

// vqaRADImages returns the paths and bytes of the VQA-RAD images, sorted by name (pillow_bench.py's order).
func vqaRADImages(tb testing.TB) ([]string, [][]byte) {
	dir := sharedtest.Path(tb, "data", "vqa-rad", "images")
	names, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	require.NoError(tb, err)
	require.NotEmpty(tb, names)
	slices.Sort(names)
	data := make([][]byte, len(names))
	for i, n := range names {
		data[i], err = os.ReadFile(n)
		require.NoError(tb, err)
	}
	return names, data
}

// pillowResult is pillow_bench.py's JSON.
type pillowResult struct {
	Images     int       `json:"images"`
	Passes     []float64 `json:"passes_s"`
	MsPerImage float64   `json:"ms_per_image"`
	Pillow     string    `json:"pillow"`
	Numpy      string    `json:"numpy"`
}

// errNoPillow is returned when python3 cannot import PIL and numpy.
var errNoPillow = errors.New("python3 with Pillow and numpy (Debian python3-pil, python3-numpy) is not available")

// pillowPython returns the first Python that imports PIL and numpy: $CLIPEVAL_PYTHON, python3 on the PATH, or
// the system's /usr/bin/python3 (where Debian's packages are, when another python3 comes first on the PATH).
func pillowPython() (string, error) {
	for _, py := range []string{os.Getenv("CLIPEVAL_PYTHON"), "python3", "/usr/bin/python3"} {
		if py != "" && exec.Command(py, "-c", "import PIL, numpy").Run() == nil {
			return py, nil
		}
	}
	return "", errNoPillow
}

// runPillow runs pillow_bench.py with args and the files, returning its JSON result.
func runPillow(files []string, args ...string) (*pillowResult, error) {
	py, err := pillowPython()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(py, append(append([]string{"pillow_bench.py", "--json"}, args...), files...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pillow_bench.py: %w: %s", err, stderr.String())
	}
	var r pillowResult
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("pillow_bench.py printed %q: %w", out, err)
	}
	return &r, nil
}

// BenchmarkVQARAD preprocesses the VQA-RAD images (BiomedCLIP's transform at 224) on one core (GOMAXPROCS 1, one
// image at a time, bytes already in memory), reporting the milliseconds per image of the fastest pass over all of
// them; where python3 has Pillow and numpy it first times pillow_bench.py on the same files (also one core,
// fastest of 3 passes) and reports its milliseconds per image and x-pillow, Pillow's time over clipeval's.
// `make bench` runs it with -benchtime 3x: three passes.
func BenchmarkVQARAD(b *testing.B) {
	names, data := vqaRADImages(b)
	pillow, perr := runPillow(names, "--passes", "3")
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	cfg := openAI(224)
	dst := make([]float32, 3*224*224)
	best := time.Duration(1 << 62)
	for b.Loop() {
		start := time.Now()
		for _, d := range data {
			if err := cfg.PreprocessInto(dst, d); err != nil {
				b.Fatal(err)
			}
		}
		best = min(best, time.Since(start))
	}
	ms := best.Seconds() * 1000 / float64(len(data))
	b.ReportMetric(ms, "ms/image")
	b.ReportMetric(1000/ms, "images/s")
	if perr != nil {
		b.Logf("no Pillow comparison: %v", perr)
		return
	}
	b.ReportMetric(pillow.MsPerImage, "pillow-ms/image")
	b.ReportMetric(pillow.MsPerImage/ms, "x-pillow")
	b.Logf("%d images: clipeval %.2f ms/image, Pillow %s + numpy %s %.2f ms/image (x%.2f)", len(data), ms,
		pillow.Pillow, pillow.Numpy, pillow.MsPerImage, pillow.MsPerImage/ms)
}

// TestVQARADMatchesPillow preprocesses every VQA-RAD image and compares the tensor, bit for bit, with what the
// local Pillow + numpy give (pillow_bench.py --out). The images are 3-component JPEGs of ordinary aspect, for
// which Pillow's output has not changed between 9.x (Debian's) and 12.3; the other cases are the unit tests'.
func TestVQARADMatchesPillow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python on 315 images")
	}
	names, data := vqaRADImages(t)
	out := filepath.Join(t.TempDir(), "pillow.npy")
	if _, err := runPillow(names, "--passes", "1", "--out", out); err != nil {
		if errors.Is(err, errNoPillow) {
			t.Skip(err)
		}
		require.NoError(t, err)
	}
	want, err := npy.ReadFile(out)
	require.NoError(t, err)
	per := 3 * 224 * 224
	require.Equal(t, []int{len(names), 3, 224, 224}, want.Shape)
	cfg := openAI(224)
	got := make([]float32, per)
	for i, d := range data {
		require.NoError(t, cfg.PreprocessInto(got, d))
		if !slices.Equal(want.Float32[i*per:(i+1)*per], got) {
			diffs := 0
			for j, v := range got {
				if v != want.Float32[i*per+j] {
					diffs++
				}
			}
			t.Errorf("%s: %d of %d values differ from Pillow's", filepath.Base(names[i]), diffs, per)
		}
	}
}

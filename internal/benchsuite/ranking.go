package benchsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/clipeval/clipeval/benchmarks/rank"
	"github.com/clipeval/clipeval/internal/synthetic"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// numpySgemm times numpy's float32 product of the captions by the images (every score once, in 4096 × 4096 tiles
// so that no N × N matrix is held), the same flops as ranking both directions; it prints {"seconds": t}.
const numpySgemm = `
import json, sys, time
import numpy as np
a = np.load(sys.argv[1]); b = np.load(sys.argv[2]); t = 4096
start = time.perf_counter()
for i in range(0, a.shape[0], t):
    for j in range(0, b.shape[0], t):
        a[i:i+t] @ b[j:j+t].T
print(json.dumps({"seconds": time.perf_counter() - start}))
`

// rankingVsNumpy ranks N synthetic caption–image pairs both ways with the retrieval task's ranking (rank.Retrieve:
// exact ranks and tops) and times numpy's sgemm of the same scores, alternately, five rounds. Goal: at most 1.2×
// the bare product (issue 9).
func rankingVsNumpy(ctx context.Context, env *Env) ([]Row, error) {
	n, rounds := 20_000, 5
	if env.Quick {
		n, rounds = 2_000, 1
	}
	const d = 512
	images, texts := synthetic.Pairs(n, d, true)
	tmp, err := os.MkdirTemp("", "clipeval-bench-rank-")
	if err != nil {
		return nil, fmt.Errorf("ranking: %w", err)
	}
	defer os.RemoveAll(tmp)
	ip, tp := filepath.Join(tmp, "images.npy"), filepath.Join(tmp, "texts.npy")
	for _, f := range []struct {
		path string
		data []float32
	}{{ip, images.Data}, {tp, texts.Data}} {
		if err := npy.WriteFloat32File(f.path, n, d, f.data); err != nil {
			return nil, fmt.Errorf("ranking: %w", err)
		}
	}
	in := rank.Input{Texts: texts, Images: images, TextImage: make([]int, n), TextQueries: make([]int, n), ImageQueries: make([]int, n)}
	for i := range n {
		in.TextImage[i], in.TextQueries[i], in.ImageQueries[i] = i, i, i
	}
	// A small ranking first, so that the timed ones do not pay OpenBLAS's loading (numpy's is outside its timing).
	w := min(n, 2048)
	sub := func(m sdk.Matrix) sdk.Matrix { return sdk.Matrix{Rows: w, Cols: d, Data: m.Data[:w*d]} }
	warm := rank.Input{Texts: sub(texts), Images: sub(images), TextImage: in.TextImage[:w], TextQueries: in.TextQueries[:w], ImageQueries: in.ImageQueries[:w]}
	if _, err := rank.Retrieve(ctx, warm); err != nil {
		return nil, fmt.Errorf("ranking: %w", err)
	}
	// numpy, clipeval, numpy, clipeval, …, numpy: each of clipeval's times is held against the mean of the numpy times
	// just before and after it, so that the machine's drift from minute to minute cancels.
	var ours, ref []float64
	for k := range rounds + 1 {
		s, err := env.pythonSeconds(ctx, numpySgemm, tp, ip)
		if err != nil {
			return nil, fmt.Errorf("ranking: numpy: %w", err)
		}
		ref = append(ref, s)
		if k == rounds {
			break
		}
		start := time.Now()
		if _, err := rank.Retrieve(ctx, in); err != nil {
			return nil, fmt.Errorf("ranking: %w", err)
		}
		ours = append(ours, time.Since(start).Seconds())
	}
	ratios := againstNeighbours(ours, ref)
	o, r := median(ours), median(ref)
	return []Row{{Name: fmt.Sprintf("retrieval ranking, N = %d, d = 512, both ways", n), Ours: o, Ref: r, Unit: "s",
		Ratio: median(ratios), RatioIs: "clipeval / numpy sgemm (time)", Goal: 1.2, GoalMax: true,
		Detail: fmt.Sprintf("rank.Retrieve (%s kernel: exact ranks and tops both ways) against numpy's float32 product of the same scores, %d threads; numpy and clipeval alternately, numpy first and last, each clipeval time against the mean of the numpy times either side; ratio: the median of %d such; times: medians",
			rank.Kernel(), env.Threads, rounds)}}, nil
}

// pythonSeconds runs a Python program with args and returns the "seconds" of the JSON line it prints last. BLAS
// and torch are held to env.Threads threads.
func (e *Env) pythonSeconds(ctx context.Context, program string, args ...string) (float64, error) {
	out, err := e.python(ctx, program, args...)
	if err != nil {
		return 0, err
	}
	var r struct {
		Seconds *float64 `json:"seconds"`
	}
	if err := json.Unmarshal(lastLine(out), &r); err != nil || r.Seconds == nil {
		return 0, fmt.Errorf("python printed %q, want a last line {\"seconds\": ...}", out)
	}
	return *r.Seconds, nil
}

// python runs a Python program (a file's path, or the program's text) with args and returns its standard output.
func (e *Env) python(ctx context.Context, program string, args ...string) ([]byte, error) {
	argv := append([]string{"-c", program}, args...)
	if _, err := os.Stat(program); err == nil {
		argv = append([]string{program}, args...)
	}
	cmd := exec.CommandContext(ctx, e.Python, argv...)
	t := strconv.Itoa(e.Threads)
	cmd.Env = append(os.Environ(), "OPENBLAS_NUM_THREADS="+t, "OMP_NUM_THREADS="+t, "MKL_NUM_THREADS="+t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := stderr.Bytes()
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return nil, fmt.Errorf("%s: %v: %s", e.Python, err, bytes.TrimSpace(msg))
	}
	return out, nil
}

// lastLine returns the last non-empty line of out.
func lastLine(out []byte) []byte {
	out = bytes.TrimSpace(out)
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		return out[i+1:]
	}
	return out
}

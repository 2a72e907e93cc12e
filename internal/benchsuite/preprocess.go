package benchsuite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// preprocessVsPillow runs plugins/imageprep's BenchmarkVQARAD: the VQA-RAD images through open_clip's eval
// transform at 224 on one core, clipeval's and Pillow + numpy's (pillow_bench.py), each the fastest of three
// passes over all of them, in one run. Goal: ≥ 2× Pillow + numpy per core (issue 10).
func preprocessVsPillow(ctx context.Context, env *Env) ([]Row, error) {
	passes := "3x"
	if env.Quick {
		passes = "1x"
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-tags", "openblas", "-run", "^$", "-bench", "^BenchmarkVQARAD$", "-benchtime", passes, "./plugins/imageprep/")
	cmd.Dir = env.Repo
	cmd.Env = append(os.Environ(), "CLIPEVAL_SHARED="+env.Shared, "CLIPEVAL_PYTHON="+env.Python)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", cmd, err, out)
	}
	metrics := map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "BenchmarkVQARAD") {
			continue
		}
		f := strings.Fields(line)
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				metrics[f[i+1]] = v
			}
		}
	}
	ours, ok1 := metrics["ms/image"]
	ref, ok2 := metrics["pillow-ms/image"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("BenchmarkVQARAD reported no Pillow comparison (python3-pil and python3-numpy needed):\n%s", out)
	}
	return []Row{{Name: "preprocessing the VQA-RAD images, one core", Ours: ours, Ref: ref, Unit: "ms/image", Ratio: ref / ours,
		RatioIs: "Pillow + numpy / clipeval (time)", Goal: 2,
		Detail: "open_clip's eval transform at 224 (bicubic resize, centre crop, normalise), bit-exact; GOMAXPROCS 1 against pillow_bench.py on the same files; fastest of " + strings.TrimSuffix(passes, "x") + " passes each"}}, nil
}

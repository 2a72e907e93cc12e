package benchsuite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// modelOpen times opening the bench model as a run does, from the onnx backend's start to its first Info answer
// (process start, handshake, ONNX Runtime loaded, the folder and tokenizer read, the files' digests, both towers'
// sessions), against what a bare onnxruntime_go program pays in a process of its own (internal/cmd/bareopen: from
// its start to both sessions created, ONNX Runtime loaded), alternately. Goal: at most 1.2× the bare program
// (issue 10).
func modelOpen(ctx context.Context, env *Env) ([]Row, error) {
	if env.BenchModel == "" {
		return nil, fmt.Errorf("no bench model (make bench-model writes it)")
	}
	rounds := 5
	if env.Quick {
		rounds = 1
	}
	tmp, err := os.MkdirTemp("", "clipeval-bench-open-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bare := filepath.Join(tmp, "bareopen")
	build := exec.CommandContext(ctx, "go", "build", "-o", bare, "./internal/cmd/bareopen")
	build.Dir = env.Repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building internal/cmd/bareopen: %w\n%s", err, out)
	}
	loop := bareLoop{env: env}
	args := []string{"-lib", env.ORTLib, "-threads", strconv.Itoa(env.Threads)}
	for _, f := range []string{"image.onnx", "text.onnx"} {
		ins, out, err := loop.names(f)
		if err != nil {
			return nil, err
		}
		args = append(args, filepath.Join(env.BenchModel, f)+":"+strings.Join(ins, ",")+":"+out)
	}
	var ours, ref []float64
	for range rounds {
		start := time.Now()
		host := pluginhost.New(filepath.Join(env.Bin, "plugins"), nil)
		m, err := host.Model("onnx")
		if err == nil {
			_, err = m.Info(ctx, sdk.ModelInfoRequest{Model: sdk.ModelRef{Dir: env.BenchModel, Options: env.threadsOption()}})
		}
		ours = append(ours, time.Since(start).Seconds())
		host.Close()
		if err != nil {
			return nil, fmt.Errorf("opening the bench model: %w", err)
		}
		t, err := timeReady(ctx, bare, args)
		if err != nil {
			return nil, err
		}
		ref = append(ref, t)
	}
	o, r := median(ours), median(ref)
	return []Row{{Name: "opening the bench model (both towers)", Ours: o, Ref: r, Unit: "s", Ratio: o / r,
		RatioIs: "clipeval / bare program (time)", Goal: 1.2, GoalMax: true,
		Detail: fmt.Sprintf("from starting the onnx backend to its first Info answer (folder, tokenizer, digests, sessions) against internal/cmd/bareopen, a bare onnxruntime_go program, from its start to both sessions created; %d threads, medians of %d alternate rounds",
			env.Threads, rounds)}}, nil
}

// timeReady runs the program bin with args and returns the seconds from its start to its "ready" line on stdout.
func timeReady(ctx context.Context, bin string, args []string) (float64, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", bin, err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	took := time.Since(start).Seconds()
	if err := cmd.Wait(); err != nil || strings.TrimSpace(line) != "ready" {
		return 0, fmt.Errorf("%s: %v %s", bin, err, stderr.String())
	}
	return took, nil
}

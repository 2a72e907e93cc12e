package benchsuite

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// modelOpen times opening the bench model as a run does (the first Info call to a freshly started onnx backend:
// reading the folder and the tokenizer, the files' digests, both towers' sessions) against creating the two bare
// ONNX Runtime sessions in-process with the same thread count, alternately. Goal: at most 1.2× the bare sessions
// (issue 10).
func modelOpen(ctx context.Context, env *Env) ([]Row, error) {
	if env.BenchModel == "" {
		return nil, fmt.Errorf("no bench model (make bench-model writes it)")
	}
	rounds := 3
	if env.Quick {
		rounds = 1
	}
	loop := bareLoop{env: env}
	var ours, ref []float64
	for range rounds {
		host := pluginhost.New(filepath.Join(env.Bin, "plugins"), nil)
		m, err := host.Model("onnx")
		if err != nil {
			host.Close()
			return nil, err
		}
		start := time.Now()
		_, err = m.Info(ctx, sdk.ModelInfoRequest{Model: sdk.ModelRef{Dir: env.BenchModel, Options: env.threadsOption()}})
		ours = append(ours, time.Since(start).Seconds())
		host.Close()
		if err != nil {
			return nil, fmt.Errorf("opening the bench model: %w", err)
		}
		var bare time.Duration
		for _, f := range []string{"image.onnx", "text.onnx"} {
			ins, out, err := loop.names(f)
			if err != nil {
				return nil, err
			}
			start := time.Now()
			s, err := loop.open(f, ins, out)
			bare += time.Since(start)
			if err != nil {
				return nil, err
			}
			s.Destroy()
		}
		ref = append(ref, bare.Seconds())
	}
	o, r := median(ours), median(ref)
	return []Row{{Name: "opening the bench model (both towers)", Ours: o, Ref: r, Unit: "s", Ratio: o / r,
		RatioIs: "clipeval / bare sessions (time)", Goal: 1.2, GoalMax: true,
		Detail: fmt.Sprintf("the first Info call to a fresh onnx backend (folder, tokenizer, digests, sessions) against ort.NewDynamicAdvancedSession for each tower in-process (after its names are read), %d threads, medians of %d alternate rounds",
			env.Threads, rounds)}}, nil
}

package benchsuite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// ipcBatch is the batch size of the IPC measurement: the configs' usual batch.
const ipcBatch = 32

// ipcShare measures what the plugin boundary costs per batch of images: the round trip of an EncodeImages call
// to a backend that does almost nothing (the conformance suite's goodmodel: it reads each image and hashes it,
// so the figure is an upper bound on the transport's), against the real backend's call on the same batch with the
// bench model, alternately. Goal: the share at most 1 % of encode time (issue 10).
func ipcShare(ctx context.Context, env *Env) ([]Row, error) {
	if env.BenchModel == "" {
		return nil, fmt.Errorf("no bench model (make bench-model writes it)")
	}
	images, err := vqaImages(env, ipcBatch)
	if err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	tmp, err := os.MkdirTemp("", "clipeval-bench-ipc-")
	if err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	defer os.RemoveAll(tmp)
	plugins, fake := filepath.Join(tmp, "plugins"), filepath.Join(tmp, "fake-model")
	if err := os.MkdirAll(fake, 0o755); err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	if err := os.WriteFile(filepath.Join(fake, "fake-model.json"), []byte(`{"embed_dim": 512}`), 0o644); err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(plugins, "goodmodel"), "./harness/conformance/testdata/goodmodel")
	build.Dir = env.Repo
	if b, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ipc: building goodmodel: %v\n%s", err, b)
	}
	if err := pluginsums.Write(plugins, "goodmodel"); err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	fakeHost := pluginhost.New(plugins, nil)
	defer fakeHost.Close()
	realHost := pluginhost.New(filepath.Join(env.Bin, "plugins"), nil)
	defer realHost.Close()
	fakeModel, err := fakeHost.Model("goodmodel")
	if err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	realModel, err := realHost.Model("onnx")
	if err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	realRef := sdk.ModelRef{Dir: env.BenchModel, Options: map[string]string{"threads": strconv.Itoa(env.Threads)}}
	fakeRef := sdk.ModelRef{Dir: fake}
	call := func(m *pluginhost.Model, ref sdk.ModelRef) (float64, error) {
		start := time.Now()
		r, err := m.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: images})
		if err == nil && r.Embeddings.Rows != len(images) {
			err = fmt.Errorf("%d embeddings for %d images", r.Embeddings.Rows, len(images))
		}
		return time.Since(start).Seconds(), err
	}
	// One call each first: the real backend opens its sessions on its first call.
	if _, err := call(realModel, realRef); err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	if _, err := call(fakeModel, fakeRef); err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	rounds := 3 // an encode call of the bench model takes about 13 s here; the share is a hundredth of the goal's
	if env.Quick {
		rounds = 1
	}
	var ipc, enc []float64
	for range rounds {
		for range 5 { // the fake call is short: its median of five is steadier
			t, err := call(fakeModel, fakeRef)
			if err != nil {
				return nil, fmt.Errorf("ipc: %w", err)
			}
			ipc = append(ipc, t)
		}
		t, err := call(realModel, realRef)
		if err != nil {
			return nil, fmt.Errorf("ipc: %w", err)
		}
		enc = append(enc, t)
	}
	i, e := median(ipc), median(enc)
	return []Row{{Name: fmt.Sprintf("plugin IPC share of image encoding, batch %d", len(images)), Ours: i * 1000, Ref: e * 1000, Unit: "ms per batch",
		Ratio: i / e, RatioIs: "IPC round trip / encode call", Goal: 0.01, GoalMax: true,
		Detail: fmt.Sprintf("EncodeImages round trip to goodmodel (reads and hashes the images: an upper bound) against the onnx backend on the bench model, %d threads, medians of %d and %d calls",
			env.Threads, len(ipc), len(enc))}}, nil
}

// vqaImages returns the first n VQA-RAD images (by name) of the shared folder, by reference.
func vqaImages(env *Env, n int) ([]sdk.ImageInput, error) {
	dir := filepath.Join(env.Shared, "data", "vqa-rad", "images")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the VQA-RAD images: %w (set -shared to the shared folder)", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("no images in %s", dir)
	}
	var out []sdk.ImageInput
	for i := range n {
		name := names[i%len(names)]
		out = append(out, sdk.ImageInput{Name: name, Path: filepath.Join(dir, name)})
	}
	return out, nil
}

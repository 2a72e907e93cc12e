package benchsuite

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/run"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// encodeBatch is the batch size of the encoding measurements, clipeval's and the references'.
const encodeBatch = 16

// stageTimes runs a retrieval config over pairs (image path, caption) with the bench model through the harness,
// as `clipeval run` does (plugins, no embedding store so that everything is encoded), and returns the wall time
// of its image and text encoding stages, from their first progress event to their last.
func stageTimes(ctx context.Context, env *Env, dir string, pairs [][2]string, options map[string]string) (images, texts time.Duration, err error) {
	manifest := filepath.Join(dir, "pairs.jsonl")
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		return 0, 0, err
	}
	var b strings.Builder
	for _, p := range pairs {
		// A manifest names its images relative to its own folder: each image is copied beside it.
		name := filepath.Join("images", filepath.Base(p[0]))
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			data, err := os.ReadFile(p[0])
			if err != nil {
				return 0, 0, err
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				return 0, 0, err
			}
		}
		line, _ := json.Marshal(map[string]any{"image": name, "captions": []string{p[1]}})
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(manifest, []byte(b.String()), 0o644); err != nil {
		return 0, 0, err
	}
	typed := map[string]any{} // the config's values typed as YAML would write them: numbers and booleans as such
	for k, v := range options {
		if n, err := strconv.Atoi(v); err == nil {
			typed[k] = n
		} else if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
			typed[k] = b
		} else {
			typed[k] = v
		}
	}
	opts, _ := json.Marshal(typed)
	cfgPath := filepath.Join(dir, "encode.yaml")
	cfg := fmt.Sprintf("models:\n  - name: bench\n    path: %q\n    batch_size: %d\n    options: %s\ntasks:\n  - name: pairs\n    task: retrieval\n    dataset:\n      format: jsonl\n      manifest: %q\noutput:\n  dir: %q\n",
		env.BenchModel, encodeBatch, opts, manifest, filepath.Join(dir, "out"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return 0, 0, err
	}
	c, err := config.Load(cfgPath, os.LookupEnv)
	if err != nil {
		return 0, 0, err
	}
	host := pluginhost.New(filepath.Join(env.Bin, "plugins"), nil)
	defer host.Close()
	var mu sync.Mutex
	first, last := map[string]time.Time{}, map[string]time.Time{}
	r := &run.Runner{Host: host, Fresh: true, Progress: func(e run.Event) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if _, ok := first[e.Stage]; !ok {
			first[e.Stage] = now
		}
		last[e.Stage] = now
	}}
	if _, err := r.Run(ctx, plan.New(c, filepath.Join(dir, "out"), "bench")); err != nil {
		return 0, 0, err
	}
	return last["images"].Sub(first["images"]), last["texts"].Sub(first["texts"]), nil
}

// vqaPairs returns n (image path, question) pairs of VQA-RAD: pairs whose image and question are both new first,
// then the others, in the file's order.
func vqaPairs(env *Env, n int) ([][2]string, error) {
	root := filepath.Join(env.Shared, "data", "vqa-rad")
	b, err := os.ReadFile(filepath.Join(root, "VQA_RAD_Dataset_Public.json"))
	if err != nil {
		return nil, fmt.Errorf("reading VQA-RAD: %w (set -shared to the shared folder)", err)
	}
	var rows []struct {
		Image    string `json:"image_name"`
		Question string `json:"question"`
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("reading VQA-RAD: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("VQA-RAD has no questions")
	}
	// New images and questions first: the harness encodes each distinct input once, so repeats would flatter its
	// throughput against a loop that encodes every row.
	seen, asked := map[string]bool{}, map[string]bool{}
	var distinct, rest [][2]string
	for _, r := range rows {
		p := [2]string{filepath.Join(root, "images", r.Image), r.Question}
		if seen[r.Image] || asked[r.Question] {
			rest = append(rest, p)
		} else {
			seen[r.Image], asked[r.Question] = true, true
			distinct = append(distinct, p)
		}
	}
	all := append(distinct, rest...)
	var out [][2]string
	for i := range n {
		out = append(out, all[i%len(all)])
	}
	return out, nil
}

// bareLoop is the bare onnxruntime_go loop a user would write: one session per tower with the same thread
// count, fed ready-made inputs of the same shapes batch after batch, nothing else.
type bareLoop struct {
	env *Env
}

// images times the image tower on n random [encodeBatch, 3, size, size] float32 batches' worth of images.
func (l bareLoop) images(n, size int) (time.Duration, error) {
	s, names, err := l.session("image.onnx")
	if err != nil {
		return 0, err
	}
	defer s.Destroy()
	r := rand.New(rand.NewPCG(1, 2))
	pixels := make([]float32, encodeBatch*3*size*size)
	for i := range pixels {
		pixels[i] = float32(r.NormFloat64())
	}
	var total time.Duration
	for lo := 0; lo < n; lo += encodeBatch {
		b := min(encodeBatch, n-lo)
		in, err := ort.NewTensor(ort.NewShape(int64(b), 3, int64(size), int64(size)), pixels[:b*3*size*size])
		if err != nil {
			return 0, err
		}
		out := []ort.Value{nil}
		start := time.Now()
		err = s.Run([]ort.Value{in}, out)
		total += time.Since(start)
		in.Destroy()
		if err != nil {
			return 0, fmt.Errorf("bare loop: %s: %w", names, err)
		}
		out[0].Destroy()
	}
	return total, nil
}

// texts times the text tower on the given batches of token ids (each batch [rows, length], the mask ids != 0).
func (l bareLoop) texts(batches [][][]int64) (time.Duration, error) {
	s, names, err := l.session("text.onnx")
	if err != nil {
		return 0, err
	}
	defer s.Destroy()
	var total time.Duration
	for _, batch := range batches {
		rows, length := len(batch), len(batch[0])
		ids, mask := make([]int64, 0, rows*length), make([]int64, 0, rows*length)
		for _, row := range batch {
			for _, id := range row {
				ids = append(ids, id)
				m := int64(0)
				if id != 0 {
					m = 1
				}
				mask = append(mask, m)
			}
		}
		shape := ort.NewShape(int64(rows), int64(length))
		in, err := ort.NewTensor(shape, ids)
		if err != nil {
			return 0, err
		}
		mt, err := ort.NewTensor(shape, mask)
		if err != nil {
			in.Destroy()
			return 0, err
		}
		var inputs []ort.Value
		for _, name := range names { // the graph's order: the attention mask by its name, the ids otherwise
			if strings.Contains(name, "mask") {
				inputs = append(inputs, mt)
			} else {
				inputs = append(inputs, in)
			}
		}
		out := []ort.Value{nil}
		start := time.Now()
		err = s.Run(inputs, out)
		total += time.Since(start)
		in.Destroy()
		mt.Destroy()
		if err != nil {
			return 0, fmt.Errorf("bare loop: %w", err)
		}
		out[0].Destroy()
	}
	return total, nil
}

// session opens file of the bench model with the suite's thread count; it returns the input names fed.
func (l bareLoop) session(file string) (*ort.DynamicAdvancedSession, []string, error) {
	ins, out, err := l.names(file)
	if err != nil {
		return nil, nil, err
	}
	s, err := l.open(file, ins, out)
	return s, ins, err
}

// names returns the input names and the first output's name of file of the bench model (ONNX Runtime's own
// reading of them: a throwaway session).
func (l bareLoop) names(file string) (ins []string, out string, err error) {
	if !ort.IsInitialized() {
		ort.SetSharedLibraryPath(l.env.ORTLib)
		if err := ort.InitializeEnvironment(); err != nil {
			return nil, "", fmt.Errorf("bare loop: starting ONNX Runtime (%s): %w", l.env.ORTLib, err)
		}
	}
	path := filepath.Join(l.env.BenchModel, file)
	infos, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, "", fmt.Errorf("bare loop: %w", err)
	}
	if len(outs) == 0 {
		return nil, "", fmt.Errorf("bare loop: %s has no outputs", path)
	}
	for _, in := range infos {
		ins = append(ins, in.Name)
	}
	return ins, outs[0].Name, nil
}

// open creates the session of file of the bench model, feeding ins and reading out, with the suite's threads.
func (l bareLoop) open(file string, ins []string, out string) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(l.env.Threads); err != nil {
		return nil, err
	}
	path := filepath.Join(l.env.BenchModel, file)
	s, err := ort.NewDynamicAdvancedSession(path, ins, []string{out}, opts)
	if err != nil {
		return nil, fmt.Errorf("bare loop: %s: %w", path, err)
	}
	return s, nil
}

// threadsOption is the backend option of the suite's thread count.
func (e *Env) threadsOption() map[string]string {
	return map[string]string{"threads": strconv.Itoa(e.Threads)}
}

// encodeVsBare times image and text encoding end to end through the harness against the bare loop and against
// torch on the same shapes: images, VQA-RAD's; texts, its questions padded to the full context (the fixed-length
// path, which the bare loop runs as a user would without clipeval's length grouping). Goals: throughput ≥ 0.98× the
// bare loop's, ≥ 1× torch's (issue 10).
//
// This machine's speed drifts by 5–10 % from minute to minute, more than the differences measured, so each of
// clipeval's runs is held against the references run just before and just after it, symmetrically: for each kind
// (images, then texts) the runs go B T C T B C B T C T B … (B the bare loop, T torch, C clipeval), so that every C
// has a B and a T at the same distance on either side, and its ratios are taken against their means. A linear
// drift cancels; each ratio reported is the median of the C runs' own.
func encodeVsBare(ctx context.Context, env *Env) ([]Row, error) {
	if env.BenchModel == "" {
		return nil, fmt.Errorf("no bench model (make bench-model writes it)")
	}
	// 48 images and 32 texts (three and two batches), three clipeval runs of each: about 7 minutes here, so that
	// the whole suite stays under 15.
	nImages, nTexts, rounds := 48, 32, 3
	if env.Quick {
		nImages, nTexts, rounds = 4, 4, 1
	}
	pairs, err := vqaPairs(env, max(nImages, nTexts))
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "clipeval-bench-encode-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ids, ctxLen, err := env.tokenize(ctx, pairs[:nTexts])
	if err != nil {
		return nil, err
	}
	var batches [][][]int64
	for lo := 0; lo < nTexts; lo += encodeBatch {
		var b [][]int64
		for i := lo; i < min(lo+encodeBatch, nTexts); i++ {
			b = append(b, ids[i*ctxLen:(i+1)*ctxLen])
		}
		batches = append(batches, b)
	}
	full := env.threadsOption()
	full["text_padding"] = "full"
	loop := bareLoop{env: env}
	twin := filepath.Join(env.Repo, "internal", "benchmodel", "torch_twin.py")
	torch := func(tower string, n int) (float64, error) {
		out, err := env.python(ctx, twin, "bench", "--model", env.BenchModel, "--batch", fmt.Sprint(encodeBatch),
			"--threads", fmt.Sprint(env.Threads), "--iters", fmt.Sprint(max(n/encodeBatch, 1)), "--seq", fmt.Sprint(ctxLen), "--tower", tower)
		if err != nil {
			return 0, fmt.Errorf("torch twin: %w", err)
		}
		var tw struct {
			Images float64 `json:"images_per_s"`
			Texts  float64 `json:"texts_per_s"`
		}
		if err := json.Unmarshal(lastLine(out), &tw); err != nil || (tower == "image" && tw.Images <= 0) || (tower == "text" && tw.Texts <= 0) {
			return 0, fmt.Errorf("torch twin printed %q, want images_per_s or texts_per_s", out)
		}
		return max(tw.Images, tw.Texts), nil
	}
	// Throughputs of each kind: the bare loop, torch, and clipeval (through the harness, one retrieval run per
	// measurement whose other kind is a single input: the images with one caption, the questions with one image).
	type kind struct {
		name        string
		n           int
		bare, torch func() (float64, error)
		ours        func(k int) (float64, error)
	}
	kinds := []kind{
		{"images", nImages,
			func() (float64, error) {
				d, err := loop.images(nImages, 224)
				return float64(nImages) / d.Seconds(), err
			},
			func() (float64, error) { return torch("image", nImages) },
			func(k int) (float64, error) {
				ps := make([][2]string, nImages)
				for i := range ps {
					ps[i] = [2]string{pairs[i][0], pairs[0][1]}
				}
				d, _, err := stageTimes(ctx, env, filepath.Join(tmp, fmt.Sprint("images", k)), ps, full)
				return float64(nImages) / d.Seconds(), err
			}},
		{"texts", nTexts,
			func() (float64, error) {
				d, err := loop.texts(batches)
				return float64(nTexts) / d.Seconds(), err
			},
			func() (float64, error) { return torch("text", nTexts) },
			func(k int) (float64, error) {
				ps := make([][2]string, nTexts)
				for i := range ps {
					ps[i] = [2]string{pairs[0][0], pairs[i][1]}
				}
				_, d, err := stageTimes(ctx, env, filepath.Join(tmp, fmt.Sprint("texts", k)), ps, full)
				return float64(nTexts) / d.Seconds(), err
			}},
	}
	type measured struct{ ours, bare, torch, vsBare, vsTorch []float64 }
	got := map[string]*measured{}
	for _, kd := range kinds {
		m := &measured{}
		got[kd.name] = m
		refs := [2]func() (float64, error){kd.bare, kd.torch}
		for j := range rounds + 1 {
			var v [2]float64 // bare, torch: in that order in even rounds, the other way in odd ones
			for _, i := range [2][2]int{{0, 1}, {1, 0}}[j%2] {
				if v[i], err = refs[i](); err != nil {
					return nil, fmt.Errorf("encoding %s: %w", kd.name, err)
				}
			}
			m.bare, m.torch = append(m.bare, v[0]), append(m.torch, v[1])
			env.logf("encode: %s: bare loop %.3g/s, torch %.3g/s", kd.name, v[0], v[1])
			if j == rounds {
				break
			}
			ours, err := kd.ours(j)
			if err != nil {
				return nil, fmt.Errorf("encoding %s through the harness: %w", kd.name, err)
			}
			env.logf("encode: %s: clipeval %.3g/s", kd.name, ours)
			m.ours = append(m.ours, ours)
		}
		m.vsBare, m.vsTorch = againstNeighbours(m.ours, m.bare), againstNeighbours(m.ours, m.torch)
	}
	how := fmt.Sprintf("bench model, batch %d, %d threads; clipeval: the encode stage of a retrieval run through the plugins (no store); bare: onnxruntime_go Run on ready-made inputs of the same shapes; torch: internal/benchmodel/torch_twin.py (the same architecture and weights, eval, no_grad, fp32, same threads and batch, after a warm-up batch); runs B T C T B C B …, each clipeval run held against the means of the references just before and after it; ratio: the median of %d such; throughputs: medians",
		encodeBatch, env.Threads, rounds)
	im, tx := got["images"], got["texts"]
	return []Row{
		{Name: fmt.Sprintf("image encoding, %d VQA-RAD images", nImages), Ours: median(im.ours), Ref: median(im.bare), Unit: "images/s",
			Ratio: median(im.vsBare), RatioIs: "clipeval / bare loop (throughput)", Goal: 0.98, Detail: how + "; clipeval's includes decoding and resizing"},
		{Name: fmt.Sprintf("text encoding, %d VQA-RAD questions padded to %d", nTexts, ctxLen), Ours: median(tx.ours), Ref: median(tx.bare), Unit: "texts/s",
			Ratio: median(tx.vsBare), RatioIs: "clipeval / bare loop (throughput)", Goal: 0.98, Detail: how + "; clipeval's includes tokenizing"},
		{Name: "image encoding vs torch", Ours: median(im.ours), Ref: median(im.torch), Unit: "images/s", Ratio: median(im.vsTorch),
			RatioIs: "clipeval / torch fp32 (throughput)", Goal: 1, Detail: "as above; our goal: no slower than torch"},
		{Name: fmt.Sprintf("text encoding padded to %d vs torch", ctxLen), Ours: median(tx.ours), Ref: median(tx.torch), Unit: "texts/s", Ratio: median(tx.vsTorch),
			RatioIs: "clipeval / torch fp32 (throughput)", Goal: 1, Detail: "as above, on token ids of the same length (open_clip pads every text to the context)"},
	}, nil
}

// tokenize returns the bench model's token ids of the pairs' captions, [n, context length], from the backend.
func (e *Env) tokenize(ctx context.Context, pairs [][2]string) ([]int64, int, error) {
	host := pluginhost.New(filepath.Join(e.Bin, "plugins"), nil)
	defer host.Close()
	m, err := host.Model("onnx")
	if err != nil {
		return nil, 0, err
	}
	var texts []string
	for _, p := range pairs {
		texts = append(texts, p[1])
	}
	r, err := m.Tokenize(ctx, sdk.TokenizeRequest{Model: sdk.ModelRef{Dir: e.BenchModel}, Texts: texts})
	if err != nil {
		return nil, 0, fmt.Errorf("tokenizing: %w", err)
	}
	if len(r.Tensor.Shape) != 2 || r.Tensor.Shape[0] != len(texts) {
		return nil, 0, fmt.Errorf("tokenizing: token ids of shape %v for %d texts", r.Tensor.Shape, len(texts))
	}
	return r.Tensor.Int64, r.Tensor.Shape[1], nil
}

// textPadding times text encoding of VQA-RAD questions end to end with each batch cut to its longest question
// against the fixed full-length path, alternately. Goal: ≥ 5× the fixed path's throughput (issue 10).
func textPadding(ctx context.Context, env *Env) ([]Row, error) {
	if env.BenchModel == "" {
		return nil, fmt.Errorf("no bench model (make bench-model writes it)")
	}
	n, rounds := 48, 2 // the padded side encodes each text at the full context: about 25 s a round here
	if env.Quick {
		n, rounds = 8, 1
	}
	pairs, err := vqaPairs(env, n)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "clipeval-bench-padding-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var cut, full []float64
	for k := range rounds {
		for _, mode := range []string{"longest", "full"} {
			dir := filepath.Join(tmp, fmt.Sprint(k, mode))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			opts := env.threadsOption()
			opts["text_padding"] = mode
			_, t, err := stageTimes(ctx, env, dir, pairs, opts)
			if err != nil {
				return nil, fmt.Errorf("encoding texts (text_padding %s): %w", mode, err)
			}
			if mode == "full" {
				full = append(full, float64(n)/t.Seconds())
			} else {
				cut = append(cut, float64(n)/t.Seconds())
			}
		}
	}
	c, f := median(cut), median(full)
	return []Row{{Name: fmt.Sprintf("text encoding without padding waste, %d VQA-RAD questions", n), Ours: c, Ref: f, Unit: "texts/s",
		Ratio: c / f, RatioIs: "cut to the longest / padded to the context (throughput)", Goal: 5,
		Detail: fmt.Sprintf("bench model (dynamic sequence axis), batch %d, %d threads, through the harness; text_padding longest against full; medians of %d alternate rounds",
			encodeBatch, env.Threads, rounds)}}, nil
}
